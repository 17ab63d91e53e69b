"""The vectorized engine: every start of an optimizer advances as one array operation per step.

``simulate(experiment)`` runs each ``optimizers:`` entry over all starts at once: the step
functions in :mod:`optiviz.optimizers` take the whole (N, 2) parameter array, so a config step is
one torch ``optimizer.step()`` (then ``scheduler.step()``) for N independent runs. Gradient noise
and mini-batches live in the :class:`Oracle` the optimizer is handed, seeded from the experiment's
seed and the entry's index, so results are reproducible and independent of the other entries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from optiviz.experiment import Experiment, OptimizerConfig
from optiviz.trajectories import Trajectories


class Oracle:
    """A Function seen by an optimizer over N runs: (N, 2) parameters in, arrays out.

    ``noise`` adds N(0, noise^2) to every gradient component; ``batch_size`` (dataset objectives)
    evaluates the loss and gradient on the current mini-batch, which changes once per step
    (``begin_step``) and walks through a fresh permutation of the samples each epoch.
    """

    def __init__(
        self,
        function: Any,
        *,
        noise: float = 0.0,
        batch_size: int | None = None,
        rng: np.random.Generator | None = None,
    ):
        self.function = function
        self.noise = noise
        self.batch_size = batch_size
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.evaluations = 0
        self._batch: np.ndarray | None = None
        self._order = np.empty(0, dtype=np.int64)
        self._cursor = 0

    def begin_step(self) -> None:
        """Draw the next mini-batch (shuffling anew each epoch); a no-op for full batches."""
        if self.batch_size is None:
            return
        n = self.function.n_samples
        if self._cursor >= self._order.size:
            self._order = self.rng.permutation(n)
            self._cursor = 0
        self._batch = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size

    def value(self, params: np.ndarray) -> np.ndarray:
        self.evaluations += 1
        x, y = params[:, 0], params[:, 1]
        with np.errstate(all="ignore"):
            if self._batch is not None:
                return np.asarray(self.function.batch_value(x, y, self._batch), dtype=np.float64)
            return np.asarray(self.function.value(x, y), dtype=np.float64)

    def grad(self, params: np.ndarray) -> np.ndarray:
        x, y = params[:, 0], params[:, 1]
        out = np.empty_like(params)
        with np.errstate(all="ignore"):
            if self._batch is not None:
                gx, gy = self.function.batch_grad(x, y, self._batch)
            else:
                gx, gy = self.function.grad(x, y)
        out[:, 0] = gx
        out[:, 1] = gy
        if self.noise:
            out += self.noise * self.rng.standard_normal(out.shape)
        return out

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.value(params), self.grad(params)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        x, y = params[:, 0], params[:, 1]
        with np.errstate(all="ignore"):
            fxx, fxy, fyy = self.function.hessian(x, y)
        out = np.empty((params.shape[0], 2, 2))
        out[:, 0, 0] = fxx
        out[:, 0, 1] = fxy
        out[:, 1, 0] = fxy
        out[:, 1, 1] = fyy
        return out


def _hyper_schedule(config: OptimizerConfig, steps: int) -> Callable[[int], dict]:
    """step index -> the hyperparameter dict that step uses (lr, momentum from the schedule)."""
    from optiviz.optimizers import OPTIMIZERS

    inner = config.hyper.get("inner")
    base = dict(inner.hyper) if inner is not None else dict(config.hyper)
    if config.schedule is None:
        fixed = dict(config.hyper)
        return lambda t: fixed
    from optiviz.schedules import schedule_values

    target = (
        OPTIMIZERS.get(config.inner.name)
        if config.inner is not None
        else OPTIMIZERS.get(config.name)
    )
    key = target.momentum_key
    base_momentum = None
    if key == "betas":
        base_momentum = base["betas"][0]
    elif key is not None:
        base_momentum = base.get(key)
    values = schedule_values(config.schedule, base["lr"], steps, base_momentum=base_momentum)
    lrs = values.lr.tolist()
    momenta = values.momentum.tolist() if values.momentum is not None else None

    def at(t: int) -> dict:
        h = dict(base)
        h["lr"] = lrs[t]
        if momenta is not None and key is not None:
            if key == "betas":
                h["betas"] = (momenta[t], base["betas"][1])
            else:
                h[key] = momenta[t]
        if inner is not None:
            return {**config.hyper, "inner": type(inner)(inner.spec, h)}
        return h

    return at


def _lr_of(hyper: dict) -> float:
    inner = hyper.get("inner")
    if inner is not None:
        return float(inner.hyper.get("lr", np.nan))
    return float(hyper.get("lr", np.nan))


def run_entry(
    config: OptimizerConfig, function: Any, starts: np.ndarray, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one optimizer entry from every start. Returns time-major positions (S+1, N, 2),
    loss (S+1, N), lr (S,) and diverged_step (N,)."""
    from optiviz.optimizers import OPTIMIZERS

    spec = OPTIMIZERS.get(config.name)
    n = starts.shape[0]
    oracle = Oracle(function, noise=config.noise, batch_size=config.batch_size, rng=rng)
    loss_of = Oracle(function)  # recorded loss: the full-batch objective, noise-free
    hyper_at = _hyper_schedule(config, steps)
    position = spec.position

    # Time-major, so each step writes one contiguous block.
    positions = np.empty((steps + 1, n, 2))
    loss = np.empty((steps + 1, n))
    lr = np.empty(steps)
    diverged_step = np.full(n, -1, dtype=np.int64)
    alive = np.ones(n, dtype=bool)

    params = np.array(starts, dtype=np.float64, copy=True)
    state = spec.init(params, hyper_at(0))
    positions[0] = params if position is None else position(params, state)
    loss[0] = loss_of.value(positions[0])
    last_good = params.copy()
    with np.errstate(all="ignore"):
        for t in range(steps):
            hyper = hyper_at(t)
            lr[t] = _lr_of(hyper)
            oracle.begin_step()
            params, state = spec.step(params, state, hyper, oracle)
            shown = params if position is None else position(params, state)
            value = loss_of.value(shown)
            positions[t + 1] = shown
            loss[t + 1] = value
            # One elementwise pass: NaN or inf anywhere in (loss, x, y) makes the sum non-finite.
            finite = np.isfinite(value + shown[:, 0] + shown[:, 1])
            if not finite.all():
                newly = alive & ~finite
                if newly.any():
                    diverged_step[newly] = t + 1
                    alive &= finite
                # Keep the frozen runs' parameters finite so they cost nothing and warn nothing;
                # their results are masked below.
                params = np.where(finite[:, None], params, last_good)
            if not alive.all():
                dead = ~alive
                positions[t + 1, dead] = np.nan
                loss[t + 1, dead] = np.nan
                if not alive.any():
                    positions[t + 2 :] = np.nan
                    loss[t + 2 :] = np.nan
                    for rest in range(t + 1, steps):
                        lr[rest] = _lr_of(hyper_at(rest))
                    break
            np.copyto(last_good, params)
    return positions, loss, lr, diverged_step


def simulate(experiment: Experiment) -> Trajectories:
    """Run every optimizer of the experiment from every start."""
    if experiment.kind != "optimizers":
        raise ValueError("simulate() runs optimizer experiments; use optiviz.sampling.run")
    starts = experiment.starts
    n = starts.shape[0]
    steps = experiment.steps
    runs = len(experiment.optimizers) * n
    positions = np.empty((runs, steps + 1, 2))
    loss = np.empty((runs, steps + 1))
    lr = np.empty((runs, steps))
    diverged = np.empty(runs, dtype=np.int64)
    labels, names, run_optimizer, run_start = [], [], [], []
    for i, config in enumerate(experiment.optimizers):
        rng = np.random.default_rng([experiment.seed, i])
        rows = slice(i * n, (i + 1) * n)
        path, values, rates, stopped = run_entry(config, experiment.function, starts, steps, rng)
        positions[rows] = path.transpose(1, 0, 2)
        loss[rows] = values.T
        lr[rows] = rates[None, :]
        diverged[rows] = stopped
        labels += [config.label] * n
        names += [config.name] * n
        run_optimizer += [i] * n
        run_start += list(range(n))
    return Trajectories(
        positions=positions,
        loss=loss,
        lr=lr,
        label=np.array(labels, dtype=str),
        optimizer=np.array(names, dtype=str),
        run_optimizer=np.array(run_optimizer, dtype=np.int64),
        run_start=np.array(run_start, dtype=np.int64),
        diverged_step=diverged,
    )
