"""True moments as a statistician states them: a number, infinite (±inf) or undefined (NaN).

scipy's ``stats("mv")`` answers NaN or inf where a moment does not exist, but not always the
right one: Student t with df <= 1 gets an infinite mean (it is undefined: both tails diverge,
as for the Cauchy), Burr XII with c·d <= 1 an undefined one (it is infinite: the support is
bounded below), the Crystal Ball with m <= 2 a mean of +inf (its heavy tail is on the left).

The rule used here: E[X] = E[X⁺] − E[X⁻] is infinite when exactly one of the two diverges and
undefined when both do; a tail's part diverges when the tail is a power law P(|X| > x) ~ x^-α
with α <= 1. The variance is undefined when the mean is, infinite when the mean is infinite or
E[X²] diverges (Student t with 1 < df <= 2), else the number scipy gives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# two far tail probabilities: the tail index is read off the quantiles there
TAIL_PROBABILITIES = (1e-8, 1e-10)
HEAVY_INDEX = 1.1  # a tail index up to this (1 for the Cauchy) makes E[X] diverge on that side


def tail_index(frozen: Any, side: str) -> float:
    """α of a power-law tail, P(|X − median| > x) ~ x^-α, estimated from two far quantiles of
    the ``"left"`` or ``"right"`` tail; inf for a bounded side or a tail lighter than any
    power (or one scipy cannot invert that far)."""
    low, high = (float(v) for v in frozen.support())
    if (side == "left" and math.isfinite(low)) or (side == "right" and math.isfinite(high)):
        return math.inf
    near, far = TAIL_PROBABILITIES
    try:
        with np.errstate(all="ignore"):
            median = float(frozen.median())
            if side == "right":
                x_near, x_far = (float(frozen.isf(p)) - median for p in (near, far))
            else:
                x_near, x_far = (median - float(frozen.ppf(p)) for p in (near, far))
    except (ArithmeticError, ValueError):
        return math.inf
    if not (math.isfinite(x_near) and math.isfinite(x_far)) or not 0 < x_near < x_far:
        return math.inf
    return math.log(near / far) / math.log(x_far / x_near)


def true_moments(frozen: Any) -> tuple[float, float]:
    """``(mean, variance)`` of a scipy frozen univariate distribution: numbers where they
    exist, +inf or −inf where the mean diverges (inf where the variance does), NaN where the
    moment is undefined."""
    with np.errstate(all="ignore"):
        mean, var = (float(v) for v in frozen.stats(moments="mv"))
    if math.isfinite(mean):  # E[X²] − E[X]² cannot be negative: a non-finite one diverges
        return mean, var if math.isfinite(var) else math.inf
    left, right = (tail_index(frozen, side) <= HEAVY_INDEX for side in ("left", "right"))
    if left and right:
        return math.nan, math.nan
    if left or right:
        return (-math.inf if left else math.inf), math.inf
    # neither tail looks heavy: scipy could not compute a moment that exists; keep its answer
    return mean, var


def true_expectation(distribution: Any, estimand: Any, text: str | None) -> float:
    """E_p[f(X)] for a univariate distribution. For f(x) = x it is the true mean and for
    f(x) = x² the second moment, so that one that does not exist reads NaN (undefined) or inf
    (infinite) where quadrature would answer a number (0 for the Cauchy's mean, a few
    hundred for Student t(2)'s E[X²]); any other f is integrated numerically."""
    shape = (text or "").replace(" ", "")
    if shape == "x":
        return float(distribution.mean)
    if shape in ("x**2", "x^2", "x*x"):
        mean, var = float(distribution.mean), float(distribution.cov)
        second = var + mean**2
        # X² >= 0: its expectation exists, in [0, inf], even where the mean does not
        return second if math.isfinite(second) else math.inf
    return float(distribution.expect(estimand))
