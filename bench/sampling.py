"""Sampling render benchmark: a 120-frame 640x360 GIF of 5,000 N(0,1) samples filling a histogram.

ours:      `optiviz run config.yaml -o ours.gif` (one `stairs` artist updated in place, blitted)
tutorial:  matplotlib's FuncAnimation with `ax.cla()` + `ax.hist` + the PDF every frame, saved
           with PillowWriter.
Each side is a whole Python process (imports included); medians of --repeat alternating runs.
Prints seconds, bytes and the ratios. Targets: >= 8x faster and <= 0.5x the size.

    python bench/sampling.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from whole_process import alternating_medians  # bench/ is on sys.path: run as a script

FRAMES, SAMPLES, WIDTH, HEIGHT, FPS = 120, 5000, 640, 360, 30

CONFIG = f"""\
title: N(0, 1) — {SAMPLES:,} samples
sampling:
  distribution: {{name: normal, loc: 0, scale: 1}}
  samples: {SAMPLES}
  bins: 50
render: {{width: {WIDTH}, height: {HEIGHT}, fps: {FPS}, frames: {FRAMES}, hold: 0}}
"""

TUTORIAL = f"""\
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.animation import FuncAnimation, PillowWriter
from scipy.stats import norm

samples = np.random.default_rng(0).standard_normal({SAMPLES})
counts = np.unique(np.round(np.geomspace(1, {SAMPLES}, {FRAMES})).astype(int))
counts = np.round(np.linspace(1, {SAMPLES}, {FRAMES})).astype(int) if len(counts) < {FRAMES} \\
    else counts
fig, ax = plt.subplots(figsize=({WIDTH / 100}, {HEIGHT / 100}), dpi=100)
x = np.linspace(-4, 4, 400)

def frame(i):
    ax.cla()
    ax.hist(samples[: counts[i]], bins=50, range=(-4, 4), density=True, alpha=0.6)
    ax.plot(x, norm.pdf(x), "k-")
    ax.set_ylim(0, 0.6)
    ax.set_title(f"n = {{counts[i]}}")

FuncAnimation(fig, frame, frames={FRAMES}).save(r"{{out}}", writer=PillowWriter(fps={FPS}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        config = folder / "normal.yaml"
        config.write_text(CONFIG)
        ours, theirs = folder / "ours.gif", folder / "tutorial.gif"
        script = folder / "tutorial.py"
        script.write_text(TUTORIAL.replace("{out}", str(theirs)))
        ours_command = [sys.executable, "-m", "optiviz", "run", str(config), "-o", str(ours)]
        their_command = [sys.executable, str(script)]
        ours_s, their_s = alternating_medians([ours_command, their_command], args.repeat)
        ours_b, their_b = ours.stat().st_size, theirs.stat().st_size
    print(f"histogram animation: {FRAMES} frames {WIDTH}x{HEIGHT}, {SAMPLES:,} N(0,1) samples")
    print(f"  optiviz  {ours_s:7.2f} s  {ours_b / 1e3:8.1f} KB")
    print(f"  tutorial {their_s:7.2f} s  {their_b / 1e3:8.1f} KB")
    print(f"  speed-up {their_s / ours_s:6.1f}x (target >= 8x)   "
          f"size {ours_b / their_b:.2f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
