"""Renderer benchmark: optiviz's blitting pipeline vs the FuncAnimation + anim.save recipe.

The scene of the renderer issue: Rosenbrock, 5 optimizers, 200 frames (199 steps), 640x480,
``panels: [landscape]``, 30 fps. Both sides run as whole processes (imports included) and use
the same trajectories (optiviz's engine); both are timed as medians of --repeat alternating
runs (ours, the recipe, ours, ...):

  * optiviz: ``optiviz run cfg.yaml -o out.gif --quiet`` (and ``out.mp4``);
  * recipe: a pyplot figure with the same contours, paths, heads, legend and counter, animated by
    ``FuncAnimation`` and saved with ``PillowWriter`` (GIF) / ``FFMpegWriter`` (MP4, the bundled
    ffmpeg), as the matplotlib tutorials do.

Targets: GIF >= 12x faster and <= 0.25x the size; MP4 >= 6x faster. The issue's own numbers
(another machine, another Pillow) are printed beside ours for context: the recipe took 16 s and
wrote 520 KB there, and a bare hand-written probe of this pipeline reached 13x and 75 KB.
Run: .venv/bin/python bench/render.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
from pathlib import Path

from whole_process import alternating_medians  # bench/ is on sys.path: run as a script

BIN = Path(sys.executable).parent
FPS = 30
# issue 3 "The renderer": the recipe's GIF (seconds, KB) and the hand-written probe (x, KB)
ISSUE_RECIPE_GIF = (16.0, 520)
ISSUE_PROBE_GIF = (13.0, 75)
CONFIG = """\
title: Rosenbrock's valley
function: rosenbrock
start: [-1.5, 2.0]
steps: 199
optimizers:
  - {name: sgd, lr: 0.0008, label: SGD}
  - {name: sgd, lr: 0.0008, momentum: 0.9, label: SGD + momentum}
  - {name: sgd, lr: 0.0008, momentum: 0.9, nesterov: true, label: Nesterov}
  - {name: rmsprop, lr: 0.01, label: RMSprop}
  - {name: adam, lr: 0.05, label: Adam}
render: {width: 640, height: 480, dpi: 100, fps: 30, hold: 0, panels: [landscape]}
"""

RECIPE = textwrap.dedent("""
    import sys
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter, FFMpegWriter
    import imageio_ffmpeg
    from optiviz.config import load
    from optiviz.engine import simulate

    experiment = load(sys.argv[1])
    result = simulate(experiment)
    f = experiment.function
    (x0, x1), (y0, y1) = f.domain
    X, Y = np.meshgrid(np.linspace(x0, x1, 240), np.linspace(y0, y1, 240))
    Z = np.log10(f.value(X, Y) - f.value(X, Y).min() + 1e-6)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.contourf(X, Y, Z, levels=30, cmap="Blues_r")
    ax.contour(X, Y, Z, levels=15, colors="k", linewidths=0.4, alpha=0.5)
    ax.plot([1], [1], "w*", markersize=14, markeredgecolor="k")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    lines, heads = [], []
    for r in range(result.runs):
        (line,) = ax.plot([], [], color=colors[r], lw=1.6, label=str(result.label[r]))
        (head,) = ax.plot([], [], "o", color=colors[r], ms=7, mec="w")
        lines.append(line); heads.append(head)
    counter = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", family="monospace")
    ax.legend(loc="lower right")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y", title=experiment.title)
    fig.tight_layout()
    P = result.positions

    def update(k):
        for r in range(result.runs):
            lines[r].set_data(P[r, : k + 1, 0], P[r, : k + 1, 1])
            heads[r].set_data([P[r, k, 0]], [P[r, k, 1]])
        counter.set_text(f"step {k}/{result.steps}")
        return lines + heads + [counter]

    anim = FuncAnimation(fig, update, frames=result.steps + 1, blit=True)
    out = sys.argv[2]
    if out.endswith(".gif"):
        anim.save(out, writer=PillowWriter(fps=30))
    else:
        plt.rcParams["animation.ffmpeg_path"] = imageio_ffmpeg.get_ffmpeg_exe()
        anim.save(out, writer=FFMpegWriter(fps=30, codec="libx264",
                                           extra_args=["-pix_fmt", "yuv420p"]))
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = folder / "bench_render.yaml"
        config.write_text(CONFIG)
        recipe = folder / "recipe.py"
        recipe.write_text(RECIPE)
        for extension in ("gif", "mp4"):
            ours = folder / f"optiviz.{extension}"
            theirs = folder / f"recipe.{extension}"
            command = [str(BIN / "optiviz"), "run", str(config), "-o", str(ours), "--quiet"]
            ours_s, theirs_s = alternating_medians(
                [command, [sys.executable, str(recipe), str(config), str(theirs)]], args.repeat)
            rows.append((extension, ours_s, theirs_s, ours.stat().st_size, theirs.stat().st_size))
    print("renderer: 5 optimizers, 200 frames, 640x480, panels [landscape], whole processes, "
          f"medians of {args.repeat} alternating runs")
    print(f"{'format':<7}{'optiviz s':>10}{'recipe s':>10}{'speed-up':>10}"
          f"{'optiviz KB':>12}{'recipe KB':>11}{'size ratio':>12}")
    for extension, ours_s, theirs_s, ours_b, theirs_b in rows:
        print(f"{extension:<7}{ours_s:>10.2f}{theirs_s:>10.2f}{theirs_s / ours_s:>9.1f}x"
              f"{ours_b / 1024:>12.0f}{theirs_b / 1024:>11.0f}{ours_b / theirs_b:>11.2f}x")
    print("targets: gif >= 12x faster and <= 0.25x size; mp4 >= 6x faster")
    recipe_s, recipe_kb = ISSUE_RECIPE_GIF
    probe_x, probe_kb = ISSUE_PROBE_GIF
    print(f"issue's reference gif (its machine): recipe {recipe_s:.0f} s, {recipe_kb} KB; "
          f"bare probe {probe_x:.0f}x faster, {probe_kb} KB ({probe_kb / recipe_kb:.2f}x size)")


if __name__ == "__main__":
    main()
