"""Small experiments for the renderer tests, independent of the engine: plain gradient descent
on a real test function, with one run made to diverge."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optiviz.experiment import Experiment, OptimizerConfig, RenderConfig
from optiviz.trajectories import Trajectories

TINY = RenderConfig(width=160, height=120, dpi=50, fps=10, hold=0.2, levels=8)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    kind: str


@dataclass(frozen=True)
class Rosenbrock:
    """A duck-typed stand-in for ``optiviz.functions`` Rosenbrock (same domain, points, scale),
    so that renderer tests and the golden image do not move when that module changes."""

    name: str = "rosenbrock"
    title: str = "Rosenbrock"
    formula: str = r"$(1-x)^2 + 100(y-x^2)^2$"
    domain: tuple = ((-2.0, 2.0), (-1.0, 3.0))
    points: tuple = (Point(1.0, 1.0, 0.0, "global minimum"),)
    log_scale: bool = True
    minimum: float = 0.0
    xlabel: str = "x"
    ylabel: str = "y"

    def value(self, x, y):
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    def grad(self, x, y):
        return -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)


@dataclass(frozen=True)
class Saddle:
    """f = x^2 - y^2 (losses go negative: the loss panel must cope)."""

    name: str = "saddle"
    title: str = "Saddle"
    formula: str = r"$x^2 - y^2$"
    domain: tuple = ((-1.5, 1.5), (-1.5, 1.5))
    points: tuple = (Point(0.0, 0.0, 0.0, "saddle"),)
    log_scale: bool = False
    minimum: float | None = None
    xlabel: str = "x"
    ylabel: str = "y"

    def value(self, x, y):
        return x**2 - y**2

    def grad(self, x, y):
        return 2 * x, -2 * y


FUNCTIONS = {"rosenbrock": Rosenbrock(), "saddle": Saddle()}


def gradient_descent(function, starts: np.ndarray, lrs: list[float], steps: int,
                     diverge: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (R, S+1, 2) and loss (R, S+1) of plain gradient descent, runs optimizer-major;
    run ``diverge`` (if given) becomes NaN from the middle step on."""
    runs = len(lrs) * len(starts)
    positions = np.empty((runs, steps + 1, 2))
    lr = np.repeat(np.asarray(lrs, dtype=float), len(starts))[:, None]
    positions[:, 0] = np.tile(starts, (len(lrs), 1))
    for t in range(steps):
        gx, gy = function.grad(positions[:, t, 0], positions[:, t, 1])
        positions[:, t + 1] = positions[:, t] - lr * np.column_stack([gx, gy])
    if diverge is not None:
        positions[diverge, steps // 2:] = np.nan
    loss = function.value(positions[..., 0], positions[..., 1])
    return positions, loss


def make_case(*, function="rosenbrock", steps: int = 12, lrs=(1e-3, 2e-3, 5e-4),
              starts=((-1.5, 2.0),), diverge: int | None = 2, start_kind: str = "points",
              render: RenderConfig = TINY, title: str | None = "Test") -> tuple:
    """``(experiment, trajectories)`` for a few gradient-descent runs on ``function``."""
    f = FUNCTIONS[function] if isinstance(function, str) else function
    starts = np.asarray(starts, dtype=float)
    positions, loss = gradient_descent(f, starts, list(lrs), steps, diverge)
    runs = positions.shape[0]
    labels = [f"GD lr={lr:g}" for lr in lrs]
    run_optimizer = np.repeat(np.arange(len(lrs)), len(starts))
    diverged_step = np.full(runs, -1)
    if diverge is not None:
        diverged_step[diverge] = steps // 2
    trajectories = Trajectories(
        positions=positions,
        loss=loss,
        lr=np.repeat(np.asarray(lrs)[run_optimizer][:, None], steps, axis=1),
        label=np.array([labels[i] for i in run_optimizer]),
        optimizer=np.array(["sgd"] * runs),
        run_optimizer=run_optimizer,
        run_start=np.tile(np.arange(len(starts)), len(lrs)),
        diverged_step=diverged_step,
    )
    experiment = Experiment(
        name="case", title=title, source=None, render=render, function=f, starts=starts,
        start_kind=start_kind, steps=steps,
        optimizers=tuple(OptimizerConfig("sgd", label, {"lr": lr}) for label, lr in
                         zip(labels, lrs, strict=True)),
    )
    return experiment, trajectories


def with_render(experiment: Experiment, **changes) -> Experiment:
    return replace(experiment, render=replace(experiment.render, **changes))
