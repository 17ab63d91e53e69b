"""Variational renderer benchmark: a 400-step VI GIF against an optimizer GIF of the same size.

Both are whole processes (``optiviz run cfg.yaml -o out.gif --quiet``, imports included), run
alternately, and the medians are compared, of wall time and of the process's CPU time (user +
system: on a machine shared with other work, wall time mostly measures the others):

  * variational: the curated reverse-vs-forward KL race (two divergences side by side, two
    optimizers, Monte Carlo gradients), 400 steps, 960x540;
  * optimizers: Rosenbrock, four optimizers, 400 steps, 960x540, panels [landscape, loss].

Both draw 300 frames (every step up to 300, evenly subsampled beyond). Target: the VI GIF within
1.5x the optimizer GIF's time.
Run: .venv/bin/python bench/variational.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
VARIATIONAL = (ROOT / "configs" / "variational" / "vi_reverse_vs_forward.yaml").read_text()
OPTIMIZERS = """\
title: Rosenbrock's valley
function: rosenbrock
start: [-1.5, 2.0]
steps: 400
optimizers:
  - {name: sgd, lr: 0.0008, label: SGD}
  - {name: sgd, lr: 0.0008, momentum: 0.9, label: SGD + momentum}
  - {name: rmsprop, lr: 0.01, label: RMSprop}
  - {name: adam, lr: 0.05, label: Adam}
render: {width: 960, height: 540, panels: [landscape, loss]}
"""
TARGET = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"variational": [], "optimizers": []}
    cpu: dict[str, list[float]] = {"variational": [], "optimizers": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        configs = {"variational": VARIATIONAL, "optimizers": OPTIMIZERS}
        for _ in range(max(1, args.repeat)):  # alternate, so drift hits both alike
            for name, text in configs.items():
                config = folder / f"{name}.yaml"
                config.write_text(text)
                output = folder / f"{name}.gif"
                command = [str(BIN / "optiviz"), "run", str(config), "-o", str(output),
                           "--quiet"]
                wall, seconds = timed(command)
                times[name].append(wall)
                cpu[name].append(seconds)
                sizes[name] = output.stat().st_size
    print(f"variational renderer: 400-step GIFs at 960x540, whole processes, medians of "
          f"{args.repeat} alternating runs")
    print(f"{'experiment':<14}{'wall s':>8}{'cpu s':>8}{'wall runs s':>36}{'KB':>8}")
    wall = {name: statistics.median(values) for name, values in times.items()}
    used = {name: statistics.median(values) for name, values in cpu.items()}
    for name, values in times.items():
        shown = " ".join(f"{v:.2f}" for v in values)
        print(f"{name:<14}{wall[name]:>8.2f}{used[name]:>8.2f}{shown:>36}"
              f"{sizes[name] / 1024:>8.0f}")
    for what, medians in (("wall", wall), ("cpu", used)):
        ratio = medians["variational"] / medians["optimizers"]
        verdict = "met" if ratio <= TARGET else "missed"
        print(f"{what} ratio {ratio:.2f}x (target <= {TARGET}x: {verdict})")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``command``; a failure stops the
    benchmark with its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    main()
