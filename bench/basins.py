"""Basin map benchmark: a 1000 x 1000 map of Adam on Himmelblau, 500 steps, to PNG.

Whole processes, imports included:
  * optiviz: `optiviz run map.yaml -o map.png` (render.view: basins; streaming reductions over
    blocks of starts on every core);
  * torch.optim batched: the same million starts as one (N, 2) parameter of one torch.optim.Adam
    (Adam is elementwise, so that is N independent runs), autograd for the gradient, the same
    streaming work per step (the loss for the divergence rule, the first step within tolerance
    of a known minimum, frozen diverged runs) and only the final positions kept; its maps are
    drawn to PNG by the same renderer.
Target: optiviz under 10 s on the 2-core machine with peak memory under 1 GB. Each side runs
--repeat times, alternating; medians and the peak resident memory of the child (its largest
process: forked workers share the parent's pages) are reported.

    python bench/basins.py [--repeat 5] [--grid 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

STEPS = 500
LR = 0.05
CONFIG = """\
title: Adam on Himmelblau, 1000 x 1000 starts
function: himmelblau
start: {{grid: [{grid}, {grid}]}}
steps: {steps}
optimizers: [{{name: adam, lr: {lr}}}]
render: {{view: basins}}
"""

TORCH = textwrap.dedent("""
    import sys, time
    import numpy as np
    import torch
    from pathlib import Path
    from dataclasses import replace
    from optiviz import config, render, streaming

    torch.set_default_dtype(torch.float64)
    experiment = config.load(sys.argv[1])
    plan = streaming.make_plan(experiment, still=True)
    steps, tolerance = plan.steps, plan.tolerance
    minima = torch.tensor(plan.minima)
    params = torch.tensor(plan.starts).requires_grad_(True)
    opt = torch.optim.Adam([params], lr={lr})
    n = params.shape[0]
    reached = torch.full((n,), -1, dtype=torch.int64)
    diverged = torch.full((n,), -1, dtype=torch.int64)
    alive = torch.ones(n, dtype=torch.bool)

    def himmelblau(p):
        x, y = p[:, 0], p[:, 1]
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def near(p):
        d = torch.cdist(p, minima)
        best, index = d.min(dim=1)
        return torch.where(best <= tolerance, index, torch.full_like(index, -1))

    with torch.no_grad():
        reached[near(params) >= 0] = 0
    last_good = params.detach().clone()
    value = himmelblau(params.detach())
    frozen = torch.full((n,), float("nan"))
    for t in range(steps):
        opt.zero_grad(set_to_none=False)
        himmelblau(params).sum().backward()
        opt.step()
        with torch.no_grad():
            previous, value = value, himmelblau(params)
            finite = torch.isfinite(value + params[:, 0] + params[:, 1])
            if not bool(finite.all()):
                newly = alive & ~finite
                diverged[newly] = t + 1
                frozen[newly] = previous[newly]
                alive &= finite
                params.copy_(torch.where(finite[:, None], params, last_good))
            pending = alive & (reached < 0)
            if bool(pending.any()):
                index = pending.nonzero().squeeze(1)
                hit = near(params[index]) >= 0
                reached[index[hit]] = t + 1
            last_good.copy_(params)
    with torch.no_grad():
        codes = torch.where(alive, near(params), torch.full((n,), -2)).to(torch.int8).numpy()
        final = torch.where(alive, value, frozen).numpy()
    maps = streaming.BasinMaps(
        minima=plan.minima, minimum_kinds=("global minimum",) * len(plan.minima),
        tolerance=tolerance, grid=({grid}, {grid}),
        box=((float(plan.starts[0, 0]), float(plan.starts[-1, 0])),
             (float(plan.starts[0, 1]), float(plan.starts[-1, 1]))),
        steps=steps, frame_steps=plan.frame_steps, basin=codes[None],
        reached_step=reached.numpy().astype(np.int32)[None], final_loss=final[None],
        diverged_step=diverged.numpy().astype(np.int32)[None], frames=codes[None, None],
        label=("Adam lr={lr:g}",), optimizer=("adam",))
    render.render(experiment, maps, Path(sys.argv[2]), quiet=True)
""")


def run_child(command: list[str]) -> tuple[float, int, float]:
    """Wall seconds, peak resident bytes (its largest process) and CPU seconds (user + system,
    its workers included) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (median)")
    parser.add_argument("--grid", type=int, default=1000, help="starts per side of the grid")
    parser.add_argument("--no-torch", action="store_true", help="time optiviz only")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="optiviz-bench-basins-"))
    config = work / "map.yaml"
    config.write_text(CONFIG.format(grid=args.grid, steps=STEPS, lr=LR))
    script = work / "torch_map.py"
    script.write_text(TORCH.format(grid=args.grid, lr=LR))
    ours = [sys.executable, "-m", "optiviz", "run", str(config), "-o", str(work / "ours.png"),
            "-q"]
    theirs = [sys.executable, str(script), str(config), str(work / "torch.png")]
    sides = {"optiviz": (ours, []), "torch.optim batched": (theirs, [])}
    if args.no_torch:
        del sides["torch.optim batched"]
    for _ in range(max(1, args.repeat)):
        for command, results in sides.values():
            results.append(run_child(command))
    starts = args.grid * args.grid
    print(f"basin map: {starts:,} starts x {STEPS} steps of Adam on Himmelblau to PNG, "
          f"{os.cpu_count()} cores, median of {args.repeat} alternating whole-process runs")
    medians = {}
    for name, (_, results) in sides.items():
        seconds = statistics.median(r[0] for r in results)
        peak = max(r[1] for r in results)
        cpu = statistics.median(r[2] for r in results)
        medians[name] = seconds
        print(f"  {name:20s} {seconds:7.2f} s   CPU {cpu:6.1f} s   peak RSS "
              f"{peak / 2**20:6.0f} MiB   ({', '.join(f'{r[0]:.1f}' for r in results)} s)")
    if len(medians) == 2:
        print(f"  torch / optiviz: {medians['torch.optim batched'] / medians['optiviz']:.2f}x")
    if (work / "torch.png").exists():
        import numpy as np
        from PIL import Image

        ours_px = np.asarray(Image.open(work / "ours.png").convert("RGB")).astype(int)
        theirs_px = np.asarray(Image.open(work / "torch.png").convert("RGB")).astype(int)
        differ = np.mean(np.any(ours_px != theirs_px, axis=-1))
        print(f"  pixels differing between the two PNGs: {100 * differ:.2f}%")
    load = os.getloadavg()[0]
    print(f"  target: optiviz < 10 s and < 1 GiB ({'met' if medians['optiviz'] < 10 else 'MISSED'}"
          f" on time; load average {load:.1f} on {os.cpu_count()} cores: wall times include "
          "other processes' share)")


if __name__ == "__main__":
    main()
