"""Vectorized L-BFGS against the per-run port it replaced (itself bit-exact with torch).

The reference below is the former implementation: one run at a time in Python floats, the oracle
called with one row. The vectorized step must reproduce it bit for bit (positions, counters and
the whole per-run state), on many starts, functions and hyperparameters, while calling the oracle
once per round for all runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from optiviz.engine import Oracle as EngineOracle
from optiviz.functions import make_function
from optiviz.optimizers import OPTIMIZERS
from optiviz.optimizers.quasi_newton import cubic_interpolate, init_lbfgs, step_lbfgs
from optiviz.registry import validate_params

# The per-run reference (the former optiviz.optimizers.quasi_newton) ---------------------------


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1]


def _axpy(x, alpha, y):
    return (x[0] + alpha * y[0], x[1] + alpha * y[1])


def _max_abs(a):
    return max(abs(a[0]), abs(a[1]))


@dataclass
class ReferenceRun:
    func_evals: int = 0
    n_iter: int = 0
    d: tuple | None = None
    t: float | None = None
    old_dirs: list = field(default_factory=list)
    old_stps: list = field(default_factory=list)
    ro: list = field(default_factory=list)
    H_diag: float = 1.0  # noqa: N815
    prev_flat_grad: tuple | None = None
    prev_loss: float | None = None


def reference_cubic(x1, f1, g1, x2, f2, g2, bounds=None):
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


def reference_strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                           max_ls=25):
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
        t = reference_cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
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
        t = reference_cubic(bracket[0], bracket_f[0], bracket_gtd[0],
                            bracket[1], bracket_f[1], bracket_gtd[1])
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


def reference_run_step(x, run, hyper, evaluate):
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

            loss, flat_grad, t, ls_func_evals = reference_strong_wolfe(
                along, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
            )
            x = _axpy(x, t, d)
            opt_cond = _max_abs(flat_grad) <= tolerance_grad
        else:
            x = _axpy(x, t, d)
            if n_iter != max_iter:
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


def reference_trajectories(function, starts, hyper, steps):
    """Each start alone through the reference; a run whose reference raised (Python float
    division by zero, which NumPy turns into inf/NaN instead) is reported as None."""
    oracle = EngineOracle(function)
    row = np.empty((1, 2))

    def evaluate(point):
        row[0, 0], row[0, 1] = point
        value, grad = oracle.value_and_grad(row)
        return float(value[0]), (float(grad[0, 0]), float(grad[0, 1]))

    results = []
    for start in starts:
        x, run, positions = (float(start[0]), float(start[1])), ReferenceRun(), []
        try:
            with np.errstate(all="ignore"):
                for _ in range(steps):
                    if math.isfinite(x[0]) and math.isfinite(x[1]):
                        x = reference_run_step(x, run, hyper, evaluate)
                    positions.append(x)
        except (ZeroDivisionError, IndexError):
            results.append(None)
            continue
        results.append((np.array(positions), run))
    return results


# Helpers --------------------------------------------------------------------------------------

class CountingOracle:
    """The engine's oracle, recording how many rows each call carried."""

    def __init__(self, function):
        self.inner = EngineOracle(function)
        self.rows_per_call: list[int] = []

    def value_and_grad(self, params):
        self.rows_per_call.append(len(params))
        return self.inner.value_and_grad(params)


def vectorized_trajectories(function, starts, hyper, steps):
    params = np.array(starts, dtype=np.float64)
    state = init_lbfgs(params, hyper)
    oracle = CountingOracle(function)
    positions = []
    for _ in range(steps):
        params, state = step_lbfgs(params, state, hyper, oracle)
        positions.append(params.copy())
    return np.array(positions), state, oracle


def lbfgs_hyper(**changes):
    return validate_params(OPTIMIZERS.get("lbfgs").params, changes)


def random_hyper(rng):
    return lbfgs_hyper(
        lr=float(rng.choice([0.05, 0.3, 1.0, 1.7])),
        max_iter=int(rng.choice([1, 2, 5, 20])),
        max_eval=[None, 1, 3, 9, 30][rng.integers(5)],
        tolerance_grad=float(rng.choice([1e-7, 1e-4])),
        tolerance_change=float(rng.choice([1e-9, 1e-6, 1e-3])),
        history_size=int(rng.choice([1, 2, 4, 100])),
        line_search_fn=[None, "strong_wolfe"][rng.integers(2)],
    )


def assert_bits_equal(ours, theirs, message):
    """Equal bit for bit (so −0.0 ≠ +0.0), NaN where the other has NaN (payloads aside)."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape, message
    nan = np.isnan(theirs)
    np.testing.assert_array_equal(np.isnan(ours), nan, err_msg=message)
    np.testing.assert_array_equal(ours[~nan].view(np.int64), theirs[~nan].view(np.int64),
                                  err_msg=message)


def assert_same_as_reference(function, starts, hyper, steps):
    ours, state, _ = vectorized_trajectories(function, starts, hyper, steps)
    compared = 0
    for i, result in enumerate(reference_trajectories(function, starts, hyper, steps)):
        if result is None:
            continue
        compared += 1
        positions, run = result
        message = f"run {i}, {hyper}"
        assert_bits_equal(ours[:, i], positions, message)
        mine = state[i]
        assert (mine.func_evals, mine.n_iter) == (run.func_evals, run.n_iter), message
        if run.n_iter:
            for name in ("d", "t", "H_diag", "prev_loss", "prev_flat_grad", "ro"):
                assert_bits_equal(getattr(mine, name), getattr(run, name), f"{name}: {message}")
            for name in ("old_dirs", "old_stps"):
                assert_bits_equal(np.reshape(getattr(mine, name), (-1, 2)),
                                  np.reshape(getattr(run, name), (-1, 2)), f"{name}: {message}")
    return compared


# Tests ----------------------------------------------------------------------------------------

FUNCTION_NAMES = ["rosenbrock", "beale", "himmelblau", "six_hump_camel", "rastrigin", "ackley",
                  "goldstein_price", "styblinski_tang", "quadratic", "saddle"]


@pytest.mark.parametrize("function_name", FUNCTION_NAMES)
def test_random_hyperparameters_match_the_per_run_reference_bit_for_bit(function_name):
    rng = np.random.default_rng(FUNCTION_NAMES.index(function_name))
    function = make_function(function_name)
    (xmin, xmax), (ymin, ymax) = function.domain
    compared = 0
    for _ in range(6):
        hyper = random_hyper(rng)
        starts = np.column_stack([rng.uniform(xmin, xmax, 12), rng.uniform(ymin, ymax, 12)])
        compared += assert_same_as_reference(function, starts, hyper, steps=6)
    assert compared > 0


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [1, 3, 100])
def test_long_runs_fill_and_rotate_the_memory_exactly(line_search_fn, history_size):
    rng = np.random.default_rng(history_size)
    starts = np.column_stack([rng.uniform(-2, 2, 16), rng.uniform(-1, 3, 16)])
    hyper = lbfgs_hyper(history_size=history_size, line_search_fn=line_search_fn, max_iter=4)
    assert_same_as_reference(make_function("rosenbrock"), starts, hyper, steps=25)


def test_tiny_eval_budget_makes_the_search_keep_the_better_of_zero_and_t():
    # max_iter 1 gives max_eval 1 and so max_ls 0: one evaluation, then t or 0.
    rng = np.random.default_rng(7)
    starts = np.column_stack([rng.uniform(-2, 2, 40), rng.uniform(-1, 3, 40)])
    hyper = lbfgs_hyper(max_iter=1, history_size=10, line_search_fn="strong_wolfe")
    assert_same_as_reference(make_function("rosenbrock"), starts, hyper, steps=30)
    hyper = lbfgs_hyper(max_iter=1, max_eval=25, history_size=10, line_search_fn="strong_wolfe")
    assert_same_as_reference(make_function("rosenbrock"), starts, hyper, steps=30)


def test_dataset_objective_matches_reference():
    function = make_function({"name": "logistic_regression"})
    (xmin, xmax), (ymin, ymax) = function.domain
    rng = np.random.default_rng(3)
    starts = np.column_stack([rng.uniform(xmin, xmax, 8), rng.uniform(ymin, ymax, 8)])
    for line_search_fn in (None, "strong_wolfe"):
        hyper = lbfgs_hyper(line_search_fn=line_search_fn)
        assert_same_as_reference(function, starts, hyper, steps=5)


def test_oracle_is_called_once_per_round_for_all_runs():
    rng = np.random.default_rng(11)
    starts = np.column_stack([rng.uniform(-2, 2, 50), rng.uniform(-1, 3, 50)])
    hyper = lbfgs_hyper(line_search_fn="strong_wolfe", max_iter=5)
    _, state, oracle = vectorized_trajectories(make_function("rosenbrock"), starts, hyper, 1)
    func_evals = np.array([state[i].func_evals for i in range(50)])
    assert sum(oracle.rows_per_call) == func_evals.sum()
    # Rounds are shared: a call per search round of each lockstep iteration, not one per run.
    assert len(oracle.rows_per_call) <= 2 * func_evals.max()
    assert func_evals.sum() >= 10 * len(oracle.rows_per_call)
    assert oracle.rows_per_call[0] == 50


def test_converged_and_non_finite_runs_stay_put():
    starts = np.array([[1.0, 1.0], [np.nan, 0.0], [np.inf, 1.0], [-1.2, 1.0]])
    hyper = lbfgs_hyper()
    params = starts.copy()
    state = init_lbfgs(params, hyper)
    new, state = step_lbfgs(params, state, hyper, CountingOracle(make_function("rosenbrock")))
    np.testing.assert_array_equal(params, starts)  # the input is not modified
    np.testing.assert_array_equal(new[:3], starts[:3])
    assert [state[i].func_evals for i in range(3)] == [1, 0, 0]
    assert [state[i].n_iter for i in range(3)] == [0, 0, 0]
    assert state[3].func_evals == 20 and not np.array_equal(new[3], starts[3])


def test_state_snapshot_of_one_run():
    hyper = lbfgs_hyper(history_size=2)
    _, state, _ = vectorized_trajectories(make_function("rosenbrock"), [(-1.2, 1.0)], hyper, 2)
    run = state[0]
    assert len(state) == 1
    assert run.n_iter == 40 and run.func_evals == 40
    assert len(run.old_dirs) == len(run.old_stps) == len(run.ro) == 2
    assert run.ro[-1] == 1.0 / _dot(run.old_dirs[-1], run.old_stps[-1])


def test_cubic_interpolate_matches_the_scalar_formula_elementwise():
    rng = np.random.default_rng(5)
    n = 2000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    f1, f2, g1, g2 = rng.normal(size=(4, n)) * 3
    x2[:10] = x1[:10] + 1e-3  # nearly equal points
    low, high = np.minimum(x1, x2) - 0.5, np.maximum(x1, x2) * 2
    free = cubic_interpolate(x1, f1, g1, x2, f2, g2)
    bounded = cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=(low, high))
    for i in range(n):
        args = (x1[i], f1[i], g1[i], x2[i], f2[i], g2[i])
        assert free[i] == reference_cubic(*map(float, args))
        assert bounded[i] == reference_cubic(*map(float, args), bounds=(low[i], high[i]))
    # both branches of d2² (real minimizer or midpoint) were exercised
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    assert ((d1 * d1 - g1 * g2) < 0).any() and ((d1 * d1 - g1 * g2) >= 0).any()


def test_dot_keeps_the_sign_of_zero_like_torch():
    from optiviz.optimizers.quasi_newton import _dot as vector_dot

    a, b = np.array([[-0.0, -0.0]]), np.array([[1.0, 1.0]])
    assert math.copysign(1.0, vector_dot(a, b)[0]) == -1.0  # (a*b).sum(-1) would give +0.0


def test_array_and_scalar_two_loops_agree_bit_for_bit():
    from optiviz.optimizers.quasi_newton import _two_loop, _two_loop_scalar

    rng = np.random.default_rng(2)
    runs, history_size = 40, 6
    state = init_lbfgs(np.zeros((runs, 2)), lbfgs_hyper(history_size=history_size))
    state.length[:] = rng.integers(0, history_size + 1, runs)  # empty to full memories
    state.old_dirs[:] = rng.normal(size=state.old_dirs.shape)
    state.old_stps[:] = rng.normal(size=state.old_stps.shape)
    state.ro[:] = 1.0 / rng.uniform(0.1, 3.0, size=state.ro.shape)
    state.H_diag[:] = rng.uniform(0.1, 2.0, runs)
    rows = rng.permutation(runs)[:30]
    grad = rng.normal(size=(30, 2))
    assert_bits_equal(_two_loop(state, rows, grad), _two_loop_scalar(state, rows, grad),
                      "two-loop")
