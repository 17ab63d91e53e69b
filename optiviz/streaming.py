"""Streaming reductions over blocks of starts: basin maps of a million starts in little memory.

:func:`optiviz.engine.simulate` keeps every step of every run. A basin map needs far less per
run: which known minimum the run ends within ``tolerance`` of, the first step it came within
``tolerance`` of one, its final loss, the step it diverged at, and at each rendered frame which
basin it is in. :func:`run_basins` advances cache-sized blocks of starts (``BLOCK``) through all
their steps keeping only those, so memory is one block's working set per worker plus the map,
never starts × steps.

The steps are the engine's: the same run groups (:func:`~optiviz.engine.group_entries`), step
functions (:func:`~optiviz.engine.spec_of`), schedules, :class:`~optiviz.engine.Oracle` and
divergence rule (a run diverges at the first step where its loss or a coordinate is not
finite, and is frozen from then on), so every run's reductions are those of its trajectory in
``simulate`` (tests/test_basins.py checks them against runs classified by hand).

Blocks are independent, and each block's arithmetic is elementwise over its runs, so results
do not depend on how the starts are split: the block size, the worker processes (forked, each
writing its blocks into shared memory) or Dask chunks (:func:`run_basins` with ``client``)
change nothing. Entries with gradient noise or mini-batches draw them per block from
``default_rng([seed, entry, block])``, over the fixed ``BLOCK`` partition, so they too are the
same whatever the workers or chunks.

Codes: a run's basin is the index of a known minimum (``Function.points`` of kind ``... minimum``
in their order), ``NONE`` (-1: not within tolerance of any) or ``DIVERGED`` (-2).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optiviz.engine import (
    Oracle,
    _group_hyper,
    _hyper_schedule,
    group_entries,
    spec_of,
)
from optiviz.errors import ConfigError, OptivizError

NONE = -1
DIVERGED = -2
#: Starts per block: a block's (b, 2) arrays (256 KiB) and the optimizer state stay in the
#: core's cache. Measured for Adam on Himmelblau, ns per run-step on one core: 33 at 4k,
#: 28 at 8k, 26 at 16k, 26 at 32k (Python's per-step overhead amortized, the cache still
#: holding the working set).
BLOCK = 16384
#: Dask: chunks per worker thread, so a slow worker does not hold up the map.
DASK_CHUNKS_PER_THREAD = 4


# Validation --------------------------------------------------------------------------------------

def known_minima(function: Any) -> list[Any]:
    """The function's known minima (global and local), in the order it lists them."""
    return [p for p in getattr(function, "points", ()) if p.kind.endswith("minimum")]


def check_basins(function: Any, start_kind: str, tolerance: Any = None,
                 optimizers: Any = ()) -> float:
    """Refuse what a basin map cannot show; return the distance that counts as reaching a
    minimum: ``tolerance.distance`` (an :class:`optiviz.statistics.Tolerance`; None: the
    default)."""
    from optiviz.statistics import DEFAULT_DISTANCE

    minima = known_minima(function)
    if not minima:
        raise ConfigError(
            f"the basins view colours each start by the known minimum its run reaches, and "
            f"{function.name} lists none; use a function with known minima (himmelblau, "
            "six_hump_camel, styblinski_tang, ...) or {expr: ..., minima: [[x, y], ...]}",
            ("render", "view"))
    if start_kind != "grid":
        raise ConfigError("the basins view needs a grid of starts, one per pixel: "
                          "start: {grid: [nx, ny]}", ("start",))
    for config in optimizers:
        if getattr(config, "tune", None) is not None:
            raise ConfigError("the basins view runs the lrs it is given: tune lr: auto on a "
                              "cloud of starts (view: contour) and write the chosen lr here",
                              ("optimizers",))
    if tolerance is None:
        return DEFAULT_DISTANCE
    if tolerance.loss is not None:
        raise ConfigError("the basins view tells the minima apart by distance: it reads "
                          "tolerance.distance only", ("tolerance", "loss"))
    if tolerance.distance is None:
        raise ConfigError("the basins view needs tolerance.distance", ("tolerance",))
    distance = float(tolerance.distance)
    points = np.array([(p.x, p.y) for p in minima])
    if len(points) > 1:
        gaps = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
        closest = float(gaps[np.triu_indices(len(points), 1)].min())
        if not distance < closest / 2:
            raise ConfigError(
                f"must be less than half the distance between the two closest known minima "
                f"({closest / 2:.4g}), so that a run is near one at most, got {distance:g}",
                ("tolerance", "distance"))
    return distance


def minimum_label(x: float, y: float) -> str:
    """How a minimum is named in the key and the summary: ``(3, 2)``, ``(−2.81, 3.13)``."""
    def coordinate(v: float) -> str:
        return f"{v:.3g}".replace("-", "\u2212")

    return f"({coordinate(x)}, {coordinate(y)})"


def frame_steps(steps: int, frames: int | None, *, still: bool = False) -> np.ndarray:
    """The steps whose basin map is kept, one per rendered frame: the last only for a still,
    else ``frames`` evenly spaced (the view's default when None), first and last included,
    as :func:`optiviz.render.animate.select_frames` spaces them."""
    if still:
        return np.array([steps], dtype=np.int64)
    from optiviz.views import VIEWS

    default = VIEWS.get("basins").default_frames
    count = min(steps + 1, max(int(frames if frames is not None else default), 1))
    if count >= steps + 1:
        return np.arange(steps + 1, dtype=np.int64)
    if count == 1:
        return np.array([steps], dtype=np.int64)
    return np.unique(np.round(np.linspace(0, steps, count)).astype(np.int64))


# The result --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BasinMaps:
    """What a basin map shows, per ``optimizers:`` entry (E) and start (N, row-major over the
    grid: ``starts[j * nx + i]`` is column i of row j).

    ``basin[e, n]``: the index into ``minima`` of the minimum the run ends within
    ``tolerance`` of, ``NONE`` or ``DIVERGED``; ``reached_step``: the first step it was within
    ``tolerance`` of a known minimum (-1: never); ``final_loss``: its loss after its last
    finite step; ``diverged_step``: -1 if it never diverged; ``frames[f, e, n]``: its basin code
    at step ``frame_steps[f]`` (``DIVERGED`` from its diverged step on)."""

    minima: np.ndarray  # (K, 2)
    minimum_kinds: tuple[str, ...]
    tolerance: float
    grid: tuple[int, int]  # (nx, ny)
    box: tuple[tuple[float, float], tuple[float, float]]  # first and last start per axis
    steps: int
    frame_steps: np.ndarray  # (F,)
    basin: np.ndarray  # (E, N) int8
    reached_step: np.ndarray  # (E, N) int32
    final_loss: np.ndarray  # (E, N) float64
    diverged_step: np.ndarray  # (E, N) int32
    frames: np.ndarray  # (F, E, N) int8
    label: tuple[str, ...] = field(default=())
    optimizer: tuple[str, ...] = field(default=())

    @property
    def diverged(self) -> np.ndarray:
        """(E, N) bool: the runs that diverged."""
        return self.diverged_step >= 0

    @property
    def entries(self) -> int:
        return self.basin.shape[0]

    @property
    def starts(self) -> int:
        return self.basin.shape[1]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``--data`` writes, by name."""
        return {
            "minima": self.minima,
            "tolerance": np.float64(self.tolerance),
            "grid": np.asarray(self.grid, dtype=np.int64),
            "basin": self.basin,
            "reached_step": self.reached_step,
            "final_loss": self.final_loss,
            "diverged_step": self.diverged_step,
            "frame_steps": self.frame_steps,
            "frames": self.frames,
            "label": np.asarray(self.label, dtype=str),
            "optimizer": np.asarray(self.optimizer, dtype=str),
        }


# The work ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """Everything a block needs; picklable (Dask sends it to workers once, forked workers
    inherit it)."""

    function: Any
    entries: tuple[Any, ...]
    groups: tuple[tuple[int, ...], ...]
    starts: np.ndarray  # (N, 2)
    steps: int
    minima: np.ndarray  # (K, 2)
    tolerance: float
    frame_steps: np.ndarray
    seed: int
    block: int

    def tasks(self) -> list[tuple[int, int]]:
        """(group, block) pairs, in the order results are assembled."""
        blocks = -(-len(self.starts) // self.block)
        return [(g, b) for g in range(len(self.groups)) for b in range(blocks)]

    def work(self, task: tuple[int, int]) -> int:
        """Run-steps of a task, for progress."""
        group, block = task
        lo = block * self.block
        return len(self.groups[group]) * (min(len(self.starts), lo + self.block) - lo) \
            * self.steps


def near_minimum(points: np.ndarray, minima: np.ndarray, tolerance2: float) -> np.ndarray:
    """int8 codes: the index of the minimum each (m, d) point lies within tolerance of (at
    most one: tolerances are below half the gap between minima), else ``NONE``."""
    columns = [np.ascontiguousarray(points[:, k]) for k in range(points.shape[1])]
    codes = np.full(len(points), NONE, dtype=np.int8)
    distance2 = np.empty(len(points))
    part = np.empty(len(points))
    for index, minimum in enumerate(minima):
        distance2.fill(0.0)
        for column, coordinate in zip(columns, minimum, strict=True):
            np.subtract(column, coordinate, out=part)
            np.multiply(part, part, out=part)
            distance2 += part
        codes[distance2 <= tolerance2] = index
    return codes


def run_block(plan: Plan, task: tuple[int, int]) -> dict[str, np.ndarray]:
    """Advance one block of starts for one run group through every step; the reductions of
    its G·b runs, entry-major: basin, reached_step, final_loss, diverged_step (G·b,) and
    frames (F, G·b). The loop and its divergence rule are :func:`optiviz.engine.run_group`'s."""
    group, block = task
    members = plan.groups[group]
    configs = [plan.entries[i] for i in members]
    config = configs[0]
    spec = spec_of(config)
    starts = plan.starts[block * plan.block:(block + 1) * plan.block]
    steps = plan.steps
    n = len(starts)
    runs = len(configs) * n
    rng = np.random.default_rng([plan.seed, members[0], block])
    oracle = Oracle(plan.function, noise=config.noise, batch_size=config.batch_size, rng=rng)
    loss_of = Oracle(plan.function)
    entry_hyper_at = [_hyper_schedule(entry, steps) for entry in configs]
    scheduled = any(entry.schedule is not None for entry in configs)
    fixed = _group_hyper([at(0) for at in entry_hyper_at], spec.per_run_hyper, n)
    position = spec.position
    # the engine owns ``params``: a spec's in-place update writes each step into it
    in_place = getattr(spec, "step_in_place", None)
    step = in_place if in_place is not None else spec.step
    minima, tolerance2 = plan.minima, plan.tolerance**2
    frame_at = {int(step): f for f, step in enumerate(plan.frame_steps)}

    diverged_step = np.full(runs, -1, dtype=np.int32)
    reached = np.full(runs, -1, dtype=np.int32)
    frozen_loss = np.full(runs, np.nan)
    frames = np.full((len(plan.frame_steps), runs), DIVERGED, dtype=np.int8)
    alive = np.ones(runs, dtype=bool)

    params = np.tile(np.asarray(starts, dtype=np.float64), (len(configs), 1))
    state = spec.init(params, fixed)
    shown = params if position is None else position(params, state)
    value = loss_of.value(shown)
    codes = near_minimum(shown, minima, tolerance2)
    reached[codes >= 0] = 0
    if 0 in frame_at:
        frames[frame_at[0]] = codes
    pending = np.flatnonzero(codes < 0)  # alive runs not yet within tolerance of a minimum
    last_good = params.copy()
    total = np.empty(runs)  # loss + every coordinate: non-finite iff any of them is
    finite = np.empty(runs, dtype=bool)
    with np.errstate(all="ignore"):
        for t in range(steps):
            hyper = _group_hyper([at(t) for at in entry_hyper_at], spec.per_run_hyper, n) \
                if scheduled else fixed
            oracle.begin_step()
            params, state = step(params, state, hyper, oracle)
            shown = params if position is None else position(params, state)
            previous, value = value, loss_of.value(shown)
            # the engine's test, in its order: the loss plus every coordinate, one pass
            np.add(value, shown[:, 0], out=total)
            for k in range(1, shown.shape[1]):
                total += shown[:, k]
            np.isfinite(total, out=finite)
            if not finite.all():
                newly = alive & ~finite
                if newly.any():
                    diverged_step[newly] = t + 1
                    frozen_loss[newly] = previous[newly]
                    alive &= finite
                    pending = pending[alive[pending]]
                if in_place is not None:
                    np.copyto(params, last_good, where=~finite[:, None])
                else:  # the step's array may be one it keeps: leave it alone
                    params = np.where(finite[:, None], params, last_good)
            if pending.size:
                if 2 * pending.size > runs:  # most still travelling: no gather
                    hit = np.flatnonzero(near_minimum(shown, minima, tolerance2) >= 0)
                    hit = hit[alive[hit] & (reached[hit] < 0)]
                    reached[hit] = t + 1
                    pending = pending[reached[pending] < 0]
                else:
                    found = near_minimum(shown[pending], minima, tolerance2) >= 0
                    reached[pending[found]] = t + 1
                    pending = pending[~found]
            f = frame_at.get(t + 1)
            if f is not None:
                frames[f] = np.where(alive, near_minimum(shown, minima, tolerance2), DIVERGED)
            if not alive.any():
                break
            np.copyto(last_good, params)
    final_loss = np.where(alive, value, frozen_loss)
    basin = frames[-1] if plan.frame_steps[-1] == steps else \
        np.where(alive, near_minimum(shown, minima, tolerance2), DIVERGED).astype(np.int8)
    return {"basin": basin, "reached_step": reached, "final_loss": final_loss,
            "diverged_step": diverged_step, "frames": frames}


class _Maps:
    """The assembled (E, N) arrays, optionally in memory shared with forked workers."""

    FIELDS = (("basin", np.int8), ("reached_step", np.int32), ("final_loss", np.float64),
              ("diverged_step", np.int32))

    def __init__(self, entries: int, starts: int, frames: int, shared: bool):
        self.arrays: dict[str, np.ndarray] = {}
        shapes = [(name, dtype, (entries, starts)) for name, dtype in self.FIELDS]
        shapes.append(("frames", np.int8, (frames, entries, starts)))
        for name, dtype, shape in shapes:
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            if shared and size:
                buffer = mmap.mmap(-1, size)  # anonymous, shared with forked children
                self.arrays[name] = np.frombuffer(buffer, dtype=dtype).reshape(shape)
            else:
                self.arrays[name] = np.empty(shape, dtype=dtype)

    def put(self, plan: Plan, task: tuple[int, int], result: dict[str, np.ndarray]) -> None:
        group, block = task
        members = plan.groups[group]
        lo = block * plan.block
        hi = min(len(plan.starts), lo + plan.block)
        b = hi - lo
        for m, entry in enumerate(members):
            rows = slice(m * b, (m + 1) * b)
            for name, _ in self.FIELDS:
                self.arrays[name][entry, lo:hi] = result[name][rows]
            self.arrays["frames"][:, entry, lo:hi] = result["frames"][:, rows]


def make_plan(experiment: Any, *, still: bool = False, block: int = BLOCK) -> Plan:
    """The :class:`Plan` of a loaded basins experiment."""
    function = experiment.function
    tolerance = check_basins(function, experiment.start_kind, experiment.tolerance,
                             experiment.optimizers)
    minima = np.array([(p.x, p.y) for p in known_minima(function)], dtype=np.float64)
    return Plan(
        function=function,
        entries=tuple(experiment.optimizers),
        groups=tuple(group_entries(experiment.optimizers)),
        starts=np.asarray(experiment.starts, dtype=np.float64),
        steps=int(experiment.steps),
        minima=minima,
        tolerance=tolerance,
        frame_steps=frame_steps(experiment.steps, experiment.render.frames, still=still),
        seed=int(experiment.seed),
        block=int(block),
    )


def run_basins(
    experiment: Any,
    *,
    still: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    client: Any = None,
    block: int = BLOCK,
) -> BasinMaps:
    """The basin maps of a basins experiment (``render.view: basins``).

    ``still``: keep only the final map (a PNG), not one per animation frame. Blocks run on
    ``workers`` forked processes (default: the CPUs this process may use), or on the Dask
    cluster of ``client``; the result is the same either way, bit for bit.
    ``progress(done, total)`` hears how many run-steps are done."""
    from optiviz import budget

    budget.check_basins(experiment)
    plan = make_plan(experiment, still=still, block=block)
    tasks = plan.tasks()
    total = sum(plan.work(task) for task in tasks)
    if client is not None:
        maps = _Maps(len(plan.entries), len(plan.starts), len(plan.frame_steps), shared=False)
        _run_dask(plan, tasks, maps, client, progress, total)
    else:
        if workers is None:
            workers = _cpus()
        if _daemonic():  # a batch worker: the batch already keeps every core busy
            workers = 1
        workers = max(1, min(int(workers), len(tasks)))
        forkable = workers > 1 and all(entry.spec is None for entry in plan.entries) \
            and hasattr(os, "fork")
        maps = _Maps(len(plan.entries), len(plan.starts), len(plan.frame_steps),
                     shared=forkable)
        if forkable:
            _run_forked(plan, tasks, maps, workers, progress, total)
        else:
            done = 0
            for task in tasks:
                maps.put(plan, task, run_block(plan, task))
                done += plan.work(task)
                if progress is not None:
                    progress(done, total)
    (x0, y0), (x1, y1) = plan.starts[0], plan.starts[-1]
    nx = len(np.unique(plan.starts[:, 0]))
    ny = len(plan.starts) // nx
    arrays = maps.arrays
    return BasinMaps(
        minima=plan.minima,
        minimum_kinds=tuple(p.kind for p in known_minima(plan.function)),
        tolerance=plan.tolerance,
        grid=(nx, ny),
        box=((float(x0), float(x1)), (float(y0), float(y1))),
        steps=plan.steps,
        frame_steps=plan.frame_steps,
        basin=arrays["basin"],
        reached_step=arrays["reached_step"],
        final_loss=arrays["final_loss"],
        diverged_step=arrays["diverged_step"],
        frames=arrays["frames"],
        label=tuple(entry.label for entry in plan.entries),
        optimizer=tuple(entry.name for entry in plan.entries),
    )


def _daemonic() -> bool:
    """Whether this is a daemonic process (a batch worker), which may not start others."""
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Forked workers ----------------------------------------------------------------------------------

_FORKED: tuple[Plan, _Maps] | None = None  # what forked workers inherit


def _forked_task(task: tuple[int, int]) -> tuple[int, int]:
    assert _FORKED is not None
    plan, maps = _FORKED
    maps.put(plan, task, run_block(plan, task))
    return task


def _child_setup() -> None:
    """A worker dies with its parent and leaves Ctrl-C to it (the parent stops the pool).

    SIGTERM kills it outright (the system's default action), whatever Python handler the
    parent had when it forked: ``Pool.terminate`` stops an idle worker with SIGTERM, and a
    Python handler runs only between bytecodes, so a signal landing just before the worker
    blocks on the task queue's lock was never acted on (the parent then waited for it
    forever). A worker only writes into shared memory: it has nothing to clean up."""
    from optiviz.atomic import exit_with_parent

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    request = exit_with_parent(signal.SIGTERM)
    if request is not None:
        request()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_forked(plan: Plan, tasks: list[tuple[int, int]], maps: _Maps, workers: int,
                progress: Callable[[int, int], None] | None, total: int) -> None:
    """Blocks on ``workers`` forked processes, each writing into ``maps``' shared memory."""
    import multiprocessing

    global _FORKED
    _FORKED = (plan, maps)
    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_child_setup)
    finished = False
    try:
        done = 0
        for task in pool.imap_unordered(_forked_task, tasks):
            done += plan.work(task)
            if progress is not None:
                progress(done, total)
        finished = True
    finally:
        # done: every worker takes its end-of-work sentinel and exits by itself; stopped early
        # (an error, Ctrl-C, SIGTERM): the workers are killed. Never both: terminate() right
        # after close() drains the sentinels a worker may still be waiting for.
        if finished:
            pool.close()
        else:
            pool.terminate()
        pool.join()
        _FORKED = None


# Dask --------------------------------------------------------------------------------------------

LOCAL = "local"  # --dask local: a cluster of worker processes on this machine


@contextlib.contextmanager
def dask_client(address: str, timeout: float | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``address`` (``"local"``: a ``LocalCluster`` of one
    single-threaded worker process per CPU, closed afterwards), reached within ``timeout``
    seconds (:func:`optiviz.batch.connect_dask`, which says in one line why it could not)."""
    from optiviz.batch import DEFAULT_DASK_TIMEOUT, connect_dask

    timeout = DEFAULT_DASK_TIMEOUT if timeout is None else timeout
    if address == LOCAL:
        try:
            from distributed import Client, LocalCluster
        except ImportError as error:
            raise OptivizError(
                "--dask needs the distributed package: pip install 'optiviz[dask]'") from error
        with LocalCluster(n_workers=_cpus(), threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, \
                Client(cluster, set_as_default=False) as client:
            yield client
        return
    client = connect_dask(address, timeout)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=timeout)


def _run_tasks(plan: Plan, tasks: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """A chunk of tasks on a Dask worker."""
    with malloc_keeps_blocks():
        return [run_block(plan, task) for task in tasks]


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: While blocks run: arrays up to this size come from the heap, not from mmap, and freed
#: memory up to KEEP_BYTES stays in the process between steps.
MMAP_BYTES = 4 << 20
KEEP_BYTES = 64 << 20
_GLIBC_MMAP_DEFAULT = 128 << 10


@contextlib.contextmanager
def malloc_keeps_blocks() -> Iterator[None]:
    """Keep a block's per-step temporaries in the heap while blocks run, then restore.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand memory back
    to the system), which also freezes glibc's mmap threshold at 128 KiB: every (16k, 2)
    temporary of a step is then a fresh mmap and its pages faulted in anew (measured: more
    system time than arithmetic). For the duration of a chunk the thresholds are raised
    (mallopt), and set back afterwards to the worker's trim threshold and glibc's default
    mmap threshold. Elsewhere than glibc this does nothing."""
    mallopt = _mallopt()
    if mallopt is None:
        yield
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)
    mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES)
    try:
        yield
    finally:
        trim = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
        mallopt(_M_TRIM_THRESHOLD, int(trim) if trim.isdigit() else 2 * _GLIBC_MMAP_DEFAULT)
        mallopt(_M_MMAP_THRESHOLD, _GLIBC_MMAP_DEFAULT)


def _mallopt() -> Callable[[int, int], int] | None:
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def _run_dask(plan: Plan, tasks: list[tuple[int, int]], maps: _Maps, client: Any,
              progress: Callable[[int, int], None] | None, total: int) -> None:
    """Chunks of blocks on the cluster of ``client``; the plan is sent to the workers once."""
    from distributed import as_completed

    try:
        threads = max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - sizing only
        threads = 1
    count = max(1, min(len(tasks), threads * DASK_CHUNKS_PER_THREAD))
    chunks = [list(chunk) for chunk in np.array_split(np.arange(len(tasks)), count) if len(chunk)]
    shared = client.scatter(plan, broadcast=True)
    futures = {}
    for chunk in chunks:
        chosen = [tasks[i] for i in chunk]
        futures[client.submit(_run_tasks, shared, chosen, pure=False)] = chosen
    done = 0
    try:
        for future in as_completed(list(futures), loop=client.loop):
            chosen = futures[future]
            for task, result in zip(chosen, future.result(), strict=True):
                maps.put(plan, task, result)
                done += plan.work(task)
            if progress is not None:
                progress(done, total)
    finally:
        for future in futures:
            future.cancel()
