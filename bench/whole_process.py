"""Timing whole processes, the way every `make bench` comparison is measured: imports included."""

from __future__ import annotations

import subprocess
import sys
import time


def best_time(command: list[str], repeat: int = 1, env: dict | None = None) -> float:
    """The best wall time of ``repeat`` runs of ``command``, each a fresh process. A failing
    command stops the benchmark with its output (a timing of a crash means nothing)."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        best = min(best, seconds)
    return best
