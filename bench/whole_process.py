"""Timing whole processes, the way every `make bench` comparison is measured: imports included."""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "optiviz"


def ensure_bytecode() -> None:
    """Write optiviz's bytecode (``__pycache__``) as an installed package has it.

    ``pip install`` compiles a package's modules when it installs them; an editable install in
    a shell with ``PYTHONDONTWRITEBYTECODE`` set (as on our CI machines) never does, so every
    process would compile all of optiviz from source first (about 0.1 s, twice per batch: once
    in the batch and once in each worker) while the alternatives it is compared with run from
    their installed bytecode. Measure the tool as users run it."""
    compileall.compile_dir(str(PACKAGE), quiet=1)


def wall_time(command: list[str], env: dict | None = None) -> float:
    """The wall time of one run of ``command`` as a fresh process. A failing command stops
    the benchmark with its output (a timing of a crash means nothing)."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return seconds


def alternating_medians(commands: list[list[str]], repeat: int = 3) -> list[float]:
    """The median wall time of each command over ``repeat`` rounds, the commands run in turn
    within each round (ours, theirs, ours, theirs, ...) so that both see the same load."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(max(1, repeat)):
        for command, seen in zip(commands, times, strict=True):
            seen.append(wall_time(command))
    return [statistics.median(seen) for seen in times]
