"""Torch adapter benchmark: `{torch: torch.optim.Adam}` per run, per run with foreach, batched,
against our native `adam`, whole process against whole process (`optiviz run --no-render`,
imports included).

Per run is one (2,) tensor and one optimizer per start (exact for any optimizer); batched is all
starts as one (N, 2) tensor (exact only for elementwise optimizers). Each variant runs --repeat
times, the variants alternating so that machine load hits them alike; we report the median wall
time and the peak resident memory of the process.
Run: .venv/bin/python bench/torch_adapter.py [--repeat 3] [--runs 100] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ONLY = ("import torch, optiviz.cli; "
               "torch.optim.Adam([torch.zeros(2, requires_grad=True)])")
VARIANTS = {  # name -> optimizer entry (None: the cost of importing torch, the floor)
    "import torch + first optimizer": None,
    "native adam": "{name: adam, lr: 0.01}",
    "torch Adam, per run": "{torch: torch.optim.Adam, lr: 0.01}",
    "torch Adam, per run, foreach": "{torch: torch.optim.Adam, lr: 0.01, foreach: true}",
    "torch Adam, batched": "{torch: torch.optim.Adam, lr: 0.01, batched: true}",
}


def timed(command: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one fresh process; a failure stops the benchmark."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    out, err = process.stdout.read(), process.stderr.read()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{out.decode()}{err.decode()}")
    return seconds, usage.ru_maxrss * 1024


def config(entry: str, runs: int, steps: int) -> str:
    return (f"function: rosenbrock\nstart: {{random: {runs}, seed: 0, box: [[-2, 2], [-1, 3]]}}\n"
            f"steps: {steps}\noptimizers:\n  - {entry}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=100, help="starts (runs) per variant")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    peaks: dict[str, int] = dict.fromkeys(VARIANTS, 0)
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for i, (name, entry) in enumerate(VARIANTS.items()):
            paths[name] = Path(folder) / f"v{i}.yaml"
            if entry is not None:
                paths[name].write_text(config(entry, args.runs, args.steps))
        for repeat in range(args.repeat):
            order = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                command = [sys.executable, "-m", "optiviz", "run", str(paths[name]),
                           "--no-render", "-q"]
                if VARIANTS[name] is None:
                    command = [sys.executable, "-c", IMPORT_ONLY]
                seconds, peak = timed(command, env)
                times[name].append(seconds)
                peaks[name] = max(peaks[name], peak)
    updates = args.runs * args.steps
    print(f"torch adapter: Adam on Rosenbrock, {args.runs} runs x {args.steps} steps, "
          f"median of {args.repeat} whole processes (imports included)")
    print(f"{'variant':32s} {'median s':>9s} {'us/run-step':>12s} {'peak MiB':>9s}")
    for name in VARIANTS:
        median = statistics.median(times[name])
        print(f"{name:32s} {median:9.2f} {1e6 * median / updates:12.1f} "
              f"{peaks[name] / 2**20:9.0f}")


if __name__ == "__main__":
    main()
