"""Timing whole processes, the way every `make bench` comparison is measured: imports included."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


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
