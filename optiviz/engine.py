"""The vectorized engine: every run (entries x starts) advances as few array operations per step.

``simulate(experiment)`` runs each run group over all starts at once: the step functions in
:mod:`optiviz.optimizers` take the whole (N, d) parameter array (d = 2 for the test functions;
any d for an :class:`Objective`), so a config step is one torch ``optimizer.step()`` (then
``scheduler.step()``) for N independent runs. Entries that differ only in per-run
hyperparameters (an lr sweep) form one group of G·N runs whose differing values are (G·N, 1)
columns (:func:`group_entries`); every run's result is bit-identical to running its entry alone.
Gradient noise and mini-batches live in the :class:`Oracle` the optimizer is handed, seeded from
the experiment's seed and the entry's index, so results are reproducible and independent of the
other entries.

Memory: the engine owns one (G·N, d) parameter array per group and steps it with the spec's
``step_in_place`` when there is one (the built-in elementwise optimizers: their temporaries
live in work buffers in their state), so a step allocates nothing of size N but what the
objective itself computes; what is recorded is written straight into the (preallocated,
time-major) output, and only the steps asked for (``record_steps``) are kept. Learning rates
are kept once per entry (G, S).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from optiviz.experiment import Experiment, OptimizerConfig
from optiviz.trajectories import RunLR, Trajectories


class Objective(Protocol):
    """What the engine optimizes: a scalar function of d parameters, vectorized over N runs.

    ``dim`` is d and ``param_names`` names the d coordinates (``--data`` writes them);
    ``value(P (N, d)) -> (N,)``, ``grad(P) -> (N, d)``, ``hessian(P) -> (N, d, d)`` (only
    Newton and Hessian-vector torch optimizers call it). Optional: ``value_and_grad(P)`` when
    both share work; ``n_samples``, ``batch_value(P, indices)`` and ``batch_grad(P, indices)``
    for mini-batches (``batch_size``). Evaluations must be row-independent: row i of the result
    depends on row i of P only, so that grouped and blocked runs stay exact. The 2-D test
    functions (``Function``: ``value(x, y)``, ``grad(x, y) -> (fx, fy)``,
    ``hessian(x, y) -> (fxx, fxy, fyy)``) are objectives through :class:`PlanarObjective`;
    :func:`as_objective` tells the two apart by ``dim``.
    """

    dim: int
    param_names: tuple[str, ...]

    def value(self, params: np.ndarray) -> np.ndarray: ...

    def grad(self, params: np.ndarray) -> np.ndarray: ...

    def hessian(self, params: np.ndarray) -> np.ndarray: ...


class PlanarObjective:
    """A 2-D ``Function`` (``value(x, y)``, ...) seen as an :class:`Objective` over (N, 2)."""

    dim = 2

    def __init__(self, function: Any):
        self.function = function
        self.param_names = (str(getattr(function, "xlabel", "x") or "x"),
                            str(getattr(function, "ylabel", "y") or "y"))

    @property
    def n_samples(self) -> int:
        return self.function.n_samples

    def value(self, params: np.ndarray) -> np.ndarray:
        return np.asarray(self.function.value(params[:, 0], params[:, 1]), dtype=np.float64)

    def grad(self, params: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        gx, gy = self.function.grad(params[:, 0], params[:, 1])
        if out is None:
            out = np.empty((params.shape[0], 2))
        out[:, 0] = gx
        out[:, 1] = gy
        return out

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.value(params), self.grad(params)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        fxx, fxy, fyy = self.function.hessian(params[:, 0], params[:, 1])
        out = np.empty((params.shape[0], 2, 2))
        out[:, 0, 0] = fxx
        out[:, 0, 1] = fxy
        out[:, 1, 0] = fxy
        out[:, 1, 1] = fyy
        return out

    def batch_value(self, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.function.batch_value(params[:, 0], params[:, 1], indices),
                          dtype=np.float64)

    def batch_grad(self, params: np.ndarray, indices: np.ndarray,
                   out: np.ndarray | None = None) -> np.ndarray:
        gx, gy = self.function.batch_grad(params[:, 0], params[:, 1], indices)
        if out is None:
            out = np.empty((params.shape[0], 2))
        out[:, 0] = gx
        out[:, 1] = gy
        return out


def as_objective(function: Any) -> Any:
    """``function`` as an :class:`Objective`: itself when it has a ``dim``, else a 2-D
    ``Function`` wrapped in :class:`PlanarObjective`."""
    if hasattr(function, "dim"):
        return function
    return PlanarObjective(function)


def param_names_of(function: Any) -> tuple[str, ...]:
    """The names of the parameters ``function`` takes (``("x", "y")`` for a test function)."""
    return tuple(as_objective(function).param_names)


def _into(out: np.ndarray | None, result: Any) -> np.ndarray:
    """``result`` as a float64 array, copied into ``out`` when one is given."""
    if out is None:
        return np.array(result, dtype=np.float64)
    np.copyto(out, result)
    return out


class Oracle:
    """An :class:`Objective` seen by an optimizer over N runs: (N, d) parameters in, arrays out.

    ``function`` is an objective or a 2-D ``Function`` (see :func:`as_objective`). ``noise``
    adds N(0, noise^2) to every gradient component; ``batch_size`` (dataset objectives)
    evaluates the loss and gradient on the current mini-batch, which changes once per step
    (``begin_step``) and walks through a fresh permutation of the samples each epoch.
    ``grad(params, out=...)`` writes into a caller's buffer (the built-in optimizers pass
    their work buffer, so a step allocates no (N, d) gradient).
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
        self.objective = as_objective(function)
        self.dim = int(self.objective.dim)
        self.param_names = tuple(self.objective.param_names)
        self._planar = isinstance(self.objective, PlanarObjective)
        self._value_and_grad = getattr(self.objective, "value_and_grad", None)
        self.noise = noise
        self.batch_size = batch_size
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self._batch: np.ndarray | None = None
        self._order = np.empty(0, dtype=np.int64)
        self._cursor = 0
        self._draws: np.ndarray | None = None  # the noise draws' buffer, reused every step

    def begin_step(self) -> None:
        """Draw the next mini-batch (shuffling anew each epoch); a no-op for full batches."""
        if self.batch_size is None:
            return
        n = self.objective.n_samples
        if self._cursor >= self._order.size:
            self._order = self.rng.permutation(n)
            self._cursor = 0
        self._batch = self._order[self._cursor : self._cursor + self.batch_size]
        self._cursor += self.batch_size

    def value(self, params: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            if self._batch is not None:
                return np.asarray(self.objective.batch_value(params, self._batch),
                                  dtype=np.float64)
            if self._planar:
                return np.asarray(self.function.value(params[:, 0], params[:, 1]),
                                  dtype=np.float64)
            return np.asarray(self.objective.value(params), dtype=np.float64)

    def grad(self, params: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The (noisy, mini-batch) gradient, a new array or ``out`` filled in."""
        with np.errstate(all="ignore"):
            if self._planar:
                if self._batch is not None:
                    gx, gy = self.function.batch_grad(params[:, 0], params[:, 1], self._batch)
                else:
                    gx, gy = self.function.grad(params[:, 0], params[:, 1])
                if out is None:
                    out = np.empty_like(params)
                out[:, 0] = gx
                out[:, 1] = gy
            elif self._batch is not None:
                out = _into(out, self.objective.batch_grad(params, self._batch))
            else:
                out = _into(out, self.objective.grad(params))
        if self.noise:
            if self._draws is None or self._draws.shape != out.shape:
                self._draws = np.empty(out.shape)
            self.rng.standard_normal(out=self._draws)
            self._draws *= self.noise
            out += self._draws
        return out

    def grad_into(self, params: np.ndarray, out: np.ndarray) -> np.ndarray:
        """:meth:`grad` written into ``out``; what :func:`optiviz.optimizers.base.gradient`
        looks for to skip a copy."""
        return self.grad(params, out)

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._value_and_grad is not None and not self._planar and self._batch is None \
                and not self.noise:
            with np.errstate(all="ignore"):
                value, grad = self._value_and_grad(params)
            return np.asarray(value, dtype=np.float64), np.array(grad, dtype=np.float64)
        return self.value(params), self.grad(params)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.objective.hessian(params), dtype=np.float64)


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
    *,
    record_steps: np.ndarray | None = None,
    record: Any = None,
    reduce: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run a group of G entries (see :func:`group_entries`) from every start as G·N runs,
    entry-major, on ``function`` (an :class:`Objective` of d parameters or a 2-D ``Function``)
    from ``starts`` (N, d). Returns time-major positions (K, G·N, d), loss (K, G·N), lr (G, S)
    and diverged_step (G·N,), where K = S+1, or K = len(record_steps) when ``record_steps``
    (increasing step indices in 0..S) says which steps to keep: the others are computed and
    dropped, so memory follows what the output needs. ``rng`` draws the noise and mini-batches
    of a group of one. ``out``: time-major (positions, loss) arrays of K rows to record into
    (e.g. views of the whole experiment's), so that nothing is copied afterwards.
    ``progress(steps_done)`` is called every :func:`progress_every` steps. ``record``: a
    :class:`optiviz.recording.GroupRecorder` that sees the gradients and state of every step
    (overlays, the state panel). ``reduce``: a :class:`optiviz.reductions.GroupReducer` that
    sees every step's positions and loss as they would be recorded (what an output reads from
    every step when only some are kept).

    Each step, in order: the schedule's hyperparameters and lr; the oracle's next mini-batch;
    one ``spec.step`` for all runs; the recorded position (``spec.position`` or the
    parameters) and its full-batch, noise-free loss; the divergence test: a run whose loss or
    any of its d coordinates is non-finite diverges at that step and is frozen (its
    parameters reset to its last finite ones, its recorded values NaN from then on)."""

    config = configs[0]
    spec = spec_of(config)
    starts = np.asarray(starts, dtype=np.float64)
    n, dim = starts.shape
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
    # The engine owns ``params``: a spec's in-place update writes each step into it.
    in_place = getattr(spec, "step_in_place", None)
    step = in_place if in_place is not None else spec.step
    # slot[t]: the row step t is recorded in, -1 for a step computed but not kept.
    if record_steps is None:
        slot = np.arange(steps + 1)
    else:
        kept = np.asarray(record_steps, dtype=np.int64)
        if kept.ndim != 1 or (kept.size and (kept[0] < 0 or kept[-1] > steps
                                             or (np.diff(kept) <= 0).any())):
            raise ValueError(f"record_steps must be increasing steps in 0..{steps}")
        slot = np.full(steps + 1, -1, dtype=np.int64)
        slot[kept] = np.arange(kept.size)
    rows = int((slot >= 0).sum())
    slots = slot.tolist()

    # Time-major, so each step writes one contiguous block.
    if out is None:
        out = (record_array((rows, runs, dim)), record_array((rows, runs)))
    positions, loss = out
    lr = np.empty((len(configs), steps))
    diverged_step = np.full(runs, -1, dtype=np.int64)
    alive = np.ones(runs, dtype=bool)

    params = np.tile(starts, (len(configs), 1))
    state = spec.init(params, fixed)
    shown = params if position is None else position(params, state)
    if slots[0] >= 0 or reduce is not None:
        value = loss_of.value(shown)
        if slots[0] >= 0:
            positions[slots[0]] = shown
            loss[slots[0]] = value
        if reduce is not None:
            reduce.see(0, shown, value, alive)
    last_good = params.copy()
    total = np.empty(runs)  # loss + every coordinate: non-finite iff any of them is
    finite = np.empty(runs, dtype=bool)
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
            params, state = step(params, state, hyper, oracle)
            if record is not None:
                record.after(spec, state, hyper)
            shown = params if position is None else position(params, state)
            value = loss_of.value(shown)
            row = slots[t + 1]
            if row >= 0:
                positions[row] = shown
                loss[row] = value
            # One elementwise pass: NaN or inf anywhere in (loss, θ_1..θ_d) makes the sum
            # non-finite.
            np.add(value, shown[:, 0], out=total)
            for k in range(1, dim):
                total += shown[:, k]
            np.isfinite(total, out=finite)
            if not finite.all():
                newly = alive & ~finite
                if newly.any():
                    diverged_step[newly] = t + 1
                    alive &= finite
                # Keep the frozen runs' parameters finite so they cost nothing and warn nothing;
                # their results are masked below.
                if in_place is not None:
                    np.copyto(params, last_good, where=~finite[:, None])
                else:  # the step's array may be one it keeps: leave it alone
                    params = np.where(finite[:, None], params, last_good)
            if not alive.all():
                dead = ~alive
                if row >= 0:
                    positions[row, dead] = np.nan
                    loss[row, dead] = np.nan
                if not alive.any():
                    later = slot[t + 2 :]
                    later = later[later >= 0]
                    if later.size:
                        positions[later[0] :] = np.nan
                        loss[later[0] :] = np.nan
                    for rest in range(t + 1, steps):
                        record_lr(rest)
                    if reduce is not None:
                        reduce.see(t + 1, shown, value, alive)
                        reduce.rest(t + 2)
                    break
            if reduce is not None:
                reduce.see(t + 1, shown, value, alive)
            np.copyto(last_good, params)
    return positions, loss, lr, diverged_step


def record_array(shape: tuple[int, ...], *, shared: bool = False) -> np.ndarray:
    """A zero-filled float64 array for recorded trajectories, on ordinary pages, faulted in at
    once (``shared``: visible to forked workers, see :func:`simulate`).

    NumPy asks the kernel for transparent huge pages (``madvise``) for every array over 4 MB;
    on first touch the kernel may then compact memory to find 2 MB pages, and for the gigabyte
    a large run records, that compaction, not the arithmetic, dominated the run (measured:
    1.7–2.2 s of system time against 0.4 s on ordinary pages, for 8 × 10,000 × 500 steps). The
    recording is written once, step by step, so huge pages buy it nothing: it is an anonymous
    memory map of its own (public ``mmap``, unmapped when the array is freed). ``MAP_POPULATE``
    has the kernel fill it in one pass rather than one page fault per 4 KB written (0.6 s of
    system time down to 0.25 s for that gigabyte)."""
    size = int(np.prod(shape, dtype=np.int64)) * 8
    if size < RECORD_MAP_BYTES and not shared:
        return np.zeros(shape)
    flags = (mmap.MAP_SHARED if shared else mmap.MAP_PRIVATE) | mmap.MAP_ANONYMOUS
    if not shared:  # shared: each worker faults in the pages it writes, in parallel
        flags |= getattr(mmap, "MAP_POPULATE", 0)
    return np.frombuffer(mmap.mmap(-1, max(size, 8), flags=flags), dtype=np.float64)[
        : size // 8].reshape(shape)


#: Records smaller than this are ordinary NumPy arrays (NumPy madvises from 4 MB on).
RECORD_MAP_BYTES = 4 << 20


#: Recorded run-steps from which :func:`simulate` spreads its run groups over the cores:
#: below it, forking costs more than it saves.
PARALLEL_MIN_WORK = 4_000_000


def _workers(entries: Sequence[OptimizerConfig], groups: Sequence[tuple[int, ...]],
             work: int, *, hooks: bool) -> int:
    """How many processes :func:`simulate` runs its groups on: one per core it may use, at
    most one per group, and one alone for small work, where fork is missing, for entries that
    carry their own spec (torch classes, plugins: their libraries may not survive a fork), or
    when overlays or reductions gather per-step results in this process (``hooks``)."""
    import os

    if hooks or work < PARALLEL_MIN_WORK or len(groups) < 2 or not hasattr(os, "fork"):
        return 1
    if any(entry.spec is not None for entry in entries):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, len(groups)))


def _run_forked(groups: Sequence[tuple[int, ...]], workers: int,
                run_one: Callable[[tuple[int, ...], int], None]) -> None:
    """Run ``run_one(group, worker)`` for every group, spread over ``workers`` processes: this
    one (worker 0) and ``workers - 1`` forked children that write into the shared arrays
    ``run_one`` closes over. Each group keeps its own generator, so the results are those of
    running the groups one after another, bit for bit. The children die with this process
    (PR_SET_PDEATHSIG) and are killed if it stops early (an error, SIGINT, SIGTERM); a
    child's error is raised here."""
    import contextlib
    import os
    import pickle
    import signal

    from optiviz.atomic import exit_with_parent

    # balanced by work (runs × entries are the group's sizes), largest first
    loads = [0] * workers
    shares: list[list[tuple[int, ...]]] = [[] for _ in range(workers)]
    for group in sorted(groups, key=len, reverse=True):
        worker = loads.index(min(loads))
        shares[worker].append(group)
        loads[worker] += len(group)
    children: dict[int, int] = {}  # pid -> the read end of its error pipe
    try:
        for worker in range(1, workers):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: its groups, then out without any cleanup of the parent's
                code = 1
                try:
                    os.close(read)
                    request = exit_with_parent(signal.SIGKILL)
                    if request is not None:
                        request()
                    for group in shares[worker]:
                        run_one(group, worker)
                    code = 0
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    try:
                        message = pickle.dumps(exc)
                    except Exception:  # noqa: BLE001 - an exception that does not pickle
                        message = pickle.dumps(RuntimeError(repr(exc)))
                    os.write(write, message)
                finally:
                    os._exit(code)
            os.close(write)
            children[pid] = read
        for group in shares[0]:
            run_one(group, 0)
        failure: BaseException | None = None
        for pid, read in list(children.items()):
            _, status = os.waitpid(pid, 0)
            del children[pid]
            with os.fdopen(read, "rb") as stream:
                report = stream.read()
            if failure is None and report:
                failure = pickle.loads(report)
            elif failure is None and status != 0:
                failure = RuntimeError(f"a simulation worker ended with status {status}")
        if failure is not None:
            raise failure
    finally:
        for pid, read in children.items():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(read)


PROGRESS_CALLS = 1000


def progress_every(steps: int) -> int:
    """Steps between two progress reports: at most ``PROGRESS_CALLS`` reports per run group,
    so reporting costs nothing measurable even when a step takes microseconds."""
    return max(1, steps // PROGRESS_CALLS)


def run_entry(
    config: OptimizerConfig, function: Any, starts: np.ndarray, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one optimizer entry from every start. Returns time-major positions (S+1, N, d),
    loss (S+1, N), lr (S,) and diverged_step (N,)."""
    positions, loss, lr, diverged_step = run_group((config,), function, starts, steps, rng)
    return positions, loss, lr[0], diverged_step


def simulate(
    experiment: Experiment,
    progress: Callable[[int, int], None] | None = None,
    *,
    record_steps: Sequence[int] | np.ndarray | None = None,
    reduce: Any = None,
) -> Trajectories:
    """Run every optimizer of the experiment from every start, one run group at a time.

    ``progress(done, total)`` hears how far the work is, in optimizer-entry steps (``total`` =
    entries x steps; an entry's steps count once however many starts it has), now and then
    during each run group and once at the end of each. ``record_steps``: the steps to keep
    (increasing, in 0..S; default all); the result's ``steps_recorded`` lists them.
    ``reduce``: an :class:`optiviz.reductions.Wanted`, the reductions over every step that
    the outputs read instead of the steps not recorded (``Trajectories.reduced``)."""
    if experiment.kind != "optimizers":
        raise ValueError("simulate() runs optimizer experiments; use optiviz.sampling.run")
    from optiviz import budget

    kept = None if record_steps is None else np.asarray(record_steps, dtype=np.int64)
    # loaded configs passed it (for every step); experiments built in Python, and what is kept
    budget.check_simulation(experiment, recorded=None if kept is None else kept.size)
    starts = np.asarray(experiment.starts, dtype=np.float64)
    n, dim = starts.shape
    steps = experiment.steps
    entries = experiment.optimizers
    runs = len(entries) * n
    rows = steps + 1 if kept is None else kept.size
    from optiviz.recording import Recording, requested

    wanted = requested(experiment)  # overlays and the state panel: recorded only when asked
    recording = Recording(wanted, steps, runs, starts.shape[1]) if wanted else None
    reductions = None
    if reduce is not None:
        from optiviz.reductions import Reductions

        reductions = Reductions(reduce, experiment.function, len(entries), n, steps)
    groups = group_entries(entries)
    workers = _workers(entries, groups, runs * (steps + 1),
                       hooks=recording is not None or reductions is not None)
    shared = workers > 1
    # Recorded time-major (each step writes one contiguous block) and handed out transposed:
    # positions[r, t] is a view, never a copy of the (possibly gigabytes of) paths.
    path = record_array((rows, runs, dim), shared=shared)
    values = record_array((rows, runs), shared=shared)
    # one schedule per entry, expanded per run on demand
    lr = record_array((len(entries), steps), shared=shared) if shared else \
        np.empty((len(entries), steps))
    diverged = np.empty(runs, dtype=np.int64)
    stopped_at = record_array((runs,), shared=True) if shared else None
    total = len(entries) * steps
    # entry-steps done by each worker (the calling process is worker 0)
    done = record_array((workers,), shared=True) if shared else np.zeros(1)

    def run_one(group: tuple[int, ...], worker: int) -> None:
        # A group of one keeps its entry's generator; larger groups are deterministic.
        rng = np.random.default_rng([experiment.seed, group[0]])
        configs = [entries[i] for i in group]
        first, contiguous = group[0], tuple(group) == tuple(range(group[0], group[-1] + 1))
        block_rows = slice(first * n, (group[-1] + 1) * n)
        out = (path[:, block_rows], values[:, block_rows]) if contiguous else None
        base = float(done[worker])
        report = None
        if progress is not None or shared:
            def report(t: int, weight: int = len(group)) -> None:
                done[worker] = base + weight * t
                if progress is not None and worker == 0:
                    progress(int(done.sum()), total)
        record = None
        if recording is not None:
            record = recording.group(np.concatenate([np.arange(i * n, (i + 1) * n)
                                                     for i in group]))
        group_path, group_values, rates, stopped = run_group(
            configs, experiment.function, starts, steps, rng, out=out, progress=report,
            record_steps=kept, record=record,
            reduce=reductions.group(group) if reductions is not None else None)
        done[worker] = base + len(group) * steps
        if progress is not None and worker == 0:
            progress(int(done.sum()), total)
        for member, i in enumerate(group):
            rows_i, block = slice(i * n, (i + 1) * n), slice(member * n, (member + 1) * n)
            if not contiguous:
                path[:, rows_i] = group_path[:, block]
                values[:, rows_i] = group_values[:, block]
            lr[i] = rates[member]
            if stopped_at is not None:
                stopped_at[rows_i] = stopped[block]
            else:
                diverged[rows_i] = stopped[block]

    if shared:
        _run_forked(groups, workers, run_one)
        diverged[:] = stopped_at
        if progress is not None:
            progress(total, total)
    else:
        for group in groups:
            run_one(group, 0)
    run_optimizer = np.repeat(np.arange(len(entries), dtype=np.int64), n)
    return Trajectories(
        positions=path.transpose(1, 0, 2),
        loss=values.T,
        lr=RunLR(lr, run_optimizer),
        label=np.repeat(np.array([config.label for config in entries], dtype=str), n),
        optimizer=np.repeat(np.array([config.name for config in entries], dtype=str), n),
        run_optimizer=run_optimizer,
        run_start=np.tile(np.arange(n, dtype=np.int64), len(entries)),
        diverged_step=diverged,
        param_names=param_names_of(experiment.function),
        steps_recorded=kept,
        recorded=recording.finish(path, diverged) if recording is not None else {},
        reduced=reductions.finish() if reductions is not None else None,
    )
