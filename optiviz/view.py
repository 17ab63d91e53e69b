"""The region of the plane an optimizer animation shows, and which runs leave it.

Pure NumPy (no Matplotlib): the renderer draws ``view_domain``, and the run report
(``optiviz.api``) says on the terminal which runs left it, from the same function, so the two
never disagree.

When the user fixed ``render.domain`` that is the view. Otherwise the view is the function's
plot domain grown to hold every start and, unless the runs are drawn as particle clouds (many
starts: each map shows where the starts are and counts the particles outside it), every
*bounded* run: a run counts as bounded when all
its finite positions lie within ``FIT_REACH`` widths of the box that holds the domain and the
starts. A run that flies further (an exploding learning rate, an overflow on its way to NaN)
does not stretch the view to 1e30 and squash the landscape into a dot: it leaves the view, and
the renderer marks where, at the edge.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Domain = tuple[tuple[float, float], tuple[float, float]]

FIT_REACH = 1.0  # bounded runs stay within this many widths (heights) of the domain and starts
STARTS_REACH = 10.0  # starts further than this many domain widths from it do not grow the view
FIT_MARGIN = 0.05  # a side grown to hold a run gets this share of the view's span beyond it
MAX_STRETCH = 1.25  # a fitted view keeps its width/height within this factor of the domain's
CLOUD_MIN_STARTS = 10  # more starts per optimizer than this: one particle cloud per optimizer


def drawn_as_clouds(start_kind: str, starts: int) -> bool:
    """The one rule: runs are drawn as particle clouds for random/grid starts, or more than
    ``CLOUD_MIN_STARTS`` starts per optimizer."""
    return start_kind in ("random", "grid") or starts > CLOUD_MIN_STARTS


def is_cloud(experiment: Any, trajectories: Any) -> bool:
    """Whether the runs are drawn as particle clouds (:func:`drawn_as_clouds`)."""
    return drawn_as_clouds(experiment.start_kind, len(np.unique(trajectories.run_start)))


def cloud_experiment(experiment: Any) -> bool:
    """:func:`is_cloud` before computing: the runs' starts are the experiment's."""
    return drawn_as_clouds(experiment.start_kind, len(experiment.starts))


def starts_domain(experiment: Any) -> Domain:
    """The particle clouds' view before computing: ``render.domain``, else the function's
    domain grown to the starts (what :func:`view_domain` gives clouds from step 0)."""
    fixed = experiment.render.domain
    if fixed is not None:
        return _as_domain(fixed)
    starts = np.asarray(experiment.starts, dtype=float)
    return fitted_domain(_as_domain(experiment.function.domain), starts[:, None, :2])


def view_domain(experiment: Any, trajectories: Any) -> Domain:
    """What the map shows: ``render.domain`` when the user fixed it; else the function's domain
    grown to hold the starts and every bounded run (see the module docstring)."""
    fixed = experiment.render.domain
    if fixed is not None:
        return _as_domain(fixed)
    domain = _as_domain(experiment.function.domain)
    if trajectories is None:
        return domain
    positions = np.asarray(trajectories.positions, dtype=float)
    if is_cloud(experiment, trajectories):
        # hundreds of particles wandering off would zoom every map out: clouds fit the starts
        positions = positions[:, :1]
    return fitted_domain(domain, positions)


def fitted_domain(domain: Domain, positions: np.ndarray) -> Domain:
    """``domain`` grown to hold the starts ``positions[:, 0]`` and every bounded run of
    ``positions`` (R, S+1, 2); exactly ``domain`` when everything already lies in it."""
    (x0, x1), (y0, y1) = domain
    low = np.array([x0, y0])
    high = np.array([x1, y1])
    starts = positions[:, 0, :]
    # a start beyond STARTS_REACH domain widths (1e308) would shrink the landscape to a dot,
    # or overflow its span: it is marked as outside the view instead
    reach = STARTS_REACH * (high - low)
    with np.errstate(invalid="ignore", over="ignore"):
        near = (np.isfinite(starts).all(axis=1) & (starts >= low - reach).all(axis=1)
                & (starts <= high + reach).all(axis=1))
    starts = starts[near]
    if starts.size:
        low, high = np.minimum(low, starts.min(axis=0)), np.maximum(high, starts.max(axis=0))
    span = high - low
    reach_low, reach_high = low - FIT_REACH * span, high + FIT_REACH * span
    # each run's extent over its finite steps (NaN for a run with none); fmin/fmax skip NaN
    # without the (R, S+1, 2) temporaries a comparison would allocate
    run_low = np.fmin.reduce(positions, axis=1)
    run_high = np.fmax.reduce(positions, axis=1)
    with np.errstate(invalid="ignore"):
        bounded = (np.isfinite(run_low).all(axis=1) & np.isfinite(run_high).all(axis=1)
                   & (run_low >= reach_low).all(axis=1) & (run_high <= reach_high).all(axis=1))
    if bounded.any():
        low = np.minimum(low, run_low[bounded].min(axis=0))
        high = np.maximum(high, run_high[bounded].max(axis=0))
    if np.all(low >= (x0, y0)) and np.all(high <= (x1, y1)):
        return domain
    grown_low, grown_high = low < (x0, y0), high > (x1, y1)
    span = high - low
    low = np.where(grown_low, low - FIT_MARGIN * span, low)
    high = np.where(grown_high, high + FIT_MARGIN * span, high)
    low, high = _keep_aspect(low, high, (x1 - x0) / (y1 - y0))
    return ((float(low[0]), float(high[0])), (float(low[1]), float(high[1])))


def _keep_aspect(low: np.ndarray, high: np.ndarray,
                 aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Widen the narrow side of the box [low, high] about its centre so that its width/height
    is within ``MAX_STRETCH`` of ``aspect`` (a view grown along one axis only would squash the
    landscape)."""
    width, height = high - low
    centre = (low + high) / 2
    if width / height > aspect * MAX_STRETCH:
        height = width / (aspect * MAX_STRETCH)
    elif width / height < aspect / MAX_STRETCH:
        width = height * aspect / MAX_STRETCH
    half = np.array([width, height]) / 2
    return centre - half, centre + half


def _as_domain(value: Any) -> Domain:
    (x0, x1), (y0, y1) = value
    return ((float(x0), float(x1)), (float(y0), float(y1)))


def outside(positions: np.ndarray, domain: Domain) -> np.ndarray:
    """``positions[..., :2]`` that are finite and lie outside ``domain`` (bool, same leading
    shape)."""
    (x0, x1), (y0, y1) = domain
    x, y = positions[..., 0], positions[..., 1]
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & ((x < x0) | (x > x1) | (y < y0) | (y > y1))


def left_view(experiment: Any, trajectories: Any) -> np.ndarray:
    """(R,) bool: runs that were, at some step, at a finite point outside the shown view
    (the engine's reduction when only some steps were recorded, optiviz/reductions.py)."""
    domain = view_domain(experiment, trajectories)
    reduced = getattr(trajectories, "reduced", None)
    if reduced is not None and reduced.left_view is not None:
        if reduced.domain != domain:
            raise ValueError(f"the runs were reduced over the view {reduced.domain}, "
                             f"not {domain}")
        return reduced.left_view.copy()
    if reduced is not None:
        raise ValueError("the runs left the view: not reduced, and not every step recorded")
    return outside(trajectories.positions, domain).any(axis=1)


class Exits:
    """Every stretch of steps a run spends outside a view: ``run[i]`` is outside from step
    ``begin[i]`` to ``end[i]`` (exclusive: back inside, or diverged), having crossed the view's
    edge at ``point[i]`` heading ``direction[i]`` (a step's displacement; for a run that starts
    outside, the way from the view's centre to the start)."""

    def __init__(self, run: np.ndarray, begin: np.ndarray, end: np.ndarray, point: np.ndarray,
                 direction: np.ndarray):
        self.run, self.begin, self.end = run, begin, end
        self.point, self.direction = point, direction

    def __len__(self) -> int:
        return int(self.run.size)

    def runs(self) -> np.ndarray:
        """The runs that leave the view, each once, in order."""
        return np.unique(self.run)

    def first_step(self, runs: int) -> np.ndarray:
        """(runs,) the step at which each run first is outside; -1 for runs that never are."""
        first = np.full(runs, -1, dtype=np.int64)
        # stretches are sorted by run, then step: a run's first stretch comes first
        order = np.unique(self.run, return_index=True)[1]
        first[self.run[order]] = self.begin[order]
        return first


def exits(positions: np.ndarray, domain: Domain) -> Exits:
    """Where and when the runs ``positions`` (R, S+1, 2) leave ``domain`` (see :class:`Exits`)."""
    out = outside(positions, domain)
    before = np.zeros_like(out)
    before[:, 1:] = out[:, :-1]
    after = np.zeros_like(out)
    after[:, :-1] = out[:, 1:]
    run, begin = np.nonzero(out & ~before)  # row-major: sorted by run, then step
    _, last = np.nonzero(out & ~after)
    (x0, x1), (y0, y1) = domain
    low, high = np.array([x0, y0]), np.array([x1, y1])
    head = positions[run, begin]
    tail = positions[run, np.maximum(begin - 1, 0)]
    direction = head - tail
    # Liang-Barsky: the first t in (0, 1] at which tail + t (head - tail) reaches an edge
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.where(direction > 0, high, low)
        t = np.where(direction != 0, (edge - tail) / direction, np.inf).min(axis=1)
    t = np.clip(np.nan_to_num(t, nan=1.0, posinf=1.0), 0.0, 1.0)
    point = tail + t[:, None] * direction
    at_start = begin == 0  # outside from the first step: no crossing to point at
    centre = (low + high) / 2
    point[at_start] = np.clip(head[at_start], low, high)
    direction[at_start] = head[at_start] - centre
    return Exits(run, begin, last + 1, np.clip(point, low, high), direction)
