"""Engine benchmark: optiviz vs torch.optim, whole process against whole process.

8 optimizers x 500 steps on Rosenbrock:
  * optiviz (`optiviz run --no-render`) vs torch.optim batched: all N = 10,000 starts as one (N, 2)
    parameter per optimizer, autograd for the gradient;
  * optiviz vs the tutorial loop: one trajectory at a time (a (2,) parameter), N = 20 starts.
Each side runs as its own Python process (imports included), best of --repeat runs.
Run: .venv/bin/python bench/engine.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
from pathlib import Path

from whole_process import best_time  # bench/ is on sys.path: run as a script

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
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


def config_text(n: int) -> str:
    optimizers = "\n".join(f"  - {entry}" for entry, _ in OPTIMIZERS)
    return (
        f"function: rosenbrock\nstart: {{random: {n}, seed: 0, box: [[-2, 2], [-1, 3]]}}\n"
        f"steps: {STEPS}\noptimizers:\n{optimizers}\n"
    )


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


def torch_batched(n: int) -> str:
    makers = "[" + ", ".join(f"lambda ps: {ctor}" for _, ctor in OPTIMIZERS) + "]"
    return TORCH_PRELUDE + textwrap.dedent(f"""
        starts = lo + (hi - lo) * torch.rand(({n}, 2), generator=g)
        out = []
        for make in {makers}:
            p = starts.clone().requires_grad_(True)
            opt = make([p])
            path = torch.empty(({STEPS} + 1, {n}, 2)); losses = torch.empty(({STEPS} + 1, {n}))
            path[0] = p.detach()
            for t in range({STEPS}):
                opt.zero_grad()
                loss = rosen(p)
                losses[t] = loss.detach()
                loss.sum().backward()
                opt.step()
                path[t + 1] = p.detach()
            losses[{STEPS}] = rosen(p.detach())
            out.append(path)
    """)


def torch_loop(n: int) -> str:
    makers = "[" + ", ".join(f"lambda ps: {ctor}" for _, ctor in OPTIMIZERS) + "]"
    return TORCH_PRELUDE + textwrap.dedent(f"""
        starts = lo + (hi - lo) * torch.rand(({n}, 2), generator=g)
        out = []
        for make in {makers}:
            for i in range({n}):
                p = starts[i].clone().requires_grad_(True)
                opt = make([p])
                path = [p.detach().clone()]; losses = []
                for t in range({STEPS}):
                    opt.zero_grad()
                    loss = rosen(p)
                    losses.append(loss.item())
                    loss.backward()
                    opt.step()
                    path.append(p.detach().clone())
                out.append(path)
    """)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ)  # both sides with their default threading
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, rival, script in (
            (10_000, "torch.optim batched", torch_batched),
            (20, "tutorial loop (torch, one run at a time)", torch_loop),
        ):
            cfg = tmp / f"bench_{n}.yaml"
            cfg.write_text(config_text(n))
            ours = best_time(
                [
                    str(BIN / "optiviz"),
                    "run",
                    str(cfg),
                    "--no-render",
                    "--quiet",
                ],  # like the rivals: every trajectory computed and kept in memory, not written
                args.repeat,
                env,
            )
            rival_file = tmp / f"rival_{n}.py"
            rival_file.write_text(script(n))
            repeat = args.repeat if n > 100 else 1
            theirs = best_time([sys.executable, str(rival_file)], repeat, env)
            rows.append((n, rival, ours, theirs))
    print(
        f"engine: {len(OPTIMIZERS)} optimizers x {STEPS} steps on Rosenbrock, whole process, "
        f"best of {args.repeat}"
    )
    print(f"{'starts':>7}  {'rival':<42} {'optiviz':>9} {'rival':>9} {'speed-up':>9}")
    for n, rival, ours, theirs in rows:
        print(f"{n:>7}  {rival:<42} {ours:>8.2f}s {theirs:>8.2f}s {theirs / ours:>8.1f}x")


if __name__ == "__main__":
    main()
