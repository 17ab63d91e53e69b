"""The vectorized engine: every run (entries x starts) advances as few array operations per step.

``simulate(experiment)`` runs each run group over all starts at once: the step functions in
:mod:`optiviz.optimizers` take the whole (N, 2) parameter array, so a config step is one torch
``optimizer.step()`` (then ``scheduler.step()``) for N independent runs. Entries that differ only
in per-run hyperparameters (an lr sweep) form one group of G·N runs whose differing values are
(G·N, 1) columns (:func:`group_entries`); every run's result is bit-identical to running its
entry alone. Gradient noise
and mini-batches live in the :class:`Oracle` the optimizer is handed, seeded from the experiment's
seed and the entry's index, so results are reproducible and independent of the other entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def spec_of(config: OptimizerConfig) -> Any:
    """The OptimizerSpec an entry runs: its own (torch classes, plugins named by import path)
    or the registry's."""
    if config.spec is not None:
        return config.spec
    from optiviz.optimizers import OPTIMIZERS

    return OPTIMIZERS.get(config.name)


def _hyper_schedule(config: OptimizerConfig, steps: int) -> Callable[[int], dict]:
    """step index -> the hyperparameter dict that step uses (lr, momentum from the schedule)."""
    inner = config.hyper.get("inner")
    base = dict(inner.hyper) if inner is not None else dict(config.hyper)
    if config.schedule is None:
        fixed = dict(config.hyper)
        return lambda t: fixed
    from optiviz.schedules import schedule_values

    target = spec_of(config.inner) if config.inner is not None else spec_of(config)
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


def _is_zero(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_is_zero(part) for part in value)
    return value == 0


def group_entries(optimizers: Sequence[OptimizerConfig]) -> list[tuple[int, ...]]:
    """Partition ``optimizers:`` entries into run groups, each stepped as one array operation.

    Two entries share a group when they name the same optimizer and schedule, are deterministic
    (noise and mini-batches are drawn from each entry's own generator, so such entries run
    alone) and agree exactly (``repr``, so 0.0 ≠ −0.0) on every hyperparameter except those the
    spec's ``per_run_hyper`` lists; those may differ, but not in whether they are zero, since
    steps branch on ``nonzero``. Entries with their own spec (``torch:`` classes, plugins named
    by import path) run alone. Groups come in order of their first entry, entries in order.
    """
    groups: dict[str, list[int]] = {}
    for index, config in enumerate(optimizers):
        per_run = spec_of(config).per_run_hyper
        if config.noise or config.batch_size is not None or config.spec is not None:
            key = repr(("alone", index))
        else:
            shared = sorted((k, v) for k, v in config.hyper.items() if k not in per_run)
            zero = sorted((k, _is_zero(v)) for k, v in config.hyper.items() if k in per_run)
            key = repr((config.name, config.schedule, config.inner, shared, zero))
        groups.setdefault(key, []).append(index)
    return [tuple(entries) for entries in groups.values()]


def _per_run(values: list, runs_per_entry: int) -> Any:
    """One value per entry -> the value itself if all entries agree exactly, else a (G·N, 1)
    column (a tuple of them for tuple values such as betas)."""
    first = values[0]
    if all(repr(value) == repr(first) for value in values):
        return first
    if isinstance(first, tuple):
        return tuple(
            _per_run([value[part] for value in values], runs_per_entry)
            for part in range(len(first))
        )
    return np.repeat(np.asarray(values, dtype=np.float64), runs_per_entry)[:, None]


def _group_hyper(hypers: list[dict], per_run: frozenset[str], runs_per_entry: int) -> dict:
    """The entries' hyperparameters of one step as one dict for the whole group."""
    merged = dict(hypers[0])
    if len(hypers) > 1:
        for key in per_run.intersection(merged):
            merged[key] = _per_run([hyper[key] for hyper in hypers], runs_per_entry)
    return merged


def run_group(
    configs: Sequence[OptimizerConfig],
    function: Any,
    starts: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    out: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[int], None] | None = None,
    record: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run a group of G entries (see :func:`group_entries`) from every start as G·N runs,
    entry-major. Returns time-major positions (S+1, G·N, 2), loss (S+1, G·N), lr (G, S) and
    diverged_step (G·N,). ``rng`` draws the noise and mini-batches of a group of one.
    ``out``: time-major (positions, loss) arrays to record into (e.g. views of the whole
    experiment's), so that nothing is copied afterwards. ``progress(steps_done)`` is called
    every :func:`progress_every` steps. ``record``: a :class:`optiviz.recording.GroupRecorder`
    that sees the gradients and state of every step (overlays, the state panel)."""

    config = configs[0]
    spec = spec_of(config)
    n = starts.shape[0]
    runs = len(configs) * n
    oracle = Oracle(function, noise=config.noise, batch_size=config.batch_size, rng=rng)
    loss_of = Oracle(function)  # recorded loss: the full-batch objective, noise-free
    if record is not None:
        oracle = record.watch(oracle)
    entry_hyper_at = [_hyper_schedule(entry, steps) for entry in configs]
    scheduled = any(entry.schedule is not None for entry in configs)
    fixed = _group_hyper([at(0) for at in entry_hyper_at], spec.per_run_hyper, n)

    def hyper_at(t: int) -> dict:
        if not scheduled:
            return fixed
        return _group_hyper([at(t) for at in entry_hyper_at], spec.per_run_hyper, n)

    def record_lr(t: int) -> None:
        for entry, at in enumerate(entry_hyper_at):
            lr[entry, t] = _lr_of(at(t))

    position = spec.position

    # Time-major, so each step writes one contiguous block.
    if out is None:
        out = (np.empty((steps + 1, runs, 2)), np.empty((steps + 1, runs)))
    positions, loss = out
    lr = np.empty((len(configs), steps))
    diverged_step = np.full(runs, -1, dtype=np.int64)
    alive = np.ones(runs, dtype=bool)

    params = np.tile(np.asarray(starts, dtype=np.float64), (len(configs), 1))
    state = spec.init(params, fixed)
    positions[0] = params if position is None else position(params, state)
    loss[0] = loss_of.value(positions[0])
    last_good = params.copy()
    every = progress_every(steps)
    with np.errstate(all="ignore"):
        for t in range(steps):
            if progress is not None and t % every == 0 and t:
                progress(t)
            hyper = hyper_at(t)
            record_lr(t)
            oracle.begin_step()
            if record is not None:
                record.begin(t)
            params, state = spec.step(params, state, hyper, oracle)
            if record is not None:
                record.after(spec, state, hyper)
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
                        record_lr(rest)
                    break
            np.copyto(last_good, params)
    return positions, loss, lr, diverged_step


PROGRESS_CALLS = 1000


def progress_every(steps: int) -> int:
    """Steps between two progress reports: at most ``PROGRESS_CALLS`` reports per run group,
    so reporting costs nothing measurable even when a step takes microseconds."""
    return max(1, steps // PROGRESS_CALLS)


def run_entry(
    config: OptimizerConfig, function: Any, starts: np.ndarray, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one optimizer entry from every start. Returns time-major positions (S+1, N, 2),
    loss (S+1, N), lr (S,) and diverged_step (N,)."""
    positions, loss, lr, diverged_step = run_group((config,), function, starts, steps, rng)
    return positions, loss, lr[0], diverged_step


def simulate(
    experiment: Experiment, progress: Callable[[int, int], None] | None = None
) -> Trajectories:
    """Run every optimizer of the experiment from every start, one run group at a time.

    ``progress(done, total)`` hears how far the work is, in optimizer-entry steps (``total`` =
    entries x steps; an entry's steps count once however many starts it has), now and then
    during each run group and once at the end of each."""
    if experiment.kind != "optimizers":
        raise ValueError("simulate() runs optimizer experiments; use optiviz.sampling.run")
    from optiviz import budget

    budget.check_simulation(experiment)  # loaded configs passed it; experiments built in Python
    starts = experiment.starts
    n = starts.shape[0]
    steps = experiment.steps
    entries = experiment.optimizers
    runs = len(entries) * n
    # Recorded time-major (each step writes one contiguous block) and handed out transposed:
    # positions[r, t] is a view, never a copy of the (possibly gigabytes of) paths.
    path = np.empty((steps + 1, runs, 2))
    values = np.empty((steps + 1, runs))
    lr = np.empty((runs, steps))
    diverged = np.empty(runs, dtype=np.int64)
    total, done = len(entries) * steps, 0
    from optiviz.recording import Recording, requested

    wanted = requested(experiment)  # overlays and the state panel: recorded only when asked
    recording = Recording(wanted, steps, runs, starts.shape[1]) if wanted else None
    for group in group_entries(entries):
        # A group of one keeps its entry's generator; larger groups are deterministic.
        rng = np.random.default_rng([experiment.seed, group[0]])
        configs = [entries[i] for i in group]
        first, contiguous = group[0], tuple(group) == tuple(range(group[0], group[-1] + 1))
        block_rows = slice(first * n, (group[-1] + 1) * n)
        out = (path[:, block_rows], values[:, block_rows]) if contiguous else None
        report = None
        if progress is not None:
            def report(t: int, base: int = done, weight: int = len(group)) -> None:
                progress(base + weight * t, total)
        record = None
        if recording is not None:
            record = recording.group(np.concatenate([np.arange(i * n, (i + 1) * n)
                                                     for i in group]))
        group_path, group_values, rates, stopped = run_group(
            configs, experiment.function, starts, steps, rng, out=out, progress=report,
            record=record)
        done += len(group) * steps
        if progress is not None:
            progress(done, total)
        for member, i in enumerate(group):
            rows, block = slice(i * n, (i + 1) * n), slice(member * n, (member + 1) * n)
            if not contiguous:
                path[:, rows] = group_path[:, block]
                values[:, rows] = group_values[:, block]
            lr[rows] = rates[member][None, :]
            diverged[rows] = stopped[block]
    return Trajectories(
        positions=path.transpose(1, 0, 2),
        loss=values.T,
        lr=lr,
        label=np.repeat(np.array([config.label for config in entries], dtype=str), n),
        optimizer=np.repeat(np.array([config.name for config in entries], dtype=str), n),
        run_optimizer=np.repeat(np.arange(len(entries), dtype=np.int64), n),
        run_start=np.tile(np.arange(n, dtype=np.int64), len(entries)),
        diverged_step=diverged,
        recorded=recording.finish(path, diverged) if recording is not None else {},
    )
