"""L-BFGS, a port of torch.optim.LBFGS (itself a port of minFunc) with one history per run.

torch couples everything in one tensor (its dot products, line search and stopping tests are
global over the flattened vector), so N starts in one torch parameter would not be N independent
runs. Here every run keeps its own history, counters and line search and matches torch run on
that start alone. The per-run arithmetic is done in Python floats on 2-vectors, in torch's order
of operations (a·b = a0·b0 + a1·b1 as torch's 2-element dot); the oracle is called with one row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optiviz.optimizers.base import OptimizerSpec, Oracle
from optiviz.registry import Param, nonnegative, positive

Vec = tuple[float, float]


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1]


def _axpy(x: Vec, alpha: float, y: Vec) -> Vec:
    """x + alpha·y (torch ``x.add(y, alpha=alpha)``)."""
    return (x[0] + alpha * y[0], x[1] + alpha * y[1])


def _max_abs(a: Vec) -> float:
    return max(abs(a[0]), abs(a[1]))


@dataclass
class LBFGSRun:
    """torch's LBFGS ``state`` for one run; persists across ``step()`` calls."""

    func_evals: int = 0
    n_iter: int = 0
    d: Vec | None = None
    t: float | None = None
    old_dirs: list[Vec] = field(default_factory=list)  # y's
    old_stps: list[Vec] = field(default_factory=list)  # s's
    ro: list[float] = field(default_factory=list)  # 1/(y·s)
    H_diag: float = 1.0  # noqa: N815 (torch's name)
    prev_flat_grad: Vec | None = None
    prev_loss: float | None = None


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimizer of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to ``bounds``
    (default: the two points); the midpoint of the bounds when the cubic has no minimizer."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(evaluate, t, d: Vec, f, g: Vec, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                 max_ls=25):
    """torch's ``_strong_wolfe``: bracket a step t satisfying the strong Wolfe conditions
    f(t) ≤ f + c1·t·gtd and |f'(t)| ≤ −c2·gtd, then zoom by safeguarded cubic interpolation.
    ``evaluate(t) -> (f, g)`` at x + t·d. Returns (f, g, t, evaluations)."""
    d_norm = _max_abs(d)
    f_new, g_new = evaluate(t)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        previous = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                              bracket[1], bracket_f[1], bracket_gtd[1])
        # Safeguard: stay a tenth of the bracket away from its ends unless progress was good.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = evaluate(t)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def lbfgs_run_step(x: Vec, run: LBFGSRun, hyper: dict, evaluate) -> Vec:
    """One ``torch.optim.LBFGS.step(closure)`` for one run; ``evaluate(x) -> (f, g)``.

    Up to ``max_iter`` iterations of: d from the two-loop recursion over the (y, s) history
    (H0 = (y·s)/(y·y) of the newest pair), a step t·d (t = lr, or min(1, 1/‖g‖₁)·lr on the very
    first iteration; strong-Wolfe search if asked), stopping on max_eval, ‖g‖∞ ≤ tolerance_grad,
    ‖t·d‖∞ ≤ tolerance_change or |Δf| < tolerance_change. Mutates ``run``; returns the new x."""
    lr = hyper["lr"]
    max_iter = hyper["max_iter"]
    max_eval = hyper["max_eval"] if hyper["max_eval"] is not None else max_iter * 5 // 4
    tolerance_grad = hyper["tolerance_grad"]
    tolerance_change = hyper["tolerance_change"]
    history_size = hyper["history_size"]

    loss, flat_grad = evaluate(x)
    current_evals = 1
    run.func_evals += 1
    opt_cond = _max_abs(flat_grad) <= tolerance_grad
    if opt_cond:
        return x

    d, t = run.d, run.t
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        run.n_iter += 1
        if run.n_iter == 1:
            d = (-flat_grad[0], -flat_grad[1])
            run.old_dirs, run.old_stps, run.ro = [], [], []
            run.H_diag = 1.0
        else:
            y = (flat_grad[0] - run.prev_flat_grad[0], flat_grad[1] - run.prev_flat_grad[1])
            s = (d[0] * t, d[1] * t)
            ys = _dot(y, s)
            if ys > 1e-10:
                if len(run.old_dirs) == history_size:
                    run.old_dirs.pop(0)
                    run.old_stps.pop(0)
                    run.ro.pop(0)
                run.old_dirs.append(y)
                run.old_stps.append(s)
                run.ro.append(1.0 / ys)
                run.H_diag = ys / _dot(y, y)
            num_old = len(run.old_dirs)
            al = [0.0] * num_old
            q = (-flat_grad[0], -flat_grad[1])
            for i in range(num_old - 1, -1, -1):
                al[i] = _dot(run.old_stps[i], q) * run.ro[i]
                q = _axpy(q, -al[i], run.old_dirs[i])
            r = (q[0] * run.H_diag, q[1] * run.H_diag)
            for i in range(num_old):
                be_i = _dot(run.old_dirs[i], r) * run.ro[i]
                r = _axpy(r, al[i] - be_i, run.old_stps[i])
            d = r
        run.prev_flat_grad = flat_grad
        run.prev_loss = loss
        if run.n_iter == 1:
            t = min(1.0, 1.0 / (abs(flat_grad[0]) + abs(flat_grad[1]))) * lr
        else:
            t = lr
        gtd = _dot(flat_grad, d)
        if gtd > -tolerance_change:
            break

        ls_func_evals = 0
        if hyper["line_search_fn"] == "strong_wolfe":
            start = x

            def along(step, start=start, d=d):
                return evaluate(_axpy(start, step, d))

            # torch does not pass tolerance_change on: the search uses its default 1e-9.
            loss, flat_grad, t, ls_func_evals = strong_wolfe(
                along, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
            )
            x = _axpy(x, t, d)
            opt_cond = _max_abs(flat_grad) <= tolerance_grad
        else:
            x = _axpy(x, t, d)
            if n_iter != max_iter:
                # The last iteration's f, g are not refreshed: the next step() evaluates them.
                loss, flat_grad = evaluate(x)
                opt_cond = _max_abs(flat_grad) <= tolerance_grad
                ls_func_evals = 1
        current_evals += ls_func_evals
        run.func_evals += ls_func_evals

        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if max(abs(d[0] * t), abs(d[1] * t)) <= tolerance_change:
            break
        if abs(loss - run.prev_loss) < tolerance_change:
            break

    run.d, run.t = d, t
    return x


def init_lbfgs(params: np.ndarray, hyper: dict) -> list[LBFGSRun]:
    return [LBFGSRun() for _ in range(len(params))]


def step_lbfgs(params: np.ndarray, state: list[LBFGSRun], hyper: dict, oracle: Oracle):
    """One ``LBFGS.step(closure)`` per run (see :func:`lbfgs_run_step`); non-finite runs stay put.
    ``state[i].func_evals`` and ``.n_iter`` are torch's counters for run i."""
    new_params = np.array(params, dtype=np.float64)
    row = np.empty((1, 2))

    def evaluate(point: Vec) -> tuple[float, Vec]:
        row[0, 0], row[0, 1] = point
        value, grad = oracle.value_and_grad(row)
        return float(value[0]), (float(grad[0, 0]), float(grad[0, 1]))

    for i, run in enumerate(state):
        x = (float(params[i, 0]), float(params[i, 1]))
        if not (math.isfinite(x[0]) and math.isfinite(x[1])):
            continue
        new_params[i] = lbfgs_run_step(x, run, hyper, evaluate)
    return new_params, state


def _nullable_positive_int(value) -> str | None:
    return None if value is None or value > 0 else "must be > 0"


LBFGS = OptimizerSpec(
    name="lbfgs",
    params=(
        Param("lr", 1.0, doc="step length (initial step of the line search)", check=positive),
        Param("max_iter", 20, kind="int", doc="most iterations per step", check=positive),
        Param("max_eval", None, kind="int", nullable=True,
              doc="most function evaluations per step (null: max_iter*5//4)",
              check=_nullable_positive_int),
        Param("tolerance_grad", 1e-7, doc="stop when max|g| <= this", check=nonnegative),
        Param("tolerance_change", 1e-9, doc="stop when a step or loss change is below this",
              check=nonnegative),
        Param("history_size", 100, kind="int", doc="(y, s) pairs kept", check=positive),
        Param("line_search_fn", None, kind="choice", choices=("strong_wolfe",), nullable=True,
              doc="null or strong_wolfe"),
    ),
    init=init_lbfgs,
    step=step_lbfgs,
    summary="L-BFGS, limited-memory BFGS (Liu & Nocedal 1989)",
    torch="torch.optim.LBFGS",
)
