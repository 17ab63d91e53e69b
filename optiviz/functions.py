"""2-D test functions with closed-form value, gradient and Hessian (a registry).

Every entry of :data:`FUNCTIONS` builds a :class:`Function` from its parameters. Formulas, plot
domains and stationary points follow REFERENCE.md §5. All callables broadcast over arrays of any
(broadcastable) shapes and return float64 arrays of the broadcast shape; floating-point warnings
are silenced, so overflow gives ``inf`` / ``nan`` (the engine freezes such runs) instead of raising.

A config value becomes a Function through :func:`make_function`::

    "rosenbrock"
    {name: rosenbrock, a: 1, b: 100, domain: [[-2, 2], [-1, 3]]}
    {expr: "x**2 + 10*y**2", domain: [[-3, 3], [-3, 3]], minima: [[0, 0]]}
    {name: linear_regression, samples: 200, noise: 0.5}

Dataset objectives (``linear_regression``, ``logistic_regression``) live in
:mod:`optiviz.objectives` and register themselves here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath
from optiviz.registry import Param, Registry, as_float, positive, show_value, validate_params

Domain = tuple[tuple[float, float], tuple[float, float]]

POINT_KINDS = ("global minimum", "local minimum", "saddle", "maximum")


@dataclass(frozen=True)
class Point:
    """A known stationary point (or non-smooth minimum) and its value."""

    x: float
    y: float
    value: float
    kind: str  # one of POINT_KINDS


@dataclass(frozen=True)
class Function:
    """A scalar field f(x, y) with exact derivatives and what a plot of it needs."""

    name: str
    title: str
    formula: str  # matplotlib mathtext with the parameters filled in
    value: Callable  # value(x, y) -> ndarray
    grad: Callable  # grad(x, y) -> (fx, fy)
    hessian: Callable  # hessian(x, y) -> (fxx, fxy, fyy)
    domain: Domain
    points: tuple[Point, ...] = ()
    log_scale: bool = False  # the value range spans decades: use log-spaced contour levels
    minimum: float | None = None  # global minimum value, if known
    params: dict = field(default_factory=dict)
    xlabel: str = "x"
    ylabel: str = "y"


@dataclass(frozen=True)
class FunctionSpec:
    """A registry entry. ``make(**params)`` (plus ``seed=`` and ``path=`` when ``seeded``) builds
    the Function.

    ``example`` holds values for required parameters, so docs and tests can build one instance.
    """

    name: str
    params: tuple[Param, ...]
    make: Callable[..., Function]
    summary: str
    seeded: bool = False
    example: dict = field(default_factory=dict)


FUNCTIONS: Registry[FunctionSpec] = Registry("function")

# Keys make_function understands for every function, on top of the function's own parameters.
COMMON_KEYS = ("name", "domain")


def register(
    name: str,
    params: tuple[Param, ...] = (),
    summary: str = "",
    *,
    aliases: tuple[str, ...] = (),
    seeded: bool = False,
    example: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Function]], Callable[..., Function]]:
    """Decorator: add ``make`` to :data:`FUNCTIONS` under ``name``."""

    def decorator(make: Callable[..., Function]) -> Callable[..., Function]:
        spec = FunctionSpec(name, tuple(params), make, summary, seeded, dict(example or {}))
        FUNCTIONS.add(name, spec, aliases)
        return make

    return decorator


def make_function(spec: str | Mapping, *, seed: int = 0, path: KeyPath = ()) -> Function:
    """Build a Function from a config value: a name, or a mapping with ``name`` (or ``expr``)
    plus parameters. ``domain: [[xmin, xmax], [ymin, ymax]]`` overrides any function's plot
    domain. Errors are ConfigErrors at ``path`` (plus the offending key)."""
    if isinstance(spec, str):
        given: dict = {"name": spec}
    elif isinstance(spec, Mapping):
        given = dict(spec)
    else:
        raise ConfigError(
            f"must be a function name or a mapping with 'name' or 'expr', got {spec!r}", path
        )
    if "name" not in given:
        if "expr" not in given:
            raise ConfigError("needs a 'name' (or an 'expr')", path)
        given["name"] = "expr"
    name = given["name"]
    entry = FUNCTIONS.get(name, path + ("name",))
    params = validate_params(entry.params, given, path, ignore=COMMON_KEYS)
    kwargs: dict[str, Any] = {"seed": seed, "path": path} if entry.seeded else {}
    if entry.name == "expr":
        kwargs["path"] = path
    function = entry.make(**params, **kwargs)
    if "domain" in given:
        function = replace(function, domain=parse_domain(given["domain"], path + ("domain",)))
    return function


# A box narrower than this share of its coordinates cannot be gridded or labelled in float64.
MIN_RELATIVE_WIDTH = 1e-9


def parse_domain(value: Any, path: KeyPath = ()) -> Domain:
    """``[[xmin, xmax], [ymin, ymax]]`` with finite numbers, min < max, a finite width
    (``[-1e308, 1e308]`` is 2e308 wide: infinite in float64) and a width that float64 can
    divide into a grid (at least :data:`MIN_RELATIVE_WIDTH` of the coordinates)."""
    message = f"must be [[xmin, xmax], [ymin, ymax]], got {show_value(value)}"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(message, path)
    axes = []
    for i, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(message, path + (i,))
        low, high = (as_float(v, path + (i, j)) for j, v in enumerate(pair))
        axes.append(check_interval(low, high, path + (i,)))
    return (axes[0], axes[1])


def check_interval(low: float, high: float, path: KeyPath = ()) -> tuple[float, float]:
    """``(low, high)`` if a plot axis can span it: finite ends, low < high, a finite width of
    at least :data:`MIN_RELATIVE_WIDTH` of the coordinates; else ConfigError at ``path``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"[{low:g}, {high:g}] is not a finite range", path)
    if low > high:
        raise ConfigError(f"needs min < max, got [{low:g}, {high:g}]", path)
    with np.errstate(over="ignore"):
        width = float(np.float64(high) - np.float64(low))
    if not math.isfinite(width):
        raise ConfigError(f"[{low:g}, {high:g}] is wider than the largest float "
                          "(about 1.8e308)", path)
    if width == 0 or width < MIN_RELATIVE_WIDTH * max(abs(low), abs(high)):
        raise ConfigError(f"[{_exact(low)}, {_exact(high)}] is too narrow to draw: its width "
                          f"{width:.3g} is under {MIN_RELATIVE_WIDTH:g} of its coordinates", path)
    return low, high


def _exact(value: float) -> str:
    """The shortest text that reads back as ``value`` (1 for 1.0, 1.000000000000001 as is)."""
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


# Helpers --------------------------------------------------------------------------------------


def numeric(f: Callable) -> Callable:
    """Wrap f(x, y): float64 inputs, warnings silenced, every output of the broadcast shape."""

    @functools.wraps(f)
    def wrapped(x, y):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        shape = np.broadcast_shapes(x.shape, y.shape)
        with np.errstate(all="ignore"):
            out = f(x, y)
        if isinstance(out, tuple):
            return tuple(_filled(part, shape) for part in out)
        return _filled(out, shape)

    return wrapped


def _filled(part: Any, shape: tuple) -> np.ndarray:
    part = np.asarray(part, dtype=float)
    if part.shape == shape:
        return part
    return np.array(np.broadcast_to(part, shape))


def num(v: float) -> str:
    """A parameter as it reads in titles and formulas: 100.0 -> "100", 0.2 -> "0.2"."""
    return f"{v:g}"


def _sq(v: np.ndarray) -> np.ndarray:
    return v * v


def _function(
    name: str,
    title: str,
    formula: str,
    value: Callable,
    grad: Callable,
    hessian: Callable,
    domain: Domain,
    points: tuple[Point, ...] = (),
    **rest: Any,
) -> Function:
    minimum = rest.pop("minimum", None)
    if minimum is None:
        minima = [p.value for p in points if p.kind == "global minimum"]
        minimum = min(minima) if minima else None
    return Function(
        name=name,
        title=title,
        formula=formula,
        value=numeric(value),
        grad=numeric(grad),
        hessian=numeric(hessian),
        domain=domain,
        points=points,
        minimum=minimum,
        **rest,
    )


# Test functions (REFERENCE.md §5) --------------------------------------------------------------


@register(
    "rosenbrock",
    (Param("a", 1.0, doc="valley floor x-position"), Param("b", 100.0, check=positive,
                                                           doc="valley steepness")),
    "Banana-shaped valley; minimum (a, a²)",
    aliases=("banana",),
)
def rosenbrock(a: float, b: float) -> Function:
    """f = (a−x)² + b(y−x²)²; ∇f = (−2(a−x) − 4bx(y−x²), 2b(y−x²));
    H = [[2 − 4by + 12bx², −4bx], [−4bx, 2b]]. Only stationary point: minimum (a, a²), f = 0."""

    def value(x, y):
        return _sq(a - x) + b * _sq(y - x * x)

    def grad(x, y):
        valley = y - x * x
        return -2 * (a - x) - 4 * b * x * valley, 2 * b * valley

    def hessian(x, y):
        return 2 - 4 * b * y + 12 * b * x * x, -4 * b * x, 2 * b

    return _function(
        "rosenbrock",
        f"Rosenbrock (a={num(a)}, b={num(b)})",
        f"$({num(a)}-x)^2 + {num(b)}(y-x^2)^2$",
        value, grad, hessian,
        domain=((a - 3.0, a + 1.0), (a * a - 2.0, a * a + 2.0)),
        points=(Point(a, a * a, 0.0, "global minimum"),),
        log_scale=True,
        params={"a": a, "b": b},
    )


@register("beale", (), "Flat plateaus and a sharp valley; minimum (3, 0.5)")
def beale() -> Function:
    """f = A1² + A2² + A3² with A1 = 1.5 − x + xy, A2 = 2.25 − x + xy², A3 = 2.625 − x + xy³."""

    def terms(x, y):
        y2, y3 = y * y, y * y * y
        return 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y3, y2, y3

    def value(x, y):
        a1, a2, a3, _, _ = terms(x, y)
        return _sq(a1) + _sq(a2) + _sq(a3)

    def grad(x, y):
        a1, a2, a3, y2, y3 = terms(x, y)
        fx = 2 * a1 * (y - 1) + 2 * a2 * (y2 - 1) + 2 * a3 * (y3 - 1)
        fy = 2 * a1 * x + 4 * a2 * x * y + 6 * a3 * x * y2
        return fx, fy

    def hessian(x, y):
        a1, a2, a3, y2, y3 = terms(x, y)
        fxx = 2 * _sq(y - 1) + 2 * _sq(y2 - 1) + 2 * _sq(y3 - 1)
        fxy = (
            2 * (a1 + x * (y - 1))
            + 4 * (y * a2 + x * y * (y2 - 1))
            + 6 * (y2 * a3 + x * y2 * (y3 - 1))
        )
        fyy = (
            2 * x * x
            + 2 * (4 * x * x * y2 + 2 * x * a2)
            + 2 * (9 * x * x * y2 * y2 + 6 * x * y * a3)
        )
        return fxx, fxy, fyy

    return _function(
        "beale",
        "Beale",
        r"$(1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2$",
        value, grad, hessian,
        domain=((-4.5, 4.5), (-4.5, 4.5)),
        points=(
            Point(3.0, 0.5, 0.0, "global minimum"),
            Point(0.0, 1.0, 14.203125, "saddle"),
            Point(0.100537937324, -2.644513585023, 9.864512284756, "saddle"),
        ),
        log_scale=True,
    )


@register("saddle", (), "x² − y²: a saddle at the origin, unbounded below")
def saddle() -> Function:
    """f = x² − y²; ∇f = (2x, −2y); H = diag(2, −2)."""
    return _function(
        "saddle",
        "Saddle",
        r"$x^2 - y^2$",
        lambda x, y: x * x - y * y,
        lambda x, y: (2 * x, -2 * y),
        lambda x, y: (2.0, 0.0, -2.0),
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        points=(Point(0.0, 0.0, 0.0, "saddle"),),
    )


@register("monkey_saddle", (), "x³ − 3xy²: a degenerate saddle (zero Hessian) at the origin")
def monkey_saddle() -> Function:
    """f = x³ − 3xy²; ∇f = (3x² − 3y², −6xy); H = [[6x, −6y], [−6y, −6x]] (0 at the origin)."""
    return _function(
        "monkey_saddle",
        "Monkey saddle",
        r"$x^3 - 3xy^2$",
        lambda x, y: x * x * x - 3 * x * y * y,
        lambda x, y: (3 * x * x - 3 * y * y, -6 * x * y),
        lambda x, y: (6 * x, -6 * y, -6 * x),
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        points=(Point(0.0, 0.0, 0.0, "saddle"),),
    )


@register("himmelblau", (), "Four equal minima, one maximum, four saddles")
def himmelblau() -> Function:
    """f = (x² + y − 11)² + (x + y² − 7)²."""

    def value(x, y):
        return _sq(x * x + y - 11) + _sq(x + y * y - 7)

    def grad(x, y):
        p, q = x * x + y - 11, x + y * y - 7
        return 4 * x * p + 2 * q, 2 * p + 4 * y * q

    def hessian(x, y):
        return 12 * x * x + 4 * y - 42, 4 * x + 4 * y, 4 * x + 12 * y * y - 26

    return _function(
        "himmelblau",
        "Himmelblau",
        r"$(x^2+y-11)^2 + (x+y^2-7)^2$",
        value, grad, hessian,
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        points=(
            Point(3.0, 2.0, 0.0, "global minimum"),
            Point(-2.805118086953, 3.131312518251, 0.0, "global minimum"),
            Point(-3.779310253378, -3.283185991286, 0.0, "global minimum"),
            Point(3.584428340330, -1.848126526964, 0.0, "global minimum"),
            Point(-0.270844590667, -0.923038556480, 181.616521522583, "maximum"),
            Point(3.3851541836, 0.0738518798, 13.311926270406, "saddle"),
            Point(0.0866775046, 2.8842547012, 67.719150087526, "saddle"),
            Point(-3.0730257508, -0.0813530443, 104.015162917558, "saddle"),
            Point(-0.1279613467, -1.9537149802, 178.337239201927, "saddle"),
        ),
        log_scale=True,
    )


@register("booth", (), "A tilted quadratic bowl; minimum (1, 3)")
def booth() -> Function:
    """f = (x + 2y − 7)² + (2x + y − 5)²; ∇f = (10x + 8y − 34, 8x + 10y − 38);
    H = [[10, 8], [8, 10]] (eigenvalues 2 and 18)."""
    return _function(
        "booth",
        "Booth",
        r"$(x+2y-7)^2 + (2x+y-5)^2$",
        lambda x, y: _sq(x + 2 * y - 7) + _sq(2 * x + y - 5),
        lambda x, y: (10 * x + 8 * y - 34, 8 * x + 10 * y - 38),
        lambda x, y: (10.0, 8.0, 10.0),
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        points=(Point(1.0, 3.0, 0.0, "global minimum"),),
        log_scale=True,
    )


@register("matyas", (), "A flat, rotated quadratic (condition number 25); minimum (0, 0)")
def matyas() -> Function:
    """f = 0.26(x² + y²) − 0.48xy; ∇f = (0.52x − 0.48y, 0.52y − 0.48x)."""
    return _function(
        "matyas",
        "Matyas",
        r"$0.26(x^2+y^2) - 0.48xy$",
        lambda x, y: 0.26 * (x * x + y * y) - 0.48 * x * y,
        lambda x, y: (0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x),
        lambda x, y: (0.52, -0.48, 0.52),
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        points=(Point(0.0, 0.0, 0.0, "global minimum"),),
        log_scale=True,
    )


@register("three_hump_camel", (), "Three minima (two local)", aliases=("camel3",))
def three_hump_camel() -> Function:
    """f = 2x² − 1.05x⁴ + x⁶/6 + xy + y²; ∇f = (4x − 4.2x³ + x⁵ + y, x + 2y)."""
    local, ridge = (1.747552345830, -0.873776172915), (1.070542291824, -0.535271145912)
    return _function(
        "three_hump_camel",
        "Three-hump camel",
        r"$2x^2 - 1.05x^4 + x^6/6 + xy + y^2$",
        lambda x, y: 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y * y,
        lambda x, y: (4 * x - 4.2 * x**3 + x**5 + y, x + 2 * y),
        lambda x, y: (4 - 12.6 * x**2 + 5 * x**4, 1.0, 2.0),
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        points=(
            Point(0.0, 0.0, 0.0, "global minimum"),
            Point(local[0], local[1], 0.298638442237, "local minimum"),
            Point(-local[0], -local[1], 0.298638442237, "local minimum"),
            Point(ridge[0], ridge[1], 0.877361557763, "saddle"),
            Point(-ridge[0], -ridge[1], 0.877361557763, "saddle"),
        ),
    )


@register("six_hump_camel", (), "Six minima, two global", aliases=("camel6",))
def six_hump_camel() -> Function:
    """f = (4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²; ∇f = (8x − 8.4x³ + 2x⁵ + y, x − 8y + 16y³)."""
    best, second, third = (
        (0.089842013100, -0.712656403021),
        (1.703606714970, -0.796083568673),
        (1.607104752920, 0.568651454884),
    )
    points = [Point(0.0, 0.0, 0.0, "saddle")]
    for (px, py), v, kind in (
        (best, -1.031628453490, "global minimum"),
        (second, -0.215463824384, "local minimum"),
        (third, 2.104250310311, "local minimum"),
    ):
        points += [Point(px, py, v, kind), Point(-px, -py, v, kind)]
    return _function(
        "six_hump_camel",
        "Six-hump camel",
        r"$(4-2.1x^2+x^4/3)x^2 + xy + (4y^2-4)y^2$",
        lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (4 * y**2 - 4) * y**2,
        lambda x, y: (8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3),
        lambda x, y: (8 - 25.2 * x**2 + 10 * x**4, 1.0, -8 + 48 * y**2),
        domain=((-2.0, 2.0), (-1.0, 1.0)),
        points=tuple(points),
    )


@register("goldstein_price", (), "Many decades of value range; minimum (0, −1), f = 3")
def goldstein_price() -> Function:
    """f = A·B with A = 1 + u²P, B = 30 + v²Q, u = x + y + 1, v = 2x − 3y,
    P = 19 − 14x + 3x² − 14y + 6xy + 3y², Q = 18 − 32x + 12x² + 48y − 36xy + 27y²."""

    def parts(x, y):
        u, v = x + y + 1, 2 * x - 3 * y
        p = 19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y
        q = 18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y
        return u, v, p, q, 1 + u * u * p, 30 + v * v * q

    def value(x, y):
        *_, a, b = parts(x, y)
        return a * b

    def first(x, y):
        u, v, p, q, a, b = parts(x, y)
        dp = -14 + 6 * x + 6 * y
        qx, qy = -32 + 24 * x - 36 * y, 48 - 36 * x + 54 * y
        da = 2 * u * p + u * u * dp  # ∂A/∂x = ∂A/∂y
        bx, by = 4 * v * q + v * v * qx, -6 * v * q + v * v * qy
        return u, v, p, q, a, b, dp, qx, qy, da, bx, by

    def grad(x, y):
        _, _, _, _, a, b, _, _, _, da, bx, by = first(x, y)
        return da * b + a * bx, da * b + a * by

    def hessian(x, y):
        u, v, p, q, a, b, dp, qx, qy, da, bx, by = first(x, y)
        daa = 2 * p + 4 * u * dp + 6 * u * u  # every second derivative of A
        bxx = 8 * q + 8 * v * qx + 24 * v * v
        bxy = -12 * q + 4 * v * qy - 6 * v * qx - 36 * v * v
        byy = 18 * q - 12 * v * qy + 54 * v * v
        fxx = daa * b + 2 * da * bx + a * bxx
        fxy = daa * b + da * by + da * bx + a * bxy
        fyy = daa * b + 2 * da * by + a * byy
        return fxx, fxy, fyy

    return _function(
        "goldstein_price",
        "Goldstein–Price",
        r"$[1+(x+y+1)^2 P(x,y)]\,[30+(2x-3y)^2 Q(x,y)]$",
        value, grad, hessian,
        domain=((-2.0, 2.0), (-2.0, 2.0)),
        points=(
            Point(0.0, -1.0, 3.0, "global minimum"),
            Point(-0.6, -0.4, 30.0, "local minimum"),
            Point(1.8, 0.2, 84.0, "local minimum"),
            Point(1.2, 0.8, 840.0, "local minimum"),
            Point(-0.4, -0.6, 35.0, "saddle"),
            Point(1.2, -0.2, 99.0, "saddle"),
            Point(1.4, 0.6, 980.0, "saddle"),
            Point(0.6, 0.4, 990.0, "saddle"),
            Point(0.8, 0.2, 1155.0, "maximum"),
        ),
        log_scale=True,
    )


@register(
    "rastrigin",
    (Param("A", 10.0, check=positive, doc="amplitude of the cosine ripples"),),
    "A bowl covered in a lattice of local minima; minimum (0, 0)",
)
def rastrigin(A: float) -> Function:  # noqa: N803 - the conventional name of the amplitude
    """f = 2A + Σ (x_i² − A cos 2πx_i); ∂_i = 2x_i + 2πA sin 2πx_i; H = diag(2 + 4π²A cos 2πx_i)."""
    w = 2 * math.pi
    return _function(
        "rastrigin",
        f"Rastrigin (A={num(A)})",
        rf"${num(2 * A)} + x^2 - {num(A)}\cos 2\pi x + y^2 - {num(A)}\cos 2\pi y$",
        lambda x, y: 2 * A + x * x - A * np.cos(w * x) + y * y - A * np.cos(w * y),
        lambda x, y: (2 * x + w * A * np.sin(w * x), 2 * y + w * A * np.sin(w * y)),
        lambda x, y: (2 + w * w * A * np.cos(w * x), 0.0, 2 + w * w * A * np.cos(w * y)),
        domain=((-5.12, 5.12), (-5.12, 5.12)),
        points=(Point(0.0, 0.0, 0.0, "global minimum"),),
        params={"A": A},
    )


@register(
    "ackley",
    (
        Param("a", 20.0, check=positive, doc="depth of the funnel"),
        Param("b", 0.2, check=positive, doc="width of the funnel"),
        Param("c", 2 * math.pi, doc="frequency of the ripples"),
    ),
    "A rippled funnel with a cone point at the minimum (0, 0)",
)
def ackley(a: float, b: float, c: float) -> Function:
    """f = −a·e^{−br} − e^C + a + e with r = √((x²+y²)/2), C = (cos cx + cos cy)/2;
    ∂x = (ab/2)·e^{−br}·x/r + (c/2)·sin(cx)·e^C. The origin is a cone point (|∇f| → ab/√2
    from every direction): we return the subgradient 0 there, and +∞ curvature."""

    frequency = r"2\pi " if c == 2 * math.pi else num(c)
    cx, cy = f"{frequency}x", f"{frequency}y"

    def radius_terms(x, y):
        r = np.sqrt((x * x + y * y) / 2)
        return r, np.exp(-b * r), np.exp((np.cos(c * x) + np.cos(c * y)) / 2), r > 0

    def value(x, y):
        _, decay, ripple, _ = radius_terms(x, y)
        return -a * decay - ripple + a + math.e

    def grad(x, y):
        r, decay, ripple, away = radius_terms(x, y)
        k1 = np.where(away, a * b / 2 * decay / np.where(away, r, 1.0), 0.0)
        return (
            k1 * x + c / 2 * np.sin(c * x) * ripple,
            k1 * y + c / 2 * np.sin(c * y) * ripple,
        )

    def hessian(x, y):
        r, decay, ripple, away = radius_terms(x, y)
        safe_r = np.where(away, r, 1.0)
        k1 = np.where(away, a * b / 2 * decay / safe_r, np.inf)
        k2 = np.where(away, a * b / 2 * decay * (b * safe_r + 1) / (2 * safe_r**3), 0.0)
        sx, sy, cx, cy = np.sin(c * x), np.sin(c * y), np.cos(c * x), np.cos(c * y)
        fxx = k1 - k2 * x * x + c * c / 2 * ripple * (cx - sx * sx / 2)
        fyy = k1 - k2 * y * y + c * c / 2 * ripple * (cy - sy * sy / 2)
        fxy = -k2 * x * y - c * c / 4 * sx * sy * ripple
        return fxx, fxy, fyy

    return _function(
        "ackley",
        f"Ackley (a={num(a)}, b={num(b)}, c={'2π' if c == 2 * math.pi else num(c)})",
        rf"$-{num(a)}\,e^{{-{num(b)}\sqrt{{(x^2+y^2)/2}}}} - e^{{(\cos {cx} + \cos {cy})/2}}"
        rf" + {num(a)} + e$",
        value, grad, hessian,
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        points=(Point(0.0, 0.0, 0.0, "global minimum"),),
        params={"a": a, "b": b, "c": c},
    )


@register("levi13", (), "Lévi N.13: ripples on a skewed bowl; minimum (1, 1)", aliases=("levy13",))
def levi13() -> Function:
    """f = sin²(3πx) + (x−1)²(1 + sin²(3πy)) + (y−1)²(1 + sin²(2πy))."""
    pi = math.pi

    def value(x, y):
        return (
            _sq(np.sin(3 * pi * x))
            + _sq(x - 1) * (1 + _sq(np.sin(3 * pi * y)))
            + _sq(y - 1) * (1 + _sq(np.sin(2 * pi * y)))
        )

    def grad(x, y):
        fx = 3 * pi * np.sin(6 * pi * x) + 2 * (x - 1) * (1 + _sq(np.sin(3 * pi * y)))
        fy = (
            3 * pi * _sq(x - 1) * np.sin(6 * pi * y)
            + 2 * (y - 1) * (1 + _sq(np.sin(2 * pi * y)))
            + 2 * pi * _sq(y - 1) * np.sin(4 * pi * y)
        )
        return fx, fy

    def hessian(x, y):
        fxx = 18 * pi * pi * np.cos(6 * pi * x) + 2 * (1 + _sq(np.sin(3 * pi * y)))
        fxy = 6 * pi * (x - 1) * np.sin(6 * pi * y)
        fyy = (
            18 * pi * pi * _sq(x - 1) * np.cos(6 * pi * y)
            + 2 * (1 + _sq(np.sin(2 * pi * y)))
            + 8 * pi * (y - 1) * np.sin(4 * pi * y)
            + 8 * pi * pi * _sq(y - 1) * np.cos(4 * pi * y)
        )
        return fxx, fxy, fyy

    return _function(
        "levi13",
        "Lévi N.13",
        r"$\sin^2 3\pi x + (x-1)^2(1+\sin^2 3\pi y) + (y-1)^2(1+\sin^2 2\pi y)$",
        value, grad, hessian,
        domain=((-10.0, 10.0), (-10.0, 10.0)),
        points=(Point(1.0, 1.0, 0.0, "global minimum"),),
    )


def _styblinski_tang_roots() -> tuple[float, float, float]:
    """Roots of 4t³ − 32t + 5 (the 1-D stationary points), polished by one Newton step."""
    roots = np.sort(np.roots([4.0, 0.0, -32.0, 5.0]).real)
    roots = roots - (4 * roots**3 - 32 * roots + 5) / (12 * roots**2 - 32)
    return float(roots[0]), float(roots[1]), float(roots[2])


@register("styblinski_tang", (), "Four minima in the corners; global one near (−2.9, −2.9)")
def styblinski_tang() -> Function:
    """f = ½ Σ (x_i⁴ − 16x_i² + 5x_i); ∂_i = 2x_i³ − 16x_i + 2.5; H = diag(6x_i² − 16)."""

    def half(t):
        return (t**4 - 16 * t * t + 5 * t) / 2

    low, peak, high = _styblinski_tang_roots()
    points = []
    for px in (low, peak, high):
        for py in (low, peak, high):
            curvatures = (px != peak, py != peak)  # True: that axis sits at a 1-D minimum
            if all(curvatures):
                kind = "global minimum" if px == py == low else "local minimum"
            elif any(curvatures):
                kind = "saddle"
            else:
                kind = "maximum"
            points.append(Point(px, py, float(half(px) + half(py)), kind))
    return _function(
        "styblinski_tang",
        "Styblinski–Tang",
        r"$\frac{1}{2}(x^4 - 16x^2 + 5x + y^4 - 16y^2 + 5y)$",
        lambda x, y: half(x) + half(y),
        lambda x, y: (2 * x**3 - 16 * x + 2.5, 2 * y**3 - 16 * y + 2.5),
        lambda x, y: (6 * x * x - 16, 0.0, 6 * y * y - 16),
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        points=tuple(points),
    )


@register("bukin6", (), "Bukin N.6: a non-smooth ridge; minimum (−10, 1)", aliases=("bukin",))
def bukin6() -> Function:
    """f = 100·√|u| + 0.01·|x + 10| with u = y − 0.01x². Non-differentiable on the ridge u = 0
    (gradient infinite) and on x = −10; we return the subgradient 0 for those terms there."""

    def value(x, y):
        return 100 * np.sqrt(np.abs(y - 0.01 * x * x)) + 0.01 * np.abs(x + 10)

    def grad(x, y):
        u = y - 0.01 * x * x
        ridge = np.where(u != 0, 50 * np.sign(u) / np.sqrt(np.abs(u)), 0.0)
        return -0.02 * x * ridge + 0.01 * np.sign(x + 10), ridge

    def hessian(x, y):
        u = y - 0.01 * x * x
        au = np.abs(u)
        return (
            -0.01 * x * x * au**-1.5 - np.sign(u) * au**-0.5,
            0.5 * x * au**-1.5,
            -25 * au**-1.5,
        )

    return _function(
        "bukin6",
        "Bukin N.6",
        r"$100\sqrt{|y - 0.01x^2|} + 0.01|x+10|$",
        value, grad, hessian,
        domain=((-15.0, -5.0), (-3.0, 3.0)),
        points=(Point(-10.0, 1.0, 0.0, "global minimum"),),
        log_scale=True,
    )


def _nonzero_pair(values: tuple | None) -> str | None:
    return None if values is None or all(v != 0 for v in values) else "must be nonzero"


def _quadratic_formula(*coefficients: float) -> str:
    """½(a·x² + b·xy + c·y²) in mathtext, dropping zero terms and unit coefficients."""
    scale = max(abs(c) for c in coefficients)
    text = ""
    for coefficient, monomial in zip(coefficients, ("x^2", "xy", "y^2"), strict=True):
        if abs(coefficient) <= 1e-12 * scale:  # rotation by 0° leaves ~1e-16 cross terms
            continue
        sign = "-" if coefficient < 0 else ("+" if text else "")
        magnitude = "" if math.isclose(abs(coefficient), 1.0) else f"{abs(coefficient):.4g}"
        text += f" {sign} {magnitude}{monomial}" if text else f"{sign}{magnitude}{monomial}"
    return rf"$\frac{{1}}{{2}}({text.strip()})$"


@register(
    "quadratic",
    (
        Param("condition", 50.0, check=positive, doc="λ2/λ1 with λ1 = 1"),
        Param("eigenvalues", None, kind="floats", length=2, nullable=True, check=_nonzero_pair,
              doc="[λ1, λ2]; overrides condition", default_text="1 and condition"),
        Param("angle", 0.0, doc="rotation of the eigenvectors, degrees"),
    ),
    "½ pᵀAp with A = R(φ)·diag(λ1, λ2)·R(φ)ᵀ: an ill-conditioned bowl",
    aliases=("ill_conditioned",),
)
def quadratic(condition: float, eigenvalues: tuple | None, angle: float) -> Function:
    """f = ½ pᵀAp, A = R(φ) diag(λ1, λ2) R(φ)ᵀ; ∇f = Ap; H = A. Gradient descent is stable
    iff lr < 2/λmax; the best fixed lr is 2/(λmin + λmax)."""
    l1, l2 = eigenvalues if eigenvalues is not None else (1.0, condition)
    phi = math.radians(angle)
    cos, sin = math.cos(phi), math.sin(phi)
    axx = l1 * cos * cos + l2 * sin * sin
    axy = (l1 - l2) * cos * sin
    ayy = l1 * sin * sin + l2 * cos * cos
    if l1 > 0 and l2 > 0:
        kind = "global minimum"
    elif l1 < 0 and l2 < 0:
        kind = "maximum"
    else:
        kind = "saddle"
    rotated = f", {num(angle)}°" if angle else ""
    return _function(
        "quadratic",
        f"Quadratic (λ = {num(l1)}, {num(l2)}{rotated})",
        _quadratic_formula(axx, 2 * axy, ayy),
        lambda x, y: 0.5 * (axx * x * x + 2 * axy * x * y + ayy * y * y),
        lambda x, y: (axx * x + axy * y, axy * x + ayy * y),
        lambda x, y: (axx, axy, ayy),
        domain=((-5.0, 5.0), (-5.0, 5.0)),
        points=(Point(0.0, 0.0, 0.0, kind),),
        log_scale=kind == "global minimum",
        params={"eigenvalues": (l1, l2), "angle": angle},
    )


# User expressions ------------------------------------------------------------------------------


@register(
    "expr",
    (
        Param("expr", kind="str", doc="f(x, y), e.g. 'x**2 + 10*y**2' (see optiviz.expr)"),
        Param("title", None, kind="str", nullable=True, doc="plot title; default: the text",
              default_text="the expression"),
        Param("log_scale", False, kind="bool", doc="log-spaced contour levels"),
        Param("minima", (), kind="any", doc="known minima [[x, y], ...] to mark"),
    ),
    "Your own f(x, y): exact symbolic gradient and Hessian",
    example={"expr": "x**2 + 10*y**2", "minima": [[0, 0]]},
)
def expression(
    expr: str, title: str | None, log_scale: bool, minima: Any, path: KeyPath = ()
) -> Function:
    """f from user text (safe parse, see :mod:`optiviz.expr`); ∇f and H are exact symbolic
    derivatives. Listed ``minima`` are marked; the lowest is the global one. Plot domain
    defaults to [−3, 3]² (override with ``domain``)."""
    from optiviz.expr import parse

    f = parse(expr, ("x", "y"), path=path + ("expr",))
    fx, fy = f.diff("x"), f.diff("y")
    fxx, fxy, fyy = fx.diff("x"), fx.diff("y"), fy.diff("y")
    points = _listed_minima(minima, lambda x, y: float(f(x=x, y=y)), path + ("minima",))
    typeset = f.typeset()  # None: too deeply nested for mathtext; titled by the plain text
    return _function(
        "expr",
        title or str(f),
        f"${typeset}$" if typeset is not None else str(f),
        lambda x, y: f(x=x, y=y),
        lambda x, y: (fx(x=x, y=y), fy(x=x, y=y)),
        lambda x, y: (fxx(x=x, y=y), fxy(x=x, y=y), fyy(x=x, y=y)),
        domain=((-3.0, 3.0), (-3.0, 3.0)),
        points=points,
        log_scale=log_scale,
        params={"expr": str(expr)},
    )


def _listed_minima(minima: Any, value: Callable, path: KeyPath) -> tuple[Point, ...]:
    if not isinstance(minima, (list, tuple)):
        raise ConfigError(f"must be a list of [x, y] pairs, got {minima!r}", path)
    coordinates = []
    for i, pair in enumerate(minima):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"must be an [x, y] pair, got {pair!r}", path + (i,))
        coordinates.append(tuple(Param("coordinate").coerce(v, path + (i,)) for v in pair))
    values = [value(x, y) for x, y in coordinates]
    lowest = min(values, default=None)
    return tuple(
        Point(x, y, v, "global minimum" if v == lowest else "local minimum")
        for (x, y), v in zip(coordinates, values, strict=True)
    )


# Dataset objectives register themselves in FUNCTIONS; imported last to avoid an import cycle.
from optiviz import objectives as _objectives  # noqa: E402, F401
