"""Batch scaling: `optiviz batch DIR -j 1 --force` against `-j 2 --force`, whole processes.

Writes 8 small configs (four test functions, two optimizer sets) to a temporary folder,
renders them once to warm the disk caches, then times each command as a separate process,
alternating -j 1 and -j 2 runs, and prints the medians and their ratio. Target on a 2-core
machine: >= 1.7x (median). optiviz's bytecode is written first, as an installed package has it
(see whole_process.ensure_bytecode).

    python bench/batch.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from whole_process import ensure_bytecode, wall_time  # bench/ is on sys.path: run as a script

FUNCTIONS = (("rosenbrock", "[-1.5, 2.0]"), ("beale", "[1.0, 1.5]"),
             ("himmelblau", "[-1.0, -1.0]"), ("booth", "[-6.0, 6.0]"))
OPTIMIZER_SETS = (
    "[{name: sgd, lr: 0.0002}, {name: momentum, lr: 0.0002}, {name: adam, lr: 0.05}]",
    "[{name: rmsprop, lr: 0.01}, {name: adagrad, lr: 0.2}, {name: nadam, lr: 0.05}]",
)
CONFIG = """\
function: {function}
start: {start}
steps: 120
optimizers: {optimizers}
render: {{width: 480, height: 270, fps: 20, frames: 60, hold: 0.5}}
"""


def write_configs(folder: Path) -> None:
    for function, start in FUNCTIONS:
        for index, optimizers in enumerate(OPTIMIZER_SETS):
            text = CONFIG.format(function=function, start=start, optimizers=optimizers)
            (folder / f"{function}-{index}.yaml").write_text(text)


def timed_batch(folder: Path, out_dir: Path, jobs: int, repeat: int = 1) -> float:
    command = [sys.executable, "-m", "optiviz", "batch", str(folder), "-j", str(jobs), "--force",
               "--out-dir", str(out_dir)]
    return min(wall_time(command) for _ in range(max(1, repeat)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per setting (median)")
    args = parser.parse_args()
    ensure_bytecode()
    work = Path(tempfile.mkdtemp(prefix="optiviz-bench-batch-"))
    try:
        configs = work / "configs"
        configs.mkdir()
        write_configs(configs)
        timed_batch(configs, work / "warm", 2)
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(max(1, args.repeat)):
            for jobs in (1, 2):
                times[jobs].append(timed_batch(configs, work / f"j{jobs}", jobs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    serial, parallel = statistics.median(times[1]), statistics.median(times[2])
    print(f"batch of {len(FUNCTIONS) * len(OPTIMIZER_SETS)} configs on {os.cpu_count()} cores "
          f"(median of {args.repeat} alternating whole-process runs)")
    for jobs, median in ((1, serial), (2, parallel)):
        print(f"  -j {jobs}: {median:6.2f} s   ({', '.join(f'{t:.2f}' for t in times[jobs])})")
    print(f"  speed-up -j 2 vs -j 1: {serial / parallel:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
