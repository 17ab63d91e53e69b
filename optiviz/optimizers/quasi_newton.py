"""L-BFGS, a port of torch.optim.LBFGS (itself a port of minFunc) with one history per run.

torch couples everything in one tensor (its dot products, line search and stopping tests are
global over the flattened vector), so N starts in one torch parameter would not be N independent
runs. Here every run keeps its own history, counters and line search and matches torch run on
that start alone, bit for bit (ATEN_CPU_CAPABILITY=default), while all runs advance together as
whole-array operations:

- the (y, s) memories are per-run buffers ``(N, history_size, d)``, oldest first, with per-run
  lengths; the two-loop recursion walks the history columns once for all runs, masking the runs
  whose history is shorter;
- runs whose stopping test fired are masked and keep their state while the others go on;
- the strong-Wolfe search is a masked state machine: each round, the runs that need a function
  evaluation are gathered and the oracle is called once with all their points.

Arithmetic follows torch's order per element: a·b = (a0·b0 + a1·b1) + a2·b2 + ... (torch's
2-element dot exactly; NumPy's ``(a*b).sum(-1)`` would turn −0 + −0 into +0), Python's
``min``/``max`` tie and NaN rules are kept with ``np.where``. For d > 2 torch's ``dot`` and
``sum`` go through BLAS and vectorized reductions whose summation order is not specified, so
runs agree with torch to rounding (rtol 1e-8 in the tests) rather than bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from optiviz.optimizers.base import OptimizerSpec, Oracle
from optiviz.registry import Param, nonnegative, positive

#: torch's absolute curvature threshold: a (y, s) pair enters the memory only if y·s > this.
CURVATURE_EPS = 1e-10


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a·b over the last axis, as a0·b0 + a1·b1 + ... left to right (torch's order
    for d = 2)."""
    out = a[..., 0] * b[..., 0]
    for k in range(1, a.shape[-1]):
        out = out + a[..., k] * b[..., k]
    return out


def _max_abs(a: np.ndarray) -> np.ndarray:
    """Row-wise max(|a0|, |a1|, ...) with Python's ``max`` rule (the running maximum unless the
    next is larger, so a NaN first element wins)."""
    out = np.abs(a[..., 0])
    for k in range(1, a.shape[-1]):
        nxt = np.abs(a[..., k])
        out = np.where(nxt > out, nxt, out)
    return out


def _abs_sum(a: np.ndarray) -> np.ndarray:
    """Row-wise |a0| + |a1| + ... left to right (torch's ``abs().sum()`` for d = 2)."""
    out = np.abs(a[..., 0])
    for k in range(1, a.shape[-1]):
        out = out + np.abs(a[..., k])
    return out


def _py_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``max(a, b)``: a unless b > a."""
    return np.where(b > a, b, a)


def _py_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``min(a, b)``: a unless b < a."""
    return np.where(b < a, b, a)


class LBFGSRun(NamedTuple):
    """A snapshot of torch's LBFGS ``state`` for one run (what ``state[i]`` returns)."""

    func_evals: int
    n_iter: int
    d: tuple[float, ...]
    t: float
    old_dirs: list[tuple[float, ...]]  # y's, oldest first
    old_stps: list[tuple[float, ...]]  # s's
    ro: list[float]  # 1/(y·s)
    H_diag: float  # noqa: N815 (torch's name)
    prev_flat_grad: tuple[float, ...]
    prev_loss: float


@dataclass
class LBFGSState:
    """torch's LBFGS ``state`` for N runs; persists across ``step()`` calls.

    The memory of run i is ``old_dirs[i, :length[i]]`` (y's), ``old_stps[i, :length[i]]`` (s's)
    and ``ro[i, :length[i]]``, oldest first. ``d``, ``t``, ``prev_*`` are meaningful once
    ``n_iter[i] > 0``. ``state[i]`` gives run i as an :class:`LBFGSRun`."""

    func_evals: np.ndarray  # (N,) int64
    n_iter: np.ndarray  # (N,) int64
    d: np.ndarray  # (N, d)
    t: np.ndarray  # (N,)
    old_dirs: np.ndarray  # (N, H, d)
    old_stps: np.ndarray  # (N, H, d)
    ro: np.ndarray  # (N, H)
    length: np.ndarray  # (N,) int64
    H_diag: np.ndarray  # (N,)  # noqa: N815 (torch's name)
    prev_flat_grad: np.ndarray  # (N, d)
    prev_loss: np.ndarray  # (N,)

    def __len__(self) -> int:
        return len(self.n_iter)

    def __getitem__(self, i: int) -> LBFGSRun:
        n = int(self.length[i])
        return LBFGSRun(
            func_evals=int(self.func_evals[i]),
            n_iter=int(self.n_iter[i]),
            d=tuple(self.d[i].tolist()),
            t=float(self.t[i]),
            old_dirs=[tuple(row) for row in self.old_dirs[i, :n].tolist()],
            old_stps=[tuple(row) for row in self.old_stps[i, :n].tolist()],
            ro=[float(r) for r in self.ro[i, :n]],
            H_diag=float(self.H_diag[i]),
            prev_flat_grad=tuple(self.prev_flat_grad[i].tolist()),
            prev_loss=float(self.prev_loss[i]),
        )


# Strong-Wolfe line search ---------------------------------------------------------------------

def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> np.ndarray:
    """Elementwise minimizer of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to
    ``bounds = (low, high)`` (default: the two points); the midpoint of the bounds where the
    cubic has no minimizer (d2² < 0):

        d1 = g1 + g2 − 3(f1 − f2)/(x1 − x2),  d2 = √(d1² − g1·g2)
        m  = x2 − (x2 − x1)·(g2 + d2 − d1)/(g2 − g1 + 2·d2)   (x1 ≤ x2; else roles swapped)
    """
    x1, f1, g1, x2, f2, g2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                                   for v in (x1, f1, g1, x2, f2, g2)))
    ordered = x1 <= x2
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = np.where(ordered, x1, x2), np.where(ordered, x2, x1)
    with np.errstate(all="ignore"):
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        real = d2_square >= 0
        d2 = np.sqrt(np.where(real, d2_square, 0.0))
        min_pos = np.where(
            ordered,
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
        )
        clamped = _py_min(_py_max(min_pos, xmin_bound), xmax_bound)
        return np.where(real, clamped, (xmin_bound + xmax_bound) / 2.0)


_BRACKETING, _ZOOMING, _FINISHED = 0, 1, 2


def strong_wolfe(
    evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    x: np.ndarray, t: np.ndarray, d: np.ndarray, f: np.ndarray, g: np.ndarray,
    gtd: np.ndarray, max_ls: np.ndarray, c1: float = 1e-4, c2: float = 0.9,
    tolerance_change: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """torch's ``_strong_wolfe`` for M runs at once: bracket a step t satisfying the strong
    Wolfe conditions f(x + t·d) ≤ f + c1·t·gtd and |g(x + t·d)·d| ≤ −c2·gtd, then zoom by
    safeguarded cubic interpolation, at most ``max_ls`` (per run) evaluations after the first.

    ``evaluate(points (K, d)) -> (f (K,), g (K, d))`` is called once per round with the points of
    every run that needs one. x, d, g: (M, d); t, f, gtd, max_ls: (M,). Returns the accepted
    (f, g, t, evaluations) per run."""
    m = len(t)
    d_norm = _max_abs(d)
    curvature = -c2 * gtd
    t = np.array(t, dtype=np.float64)
    f_new, g_new = evaluate(x + t[:, None] * d)
    f_new, g_new = np.array(f_new, dtype=np.float64), np.array(g_new, dtype=np.float64)
    gtd_new = _dot(g_new, d)
    evals = np.ones(m, dtype=np.int64)
    ls_iter = np.zeros(m, dtype=np.int64)
    t_prev, f_prev = np.zeros(m), np.array(f, dtype=np.float64)
    g_prev, gtd_prev = g.copy(), np.array(gtd, dtype=np.float64)
    bracket = np.zeros((m, 2))
    bracket_f = np.zeros((m, 2))
    bracket_g = np.zeros((m, 2, g.shape[1]))
    bracket_gtd = np.zeros((m, 2))
    low = np.zeros(m, dtype=np.int64)
    done = np.zeros(m, dtype=bool)
    insuf_progress = np.zeros(m, dtype=bool)
    phase = np.full(m, _BRACKETING)
    rows_all = np.arange(m)

    def set_bracket(r, t0, f0, g0, gtd0, t1, f1, g1, gtd1):
        bracket[r, 0], bracket[r, 1] = t0, t1
        bracket_f[r, 0], bracket_f[r, 1] = f0, f1
        bracket_g[r, 0], bracket_g[r, 1] = g0, g1
        bracket_gtd[r, 0], bracket_gtd[r, 1] = gtd0, gtd1
        low[r] = np.where(bracket_f[r, 0] <= bracket_f[r, 1], 0, 1)

    with np.errstate(all="ignore"):
        while True:
            # Bracketing phase, at the top of its loop with a fresh (f_new, g_new) at t.
            r = np.flatnonzero(phase == _BRACKETING)
            wants = np.zeros(m, dtype=bool)
            if r.size:
                tr, fn, gn = t[r], f_new[r], gtd_new[r]
                exhausted = ~(ls_iter[r] < max_ls[r])
                armijo_fails = (fn > (f[r] + c1 * tr * gtd[r])) | (
                    (ls_iter[r] > 1) & (fn >= f_prev[r]))
                wolfe = np.abs(gn) <= curvature[r]
                uphill = gn >= 0
                to_zoom = ~exhausted & (armijo_fails | (~wolfe & uphill))
                accepted = ~exhausted & ~armijo_fails & wolfe
                extrapolate = ~exhausted & ~to_zoom & ~accepted

                e = r[exhausted]  # out of evaluations: the better of 0 and t
                set_bracket(e, 0.0, f[e], g[e], 0.0, t[e], f_new[e], g_new[e], 0.0)
                z = r[to_zoom]
                set_bracket(z, t_prev[z], f_prev[z], g_prev[z], gtd_prev[z],
                            t[z], f_new[z], g_new[z], gtd_new[z])
                insuf_progress[z] = False
                a = r[accepted]
                set_bracket(a, t[a], f_new[a], g_new[a], gtd_new[a],
                            t[a], f_new[a], g_new[a], gtd_new[a])
                low[a] = 0
                done[a] = True
                phase[e] = _FINISHED
                phase[a] = _FINISHED
                phase[z] = _ZOOMING

                ext = r[extrapolate]
                if ext.size:
                    tx = t[ext]
                    min_step = tx + 0.01 * (tx - t_prev[ext])
                    max_step = tx * 10
                    t_next = cubic_interpolate(t_prev[ext], f_prev[ext], gtd_prev[ext], tx,
                                               f_new[ext], gtd_new[ext],
                                               bounds=(min_step, max_step))
                    t_prev[ext], f_prev[ext] = tx, f_new[ext]
                    g_prev[ext], gtd_prev[ext] = g_new[ext], gtd_new[ext]
                    t[ext] = t_next
                    wants[ext] = True

            # Zoom phase, at the top of its loop.
            r = np.flatnonzero(phase == _ZOOMING)
            if r.size:
                b0, b1 = bracket[r, 0], bracket[r, 1]
                stop = done[r] | ~(ls_iter[r] < max_ls[r]) | (
                    np.abs(b1 - b0) * d_norm[r] < tolerance_change)
                phase[r[stop]] = _FINISHED
                r, b0, b1 = r[~stop], b0[~stop], b1[~stop]
                if r.size:
                    tz = cubic_interpolate(b0, bracket_f[r, 0], bracket_gtd[r, 0],
                                           b1, bracket_f[r, 1], bracket_gtd[r, 1])
                    # Safeguard: stay a tenth of the bracket away from its ends unless
                    # the previous zoom made good progress.
                    b_max, b_min = _py_max(b0, b1), _py_min(b0, b1)
                    eps = 0.1 * (b_max - b_min)
                    near_end = _py_min(b_max - tz, tz - b_min) < eps
                    insuf = insuf_progress[r]
                    move = near_end & (insuf | (tz >= b_max) | (tz <= b_min))
                    moved = np.where(np.abs(tz - b_max) < np.abs(tz - b_min),
                                     b_max - eps, b_min + eps)
                    t[r] = np.where(move, moved, tz)
                    insuf_progress[r] = near_end & ~move
                    wants[r] = True

            r = np.flatnonzero(wants)
            if r.size == 0:
                break
            values, grads = evaluate(x[r] + t[r][:, None] * d[r])
            f_new[r], g_new[r] = values, grads
            gtd_new[r] = _dot(g_new[r], d[r])
            evals[r] += 1
            ls_iter[r] += 1

            # Zoom: fold the new point into the bracket.
            z = r[phase[r] == _ZOOMING]
            if z.size:
                lo, hi = low[z], 1 - low[z]
                tz, fz = t[z], f_new[z]
                replaces_high = (fz > (f[z] + c1 * tz * gtd[z])) | (
                    fz >= bracket_f[z, lo])
                h = z[replaces_high]
                hh = hi[replaces_high]
                bracket[h, hh], bracket_f[h, hh] = t[h], f_new[h]
                bracket_g[h, hh], bracket_gtd[h, hh] = g_new[h], gtd_new[h]
                low[h] = np.where(bracket_f[h, 0] <= bracket_f[h, 1], 0, 1)

                keep = ~replaces_high
                k, kl, kh = z[keep], lo[keep], hi[keep]
                wolfe = np.abs(gtd_new[k]) <= curvature[k]
                done[k[wolfe]] = True
                flip = ~wolfe & (gtd_new[k] * (bracket[k, kh] - bracket[k, kl]) >= 0)
                fk, fl, fh = k[flip], kl[flip], kh[flip]
                bracket[fk, fh], bracket_f[fk, fh] = bracket[fk, fl], bracket_f[fk, fl]
                bracket_g[fk, fh], bracket_gtd[fk, fh] = bracket_g[fk, fl], bracket_gtd[fk, fl]
                bracket[k, kl], bracket_f[k, kl] = t[k], f_new[k]
                bracket_g[k, kl], bracket_gtd[k, kl] = g_new[k], gtd_new[k]

    return (bracket_f[rows_all, low], bracket_g[rows_all, low], bracket[rows_all, low], evals)


# The L-BFGS iteration -------------------------------------------------------------------------

def _push_history(state: LBFGSState, rows: np.ndarray, y: np.ndarray, s: np.ndarray,
                  ys: np.ndarray) -> None:
    """Append (y, s, 1/ys) to the memories of ``rows``, dropping the oldest pair where full."""
    capacity = state.old_dirs.shape[1]
    full = rows[state.length[rows] == capacity]
    if full.size:
        for buffer in (state.old_dirs, state.old_stps, state.ro):
            buffer[full, :-1] = buffer[full, 1:]
        state.length[full] -= 1
    slot = state.length[rows]
    state.old_dirs[rows, slot] = y
    state.old_stps[rows, slot] = s
    state.ro[rows, slot] = 1.0 / ys
    state.length[rows] += 1


#: Below this many runs the two-loop recursion is cheaper in Python floats than in NumPy calls
#: (each column costs a dozen array calls whatever their length); the arithmetic is the same.
SCALAR_TWO_LOOP_MAX_RUNS = 4


def _two_loop(state: LBFGSState, rows: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d = −H·g by the two-loop recursion over each run's own memory (H0 = H_diag·I):

        q = −g;  for i newest→oldest: a_i = ρ_i·(s_i·q),  q ← q − a_i·y_i
        r = H_diag·q;  for i oldest→newest: β_i = ρ_i·(y_i·r),  r ← r + (a_i − β_i)·s_i

    Runs are sorted by memory length (longest first), so the runs that hold pair i are a
    prefix and every history column is one slice. ``q − a·y`` equals torch's ``q + (−a)·y``
    bit for bit (negation is exact)."""
    if rows.size <= SCALAR_TWO_LOOP_MAX_RUNS:
        return _two_loop_scalar(state, rows, grad)
    length = state.length[rows]
    order = np.argsort(-length, kind="stable")
    rows, length = rows[order], length[order]
    runs, span = rows.size, int(length[0])
    dim = grad.shape[1]
    holding = np.searchsorted(-length, -np.arange(span), side="left").tolist()  # hold pair i
    # Component-major copies: history column i of component c is the contiguous [c, i].
    y = np.ascontiguousarray(state.old_dirs[rows, :span].transpose(2, 1, 0))
    s = np.ascontiguousarray(state.old_stps[rows, :span].transpose(2, 1, 0))
    ro = np.ascontiguousarray(state.ro[rows, :span].T)
    q = np.ascontiguousarray(-grad[order].T)  # (d, runs)
    al = np.empty((span, runs))
    scratch, scratch2 = np.empty(runs), np.empty(runs)

    def column(i: int):
        """Pair i's vectors over the runs that hold it (views)."""
        k = holding[i]
        if k == runs:
            return k, y[:, i], s[:, i], ro[i], al[i], scratch, scratch2
        return k, y[:, i, :k], s[:, i, :k], ro[i, :k], al[i, :k], scratch[:k], scratch2[:k]

    for i in range(span - 1, -1, -1):
        k, yi, si, roi, a, tmp, _ = column(i)
        qk = q if k == runs else q[:, :k]
        np.multiply(si[0], qk[0], out=a)
        for c in range(1, dim):
            a += np.multiply(si[c], qk[c], out=tmp)
        a *= roi
        for c in range(dim):
            qk[c] -= np.multiply(a, yi[c], out=tmp)
    r = q * state.H_diag[rows]
    for i in range(span):
        k, yi, si, roi, a, be, tmp = column(i)
        rk = r if k == runs else r[:, :k]
        np.multiply(yi[0], rk[0], out=be)
        for c in range(1, dim):
            be += np.multiply(yi[c], rk[c], out=tmp)
        be *= roi
        np.subtract(a, be, out=be)
        for c in range(dim):
            rk[c] += np.multiply(be, si[c], out=tmp)
    direction = np.empty((runs, dim))
    direction[order] = r.T
    return direction


def _two_loop_scalar(state: LBFGSState, rows: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """:func:`_two_loop` run by run in Python floats (for a handful of runs)."""
    dim = grad.shape[1]
    direction = np.empty((rows.size, dim))
    for j, row in enumerate(rows.tolist()):
        n = int(state.length[row])
        dirs, stps = state.old_dirs[row, :n].tolist(), state.old_stps[row, :n].tolist()
        ro = state.ro[row, :n].tolist()
        al = [0.0] * n
        q = [-v for v in grad[j].tolist()]
        for i in range(n - 1, -1, -1):
            dot = stps[i][0] * q[0]
            for c in range(1, dim):
                dot = dot + stps[i][c] * q[c]
            al[i] = dot * ro[i]
            q = [q[c] + -al[i] * dirs[i][c] for c in range(dim)]
        h_diag = float(state.H_diag[row])
        r = [v * h_diag for v in q]
        for i in range(n):
            dot = dirs[i][0] * r[0]
            for c in range(1, dim):
                dot = dot + dirs[i][c] * r[c]
            step = al[i] - dot * ro[i]
            r = [r[c] + step * stps[i][c] for c in range(dim)]
        direction[j] = r
    return direction


def _lbfgs_iterations(x: np.ndarray, loss: np.ndarray, flat_grad: np.ndarray,
                      state: LBFGSState, rows: np.ndarray, hyper: dict, evaluate) -> np.ndarray:
    """The iteration loop of one ``LBFGS.step`` for the runs ``rows`` of ``state`` (updated in
    place), whose first f, g (``loss``, ``flat_grad``, one row per run) was not yet optimal.
    Returns their new x."""
    lr = hyper["lr"]
    max_iter = hyper["max_iter"]
    max_eval = hyper["max_eval"] if hyper["max_eval"] is not None else max_iter * 5 // 4
    tolerance_grad = hyper["tolerance_grad"]
    tolerance_change = hyper["tolerance_change"]
    line_search = hyper["line_search_fn"] == "strong_wolfe"

    m = len(x)
    x, loss, flat_grad = x.copy(), loss.copy(), flat_grad.copy()
    current_evals = np.ones(m, dtype=np.int64)
    running = np.ones(m, dtype=bool)
    for n_iter in range(1, max_iter + 1):
        r = np.flatnonzero(running)  # local indices; state rows are rows[r]
        if r.size == 0:
            break
        run = rows[r]
        state.n_iter[run] += 1
        first = state.n_iter[run] == 1
        g = flat_grad[r]

        # Direction: −g on the very first iteration, else the two-loop over the updated memory.
        if first.any():
            starting = run[first]
            state.d[starting] = -g[first]
            state.length[starting] = 0
            state.H_diag[starting] = 1.0
        later = ~first
        o = run[later]
        if o.size:
            g_later = g[later]
            y = g_later - state.prev_flat_grad[o]
            s = state.d[o] * state.t[o][:, None]
            ys = _dot(y, s)
            curved = ys > CURVATURE_EPS
            if curved.any():
                c, yc, ysc = o[curved], y[curved], ys[curved]
                _push_history(state, c, yc, s[curved], ysc)
                state.H_diag[c] = ysc / _dot(yc, yc)
            state.d[o] = _two_loop(state, o, g_later)
        state.prev_flat_grad[run] = g
        state.prev_loss[run] = loss[r]
        t = np.full(r.size, float(lr))
        if first.any():
            gf = g[first]
            t[first] = _py_min(np.ones(len(gf)), 1.0 / _abs_sum(gf)) * lr
        state.t[run] = t
        d = state.d[run]
        gtd = _dot(g, d)
        moves = ~(gtd > -tolerance_change)
        if not moves.all():
            running[r[~moves]] = False
            r, run, d, t, gtd = r[moves], run[moves], d[moves], t[moves], gtd[moves]
            if r.size == 0:
                break

        ls_evals = np.zeros(r.size, dtype=np.int64)
        opt_cond = np.zeros(r.size, dtype=bool)
        if line_search:
            # torch does not pass tolerance_change on: the search uses its default 1e-9.
            loss[r], flat_grad[r], t, ls_evals = strong_wolfe(
                evaluate, x[r], t, d, loss[r], flat_grad[r], gtd,
                max_ls=max_eval - current_evals[r],
            )
            state.t[run] = t
            x[r] = x[r] + t[:, None] * d
            opt_cond = _max_abs(flat_grad[r]) <= tolerance_grad
        else:
            x[r] = x[r] + t[:, None] * d
            if n_iter != max_iter:
                # The last iteration's f, g are not refreshed: the next step() evaluates them.
                values, grads = evaluate(x[r])
                loss[r], flat_grad[r] = values, grads
                opt_cond = _max_abs(grads) <= tolerance_grad
                ls_evals[:] = 1
        current_evals[r] += ls_evals
        state.func_evals[run] += ls_evals

        stops = (
            (n_iter == max_iter)
            | (current_evals[r] >= max_eval)
            | opt_cond
            | (_max_abs(d * t[:, None]) <= tolerance_change)
            | (np.abs(loss[r] - state.prev_loss[run]) < tolerance_change)
        )
        running[r[stops]] = False
    return x


def init_lbfgs(params: np.ndarray, hyper: dict) -> LBFGSState:
    (n, dim), history_size = np.shape(params), hyper["history_size"]
    return LBFGSState(
        func_evals=np.zeros(n, dtype=np.int64),
        n_iter=np.zeros(n, dtype=np.int64),
        d=np.zeros((n, dim)),
        t=np.zeros(n),
        old_dirs=np.zeros((n, history_size, dim)),
        old_stps=np.zeros((n, history_size, dim)),
        ro=np.zeros((n, history_size)),
        length=np.zeros(n, dtype=np.int64),
        H_diag=np.ones(n),
        prev_flat_grad=np.zeros((n, dim)),
        prev_loss=np.zeros(n),
    )


def step_lbfgs(params: np.ndarray, state: LBFGSState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.LBFGS.step(closure)`` for every run, each with its own state.

    Evaluate f, g (stop if ‖g‖∞ ≤ tolerance_grad); then up to ``max_iter`` iterations of:
    d from the two-loop recursion over the run's (y, s) memory (H0 = (y·s)/(y·y) of the newest
    pair), a step t·d (t = lr, or min(1, 1/‖g‖₁)·lr on the very first iteration; strong-Wolfe
    search if asked), stopping on max_eval, ‖g‖∞ ≤ tolerance_grad, ‖t·d‖∞ ≤ tolerance_change or
    |Δf| < tolerance_change. Runs with non-finite parameters stay put. ``state`` is updated in
    place; ``state[i].func_evals`` and ``.n_iter`` are torch's counters for run i."""
    new_params = np.array(params, dtype=np.float64)
    live = np.flatnonzero(np.isfinite(new_params).all(axis=1))
    if live.size == 0:
        return new_params, state

    def evaluate(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, grads = oracle.value_and_grad(points)
        return np.asarray(values, dtype=np.float64), np.asarray(grads, dtype=np.float64)

    with np.errstate(all="ignore"):
        x = new_params[live]
        loss, flat_grad = evaluate(x)
        state.func_evals[live] += 1
        iterating = ~(_max_abs(flat_grad) <= hyper["tolerance_grad"])
        rows = live[iterating]
        if rows.size:
            new_params[rows] = _lbfgs_iterations(x[iterating], loss[iterating],
                                                 flat_grad[iterating], state, rows, hyper,
                                                 evaluate)
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
              check=_nullable_positive_int, default_text="max_iter × 5/4"),
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
