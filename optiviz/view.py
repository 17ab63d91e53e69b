"""The region of the plane an optimizer animation shows, and which runs leave it.

Pure NumPy (no Matplotlib): the renderer draws ``view_domain``, and the run report
(``optiviz.api``) says on the terminal which runs left it, from the same function, so the two
never disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Domain = tuple[tuple[float, float], tuple[float, float]]


def view_domain(experiment: Any, trajectories: Any) -> Domain:
    """What the map shows: ``render.domain`` when the user fixed it, else the function's
    domain."""
    return experiment.render.domain or experiment.function.domain


def outside(positions: np.ndarray, domain: Domain) -> np.ndarray:
    """``positions[..., :2]`` that are finite and lie outside ``domain`` (bool, same leading
    shape)."""
    (x0, x1), (y0, y1) = domain
    x, y = positions[..., 0], positions[..., 1]
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & ((x < x0) | (x > x1) | (y < y0) | (y > y1))


def left_view(experiment: Any, trajectories: Any) -> np.ndarray:
    """(R,) bool: runs that were, at some step, at a finite point outside the shown view."""
    return outside(trajectories.positions, view_domain(experiment, trajectories)).any(axis=1)
