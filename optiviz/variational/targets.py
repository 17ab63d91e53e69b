"""The target p(z) a variational experiment fits q to: log p, its gradient, its moments.

1-D: every continuous distribution the sampling section accepts (scipy.stats names and aliases,
validated by :func:`optiviz.sampling.distributions.normalize_distribution`) and a 1-D
``mixture`` of Gaussians (``components: [{mean: -2, std: 0.6, weight: 0.3}, ...]``, scalar
means). 2-D: the sampling section's targets ``banana``, ``donut``, ``mixture`` (2-D means) and
``expr``.

A :class:`Target` carries plain NumPy callables: ``logp`` (normalized: an unnormalized target's
log Z is integrated once, on a grid over its domain), ``grad_logp`` (closed forms; ``expr``'s exact
symbolic derivative; for scipy distributions other than the normal a five-point central
difference of scipy's ``logpdf``, accurate to ~1e-10), its mean and covariance (exact where
known, else by quadrature), its entropy H(p) (quadrature) and, where p can be drawn from,
``sample``. Points are ``(..., 1)`` or ``(..., 2)`` arrays; ``logp`` returns ``(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath, closest, refuse_unknown_keys
from optiviz.registry import as_float, show_value

Array = np.ndarray

TARGETS_2D = ("banana", "donut", "mixture", "expr")
MIXTURE_1D_KEYS = ("mean", "std", "weight")
GRID_2D = 601  # points per axis of the grid that integrates a 2-D target (log Z, moments, H(p)),
# over its plotting box widened by half on every side (expr: its own domain)


@dataclass(frozen=True)
class Target:
    """A built target. ``mean``/``var`` (1-D: floats; 2-D: (2,) and (2, 2)) are NaN or inf where
    p has no finite moment; ``entropy`` is H(p) in nats (NaN when unknown); ``support`` is the
    1-D support (``(-inf, inf)`` for 2-D targets, which are positive on the whole plane);
    ``domain`` the plotting box: ``(lo, hi)`` or ``((x0, x1), (y0, y1))``."""

    name: str
    title: str
    dim: int
    spec: dict[str, Any]
    logp: Callable[[Array], Array]
    grad_logp: Callable[[Array], Array]
    domain: Any
    support: tuple[float, float]
    mean: Any
    cov: Any
    entropy: float
    sample: Callable[[np.random.Generator, int], Array] | None = None
    normalized: bool = True  # as given; logp is normalized either way
    log_z: float = 0.0  # log of the integral of the density as given (0 when normalized)

    @property
    def finite_moments(self) -> bool:
        return bool(np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.cov)))


def parse_target(value: Any, path: KeyPath) -> dict[str, Any]:
    """Validate ``target:``; returns the normalized spec (``{"name": ..., **parameters}``, a
    1-D mixture as ``{"name": "mixture", "dim": 1, "components": [...]}``)."""
    from optiviz.sampling.distributions import DISTRIBUTIONS, normalize_distribution

    if isinstance(value, dict) and _is_1d_mixture(value):
        return _mixture_1d_spec(value, path)
    spec = normalize_distribution(value, path)
    family = DISTRIBUTIONS.get(spec["name"]).family
    if family == "discrete":
        raise ConfigError(f"{spec['name']} is discrete: a Gaussian q fits a density; use a "
                          "continuous distribution (normal, t, gamma, ...)", path + ("name",))
    if family == "multivariate":
        raise ConfigError(f"{spec['name']} is not a variational target (1-D: any continuous "
                          f"distribution or a 1-D mixture; 2-D: {', '.join(TARGETS_2D)})",
                          path + ("name",))
    spec["dim"] = 1 if family == "continuous" else 2
    return spec


def _is_1d_mixture(value: dict) -> bool:
    if str(value.get("name", "")).lower() != "mixture":
        return False
    components = value.get("components")
    if not isinstance(components, list) or not components:
        return False
    first = components[0]
    return isinstance(first, dict) and not isinstance(first.get("mean"), (list, tuple))


def _mixture_1d_spec(value: dict, path: KeyPath) -> dict[str, Any]:
    for key in value:
        if key not in ("name", "components"):
            guess = closest(str(key), ("name", "components"))
            raise ConfigError("unknown parameter for mixture (valid: components)", path + (key,),
                              suggestion=guess[0] if guess else None)
    components = []
    for i, item in enumerate(value["components"]):
        where = path + ("components", i)
        if not isinstance(item, dict):
            raise ConfigError(f"must be a mapping {{mean: m, std: s, weight: w}}, got "
                              f"{show_value(item)}", where)
        refuse_unknown_keys(item, MIXTURE_1D_KEYS, where, "component key")
        if "mean" not in item:
            raise ConfigError("missing 'mean' (a number)", where)
        mean = item["mean"]
        if isinstance(mean, (list, tuple)):
            raise ConfigError("every component of a 1-D mixture has a number as mean, got "
                              f"{show_value(mean)}", where + ("mean",))
        component = {"mean": as_float(mean, where + ("mean",))}
        if abs(component["mean"]) > 1e6:
            raise ConfigError(f"must be within ±1e6, got {component['mean']:g}", where + ("mean",))
        for key, default in (("std", 1.0), ("weight", 1.0)):
            number = as_float(item.get(key, default), where + (key,))
            if not (number > 0 and math.isfinite(number)) or (key == "std" and not
                                                              1e-6 <= number <= 1e6):
                limit = "in [1e-6, 1e6]" if key == "std" else "a finite number > 0"
                raise ConfigError(f"must be {limit}, got {number:g}", where + (key,))
            component[key] = number
        components.append(component)
    return {"name": "mixture", "dim": 1, "components": components}


def make_target(spec: dict[str, Any]) -> Target:
    """Build the :class:`Target` of a spec returned by :func:`parse_target`."""
    if spec["dim"] == 1 and spec["name"] == "mixture":
        return _mixture_1d(spec)
    if spec["dim"] == 1:
        return _scipy_1d(spec)
    return _target_2d(spec)


# 1-D ------------------------------------------------------------------------------------------

def logsumexp(values: Array, axis: int = -1, keepdims: bool = False) -> Array:
    """log Σ exp along ``axis``, stable (scipy's carries array-API overhead per call)."""
    with np.errstate(all="ignore"):
        top = np.max(values, axis=axis, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        out = np.log(np.sum(np.exp(values - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _mixture_1d(spec: dict[str, Any]) -> Target:
    comps = spec["components"]
    means = np.array([c["mean"] for c in comps])
    stds = np.array([c["std"] for c in comps])
    weights = np.array([c["weight"] for c in comps])
    weights = weights / weights.sum()
    log_w = np.log(weights) - np.log(stds) - 0.5 * math.log(2 * math.pi)

    def parts(z: Array) -> Array:
        u = (np.asarray(z, dtype=float)[..., None] - means) / stds
        return log_w - 0.5 * u * u

    def logp(z: Array) -> Array:
        return logsumexp(parts(z), axis=-1)

    def grad_logp(z: Array) -> Array:
        each = parts(z)
        resp = np.exp(each - logsumexp(each, axis=-1, keepdims=True))
        slope = -(np.asarray(z, dtype=float)[..., None] - means) / stds**2
        return np.sum(resp * slope, axis=-1)

    def sample(rng: np.random.Generator, n: int) -> Array:
        which = rng.choice(len(weights), size=n, p=weights)
        return means[which] + stds[which] * rng.standard_normal(n)

    mean = float(weights @ means)
    var = float(weights @ (stds**2 + means**2) - mean**2)
    lo, hi = float(np.min(means - 3.5 * stds)), float(np.max(means + 3.5 * stds))
    entropy = _entropy_1d(logp, float(np.min(means - 12 * stds)), float(np.max(means + 12 * stds)),
                          means, stds)
    inner = ", ".join(f"{w:.2g}·N({m:g}, {s:g}²)" for w, m, s in zip(weights, means, stds,
                                                                    strict=True))
    return Target(name="mixture", title=inner, dim=1, spec=spec,
                  logp=_points_1d(logp), grad_logp=_gradient_1d(grad_logp), domain=(lo, hi),
                  support=(-math.inf, math.inf), mean=mean, cov=var, entropy=entropy,
                  sample=sample)


def _points_1d(function: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """A function of scalars (...) as one of points (..., 1); gradients keep the last axis."""
    def on_points(points: Array) -> Array:
        return np.asarray(function(np.asarray(points, dtype=float)[..., 0]), dtype=float)

    return on_points


def _gradient_1d(function: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """d/dz of a function of scalars as ∇ over points (..., 1) -> (..., 1)."""
    def on_points(points: Array) -> Array:
        return np.asarray(function(np.asarray(points, dtype=float)[..., 0]), dtype=float)[..., None]

    return on_points


def _entropy_1d(logp: Callable[[Array], Array], lo: float, hi: float,
                centres: Array | None = None, widths: Array | None = None) -> float:
    """H(p) = −∫ p log p by adaptive quadrature over [lo, hi] (breakpoints at the modes); NaN
    when the quadrature does not converge (a tail too heavy for it)."""
    import warnings

    from scipy.integrate import IntegrationWarning, quad

    def integrand(z: float) -> float:
        with np.errstate(all="ignore"):
            value = float(logp(np.array(z)))
        return -math.exp(value) * value if math.isfinite(value) else 0.0

    inner = [] if centres is None else sorted(float(c) for c in centres if lo < c < hi)
    edges = [lo, *inner, hi]  # one quad per piece: quad takes no break points on infinite ends
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        try:
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                total += quad(integrand, a, b, limit=400)[0]
        except IntegrationWarning:
            return math.nan
    return float(total)


def _scipy_1d(spec: dict[str, Any]) -> Target:
    from optiviz.sampling.distributions import make_distribution

    built = make_distribution({k: v for k, v in spec.items() if k != "dim"})
    frozen = built.frozen
    support = tuple(float(v) for v in frozen.support())
    logpdf = built.logpdf
    if spec["name"] == "norm":
        loc, scale = spec["loc"], spec["scale"]

        def grad(z: Array) -> Array:
            return -(np.asarray(z, dtype=float) - loc) / scale**2

        entropy = 0.5 * math.log(2 * math.pi * math.e * scale**2)
    else:
        spread = float(frozen.ppf(0.75) - frozen.ppf(0.25)) or 1.0
        step = 1e-3 * spread

        def grad(z: Array) -> Array:
            z = np.asarray(z, dtype=float)
            with np.errstate(all="ignore"):
                return (8 * (logpdf(z + step) - logpdf(z - step))
                        - (logpdf(z + 2 * step) - logpdf(z - 2 * step))) / (12 * step)

        # over the whole support: quad maps infinite ends onto a finite interval
        median = float(frozen.ppf(0.5))
        entropy = _entropy_1d(lambda z: logpdf(np.asarray(z, dtype=float)), *support,
                              np.array([median]))
    return Target(name=spec["name"], title=built.title, dim=1, spec=spec,
                  logp=_points_1d(logpdf), grad_logp=_gradient_1d(grad), domain=built.domain,
                  support=support, mean=float(built.mean), cov=float(built.cov),
                  entropy=entropy, sample=built.sample)


# 2-D ------------------------------------------------------------------------------------------

def _target_2d(spec: dict[str, Any]) -> Target:
    from optiviz.sampling.distributions import make_distribution

    built = make_distribution({k: v for k, v in spec.items() if k != "dim"})
    grad = _GRADIENTS_2D[spec["name"]](spec)
    raw_logp = _expr_logp(spec) if spec["name"] == "expr" else built.logpdf

    def logp_points(points: Array) -> Array:
        points = np.asarray(points, dtype=float)
        flat = points.reshape(-1, 2)
        return np.asarray(raw_logp(flat), dtype=float).reshape(points.shape[:-1])

    (x0, x1), (y0, y1) = built.domain
    if spec["name"] != "expr":  # an expr density is the user's on its domain; others spill over
        x0, x1 = x0 - 0.5 * (x1 - x0), x1 + 0.5 * (x1 - x0)
        y0, y1 = y0 - 0.5 * (y1 - y0), y1 + 0.5 * (y1 - y0)
    x, y = np.linspace(x0, x1, GRID_2D), np.linspace(y0, y1, GRID_2D)
    gx, gy = np.meshgrid(x, y)
    grid = np.stack([gx, gy], axis=-1)
    with np.errstate(all="ignore"):
        log_values = logp_points(grid)
    top = np.max(log_values[np.isfinite(log_values)])
    density = np.where(np.isfinite(log_values), np.exp(log_values - top), 0.0)
    cell = (x[1] - x[0]) * (y[1] - y[0])
    mass = density.sum() * cell
    log_z = float(top + math.log(mass)) if not built.normalized else 0.0
    weights = density / density.sum()
    mean = np.array([np.sum(weights * gx), np.sum(weights * gy)])
    centred = grid - mean
    grid_cov = np.einsum("ij,ija,ijb->ab", weights, centred, centred)
    normalized_log = np.where(np.isfinite(log_values), log_values - (top + math.log(mass)), 0.0)
    entropy = float(-np.sum(weights * normalized_log))
    if built.mean is not None and built.cov is not None and spec["name"] != "donut":
        mean, cov = np.asarray(built.mean, dtype=float), np.asarray(built.cov, dtype=float)
    else:
        cov = grid_cov

    def logp(points: Array) -> Array:
        return logp_points(points) - log_z

    return Target(name=spec["name"], title=built.title, dim=2, spec=spec, logp=logp,
                  grad_logp=grad, domain=built.domain, support=(-math.inf, math.inf),
                  mean=mean, cov=cov, entropy=entropy, sample=built.sample,
                  normalized=built.normalized, log_z=log_z)


def _banana_grad(spec: dict[str, Any]) -> Callable[[Array], Array]:
    a, b = spec["a"], spec["b"]

    def grad(points: Array) -> Array:
        x, y = points[..., 0], points[..., 1]
        rest = y - b * x * x
        return np.stack([-x / a**2 + 2 * b * x * rest, -rest], axis=-1)

    return grad


def _donut_grad(spec: dict[str, Any]) -> Callable[[Array], Array]:
    radius, width = spec["radius"], spec["width"]

    def grad(points: Array) -> Array:
        r = np.hypot(points[..., 0], points[..., 1])
        with np.errstate(all="ignore"):
            factor = np.where(r > 0, -(r - radius) / (width**2 * np.where(r > 0, r, 1.0)), 0.0)
        return points * factor[..., None]

    return grad


def _mixture_grad(spec: dict[str, Any]) -> Callable[[Array], Array]:
    comps = spec["components"]
    means = np.array([c["mean"] for c in comps], dtype=float)
    covs = np.array([c["cov"] if "cov" in c else np.eye(2) * float(c.get("std", 1.0)) ** 2
                     for c in comps], dtype=float)
    weights = np.array([float(c.get("weight", 1.0)) for c in comps])
    weights /= weights.sum()
    precisions = np.linalg.inv(covs)
    log_norm = np.log(weights) - 0.5 * np.log(np.linalg.det(covs)) - math.log(2 * math.pi)

    def grad(points: Array) -> Array:
        delta = points[..., None, :] - means  # (..., K, 2)
        pulled = -np.einsum("kij,...kj->...ki", precisions, delta)
        parts = log_norm + 0.5 * np.einsum("...ki,...ki->...k", delta, pulled)
        resp = np.exp(parts - logsumexp(parts, axis=-1, keepdims=True))
        return np.einsum("...k,...ki->...i", resp, pulled)

    return grad


def _log_expression(spec: dict[str, Any]) -> Any:
    """``u`` when the density is written ``exp(u)`` (log p̃ = u exactly, however far out: the
    density itself underflows to 0 there), else None."""
    from optiviz.expr import Call, Expression

    root = spec["expr"].root
    if isinstance(root, Call) and root.func == "exp":
        return Expression(root.args[0], ("x", "y"), spec["expr"].path)
    return None


def _expr_logp(spec: dict[str, Any]) -> Callable[[Array], Array]:
    """log p̃ of an ``expr`` target: ``u`` for ``exp(u)``, else log of the expression (−inf
    where it is not positive)."""
    expression, log_expression = spec["expr"], _log_expression(spec)

    def logp(points: Array) -> Array:
        x, y = points[..., 0], points[..., 1]
        with np.errstate(all="ignore"):
            if log_expression is not None:
                value = np.asarray(log_expression(x=x, y=y), dtype=float)
                return np.where(np.isnan(value), -np.inf, value)
            value = np.asarray(expression(x=x, y=y), dtype=float)
            return np.where(value > 0, np.log(np.where(value > 0, value, 1.0)), -np.inf)

    return logp


def _expr_grad(spec: dict[str, Any]) -> Callable[[Array], Array]:
    expression, log_expression = spec["expr"], _log_expression(spec)
    source = log_expression if log_expression is not None else expression
    dx, dy = source.diff("x"), source.diff("y")

    def grad(points: Array) -> Array:
        x, y = points[..., 0], points[..., 1]
        with np.errstate(all="ignore"):
            if log_expression is not None:
                return np.stack([np.broadcast_to(dx(x=x, y=y), x.shape),
                                 np.broadcast_to(dy(x=x, y=y), x.shape)], axis=-1)
            value = expression(x=x, y=y)
            return np.stack([dx(x=x, y=y) / value, dy(x=x, y=y) / value], axis=-1)

    return grad


_GRADIENTS_2D: dict[str, Callable[[dict[str, Any]], Callable[[Array], Array]]] = {
    "banana": _banana_grad, "donut": _donut_grad, "mixture": _mixture_grad, "expr": _expr_grad,
}
