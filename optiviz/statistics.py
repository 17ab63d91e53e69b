"""Statistics over many starts: when a run reaches a known minimum, and per optimizer entry
the distribution of outcomes (pure NumPy; the report, ``--data`` and the panels read it).

``tolerance:`` (top level, :class:`Tolerance`) says when a run has *reached* a known minimum:
``distance`` (its point within that distance, in the function's units, of a known global
minimum) and/or ``loss`` (its loss within that much of the global minimum value f*); with
both, both must hold. Not written: ``{distance: 1e-3}``. A run's *hitting step* is the first
step at which it is within tolerance (COCO's runtime to a target: a run that gets there and
leaves again has still reached it); -1 if it never is. The ``success`` panel draws, per step,
the share of each optimizer's runs whose hitting step is at most that step: the runtime ECDF.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath
from optiviz.registry import Param, positive, show_value, validate_params

DEFAULT_DISTANCE = 1e-3
#: Values per block while hitting steps are found (bounds the temporaries).
CHUNK_VALUES = 4_000_000


@dataclass(frozen=True)
class Tolerance:
    """When a run has reached a known minimum: within ``distance`` of a known global minimum
    and/or with loss within ``loss`` of f* (None: that test is not made)."""

    distance: float | None = DEFAULT_DISTANCE
    loss: float | None = None

    def describe(self) -> str:
        parts = []
        if self.distance is not None:
            parts.append(f"within {self.distance:g} of a minimum")
        if self.loss is not None:
            parts.append(f"f − f* ≤ {self.loss:g}")
        return " and ".join(parts)


TOLERANCE_PARAMS: tuple[Param, ...] = (
    Param("distance", None, "float", "reached: within this distance of a known global minimum",
          positive, nullable=True),
    Param("loss", None, "float", "reached: loss within this much of the global minimum f*",
          positive, nullable=True),
)


def parse_tolerance(value: Any, function: Any,
                    path: KeyPath = ("tolerance",)) -> Tolerance | None:
    """The ``tolerance:`` section, None when it is not written (:func:`tolerance_of` then gives
    the default). Written for a function without a known global minimum it is refused: there
    is nothing to be within tolerance of."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ConfigError("must be a mapping such as {distance: 0.001} or {loss: 1.0e-6}, got "
                          f"{show_value(value)}", path)
    params = validate_params(TOLERANCE_PARAMS, value, path)
    if params["distance"] is None and params["loss"] is None:
        raise ConfigError("needs distance, loss or both", path)
    if function is not None and not len(global_minima(function)):
        raise ConfigError("the function has no known global minimum to be within tolerance "
                          "of (an expr function takes minima: [[x, y], ...])", path)
    return Tolerance(params["distance"], params["loss"])


def tolerance_of(experiment: Any) -> Tolerance:
    tolerance = getattr(experiment, "tolerance", None)
    return tolerance if tolerance is not None else Tolerance()


def global_minima(function: Any) -> np.ndarray:
    """(M, 2) the function's known global minima (M = 0: none known)."""
    points = [(p.x, p.y) for p in getattr(function, "points", ()) if p.kind == "global minimum"]
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def f_star(function: Any) -> float | None:
    """The global minimum value f*, or None when no global minimum is known."""
    values = [p.value for p in getattr(function, "points", ()) if p.kind == "global minimum"]
    return float(min(values)) if values else None


def has_target(experiment: Any) -> bool:
    """Whether success can be measured: the function has a known global minimum."""
    return bool(len(global_minima(experiment.function)))


def recorded_steps(trajectories: Any) -> np.ndarray:
    """The step of each recorded column of ``positions`` and ``loss``."""
    recorded = getattr(trajectories, "recorded_steps", None)
    if callable(recorded):
        return np.asarray(recorded())
    return np.arange(trajectories.loss.shape[1])


def within(tolerance: Tolerance, function: Any, positions: np.ndarray,
           loss: np.ndarray) -> np.ndarray:
    """Whether each point (``positions`` (..., 2), ``loss`` (...)) is within tolerance."""
    minima = global_minima(function)
    ok = np.ones(loss.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if tolerance.distance is not None:
            near = np.zeros(loss.shape, dtype=bool)
            for mx, my in minima:
                near |= np.hypot(positions[..., 0] - mx, positions[..., 1] - my) \
                    <= tolerance.distance
            ok &= near
        if tolerance.loss is not None:
            ok &= (loss - f_star(function)) <= tolerance.loss
    return ok


def hitting_steps(experiment: Any, trajectories: Any) -> np.ndarray | None:
    """(R,) each run's first step within tolerance, -1 if none; None when the function has no
    known global minimum."""
    if not has_target(experiment):
        return None
    tolerance = tolerance_of(experiment)
    reduced = getattr(trajectories, "reduced", None)
    if reduced is not None:  # only some steps recorded: the engine measured every step
        if reduced.hits is None:
            raise ValueError("success was not measured while the runs were computed")
        return reduced.hits.copy()
    steps = recorded_steps(trajectories)
    runs, columns = trajectories.loss.shape
    out = np.full(runs, -1, dtype=np.int64)
    block = max(1, CHUNK_VALUES // max(columns, 1))
    for start in range(0, runs, block):
        rows = slice(start, start + block)
        ok = within(tolerance, experiment.function, trajectories.positions[rows],
                    trajectories.loss[rows])
        hit = ok.any(axis=1)
        first = np.argmax(ok, axis=1)
        out[rows] = np.where(hit, steps[first], -1)
    return out


def success_curves(hits: np.ndarray, groups: list[np.ndarray], steps: int) -> np.ndarray:
    """(G, steps+1): per group of runs, the share whose hitting step is <= t, t = 0..steps."""
    curves = np.zeros((len(groups), steps + 1))
    for g, runs in enumerate(groups):
        reached = hits[runs]
        reached = reached[reached >= 0]
        counts = np.bincount(reached, minlength=steps + 1)[: steps + 1]
        curves[g] = np.cumsum(counts) / max(len(runs), 1)
    return curves


def median_steps(hits: np.ndarray) -> float:
    """The median hitting step of the runs that reached tolerance (NaN when none did)."""
    reached = hits[hits >= 0]
    return float(np.median(reached)) if reached.size else math.nan
