"""Test functions: derivatives against finite differences, listed points, the registry contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import rosen, rosen_der, rosen_hess

from optiviz.errors import ConfigError, UnknownNameError
from optiviz.functions import FUNCTIONS, POINT_KINDS, Function, make_function

NAMES = FUNCTIONS.names()

# Global minimum values as REFERENCE.md §5 states them (independent of the code's Point table).
REFERENCE_MINIMA = {
    "rosenbrock": ((1.0, 1.0), 0.0),
    "beale": ((3.0, 0.5), 0.0),
    "himmelblau": ((3.0, 2.0), 0.0),
    "booth": ((1.0, 3.0), 0.0),
    "matyas": ((0.0, 0.0), 0.0),
    "three_hump_camel": ((0.0, 0.0), 0.0),
    "six_hump_camel": ((0.089842013100, -0.712656403021), -1.031628453490),
    "goldstein_price": ((0.0, -1.0), 3.0),
    "rastrigin": ((0.0, 0.0), 0.0),
    "ackley": ((0.0, 0.0), 0.0),
    "levi13": ((1.0, 1.0), 0.0),
    "styblinski_tang": ((-2.903534027771, -2.903534027771), -78.332331407543),
    "bukin6": ((-10.0, 1.0), 0.0),
    "quadratic": ((0.0, 0.0), 0.0),
}

# Where a function is not differentiable, so finite differences mean nothing (REFERENCE.md §5).
NON_SMOOTH = {
    "bukin6": lambda x, y: np.minimum(np.abs(y - 0.01 * x * x), np.abs(x + 10)) < 0.05,
    "ackley": lambda x, y: np.hypot(x, y) < 0.05,
}


def build(name: str, seed: int = 0) -> Function:
    return make_function({"name": name, **FUNCTIONS[name].example}, seed=seed)


def sample_points(function: Function, count: int = 40, seed: int = 7) -> tuple:
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = function.domain
    x = rng.uniform(x0, x1, count)
    y = rng.uniform(y0, y1, count)
    if function.name in NON_SMOOTH:
        keep = ~NON_SMOOTH[function.name](x, y)
        x, y = x[keep], y[keep]
    return x, y


def central_difference(f, x, y, h: float = 1e-4) -> tuple:
    """Fourth-order central differences of a scalar field (or of each output of a tuple)."""

    def along(shift_x, shift_y):
        def at(k):
            return np.asarray(f(x + k * shift_x, y + k * shift_y))

        return (-at(2) + 8 * at(1) - 8 * at(-1) + at(-2)) / (12 * h)

    return along(h, 0.0), along(0.0, h)


def assert_close(actual, expected, scale, rtol=1e-6):
    """|actual − expected| ≤ rtol·(|expected| + scale), elementwise (scale: the local magnitude)."""
    error = np.abs(np.asarray(actual) - np.asarray(expected))
    bound = rtol * (np.abs(expected) + scale)
    assert np.all(error <= bound), f"worst error/bound {np.max(error / bound):.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    function = build(name)
    x, y = sample_points(function)
    gx, gy = function.grad(x, y)
    dx, dy = central_difference(function.value, x, y)
    scale = np.hypot(gx, gy) + 1.0
    assert_close(gx, dx, scale)
    assert_close(gy, dy, scale)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_finite_differences_of_gradient(name):
    function = build(name)
    x, y = sample_points(function)
    fxx, fxy, fyy = function.hessian(x, y)
    (dxx, dyx), (dxy, dyy) = (
        central_difference(lambda a, b, i=i: function.grad(a, b)[i], x, y) for i in (0, 1)
    )
    scale = np.abs(fxx) + np.abs(fxy) + np.abs(fyy) + 1.0
    assert_close(fxx, dxx, scale)
    assert_close(fxy, dyx, scale)
    assert_close(fxy, dxy, scale)
    assert_close(fyy, dyy, scale)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_broadcast_to_the_input_shape(name):
    function = build(name)
    (x0, x1), (y0, y1) = function.domain
    x = np.linspace(x0, x1, 6).reshape(2, 3)
    y = (y0 + y1) / 2  # a scalar broadcasts against the grid
    assert function.value(x, y).shape == (2, 3)
    assert all(part.shape == (2, 3) for part in function.grad(x, y))
    assert all(part.shape == (2, 3) for part in function.hessian(x, y))


@pytest.mark.parametrize("name", NAMES)
def test_listed_points_are_stationary_with_the_stated_value(name):
    function = build(name)
    for point in function.points:
        assert point.kind in POINT_KINDS
        fxx, fxy, fyy = (float(h) for h in function.hessian(point.x, point.y))
        curvature = abs(fxx) + abs(fxy) + abs(fyy) if math.isfinite(fxx + fxy + fyy) else 1.0
        gradient = np.hypot(*function.grad(point.x, point.y))
        assert gradient <= 1e-7 * max(1.0, curvature), (point, gradient)
        value = float(function.value(point.x, point.y))
        assert value == pytest.approx(point.value, rel=1e-10, abs=1e-10), point


@pytest.mark.parametrize("name", NAMES)
def test_listed_points_have_the_curvature_of_their_kind(name):
    function = build(name)
    for point in function.points:
        fxx, fxy, fyy = (float(h) for h in function.hessian(point.x, point.y))
        if not math.isfinite(fxx + fxy + fyy):
            # A cone point (Ackley, Bukin N.6): no Hessian; check it is a minimum directly.
            assert point.kind.endswith("minimum")
            angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            ring = function.value(point.x + 1e-3 * np.cos(angles), point.y + 1e-3 * np.sin(angles))
            assert np.all(ring > point.value)
            continue
        eigenvalues = np.linalg.eigvalsh([[fxx, fxy], [fxy, fyy]])
        if point.kind.endswith("minimum"):
            assert eigenvalues.min() > 0, (point, eigenvalues)
        elif point.kind == "maximum":
            assert eigenvalues.max() < 0, (point, eigenvalues)
        elif np.allclose(eigenvalues, 0):
            assert function.name == "monkey_saddle"  # the one degenerate saddle (H = 0)
        else:
            assert eigenvalues.min() < 0 < eigenvalues.max(), (point, eigenvalues)


@pytest.mark.parametrize("name", NAMES)
def test_minimum_is_the_lowest_listed_minimum_and_points_lie_in_the_domain(name):
    function = build(name)
    minima = [p.value for p in function.points if p.kind == "global minimum"]
    assert function.minimum == (min(minima) if minima else None)
    (x0, x1), (y0, y1) = function.domain
    assert x0 < x1 and y0 < y1
    for point in function.points:
        assert x0 <= point.x <= x1 and y0 <= point.y <= y1, point


@pytest.mark.parametrize("name", sorted(REFERENCE_MINIMA))
def test_value_at_the_reference_global_minimum(name):
    (x, y), expected = REFERENCE_MINIMA[name]
    function = build(name)
    assert float(function.value(x, y)) == pytest.approx(expected, abs=1e-11)
    assert function.minimum == pytest.approx(expected, abs=1e-11)


def test_every_builtin_test_function_is_covered_by_the_reference_table():
    builtin = set(NAMES) - {"expr", "linear_regression", "logistic_regression"}
    assert builtin - set(REFERENCE_MINIMA) == {"saddle", "monkey_saddle"}  # no minimum at all


def test_rosenbrock_matches_scipy():
    function = make_function("rosenbrock")
    rng = np.random.default_rng(3)
    for x, y in rng.uniform(-2, 2, size=(8, 2)):
        p = np.array([x, y])
        assert float(function.value(x, y)) == pytest.approx(rosen(p), rel=1e-12)
        np.testing.assert_allclose(function.grad(x, y), rosen_der(p), rtol=1e-12)
        fxx, fxy, fyy = function.hessian(x, y)
        np.testing.assert_allclose([[fxx, fxy], [fxy, fyy]], rosen_hess(p), rtol=1e-12)


def test_rosenbrock_parameters_move_the_minimum_and_title():
    function = make_function({"name": "rosenbrock", "a": 2, "b": 10})
    assert (function.points[0].x, function.points[0].y) == (2.0, 4.0)
    assert float(function.value(2.0, 4.0)) == 0.0
    assert function.title == "Rosenbrock (a=2, b=10)"
    assert function.params == {"a": 2.0, "b": 10.0}


def test_ackley_gradient_is_the_zero_subgradient_at_the_cone_point():
    gx, gy = make_function("ackley").grad(0.0, 0.0)
    assert (float(gx), float(gy)) == (0.0, 0.0)


def test_quadratic_from_condition_and_from_rotated_eigenvalues():
    plain = make_function({"name": "quadratic", "condition": 50})
    assert plain.hessian(1.0, 2.0) == (1.0, 0.0, 50.0)
    rotated = make_function({"name": "quadratic", "eigenvalues": [2, 8], "angle": 30})
    fxx, fxy, fyy = (float(h) for h in rotated.hessian(0.0, 0.0))
    np.testing.assert_allclose(np.linalg.eigvalsh([[fxx, fxy], [fxy, fyy]]), [2, 8])
    eigenvector = (math.cos(math.radians(30)), math.sin(math.radians(30)))
    np.testing.assert_allclose(rotated.grad(*eigenvector), (2 * eigenvector[0], 2 * eigenvector[1]))


def test_quadratic_with_mixed_signs_is_a_saddle():
    function = make_function({"name": "quadratic", "eigenvalues": [1, -2]})
    assert function.points[0].kind == "saddle" and function.minimum is None
    assert not function.log_scale


def test_large_inputs_give_inf_or_nan_without_warnings():
    with np.errstate(all="raise"):
        for name in NAMES:
            function = build(name)
            function.value(1e200, -1e200)
            function.grad(1e200, -1e200)
            function.hessian(1e200, -1e200)


def test_aliases_resolve_to_the_same_function():
    assert make_function("camel3").name == "three_hump_camel"
    assert make_function("levy13").name == "levi13"


def test_domain_override_applies_to_any_function():
    function = make_function({"name": "himmelblau", "domain": [[-1, 4], [0, 3]]})
    assert function.domain == ((-1.0, 4.0), (0.0, 3.0))


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError) as caught:
        make_function("rosenbrok", path=("function",))
    assert caught.value.path == ("function", "name")
    assert "did you mean 'rosenbrock'" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "key", "message"),
    [
        ({"name": "rosenbrock", "b": -1}, ("b",), "must be > 0"),
        ({"name": "rosenbrock", "bb": 1}, ("bb",), "did you mean 'b'"),
        ({"name": "rastrigin", "A": "ten"}, ("A",), "must be a number"),
        ({"name": "quadratic", "eigenvalues": [1]}, ("eigenvalues",), "list of 2 numbers"),
        ({"name": "beale", "domain": [[1, 0], [0, 1]]}, ("domain", 0), "min < max"),
        ({"a": 1}, (), "needs a 'name'"),
        (3, (), "must be a function name"),
    ],
)
def test_bad_specs_name_the_key(spec, key, message):
    with pytest.raises(ConfigError) as caught:
        make_function(spec, path=("function",))
    assert caught.value.path == ("function",) + key
    assert message in str(caught.value)


def test_expression_function_has_exact_derivatives_and_marks_minima():
    function = make_function({"expr": "x**2 + 10*y**2 + x*y", "minima": [[0, 0]],
                              "title": "bowl", "log_scale": True})
    assert function.name == "expr" and function.title == "bowl" and function.log_scale
    assert function.grad(1.0, 2.0) == (4.0, 41.0)
    assert function.hessian(1.0, 2.0) == (2.0, 1.0, 20.0)
    assert function.points[0].kind == "global minimum" and function.minimum == 0.0
    assert function.formula.startswith("$") and function.formula.endswith("$")


def test_expression_errors_carry_the_expr_key():
    with pytest.raises(ConfigError) as caught:
        make_function({"expr": "x + __import__('os')"}, path=("function",))
    assert caught.value.path == ("function", "expr")
    with pytest.raises(ConfigError) as caught:
        make_function({"expr": "x", "minima": [[0]]}, path=("function",))
    assert caught.value.path == ("function", "minima", 0)
