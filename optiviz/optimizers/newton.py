"""Newton's method with optional damping (fixed step, Armijo backtracking, Levenberg)."""

from __future__ import annotations

import numpy as np

from optiviz.optimizers.base import OptimizerSpec, Oracle
from optiviz.registry import Param, in_range, nonnegative, positive

DAMPINGS = ("none", "fixed", "backtracking", "levenberg")


def newton_direction(grad: np.ndarray, hessian: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """d = −(H + shift·I)⁻¹ g for each run: (N, d) gradients, (N, d, d) Hessians.

    d = 2 by the closed form: with H = [[a, b], [c, e]] and det = a·e − b·c,
    d = −[e·gx − b·gy, −c·gx + a·gy]/det. Larger d by LU solves of the d×d systems
    (``numpy.linalg.solve``, one batched call). A singular H gives a non-finite d, which the
    caller turns into divergence."""
    dim = grad.shape[1]
    if dim == 2:
        a = hessian[:, 0, 0] + shift
        b = hessian[:, 0, 1]
        c = hessian[:, 1, 0]
        e = hessian[:, 1, 1] + shift
        gx, gy = grad[:, 0], grad[:, 1]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            det = a * e - b * c
            return np.stack([-(e * gx - b * gy) / det, -(a * gy - c * gx) / det], axis=1)
    matrix = np.array(hessian, dtype=np.float64)
    if shift:
        matrix += shift * np.eye(dim)
    direction = np.full(grad.shape, np.nan)
    usable = np.isfinite(matrix).all(axis=(1, 2)) & np.isfinite(grad).all(axis=1)
    if usable.any():
        with np.errstate(all="ignore"):
            try:
                solved = np.linalg.solve(matrix[usable], -grad[usable][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:  # some run's H is exactly singular: solve one by one
                solved = np.array([_solve_or_nan(m, -g) for m, g in
                                   zip(matrix[usable], grad[usable], strict=True)])
        direction[usable] = solved
    return direction


def _solve_or_nan(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        return np.full(rhs.shape, np.nan)


def init_newton(params: np.ndarray, hyper: dict) -> tuple:
    return ()


def step_newton(params: np.ndarray, state: tuple, hyper: dict, oracle: Oracle):
    """One Newton step θ ← θ + s·d with d = −H⁻¹g (Levenberg: d = −(H + μI)⁻¹g):

    - ``none``: s = 1;  ``fixed``: s = lr;  ``levenberg``: s = lr with the shifted Hessian.
    - ``backtracking`` (Armijo, Nocedal & Wright Alg. 3.1): s = 1, then s ← ρ·s while
      f(θ + s·d) > f(θ) + c·s·(g·d), at most ``max_backtracks`` times; a run for which no tried
      s satisfies the condition (d is not a descent direction) does not move.

    A singular Hessian makes d non-finite: that run's new position is NaN (the engine treats a
    non-finite run as diverged and freezes it) instead of raising.
    """
    damping = hyper["damping"]
    grad = oracle.grad(params)
    hessian = oracle.hessian(params)
    direction = newton_direction(grad, hessian, hyper["mu"] if damping == "levenberg" else 0.0)
    finite = np.isfinite(direction).all(axis=1)
    direction[~finite] = np.nan
    if damping == "none":
        return params + direction, state
    if damping in ("fixed", "levenberg"):
        return params + hyper["lr"] * direction, state
    slope = np.einsum("ij,ij->i", grad, direction)
    value = oracle.value(params)
    step = np.ones(len(params))
    accepted = ~finite  # non-finite runs are settled: they diverge
    for _ in range(hyper["max_backtracks"] + 1):
        trial = params + step[:, None] * direction
        pending = ~accepted
        if not pending.any():
            break
        # the whole batch is evaluated: the oracle's noise and batches are laid out per run
        trial_value = oracle.value(trial)
        with np.errstate(invalid="ignore"):
            ok = pending & (trial_value <= value + hyper["c"] * step * slope)
        accepted |= ok
        step[pending & ~ok] *= hyper["rho"]
    step[~accepted] = 0.0
    return params + step[:, None] * direction, state


NEWTON = OptimizerSpec(
    name="newton",
    params=(
        Param("damping", "none", kind="choice", choices=DAMPINGS,
              doc="none: θ + d; fixed: θ + lr·d; backtracking: Armijo; levenberg: (H + μI)"),
        Param("lr", 1.0, doc="fixed step η for fixed/levenberg damping", check=positive),
        Param("c", 1e-4, doc="Armijo sufficient-decrease constant",
              check=in_range(0.0, 1.0, low_open=True, high_open=True)),
        Param("rho", 0.5, doc="backtracking factor", check=in_range(0.0, 1.0, low_open=True,
                                                                    high_open=True)),
        Param("mu", 1e-3, doc="Levenberg shift μ of H + μI", check=nonnegative),
        Param("max_backtracks", 30, kind="int", doc="most step halvings per step",
              check=nonnegative),
    ),
    init=init_newton,
    step=step_newton,
    summary="Newton's method d = −H⁻¹g, optionally damped (Armijo / Levenberg)",
)
