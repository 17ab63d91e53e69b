"""What an output reads from every step, reduced while the engine runs, so that only the steps
it draws need to be recorded.

A run that writes no ``--data`` and draws particle clouds needs the positions and loss of every
run at its frames only, and a few per-step or per-run numbers over *all* steps:

- per run: the last finite loss (``Trajectories.final_loss``: the summary, the manifest), whether
  it was ever at a finite point outside the view (``view.left_view``: "left the view"), and its
  first step within tolerance of a known global minimum (``statistics.hitting_steps``: the
  summary's success, the ``success`` panel);
- per optimizer entry and step: the loss panel's 25th/50th/75th percentiles over its starts
  (``render.cloud.median_band``) and the share of its starts inside the view
  (``render.cloud.view_share``, which bounds a linear loss axis).

:func:`plan` decides from the experiment and its outputs what is recorded (``Plan.steps``:
None for every step) and what is reduced (``Plan.wanted``). ``engine.simulate`` then hands each
run group a :class:`GroupReducer` (``run_group(..., reduce=)``), which sees every step's
positions and loss exactly as they would be recorded (a diverged run's as NaN) and keeps the
reductions; they travel in ``Trajectories.reduced`` (:class:`Reduced`) and the consumers above
read them instead of the recorded steps. Every reduction is step-exact: the same numbers,
bit for bit, as the full recording gives (tests/test_reductions.py).

Pure NumPy: the engine never imports Matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

QUANTILES = (0.25, 0.5, 0.75)  # the cloud loss panel's band and line
BAND_STEPS = 64  # steps of loss held per run group before their percentiles are taken


@dataclass(frozen=True)
class Wanted:
    """The reductions a run needs. ``domain``: the view (runs leaving it, the share inside it
    per step); ``tolerance``: measure each run's first step within it (None: not measured);
    ``bands``: the loss percentiles per entry and step."""

    domain: tuple[tuple[float, float], tuple[float, float]] | None = None
    tolerance: Any = None
    bands: bool = False


@dataclass(frozen=True)
class Plan:
    """What a run records: ``steps`` (increasing, in 0..S; None: every step) and ``wanted``
    (None: no reductions, the consumers read the recorded steps)."""

    steps: np.ndarray | None = None
    wanted: Wanted | None = None


@dataclass(frozen=True)
class Reduced:
    """The reductions of one experiment (R runs, E entries, S steps); a field is None when it
    was not asked for. ``final_loss`` (R,), ``left_view`` (R,) bool, ``hits`` (R,) int (-1:
    never), ``bands`` (E, 3, S+1), ``share`` (E, S+1); ``domain`` is the view they used."""

    final_loss: np.ndarray
    domain: Any = None
    left_view: np.ndarray | None = None
    share: np.ndarray | None = None
    hits: np.ndarray | None = None
    bands: np.ndarray | None = None


def plan(experiment: Any, *, render: bool, data: bool, statistics: bool) -> Plan:
    """What a run of ``experiment`` must record for its outputs: every step when it writes
    ``--data`` (every step is what ``--data`` means) or draws paths (a contour view's lines and
    exit arrows, the surface view, overlays and the state panel read every step), and the
    ``final`` panel (its axis spans the loss of every step), and when every step is a frame;
    else, for particle clouds, the rendered frames (step 0 always) and the reductions.
    ``statistics``: the summary measures success (``--summary``, ``tolerance:``)."""
    from optiviz import recording
    from optiviz import statistics as statistics_module
    from optiviz.view import cloud_experiment, starts_domain

    if experiment.kind != "optimizers" or data or not cloud_experiment(experiment):
        return Plan()
    view = experiment.render
    panels = tuple(view.panels or ())
    if view.view != "contour" or "final" in panels or recording.requested(experiment):
        return Plan()
    steps = experiment.steps
    kept = np.array([0], dtype=np.int64)
    if render:
        from optiviz.render.animate import select_frames

        kept = np.union1d(kept, select_frames(steps, view.frames))
        if kept.size == steps + 1:  # every step is a frame: nothing to save by reducing
            return Plan()
    measure = statistics or "success" in panels or experiment.tolerance is not None
    tolerance = None
    if measure and statistics_module.has_target(experiment):
        tolerance = statistics_module.tolerance_of(experiment)
    # the loss panel: asked for, or unset panels (the view adds it where it fits)
    bands = render and (not panels or "loss" in panels)
    return Plan(kept, Wanted(starts_domain(experiment), tolerance, bands))


def band_rows(block: np.ndarray) -> np.ndarray:
    """``(3, k)``: the :data:`QUANTILES` of each row of ``block`` (k x runs, no NaN; modified:
    partially sorted), interpolating linearly between order statistics (as ``numpy.quantile``);
    a percentile between a finite value and an infinite one is infinite."""
    runs = block.shape[1]
    heights = [(runs - 1) * q for q in QUANTILES]
    floors = sorted({int(math.floor(h)) for h in heights})
    out = np.empty((len(QUANTILES), block.shape[0]))
    select(block, floors)
    for i, h in enumerate(heights):
        low = int(math.floor(h))
        below = block[:, low]
        fraction = h - low
        if fraction == 0:
            out[i] = below
            continue
        # the next order statistic: the least value between this one and the next selected
        following = next((k for k in floors if k > low), runs - 1)
        above = block[:, low + 1: following + 1].min(axis=1)
        with np.errstate(invalid="ignore"):
            between = below + fraction * (above - below)
        # inf - inf is NaN: next to an infinite order statistic the percentile is infinite
        out[i] = np.where(np.isfinite(below) & np.isfinite(above), between,
                          np.where(np.isinf(above) & (above > 0), above, below))
    return out


def select(rows: np.ndarray, ranks: Sequence[int]) -> None:
    """Partially sort each row of ``rows`` in place so that the values of the sorted ``ranks``
    (0-based, ascending) are in place, everything before each no greater and everything after
    no less: one single-rank partition per rank, on ever smaller slices (much faster than one
    many-rank ``numpy.partition``)."""
    if not ranks or rows.shape[1] == 0:
        return
    middle = len(ranks) // 2
    rank = ranks[middle]
    rows.partition(rank, axis=1)
    select(rows[:, :rank], ranks[:middle])
    select(rows[:, rank + 1:], [k - rank - 1 for k in ranks[middle + 1:]])


def lost_values(first: np.ndarray, last: np.ndarray, function: Any) -> np.ndarray:
    """What a diverged run (NaN) counts as in the loss percentiles: +inf, or −inf when
    ``function`` has no known minimum and the run's last finite loss ``last`` is below its
    loss at step 0 ``first`` (it fell off an unbounded surface)."""
    lost = np.full(first.shape, np.inf)
    if getattr(function, "minimum", None) is None:
        with np.errstate(invalid="ignore"):
            lost[np.isfinite(last) & (last < first)] = -np.inf
    return lost


def inside_count(positions: np.ndarray, domain: Any) -> int:
    """How many of ``positions`` (n, d) are at a finite point inside ``domain``."""
    (x0, x1), (y0, y1) = domain
    x, y = positions[:, 0], positions[:, 1]
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)))


class Reductions:
    """The reductions of one experiment of ``entries`` x ``starts`` runs (entry-major) over
    ``steps`` steps, filled run group by run group (:meth:`group`)."""

    def __init__(self, wanted: Wanted, function: Any, entries: int, starts: int, steps: int):
        self.wanted, self.function = wanted, function
        self.starts, self.steps = starts, steps
        self.dim = 2
        runs = entries * starts
        self.final = np.full(runs, np.nan)
        self.first = np.full(runs, np.nan)
        self.left = np.zeros(runs, dtype=bool) if wanted.domain is not None else None
        self.share = np.zeros((entries, steps + 1)) if wanted.domain is not None else None
        self.hits = (np.full(runs, -1, dtype=np.int64) if wanted.tolerance is not None
                     else None)
        self.bands = (np.empty((entries, len(QUANTILES), steps + 1)) if wanted.bands
                      else None)

    def group(self, entries: Sequence[int]) -> GroupReducer:
        """The reducer of the run group of these entries (its runs entry by entry)."""
        return GroupReducer(self, tuple(entries))

    def finish(self) -> Reduced:
        return Reduced(final_loss=self.final, domain=self.wanted.domain, left_view=self.left,
                       share=self.share, hits=self.hits, bands=self.bands)


class GroupReducer:
    """Sees one run group's every step (:meth:`see`) and keeps the reductions."""

    def __init__(self, owner: Reductions, entries: tuple[int, ...]):
        self.owner, self.entries = owner, entries
        n = owner.starts
        self.rows = np.concatenate([np.arange(i * n, (i + 1) * n) for i in entries])
        runs = self.rows.size
        self.final = np.full(runs, np.nan)
        self.first = np.full(runs, np.nan)
        self.left = np.zeros(runs, dtype=bool) if owner.left is not None else None
        self.hits = np.full(runs, -1, dtype=np.int64) if owner.hits is not None else None
        self._positions: np.ndarray | None = None
        self._loss: np.ndarray | None = None
        self._taken = np.empty(runs, dtype=bool)
        # the loss of the last steps, time-major, until their percentiles are taken together
        self._pending = (np.empty((BAND_STEPS, runs)) if owner.bands is not None else None)
        self._held: list[int] = []

    def see(self, t: int, positions: np.ndarray, loss: np.ndarray, alive: np.ndarray) -> None:
        """Step ``t``: ``positions`` (runs, d) and ``loss`` (runs,) as computed, ``alive`` the
        runs not diverged at or before it (the others are recorded as NaN)."""
        if not alive.all():
            if self._positions is None:
                self._positions = np.empty_like(positions)
                self._loss = np.empty_like(loss)
            np.copyto(self._positions, positions)
            np.copyto(self._loss, loss)
            self._positions[~alive] = np.nan
            self._loss[~alive] = np.nan
            positions, loss = self._positions, self._loss
        self._reduce(t, positions, loss)

    def rest(self, t: int) -> None:
        """Every run of the group has diverged: steps ``t`` .. S are NaN throughout."""
        if t > self.owner.steps:
            return
        nan_positions = np.full((self.rows.size, self.owner.dim), np.nan)
        nan_loss = np.full(self.rows.size, np.nan)
        for step in range(t, self.owner.steps + 1):
            self._reduce(step, nan_positions, nan_loss)

    def _reduce(self, t: int, positions: np.ndarray, loss: np.ndarray) -> None:
        owner, wanted = self.owner, self.owner.wanted
        if t == 0:
            np.copyto(self.first, loss)
            owner.dim = positions.shape[1]
        finite = np.isfinite(loss, out=self._taken)
        np.copyto(self.final, loss, where=finite)
        if self.left is not None:
            from optiviz.view import outside

            self.left |= outside(positions, wanted.domain)
        if self.hits is not None:
            from optiviz.statistics import within

            ok = within(wanted.tolerance, owner.function, positions, loss)
            self.hits[ok & (self.hits < 0)] = t
        n = owner.starts
        if owner.share is not None:
            for member, entry in enumerate(self.entries):
                block = slice(member * n, (member + 1) * n)
                owner.share[entry, t] = inside_count(positions[block], wanted.domain) / n
        if self._pending is not None:
            self._pending[len(self._held)] = loss
            self._held.append(t)
            if len(self._held) == BAND_STEPS or t == owner.steps:
                self._bands()
        if t == owner.steps:
            self._store()

    def _bands(self) -> None:
        """The percentiles of the held steps, per entry, as :func:`render.cloud.median_band`
        takes them over recorded steps: a diverged run (NaN) counts as :func:`lost_values`
        (its last finite loss is final once it diverged, so taking them later is exact)."""
        owner, n = self.owner, self.owner.starts
        held = self._pending[: len(self._held)]
        lost = lost_values(self.first, self.final, owner.function)
        for member, entry in enumerate(self.entries):
            block = slice(member * n, (member + 1) * n)
            values = np.where(np.isnan(held[:, block]), lost[block], held[:, block])
            owner.bands[entry, :, self._held[0]: self._held[-1] + 1] = band_rows(values)
        self._held = []

    def _store(self) -> None:
        owner = self.owner
        owner.final[self.rows] = self.final
        owner.first[self.rows] = self.first
        if self.left is not None:
            owner.left[self.rows] = self.left
        if self.hits is not None:
            owner.hits[self.rows] = self.hits


class LossSum:
    """Each run's loss summed over every step in step order (a diverged run's: NaN), what the
    tuning's ``mean`` objective reads instead of the recorded steps: ``total / (S+1)`` is
    bit for bit ``loss.mean(axis=0)`` of the time-major (S+1, runs) recording, which NumPy
    sums row after row (tests/test_reductions.py checks it)."""

    def __init__(self, runs: int, steps: int):
        self.total = np.zeros(runs)
        self.steps = steps

    def see(self, t: int, positions: np.ndarray, loss: np.ndarray, alive: np.ndarray) -> None:
        values = loss if alive.all() else np.where(alive, loss, np.nan)
        if t == 0:
            np.copyto(self.total, values)
        else:
            self.total += values

    def rest(self, t: int) -> None:
        if t <= self.steps:
            self.total[:] = np.nan

    def mean(self) -> np.ndarray:
        return self.total / (self.steps + 1)

