"""Optimizers without a torch twin (gd, momentum, nag, newton, lion, lookahead), the §3 momentum
equivalences, registry hygiene, and one table every optimizer must pass: it decreases the loss."""

from __future__ import annotations

import numpy as np
import pytest

from optiviz.errors import ConfigError
from optiviz.optimizers import OPTIMIZERS, InnerOptimizer
from optiviz.registry import validate_params


class Oracle:
    """f, ∇f, ∇²f from closed forms on (N,2) arrays."""

    def __init__(self, value, grad, hessian):
        self._value, self._grad, self._hessian = value, grad, hessian

    def value(self, p):
        return self._value(p[:, 0], p[:, 1])

    def grad(self, p):
        return np.stack(self._grad(p[:, 0], p[:, 1]), axis=1)

    def value_and_grad(self, p):
        return self.value(p), self.grad(p)

    def hessian(self, p):
        fxx, fxy, fyy = (np.broadcast_to(h, p[:, 0].shape) for h in self._hessian(p[:, 0], p[:, 1]))
        return np.stack([np.stack([fxx, fxy], -1), np.stack([fxy, fyy], -1)], axis=1)


ROSENBROCK = Oracle(
    lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)),
    lambda x, y: (2 - 400 * y + 1200 * x * x, -400 * x, 200.0),
)
QUADRATIC = Oracle(
    lambda x, y: 0.5 * x * x + 5 * y * y + x * y,
    lambda x, y: (x + y, 10 * y + x),
    lambda x, y: (1.0, 1.0, 10.0),
)
SADDLE = Oracle(lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y),
                lambda x, y: (2.0, 0.0, -2.0))
MONKEY = Oracle(lambda x, y: x**3 - 3 * x * y * y, lambda x, y: (3 * x * x - 3 * y * y, -6 * x * y),
                lambda x, y: (6 * x, -6 * y, -6 * x))

START = np.array([[-1.2, 1.0]])


def run(name, hyper, oracle, starts, steps):
    spec = OPTIMIZERS[name]
    full = validate_params(spec.params, hyper)
    params = np.array(starts, dtype=np.float64)
    state = spec.init(params, full)
    positions = []
    for _ in range(steps):
        params, state = spec.step(params, state, full, oracle)
        where = spec.position(params, state) if spec.position else params
        positions.append(where.copy())
    return np.array(positions)


# Registry hygiene ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_has_summary_params_and_valid_defaults(name):
    spec = OPTIMIZERS[name]
    assert spec.name == name and spec.summary and spec.params
    for param in spec.params:
        assert param.doc, f"{name}.{param.name} has no doc"
        assert param.coerce(param.default, (param.name,)) == param.default
    assert spec.momentum_key in (None, "momentum", "betas")
    if spec.momentum_key:
        assert spec.momentum_key in {p.name for p in spec.params}


def test_sgd_nesterov_without_momentum_names_the_key():
    hyper = validate_params(OPTIMIZERS["sgd"].params, {"nesterov": True})
    with pytest.raises(ConfigError) as error:
        OPTIMIZERS["sgd"].check(hyper)
    assert error.value.path == ("nesterov",)
    with pytest.raises(ConfigError):
        OPTIMIZERS["sgd"].init(START, hyper)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "lbfgs", "lookahead", "newton"])
def test_step_does_not_modify_params_or_alias_state(name):
    spec = OPTIMIZERS[name]
    hyper = validate_params(spec.params, {})
    params = START.copy()
    state = spec.init(params, hyper)
    new_params, state = spec.step(params, state, hyper, ROSENBROCK)
    assert np.array_equal(params, START)
    new_copy = new_params.copy()
    spec.step(new_params, state, hyper, ROSENBROCK)
    assert np.array_equal(new_params, new_copy)


# Textbook forms --------------------------------------------------------------------------------

def test_gd_is_theta_minus_lr_grad():
    positions = run("gd", {"lr": 1e-3}, ROSENBROCK, START, 3)
    theta = START.copy()
    for k in range(3):
        theta = theta - 1e-3 * ROSENBROCK.grad(theta)
        np.testing.assert_array_equal(positions[k], theta)


def test_momentum_is_an_ema_of_gradients():
    positions = run("momentum", {"lr": 1e-3, "momentum": 0.8}, ROSENBROCK, START, 5)
    theta, velocity = START.copy(), np.zeros((1, 2))
    for k in range(5):
        velocity = 0.8 * velocity + 0.2 * ROSENBROCK.grad(theta)
        theta = theta - 1e-3 * velocity
        np.testing.assert_allclose(positions[k], theta, rtol=1e-15)


def test_ema_momentum_equals_torch_sgd_with_scaled_lr():
    """REFERENCE §3.1a: EMA momentum (lr, b) = SGD(lr·(1−b), momentum=b)."""
    starts = [[-1.2, 1.0], [0.5, -0.5]]
    ema = run("momentum", {"lr": 1e-3, "momentum": 0.9}, ROSENBROCK, starts, 100)
    sgd = run("sgd", {"lr": 1e-3 * (1 - 0.9), "momentum": 0.9}, ROSENBROCK, starts, 100)
    np.testing.assert_allclose(ema, sgd, rtol=1e-12, atol=1e-14)


def test_nag_is_sutskever_form_and_torch_tracks_its_lookahead_point():
    """REFERENCE §3.3: torch SGD(nesterov) parameters are φ = θ − μ·v of Sutskever's NAG."""
    mu, lr = 0.9, 1e-3
    spec = OPTIMIZERS["nag"]
    hyper = validate_params(spec.params, {"lr": lr, "momentum": mu})
    theta = START.copy()
    state = spec.init(theta, hyper)
    torch_like = run("sgd", {"lr": lr, "momentum": mu, "nesterov": True}, ROSENBROCK, START, 50)
    hand_theta, hand_v = START.copy(), np.zeros((1, 2))
    for k in range(50):
        theta, state = spec.step(theta, state, hyper, ROSENBROCK)
        hand_v = mu * hand_v + lr * ROSENBROCK.grad(hand_theta - mu * hand_v)
        hand_theta = hand_theta - hand_v
        np.testing.assert_allclose(theta, hand_theta, rtol=1e-14)
        np.testing.assert_allclose(theta - mu * state.velocity, torch_like[k], rtol=1e-11)


def test_lion_golden_values():
    positions = run("lion", {"lr": 1e-3}, ROSENBROCK, START, 100)
    np.testing.assert_allclose(positions[0, 0], (-1.199, 1.001), rtol=1e-12)
    np.testing.assert_allclose(positions[9, 0], (-1.19, 1.01), rtol=1e-12)
    np.testing.assert_allclose(positions[99, 0], (-1.1, 1.1), rtol=1e-12)


def test_lion_weight_decay_uses_the_old_theta():
    positions = run("lion", {"lr": 1e-2, "weight_decay": 0.5}, QUADRATIC, [[1.0, -2.0]], 1)
    theta = np.array([1.0, -2.0])
    grad = QUADRATIC.grad(theta[None])[0]  # (−1, −19); c = (1−β1)·g on the first step
    expected = theta - 1e-2 * (np.sign(grad) + 0.5 * theta)
    np.testing.assert_allclose(positions[0, 0], expected, rtol=1e-15)


def test_lookahead_golden_values():
    inner = InnerOptimizer(OPTIMIZERS["sgd"], validate_params(OPTIMIZERS["sgd"].params,
                                                              {"lr": 1e-3}))
    positions = run("lookahead", {"k": 5, "alpha": 0.5, "inner": inner}, ROSENBROCK, START, 100)
    np.testing.assert_allclose(positions[4, 0], (-1.1126557438470768, 1.0296207142494793),
                               rtol=1e-13)
    np.testing.assert_allclose(positions[9, 0], (-1.0688649867085225, 1.0441880083832729),
                               rtol=1e-13)
    np.testing.assert_allclose(positions[99, 0], (-0.9918889865592628, 0.9918565795059174),
                               rtol=1e-12)


def test_lookahead_reports_slow_weights_between_syncs():
    positions = run("lookahead", {"k": 5}, ROSENBROCK, START, 4)
    np.testing.assert_array_equal(positions, np.broadcast_to(START, (4, 1, 2)))


def test_newton_iterates_on_rosenbrock():
    expected = [(-1.175280899, 1.380674157), (0.7631148712, -3.175033855),
                (0.7634296789, 0.5828247755), (0.9999953111, 0.9440273239),
                (0.9999956957, 0.9999913913), (1.0, 1.0)]
    positions = run("newton", {}, ROSENBROCK, START, 7)
    np.testing.assert_allclose(positions[:6, 0], expected, rtol=1e-9, atol=1e-9)
    assert np.abs(ROSENBROCK.grad(positions[6])).max() < 1e-12


def test_newton_jumps_to_the_saddle_of_a_quadratic():
    starts = [[1.0, 2.0], [-3.0, 0.5]]
    np.testing.assert_allclose(run("newton", {}, SADDLE, starts, 1)[0], 0.0, atol=1e-15)


def test_newton_halves_on_the_monkey_saddle():
    positions = run("newton", {}, MONKEY, [[0.8, 0.3]], 2)
    np.testing.assert_allclose(positions[:, 0], [(0.4, 0.15), (0.2, 0.075)], rtol=1e-14)


def test_newton_on_a_singular_hessian_diverges_to_nan_instead_of_raising():
    positions = run("newton", {}, MONKEY, [[0.0, 0.0], [0.8, 0.3]], 1)
    assert np.isnan(positions[0, 0]).all()
    np.testing.assert_allclose(positions[0, 1], (0.4, 0.15))


def test_armijo_newton_does_not_move_where_no_step_decreases():
    # On x² − y² with |y| > |x|, f(θ + s·d) = (1−s)²(x² − y²) rises for s in (0, 2).
    positions = run("newton", {"damping": "backtracking"}, SADDLE, [[0.5, 1.0]], 1)
    np.testing.assert_array_equal(positions[0, 0], (0.5, 1.0))


@pytest.mark.parametrize("damping, hyper", [("fixed", {"lr": 0.5}), ("levenberg", {"mu": 1.0})])
def test_damped_newton_steps(damping, hyper):
    start = np.array([[1.0, -1.0]])
    hessian = QUADRATIC.hessian(start)[0]
    shift = hyper.get("mu", 0.0) if damping == "levenberg" else 0.0
    direction = -np.linalg.solve(hessian + shift * np.eye(2), QUADRATIC.grad(start)[0])
    positions = run("newton", {"damping": damping, **hyper}, QUADRATIC, start, 1)
    np.testing.assert_allclose(positions[0, 0], start[0] + hyper.get("lr", 1.0) * direction,
                               rtol=1e-14)


# Every optimizer makes progress (one table, optax style) ----------------------------------------

DECREASE_CASES = {
    "sgd": {"lr": 1e-3, "momentum": 0.9},
    "adagrad": {"lr": 0.1},
    "rmsprop": {"lr": 1e-2},
    "adam": {"lr": 2e-2},
    "adamw": {"lr": 2e-2},
    "adamax": {"lr": 2e-2},
    "nadam": {"lr": 2e-2},
    "radam": {"lr": 2e-3},
    "adadelta": {"lr": 1.0},
    "rprop": {"lr": 1e-2},
    "asgd": {"lr": 1e-3},
    "lbfgs": {"line_search_fn": "strong_wolfe"},
    "gd": {"lr": 1e-3},
    "momentum": {"lr": 1e-3},
    "nag": {"lr": 1e-3},
    "newton": {"damping": "backtracking"},
    "lion": {"lr": 1e-2},
    "lookahead": {},
}


def test_decrease_table_covers_every_registered_optimizer():
    assert set(DECREASE_CASES) == set(OPTIMIZERS.names())


@pytest.mark.parametrize("name", sorted(DECREASE_CASES))
@pytest.mark.parametrize("oracle, start", [(QUADRATIC, [[3.0, -2.0]]), (ROSENBROCK, START)],
                         ids=["quadratic", "rosenbrock"])
def test_every_optimizer_decreases_the_loss(name, oracle, start):
    positions = run(name, DECREASE_CASES[name], oracle, start, 200)
    initial = oracle.value(np.array(start))[0]
    final = oracle.value(positions[-1])[0]
    assert np.isfinite(final) and final < 0.9 * initial
