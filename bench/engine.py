"""Engine benchmark: optiviz vs torch.optim, whole process against whole process.

8 optimizers x 500 steps on Rosenbrock, every trajectory kept in memory by both sides:
  * optiviz (``api.load`` + ``api.compute``: every step of every run recorded, nothing written)
    vs torch.optim batched: all N = 10,000 starts as one (N, 2) parameter per optimizer, autograd
    for the gradient, positions and loss of every step kept in preallocated tensors;
  * optiviz vs the tutorial loop: one trajectory at a time (a (2,) parameter), N = 20 starts.

Each side runs as its own Python process (imports included). The runs alternate (ours, theirs,
ours, theirs, ...) so that both see the same machine load; the table gives medians of
``--repeat`` runs (at least 5 for the full bench), the child's peak memory (``ru_maxrss``) and
that peak divided by the recorded trajectory steps (runs x (steps + 1)).
Run: .venv/bin/python bench/engine.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

STEPS = 500
OPTIMIZERS = [  # (optiviz entry, torch constructor)
    ("{name: sgd, lr: 0.0002, momentum: 0.9}", "torch.optim.SGD(ps, lr=0.0002, momentum=0.9)"),
    ("{name: adagrad, lr: 0.1}", "torch.optim.Adagrad(ps, lr=0.1)"),
    ("{name: rmsprop, lr: 0.001}", "torch.optim.RMSprop(ps, lr=0.001)"),
    ("{name: adam, lr: 0.01}", "torch.optim.Adam(ps, lr=0.01)"),
    ("{name: adamw, lr: 0.01}", "torch.optim.AdamW(ps, lr=0.01)"),
    ("{name: adamax, lr: 0.01}", "torch.optim.Adamax(ps, lr=0.01)"),
    ("{name: nadam, lr: 0.01}", "torch.optim.NAdam(ps, lr=0.01)"),
    ("{name: radam, lr: 0.001}", "torch.optim.RAdam(ps, lr=0.001)"),
]

# Every child reports its peak resident set (kilobytes on Linux) as its last stdout line: its own
# plus its largest worker's (optiviz forks one worker per further core for large runs; the
# shared recording's pages count in whichever process wrote them, so the sum is the total).
PEAK = textwrap.dedent("""
    import json, resource
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"maxrss_kb": own + workers}))
""")


def config_text(n: int, steps: int) -> str:
    optimizers = "\n".join(f"  - {entry}" for entry, _ in OPTIMIZERS)
    return (
        f"function: rosenbrock\nstart: {{random: {n}, seed: 0, box: [[-2, 2], [-1, 3]]}}\n"
        f"steps: {steps}\noptimizers:\n{optimizers}\n"
    )


def ours(config: Path) -> str:
    return textwrap.dedent(f"""
        from optiviz import api
        experiment = api.load({str(config)!r}, render=False)
        result = api.compute(experiment)
        assert result.positions.shape[1] == experiment.steps + 1
    """) + PEAK


TORCH_PRELUDE = textwrap.dedent("""
    import torch
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    def rosen(p):
        x, y = p[..., 0], p[..., 1]
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2
    g = torch.Generator().manual_seed(0)
    lo = torch.tensor([-2.0, -1.0]); hi = torch.tensor([2.0, 3.0])
""")


def torch_batched(n: int, steps: int) -> str:
    makers = "[" + ", ".join(f"lambda ps: {ctor}" for _, ctor in OPTIMIZERS) + "]"
    return TORCH_PRELUDE + textwrap.dedent(f"""
        starts = lo + (hi - lo) * torch.rand(({n}, 2), generator=g)
        out = []
        for make in {makers}:
            p = starts.clone().requires_grad_(True)
            opt = make([p])
            path = torch.empty(({steps} + 1, {n}, 2)); losses = torch.empty(({steps} + 1, {n}))
            path[0] = p.detach()
            for t in range({steps}):
                opt.zero_grad()
                loss = rosen(p)
                losses[t] = loss.detach()
                loss.sum().backward()
                opt.step()
                path[t + 1] = p.detach()
            losses[{steps}] = rosen(p.detach())
            out.append((path, losses))
    """) + PEAK


def torch_loop(n: int, steps: int) -> str:
    makers = "[" + ", ".join(f"lambda ps: {ctor}" for _, ctor in OPTIMIZERS) + "]"
    return TORCH_PRELUDE + textwrap.dedent(f"""
        starts = lo + (hi - lo) * torch.rand(({n}, 2), generator=g)
        out = []
        for make in {makers}:
            for i in range({n}):
                p = starts[i].clone().requires_grad_(True)
                opt = make([p])
                path = [p.detach().clone()]; losses = []
                for t in range({steps}):
                    opt.zero_grad()
                    loss = rosen(p)
                    losses.append(loss.item())
                    loss.backward()
                    opt.step()
                    path.append(p.detach().clone())
                out.append(path)
    """) + PEAK


def timed(script: Path, env: dict) -> tuple[float, float, float, int]:
    """(wall, user, system seconds, peak kB) of one fresh process running ``script``."""
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env)
    wall = time.perf_counter() - start
    after = os.times()
    if result.returncode != 0:
        sys.exit(f"{script} failed:\n{result.stdout}{result.stderr}")
    peak = json.loads(result.stdout.strip().splitlines()[-1])["maxrss_kb"]
    return (wall, after.children_user - before.children_user,
            after.children_system - before.children_system, peak)


def median_row(samples: list[tuple[float, float, float, int]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*samples, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="alternating runs per side (medians are reported)")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 starts x 100 steps, 3 runs each: a smoke test, not the figure")
    args = parser.parse_args()
    n_batched, steps, repeat = (1_000, 100, 3) if args.quick else (10_000, STEPS, args.repeat)
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)  # both sides with their default threading and allocator
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(root)]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, rival, script in (
            (n_batched, "torch.optim batched", torch_batched),
            (20, "tutorial loop (torch, one run at a time)", torch_loop),
        ):
            config = tmp / f"bench_{n}.yaml"
            config.write_text(config_text(n, steps))
            ours_file, rival_file = tmp / f"ours_{n}.py", tmp / f"rival_{n}.py"
            ours_file.write_text(ours(config))
            rival_file.write_text(script(n, steps))
            runs = repeat if n > 100 else 1  # the tutorial loop is slow and its gap is huge
            mine, theirs = [], []
            for _ in range(runs):  # alternating, so that both sides share the machine's load
                mine.append(timed(ours_file, env))
                theirs.append(timed(rival_file, env))
            rows.append((n, rival, median_row(mine), median_row(theirs)))
    print(f"engine: {len(OPTIMIZERS)} optimizers x {steps} steps on Rosenbrock, whole process, "
          f"every trajectory kept; medians of {repeat} alternating runs (tutorial loop: 1)")
    print(f"{'starts':>7}  {'side':<42} {'wall':>7} {'user':>7} {'sys':>6} {'peak MB':>8} "
          f"{'B/step':>7} {'speed-up':>8}")
    for n, rival, mine, theirs in rows:
        recorded = len(OPTIMIZERS) * n * (steps + 1)
        for side, (wall, user, system, peak) in (("optiviz", mine), (rival, theirs)):
            speed = f"{theirs[0] / mine[0]:>7.1f}x" if side == "optiviz" else ""
            print(f"{n:>7}  {side:<42} {wall:>6.2f}s {user:>6.2f}s {system:>5.2f}s "
                  f"{peak / 1024:>8.0f} {peak * 1024 / recorded:>7.1f} {speed:>8}")


if __name__ == "__main__":
    main()
