"""Safe expressions: values, exact derivatives, refusals, and random trees against NumPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optiviz.errors import ConfigError
from optiviz.expr import MAX_LENGTH, Expression, parse

X = np.linspace(-1.5, 1.5, 7)
Y = np.linspace(0.2, 2.0, 7)


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("x**2 + 10*y**2", lambda x, y: x**2 + 10 * y**2),
        ("x^2 - 3*x*y", lambda x, y: x**2 - 3 * x * y),  # ^ means **
        ("-x**2", lambda x, y: -(x**2)),
        ("2**-x", lambda x, y: 2.0 ** (-x)),
        ("sin(pi*x) * exp(-y) / (1 + y)", lambda x, y: np.sin(np.pi * x) * np.exp(-y) / (1 + y)),
        ("sqrt(abs(x)) + log(y) + log10(y) + log2(y)",
         lambda x, y: np.sqrt(np.abs(x)) + np.log(y) + np.log10(y) + np.log2(y)),
        ("asin(x/2) + acos(x/2) + atan(x) + atan2(y, x)",
         lambda x, y: np.arcsin(x / 2) + np.arccos(x / 2) + np.arctan(x) + np.arctan2(y, x)),
        ("sinh(x) * cosh(y) - tanh(x*y) + tan(x/2)",
         lambda x, y: np.sinh(x) * np.cosh(y) - np.tanh(x * y) + np.tan(x / 2)),
        ("sign(x) * e**y", lambda x, y: np.sign(x) * np.e**y),
        ("x**y", lambda x, y: np.abs(x) ** y if False else np.power(x, y)),
        ("1e-3 * x + 2.5", lambda x, y: 1e-3 * x + 2.5),
    ],
)
def test_values_match_numpy(text, reference):
    expression = parse(text)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(expression(x=X, y=Y), reference(X, Y), rtol=1e-14)


@pytest.mark.parametrize(
    ("text", "dx", "dy"),
    [
        ("x**2 * y", lambda x, y: 2 * x * y, lambda x, y: x**2),
        ("sin(x*y)", lambda x, y: y * np.cos(x * y), lambda x, y: x * np.cos(x * y)),
        ("exp(x) / y", lambda x, y: np.exp(x) / y, lambda x, y: -np.exp(x) / y**2),
        ("log(x**2 + y)", lambda x, y: 2 * x / (x**2 + y), lambda x, y: 1 / (x**2 + y)),
        ("y**x", lambda x, y: y**x * np.log(y), lambda x, y: x * y ** (x - 1)),
        ("2**x", lambda x, y: 2**x * np.log(2), lambda x, y: 0 * x),
        ("sqrt(x**2 + y**2)", lambda x, y: x / np.hypot(x, y), lambda x, y: y / np.hypot(x, y)),
        ("atan2(y, x)", lambda x, y: -y / (x**2 + y**2), lambda x, y: x / (x**2 + y**2)),
        ("tanh(x) + arctan(y)", lambda x, y: 1 - np.tanh(x) ** 2, lambda x, y: 1 / (1 + y**2)),
        ("abs(x) * y", lambda x, y: np.sign(x) * y, lambda x, y: np.abs(x)),
    ],
)
def test_derivatives_match_hand_derivatives(text, dx, dy):
    expression = parse(text)
    np.testing.assert_allclose(expression.diff("x")(x=X, y=Y), dx(X, Y), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(expression.diff("y")(x=X, y=Y), dy(X, Y), rtol=1e-13, atol=1e-15)


def test_second_derivatives_are_exact():
    hessian = parse("x**3 * y**2 + sin(x)")
    assert float(hessian.diff("x").diff("x")(x=2.0, y=3.0)) == pytest.approx(
        6 * 2 * 9 - math.sin(2.0), rel=1e-15
    )
    assert float(hessian.diff("x").diff("y")(x=2.0, y=3.0)) == 3 * 4 * 2 * 3
    assert float(hessian.diff("y").diff("y")(x=2.0, y=3.0)) == 2 * 8


def test_derivatives_are_simplified():
    assert str(parse("3*x + y").diff("x")) == "3"
    assert str(parse("x**2").diff("x")) == "2 * x"
    assert str(parse("5").diff("x")) == "0"
    assert str(parse("x*y").diff("y")) == "x"
    assert str(parse("2*pi*x").diff("x")) == repr(2 * math.pi)


def test_constant_results_broadcast_to_the_input_shape():
    derivative = parse("3*x + y").diff("x")
    assert derivative(x=np.zeros((2, 3)), y=1.0).shape == (2, 3)


def test_domain_errors_give_nan_without_warnings():
    with np.errstate(all="raise"):
        values = parse("log(x) + sqrt(x) + 1/x")(x=np.array([-1.0, 0.0]), y=0.0)
    assert np.isnan(values[0]) and not np.isfinite(values[1])


def test_text_round_trips_through_parse():
    expression = parse("-(x - y)**2 / (1 + x*y) - 2**-x + sin(-x)**3")
    again = parse(str(expression))
    np.testing.assert_allclose(again(x=X, y=Y), expression(x=X, y=Y), rtol=1e-14)


def test_single_variable_expressions_for_densities():
    density = parse("exp(-t**2 / 2)", ("t",))
    assert density.variables == ("t",)
    assert float(density.diff("t")(t=1.0)) == pytest.approx(-math.exp(-0.5))
    with pytest.raises(ConfigError):
        parse("exp(-x**2)", ("t",))


def test_calling_with_wrong_variables_is_a_type_error():
    with pytest.raises(TypeError):
        parse("x + y")(x=1.0)
    with pytest.raises(TypeError):
        parse("x")(x=1.0, z=2.0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("__import__('os')", "function '__import__' not allowed"),
        ("__import__('os').system('ls')", "calling anything but a plain function name"),
        ("x.real", "attribute access not allowed: 'x.real'"),
        ("x.__class__", "attribute access not allowed"),
        ("[x][0]", "subscripts not allowed"),
        ("(lambda: 1)()", "calling anything but a plain function name"),
        ("lambda: 1", "lambda not allowed"),
        ("[x for x in y]", "comprehensions not allowed"),
        ("x if y else 1", "conditional expressions not allowed"),
        ("(z := 1)", "assignment (:=) not allowed"),
        ("'abc'", "strings not allowed"),
        ("x < y", "comparisons not allowed"),
        ("x and y", "'and'/'or' not allowed"),
        ("x // 2", "operator '//' not allowed"),
        ("x % 2", "operator '%' not allowed"),
        ("~x", "operators '~' and 'not' not allowed"),
        ("sin(x=1)", "keyword arguments not allowed"),
        ("sin(x, y)", "sin() takes 1 argument, got 2"),
        ("sine(x)", "function 'sine' not allowed: 'sine'; did you mean 'sin'?"),
        ("xx + 1", "name 'xx'"),
        ("z + 1", "name 'z'"),
        ("sin + 1", "function 'sin' without a call"),
        ("True + x", "the constant True not allowed"),
        ("import os", "invalid expression syntax"),
        ("x +", "invalid expression syntax"),
        ("", "expression is empty"),
        ("10**10**10", "exponent too large"),
        ("x**100000", "exponent too large"),
        ("1e999 * x", "non-finite or huge numbers not allowed"),
        ("x" + "+x" * MAX_LENGTH, "expression too long"),
        ("+".join(["x"] * 300), "expression too large"),
        ("(" * 250 + "x" + ")" * 250, "nested"),
        ("-" * 100 + "x", "nested deeper"),
    ],
)
def test_dangerous_or_invalid_input_is_refused_by_name(text, fragment):
    with pytest.raises(ConfigError) as caught:
        parse(text, path=("function", "expr"))
    assert fragment in str(caught.value)
    assert caught.value.path == ("function", "expr")


def test_misspelled_variable_suggests_the_nearest():
    with pytest.raises(ConfigError) as caught:
        parse("xx + y")
    assert caught.value.suggestion == "x"


def test_non_string_input_is_refused():
    with pytest.raises(ConfigError):
        parse(3)  # type: ignore[arg-type]


# Random well-formed expressions against a NumPy reference -----------------------------------

Tree = tuple[str, object]  # (text, reference function of (x, y))

leaves = st.one_of(
    st.sampled_from([("x", lambda x, y: x), ("y", lambda x, y: y), ("pi", lambda x, y: np.pi)]),
    st.integers(-30, 30).map(lambda k: (f"{k / 10}", lambda x, y, c=k / 10: c + 0 * x)),
)

UNARY = {
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "arctan": np.arctan,
}


def extend(children: st.SearchStrategy) -> st.SearchStrategy:
    def unary(pair: tuple) -> Tree:
        (name, func), (text, f) = pair
        return f"{name}({text})", lambda x, y: func(f(x, y))

    def binary(triple: tuple) -> Tree:
        op, (ta, fa), (tb, fb) = triple
        if op == "+":
            return f"({ta}) + ({tb})", lambda x, y: fa(x, y) + fb(x, y)
        if op == "-":
            return f"({ta}) - ({tb})", lambda x, y: fa(x, y) - fb(x, y)
        if op == "*":
            return f"({ta}) * ({tb})", lambda x, y: fa(x, y) * fb(x, y)
        # a denominator kept away from zero, so finite differences stay meaningful
        return f"({ta}) / (2 + ({tb})**2)", lambda x, y: fa(x, y) / (2 + fb(x, y) ** 2)

    def special(pair: tuple) -> Tree:
        kind, (text, f) = pair
        if kind == "square":
            return f"({text})^2", lambda x, y: f(x, y) ** 2
        if kind == "exp":
            return f"exp(sin({text}))", lambda x, y: np.exp(np.sin(f(x, y)))
        if kind == "log":
            return f"log(2 + cos({text}))", lambda x, y: np.log(2 + np.cos(f(x, y)))
        return f"sqrt(1 + ({text})**2)", lambda x, y: np.sqrt(1 + f(x, y) ** 2)

    return st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY.items())), children).map(unary),
        st.tuples(st.sampled_from("+-*/"), children, children).map(binary),
        st.tuples(st.sampled_from(["square", "exp", "log", "sqrt"]), children).map(special),
        st.tuples(children).map(lambda t: (f"-({t[0][0]})", lambda x, y, f=t[0][1]: -f(x, y))),
    )


trees = st.recursive(leaves, extend, max_leaves=8)
POINTS_X = np.array([-0.9, -0.3, 0.1, 0.6, 0.95])
POINTS_Y = np.array([0.8, -0.7, 0.4, -0.2, 0.05])


def difference(f, x, y, along: str, h: float = 1e-4) -> np.ndarray:
    """Fourth-order central difference of f(x, y) along x or y."""
    dx, dy = (h, 0.0) if along == "x" else (0.0, h)
    return (
        -f(x + 2 * dx, y + 2 * dy) + 8 * f(x + dx, y + dy) - 8 * f(x - dx, y - dy)
        + f(x - 2 * dx, y - 2 * dy)
    ) / (12 * h)


def assert_near(actual, expected, scale):
    error = np.abs(np.asarray(actual) - np.asarray(expected))
    assert np.all(error <= 1e-6 * (np.abs(expected) + scale)), (actual, expected)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(trees)
def test_random_expressions_evaluate_like_numpy(tree):
    text, reference = tree
    expression = parse(text)
    np.testing.assert_allclose(
        expression(x=POINTS_X, y=POINTS_Y), reference(POINTS_X, POINTS_Y), rtol=1e-12, atol=1e-12
    )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(trees)
def test_random_expression_derivatives_match_finite_differences(tree):
    text, _ = tree
    expression = parse(text)

    def value(x, y):
        return expression(x=x, y=y)

    for var in ("x", "y"):
        exact = expression.diff(var)(x=POINTS_X, y=POINTS_Y)
        scale = 1.0 + np.abs(value(POINTS_X, POINTS_Y))
        assert_near(exact, difference(value, POINTS_X, POINTS_Y, var), scale)
    mixed = expression.diff("x").diff("y")(x=POINTS_X, y=POINTS_Y)
    other_order = expression.diff("y").diff("x")(x=POINTS_X, y=POINTS_Y)
    np.testing.assert_allclose(mixed, other_order, rtol=1e-9, atol=1e-9)

    def dx(x, y):
        return expression.diff("x")(x=x, y=y)

    assert_near(mixed, difference(dx, POINTS_X, POINTS_Y, "y"), 1.0 + np.abs(mixed))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(trees)
def test_random_expressions_round_trip_through_text(tree):
    expression = parse(tree[0])
    again = parse(str(expression))
    assert isinstance(again, Expression)
    np.testing.assert_allclose(
        again(x=POINTS_X, y=POINTS_Y), expression(x=POINTS_X, y=POINTS_Y), rtol=1e-12, atol=1e-12
    )
