"""An animation-only particle-cloud run, whole process: what recording only the frames saves.

8 optimizers x 10,000 starts x 500 steps on Rosenbrock (bench/engine.py's entries), rendered to a
small GIF (320x240, 30 frames, the default loss panel), ``optiviz run cfg -o out.gif -q``, as its
own process, which reports its own peak memory and CPU times. Two source trees run alternately
(``--before`` e.g. an export of main, ``--after`` this one), so both see the same machine load;
the table gives medians of ``--repeat`` runs of wall time, user and system CPU and peak
resident memory (the child's ru_maxrss), and that peak per trajectory step (runs x (steps + 1)).
The GIFs of the two trees are compared byte for byte.

Run: .venv/bin/python bench/record_frames.py --before /path/to/main [--after .] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import OPTIMIZERS  # noqa: E402

STARTS, STEPS = 10_000, 500


def config_text(starts: int, steps: int) -> str:
    optimizers = "\n".join(f"  - {entry}" for entry, _ in OPTIMIZERS)
    return (f"function: rosenbrock\nstart: {{random: {starts}, seed: 0, box: [[-2, 2], [-1, 3]]}}\n"
            f"steps: {steps}\noptimizers:\n{optimizers}\n"
            "render: {width: 320, height: 240, frames: 30, fps: 10}\n")


# ``python -m optiviz run ...`` in a child that writes its own peak resident set (RUSAGE_SELF,
# kilobytes) and CPU times to a file when the command exits.
CHILD = """
import json, resource, runpy, sys
report, sys.argv = sys.argv[1], ["optiviz", *sys.argv[2:]]
try:
    runpy.run_module("optiviz", run_name="__main__")
except SystemExit as stop:
    if stop.code:
        raise
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(report, "w") as stream:
        json.dump({"peak": usage.ru_maxrss * 1024.0, "user": usage.ru_utime,
                   "sys": usage.ru_stime}, stream)
"""


def run(tree: Path, config: Path, output: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    report = output.with_suffix(".json")
    started = time.perf_counter()
    # run outside both trees: ``python -c`` puts the working folder first on sys.path
    subprocess.run([sys.executable, "-c", CHILD, str(report), "run", str(config), "-o",
                    str(output), "-q"], env=env, check=True, cwd=output.parent)
    wall = time.perf_counter() - started
    return {"wall": wall, **json.loads(report.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--starts", type=int, default=STARTS)
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "clouds.yaml"
        config.write_text(config_text(args.starts, args.steps))
        results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for _ in range(args.repeat):
            for name, tree in (("before", args.before), ("after", args.after)):
                results[name].append(run(tree.resolve(), config, Path(folder) / f"{name}.gif"))
        gifs = [(Path(folder) / f"{name}.gif").read_bytes() for name in ("before", "after")]
        same = gifs[0] == gifs[1]
    steps = len(OPTIMIZERS) * args.starts * (args.steps + 1)
    print(f"{len(OPTIMIZERS)} optimizers x {args.starts:,} starts x {args.steps} steps -> 320x240 "
          f"GIF, 30 frames; medians of {args.repeat} alternating runs")
    print(f"{'tree':8} {'wall s':>7} {'user s':>7} {'sys s':>6} {'peak MB':>8} "
          f"{'B/traj-step':>11}")
    for name, rows in results.items():
        median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(f"{name:8} {median['wall']:7.2f} {median['user']:7.2f} {median['sys']:6.2f} "
              f"{median['peak'] / 1e6:8.0f} {median['peak'] / steps:11.2f}")
    print("GIFs byte-identical:", same)


if __name__ == "__main__":
    main()
