"""Distributions and MCMC targets, one registry.

Every scipy.stats univariate distribution is registered under its scipy name with its own
parameters (``shapes`` + ``loc``, and ``scale`` for continuous ones), plus friendly aliases
(``normal`` -> ``norm``, ``exponential`` -> ``expon`` ...). Also registered: ``multivariate_normal``
(mean, cov), ``dirichlet`` (alpha) and the 2-D MCMC targets ``banana``, ``donut``, ``mixture`` and
``expr`` (an unnormalized density written as an expression in x, y).

A :class:`Distribution` is a frozen record of plain callables over NumPy arrays; everything works
in log densities. Points are ``(n,)`` for univariate distributions and ``(n, d)`` otherwise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath, closest, refuse_unknown_keys
from optiviz.registry import Param, Registry, as_float, positive, show_value
from optiviz.sampling import _scipy_names
from optiviz.sampling.moments import true_moments

Array = np.ndarray


@dataclass(frozen=True)
class Distribution:
    """A built distribution or target.

    ``logpdf(x)`` is the log density (log PMF for discrete ones), up to a constant when
    ``normalized`` is False. ``sample(rng, n)`` draws exactly (None for targets known only up to a
    constant). ``ppf``/``cdf`` exist for univariate ones (stratified sampling, binned KL).
    ``mean``/``cov`` are the true moments when known (cov is the variance for univariate ones).
    ``domain`` is the plotting box: ``(lo, hi)`` for univariate, ``((x0, x1), (y0, y1))`` for 2-D.
    """

    name: str
    title: str
    params: dict[str, Any]
    dim: int
    logpdf: Callable[[Array], Array]
    domain: Any
    discrete: bool = False
    normalized: bool = True
    sample: Callable[[np.random.Generator, int], Array] | None = None
    ppf: Callable[[Array], Array] | None = None
    cdf: Callable[[Array], Array] | None = None
    mean: Any = None
    cov: Any = None
    entropy: float | None = None  # nats; known for discrete ones and the normal, else None
    scipy: Callable[[], Any] | None = None  # builds the scipy frozen distribution, if any
    support: tuple[float, float] | None = None  # univariate support when known without scipy

    def pdf(self, x: Array) -> Array:
        return np.exp(self.logpdf(x))

    @property
    def frozen(self) -> Any:
        """The scipy frozen distribution (built on first use; None for our own targets)."""
        return self.scipy() if self.scipy is not None else None

    @property
    def univariate(self) -> bool:
        return self.dim == 1 and self.scipy is not None and self.ppf is not None

    def expect(self, function: Callable[[Array], Array]) -> float:
        """E[f(X)] by quadrature (univariate): the true value the estimators converge to."""
        if not self.univariate:
            raise ValueError(f"{self.name}: expectations need a univariate distribution")
        def integrand(x: Any) -> Any:  # quad passes one float; a discrete sum, an array
            values = np.broadcast_to(np.asarray(function(np.asarray(x, dtype=float)),
                                                dtype=float), np.shape(x))
            return float(values) if values.ndim == 0 else values

        return float(self.frozen.expect(integrand))


@dataclass(frozen=True)
class DistributionSpec:
    """A registry entry: parameters (validated by the registry's Param machinery) and a builder."""

    name: str
    params: tuple[Param, ...]
    build: Callable[[dict[str, Any]], Distribution]
    doc: str = ""
    family: str = "continuous"  # continuous | discrete | multivariate | target


DISTRIBUTIONS: Registry[DistributionSpec] = Registry("distribution")

_TITLES = {
    "norm": "Normal", "expon": "Exponential", "binom": "Binomial", "bernoulli": "Bernoulli",
    "uniform": "Uniform", "poisson": "Poisson", "beta": "Beta", "gamma": "Gamma",
    "t": "Student t", "lognorm": "Log-normal", "geom": "Geometric", "nbinom": "Negative binomial",
    "laplace": "Laplace", "cauchy": "Cauchy", "chi2": "Chi-squared", "randint": "Discrete uniform",
}
_ALIASES = {
    "norm": ("normal", "gaussian"), "expon": ("exponential",), "binom": ("binomial",),
    "geom": ("geometric",), "nbinom": ("negative_binomial",), "t": ("student_t",),
    "lognorm": ("lognormal",), "chi2": ("chi_square", "chisquare"),
    "randint": ("discrete_uniform",),
    "hypergeom": ("hypergeometric",), "multivariate_normal": ("mvn", "multivariate_gaussian"),
}


def _format_number(value: Any) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_format_number(v) for v in np.ravel(value)) + "]"
    return f"{float(value):g}"


def _title(name: str, params: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={_format_number(v)}" for k, v in params.items() if k != "name")
    return f"{_TITLES.get(name, name)}({inner})"


# scipy univariate ------------------------------------------------------------------------------

def _scipy_params(shapes: str, discrete: bool) -> tuple[Param, ...]:
    params = [Param(s, doc=f"scipy shape parameter {s}") for s in shapes.split(",") if s]
    params.append(Param("loc", 0.0, doc="location"))
    if not discrete:
        params.append(Param("scale", 1.0, check=positive, doc="scale"))
    return tuple(params)


def _lazy_scipy(name: str, params: dict[str, Any]) -> Callable[[], Any]:
    @functools.cache
    def frozen() -> Any:
        import scipy.stats

        return getattr(scipy.stats, name)(**params)

    return frozen


#: Unit bins a discrete distribution's 0.1 %–99.9 % range may span: beyond it the histogram
#: cannot be drawn (zipf with a = 1.1 puts its 99.9 % quantile near 1e30).
MAX_DISCRETE_SPAN = 10**7


class RangeTooWide(ValueError):
    """A discrete distribution's central 99.8 % spans more than ``MAX_DISCRETE_SPAN`` integers."""


def _discrete_quantile(frozen: Any, q: float, low: float) -> float:
    """The smallest integer k ≥ ``low`` with cdf(k) ≥ q, by doubling then bisection: a few dozen
    cdf calls, where scipy's own ppf walks one integer at a time through a heavy tail."""
    step = 1.0
    while float(frozen.cdf(low + step)) < q:
        step *= 2.0
        if step > 4 * MAX_DISCRETE_SPAN:
            raise RangeTooWide(f"its {q:.1%} quantile lies beyond {low + step / 2:,.0f}")
    below, above = low + step / 2 if step > 1 else low - 1, low + step
    if float(frozen.cdf(low)) >= q:
        return low
    while above - below > 1:
        middle = math.floor((below + above) / 2)
        if float(frozen.cdf(middle)) >= q:
            above = middle
        else:
            below = middle
    return above


def _finite_domain(frozen: Any, discrete: bool) -> tuple[float, float]:
    if discrete:
        s_lo = float(frozen.support()[0])
        start = s_lo if math.isfinite(s_lo) else float(frozen.ppf(0.001))
        lo = _discrete_quantile(frozen, 0.001, start)
        hi = _discrete_quantile(frozen, 0.999, lo)
        if hi - lo > MAX_DISCRETE_SPAN:
            raise RangeTooWide(f"its 0.1 %–99.9 % range spans {hi - lo:,.0f} integers")
    else:
        lo, hi = (float(v) for v in frozen.ppf([0.001, 0.999]))
    s_lo, s_hi = (float(v) for v in frozen.support())
    # Bounded supports (uniform, beta, binomial) are shown whole: their edges are the story.
    if math.isfinite(s_lo) and s_lo >= lo - 0.25 * (hi - lo):
        lo = s_lo
    if math.isfinite(s_hi) and s_hi <= hi + 0.25 * (hi - lo):
        hi = s_hi
    if discrete:
        return lo - 0.5, hi + 0.5
    pad = 0.04 * (hi - lo)
    return lo - pad, hi + pad


_NORMAL_PPF_999 = 3.090232306167813  # Φ⁻¹(0.999)
_erf = np.vectorize(math.erf, otypes=[float])


def _build_normal(params: dict[str, Any]) -> Distribution:
    """N(loc, scale²) in NumPy: MCMC calls logpdf once per step, where scipy's argument checks
    would dominate, and the common case should not pay for importing scipy.stats."""
    loc, scale = params["loc"], params["scale"]
    offset = math.log(scale) + 0.5 * math.log(2 * math.pi)

    def logpdf(x: Array) -> Array:
        return -0.5 * ((np.asarray(x, dtype=float) - loc) / scale) ** 2 - offset

    def cdf(x: Array) -> Array:
        return 0.5 * (1.0 + _erf((np.asarray(x, dtype=float) - loc) / (scale * math.sqrt(2))))

    def ppf(q: Array) -> Array:
        from scipy.special import ndtri

        return loc + scale * ndtri(q)

    half = (_NORMAL_PPF_999 + 0.04 * 2 * _NORMAL_PPF_999) * scale
    return Distribution(
        name="norm", title=_title("norm", params), params=dict(params), dim=1, logpdf=logpdf,
        domain=(loc - half, loc + half),
        sample=lambda rng, n: loc + scale * rng.standard_normal(n),
        ppf=ppf, cdf=cdf, mean=float(loc), cov=float(scale) ** 2,
        entropy=0.5 * math.log(2 * math.pi * math.e * scale**2),
        scipy=_lazy_scipy("norm", params),
        support=(-math.inf, math.inf),
    )


def _scipy_builder(name: str, discrete: bool) -> Callable[[dict[str, Any]], Distribution]:
    def build(params: dict[str, Any]) -> Distribution:
        if discrete:  # numpy's integer samplers refuse float counts such as n=10.0
            params = {k: int(v) if float(v).is_integer() else v for k, v in params.items()}
        scipy_frozen = _lazy_scipy(name, params)
        frozen = scipy_frozen()
        logpdf = frozen.logpmf if discrete else frozen.logpdf
        sample = frozen.rvs
        mean, var = true_moments(frozen)  # NaN: undefined, ±inf: infinite (scipy corrected)
        # Only the discrete readout shows H(p). scipy integrates a continuous entropy
        # numerically: minutes for some (studentized_range), a TypeError for levy_stable.
        entropy = _discrete_entropy(frozen) if discrete else math.nan
        return Distribution(
            name=name,
            title=_title(name, params),
            params=dict(params),
            dim=1,
            logpdf=lambda x: logpdf(np.asarray(x, dtype=float)),
            domain=_finite_domain(frozen, discrete),
            discrete=discrete,
            sample=lambda rng, n: np.asarray(sample(size=n, random_state=rng), dtype=float),
            ppf=frozen.ppf,
            cdf=frozen.cdf,
            mean=mean,
            cov=var,
            entropy=entropy if math.isfinite(entropy) else None,
            scipy=scipy_frozen,
        )

    return build


def _discrete_entropy(frozen: Any) -> float:
    try:
        return float(np.squeeze(frozen.entropy()))
    except (TypeError, ValueError, ArithmeticError):
        return math.nan


def _check_scipy(name: str, params: dict[str, Any], path: KeyPath) -> None:
    """scipy marks invalid parameters by a NaN support instead of raising."""
    if name == "norm":  # loc: any number, scale > 0: the Param checks have seen to both
        return
    import scipy.stats

    lo, hi = getattr(scipy.stats, name).support(**params)
    if np.isnan(lo) or np.isnan(hi):
        shown = ", ".join(f"{k}={v:g}" for k, v in params.items())
        raise ConfigError(f"invalid parameters for {name}: {shown}", path)


def _register_scipy() -> None:
    for table, discrete in ((_scipy_names.CONTINUOUS, False), (_scipy_names.DISCRETE, True)):
        for name, shapes in table.items():
            build = _build_normal if name == "norm" else _scipy_builder(name, discrete)
            DISTRIBUTIONS.add(
                name,
                DistributionSpec(name, _scipy_params(shapes, discrete), build,
                                 family="discrete" if discrete else "continuous"),
                aliases=_ALIASES.get(name, ()),
            )


_register_scipy()


# multivariate -----------------------------------------------------------------------------------

def _vector(value: Any, path: KeyPath, length: int | None = None) -> list[float]:
    """A list of finite numbers (``length`` of them when given)."""
    wanted = f"a list of {length} numbers" if length else "a list of numbers"
    if not isinstance(value, (list, tuple)) or not value or (length and len(value) != length):
        raise ConfigError(f"must be {wanted}, got {show_value(value)}", path)
    return [as_float(v, path + (i,)) for i, v in enumerate(value)]


def _covariance(value: Any, size: int, path: KeyPath) -> list[list[float]]:
    """A ``size`` x ``size`` symmetric positive definite matrix given as a list of rows: what
    scipy's multivariate normal and the renderer's Cholesky factor both accept."""
    wanted = f"must be a {size}x{size} matrix (a list of {size} rows of {size} numbers)"
    if not isinstance(value, (list, tuple)) or len(value) != size:
        raise ConfigError(f"{wanted}, got {show_value(value)}", path)
    rows = [_vector(row, path + (i,), size) if isinstance(row, (list, tuple))
            else _raise(ConfigError(f"{wanted}, got {show_value(value)}", path))
            for i, row in enumerate(value)]
    matrix = np.array(rows)
    if not np.allclose(matrix, matrix.T):
        raise ConfigError(f"must be symmetric, got {show_value(value)}", path)
    try:
        np.linalg.cholesky(matrix)
        if not np.all(np.isfinite(np.linalg.eigvalsh(matrix))):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        raise ConfigError(f"must be positive definite, got {show_value(value)}", path) from None
    return rows


def _raise(error: ConfigError) -> Any:
    raise error


def _gaussian_box(mean: Array, cov: Array, width: float = 3.5) -> tuple:
    half = width * np.sqrt(np.diag(cov))
    return tuple((float(m - h), float(m + h)) for m, h in zip(mean, half, strict=True))


def _build_mvn(params: dict[str, Any]) -> Distribution:
    mean = np.asarray(params["mean"], dtype=float)
    cov = np.asarray(params["cov"], dtype=float)
    import scipy.stats

    frozen = scipy.stats.multivariate_normal(mean, cov)
    return Distribution(
        name="multivariate_normal",
        title=f"MVN(μ={_format_number(mean)}, Σ={_format_number(cov)})",
        params=params,
        dim=len(mean),
        logpdf=lambda x: np.atleast_1d(frozen.logpdf(np.asarray(x, dtype=float))),
        domain=_gaussian_box(mean, cov),
        sample=lambda rng, n: np.asarray(frozen.rvs(size=n, random_state=rng)).reshape(n, -1),
        mean=mean,
        cov=cov,
        entropy=float(frozen.entropy()),
    )


def _check_mvn(params: dict[str, Any], path: KeyPath) -> None:
    params["mean"] = _vector(params["mean"], path + ("mean",))
    params["cov"] = _covariance(params["cov"], len(params["mean"]), path + ("cov",))
    import scipy.stats

    try:  # scipy has its own, stricter test of singularity
        scipy.stats.multivariate_normal(params["mean"], params["cov"])
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise ConfigError(f"is not a usable covariance ({exc})", path + ("cov",)) from None


def _build_dirichlet(params: dict[str, Any]) -> Distribution:
    alpha = np.asarray(params["alpha"], dtype=float)
    import scipy.stats

    frozen = scipy.stats.dirichlet(alpha)
    a0 = alpha.sum()
    mean = alpha / a0
    cov = (np.diag(mean) - np.outer(mean, mean)) / (a0 + 1)

    def logpdf(x: Array) -> Array:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        return np.atleast_1d(frozen.logpdf(x.T))

    return Distribution(
        name="dirichlet",
        title=f"Dirichlet(α={_format_number(alpha)})",
        params=params,
        dim=len(alpha),
        logpdf=logpdf,
        domain=tuple((0.0, 1.0) for _ in alpha),
        sample=lambda rng, n: np.asarray(frozen.rvs(size=n, random_state=rng)),
        mean=mean,
        cov=cov,
        entropy=float(frozen.entropy()),
    )


def _all_positive(value: tuple) -> str | None:
    # Two components are a beta distribution on a segment; the animation draws the triangle.
    if len(value) < 3:
        return "must be at least 3 numbers, all > 0 (for 2, use {name: beta, a: .., b: ..})"
    if min(value) <= 0 or not math.isfinite(sum(value)):
        return "must be numbers > 0 with a finite sum"
    return None


DISTRIBUTIONS.add(
    "multivariate_normal",
    DistributionSpec(
        "multivariate_normal",
        (Param("mean", kind="any", doc="mean vector"), Param("cov", kind="any", doc="covariance")),
        _build_mvn,
        family="multivariate",
    ),
    aliases=_ALIASES["multivariate_normal"],
)
DISTRIBUTIONS.add(
    "dirichlet",
    DistributionSpec(
        "dirichlet", (Param("alpha", kind="floats", check=_all_positive),), _build_dirichlet,
        family="multivariate",
    ),
)


# 2-D MCMC targets -------------------------------------------------------------------------------

def _xy(points: Array) -> tuple[Array, Array]:
    points = np.atleast_2d(np.asarray(points, dtype=float))
    return points[..., 0], points[..., 1]


def _build_banana(params: dict[str, Any]) -> Distribution:
    """x ~ N(0, a²), y | x ~ N(b·x², 1): a curved ridge. E[y] = b·a², Var y = 1 + 2b²a⁴."""
    a, b = params["a"], params["b"]

    def logpdf(points: Array) -> Array:
        x, y = _xy(points)
        return -0.5 * (x / a) ** 2 - 0.5 * (y - b * x**2) ** 2 - math.log(2 * math.pi * a)

    def sample(rng: np.random.Generator, n: int) -> Array:
        x = a * rng.standard_normal(n)
        return np.column_stack([x, b * x**2 + rng.standard_normal(n)])

    top = b * (2.6 * a) ** 2 + 2.5 if b >= 0 else 2.5
    bottom = -2.5 if b >= 0 else b * (2.6 * a) ** 2 - 2.5
    return Distribution(
        name="banana", title=_title("banana", params), params=params, dim=2, logpdf=logpdf,
        domain=((-3.2 * a, 3.2 * a), (bottom, top)), sample=sample,
        mean=np.array([0.0, b * a**2]),
        cov=np.array([[a**2, 0.0], [0.0, 1 + 2 * b**2 * a**4]]),
    )


def _build_donut(params: dict[str, Any]) -> Distribution:
    """Unnormalized ring: log p = −(r − radius)² / (2·width²), r = √(x² + y²)."""
    radius, width = params["radius"], params["width"]

    def logpdf(points: Array) -> Array:
        x, y = _xy(points)
        return -0.5 * ((np.hypot(x, y) - radius) / width) ** 2

    edge = radius + 4 * width
    return Distribution(
        name="donut", title=_title("donut", params), params=params, dim=2, logpdf=logpdf,
        domain=((-edge, edge), (-edge, edge)), normalized=False, mean=np.zeros(2),
    )


def _mixture_components(value: Any) -> str | None:
    if not isinstance(value, (list, tuple)) or not value:
        return "must be a list of {mean: [x, y], cov: [[..],[..]] or std: s, weight: w}"
    return None  # each component: _components


COMPONENT_KEYS = ("mean", "cov", "std", "weight")


def _components(value: list, path: KeyPath) -> list[dict[str, Any]]:
    """Each mixture component: ``mean: [x, y]``, ``cov`` (2x2) or ``std`` (> 0), ``weight``
    (> 0); the weights must have a finite sum."""
    components = []
    for i, item in enumerate(value):
        where = path + (i,)
        if not isinstance(item, dict):
            raise ConfigError(f"must be a mapping {{mean: [x, y], std: s, weight: w}}, got "
                              f"{show_value(item)}", where)
        refuse_unknown_keys(item, COMPONENT_KEYS, where, "component key")
        if "mean" not in item:
            raise ConfigError("missing 'mean' ([x, y])", where)
        component: dict[str, Any] = {"mean": _vector(item["mean"], where + ("mean",), 2)}
        if "cov" in item:
            component["cov"] = _covariance(item["cov"], 2, where + ("cov",))
        for key in ("std", "weight"):
            if key in item:
                number = as_float(item[key], where + (key,))
                if not number > 0:
                    raise ConfigError(f"must be > 0, got {number:g}", where + (key,))
                component[key] = number
        components.append(component)
    if not math.isfinite(sum(c.get("weight", 1.0) for c in components)):
        raise ConfigError("the weights must have a finite sum", path)
    return components


def _build_mixture(params: dict[str, Any]) -> Distribution:
    """Σ_k w_k N(μ_k, Σ_k), weights normalized to 1."""
    comps = params["components"]
    means = np.array([c["mean"] for c in comps], dtype=float)
    covs = np.array(
        [c["cov"] if "cov" in c else np.eye(2) * float(c.get("std", 1.0)) ** 2 for c in comps],
        dtype=float,
    )
    weights = np.array([float(c.get("weight", 1.0)) for c in comps])
    weights /= weights.sum()
    import scipy.stats
    from scipy.special import logsumexp

    frozen = [scipy.stats.multivariate_normal(m, c) for m, c in zip(means, covs, strict=True)]

    def logpdf(points: Array) -> Array:
        points = np.atleast_2d(np.asarray(points, dtype=float))
        parts = [np.log(w) + np.atleast_1d(f.logpdf(points))
                 for w, f in zip(weights, frozen, strict=True)]
        return logsumexp(np.stack(parts), axis=0)

    def sample(rng: np.random.Generator, n: int) -> Array:
        which = rng.choice(len(weights), size=n, p=weights)
        chol = np.linalg.cholesky(covs)
        return means[which] + np.einsum("nij,nj->ni", chol[which], rng.standard_normal((n, 2)))

    mean = weights @ means
    centered = means - mean
    cov = np.einsum("k,kij->ij", weights, covs) + np.einsum("k,ki,kj->ij", weights, centered,
                                                             centered)
    half = 3.2 * np.sqrt(np.max(covs[:, [0, 1], [0, 1]], axis=0))
    domain = tuple(
        (float(means[:, i].min() - half[i]), float(means[:, i].max() + half[i])) for i in range(2)
    )
    return Distribution(
        name="mixture", title=f"Mixture of {len(weights)} Gaussians", params=params, dim=2,
        logpdf=logpdf, domain=domain, sample=sample, mean=mean, cov=cov,
    )


def _build_expr(params: dict[str, Any]) -> Distribution:
    """An unnormalized density p̃(x, y) given as an expression; log p̃ (−inf where p̃ ≤ 0)."""
    expression = params["expr"]
    (x0, x1), (y0, y1) = params["domain"]

    def logpdf(points: Array) -> Array:
        x, y = _xy(points)
        value = np.broadcast_to(np.asarray(expression(x=x, y=y), dtype=float), x.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(value > 0, np.log(np.where(value > 0, value, 1.0)), -np.inf)

    return Distribution(
        name="expr", title=f"p(x, y) ∝ {params['text']}", params=params, dim=2, logpdf=logpdf,
        domain=((x0, x1), (y0, y1)), normalized=False,
    )


def _box(value: Any) -> str | None:
    try:
        box = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        box = np.zeros(0)
    if box.shape != (2, 2) or not np.all(box[:, 1] > box[:, 0]):
        return "must be [[xmin, xmax], [ymin, ymax]]"
    return None


DISTRIBUTIONS.add("banana", DistributionSpec(
    "banana",
    (Param("a", 1.0, check=positive, doc="std of x"), Param("b", 1.0, doc="curvature of y ≈ b·x²")),
    _build_banana, family="target", doc="x ~ N(0, a²), y | x ~ N(b·x², 1)",
))
DISTRIBUTIONS.add("donut", DistributionSpec(
    "donut",
    (Param("radius", 2.0, check=positive), Param("width", 0.3, check=positive)),
    _build_donut, family="target", doc="ring of the given radius and width (unnormalized)",
))
DISTRIBUTIONS.add("mixture", DistributionSpec(
    "mixture",
    (Param("components", kind="any", check=_mixture_components,
           doc="list of {mean, cov | std, weight}"),),
    _build_mixture, family="target", doc="mixture of 2-D Gaussians",
))
DISTRIBUTIONS.add("expr", DistributionSpec(
    "expr",
    (Param("expr", kind="str", doc="unnormalized density in x, y"),
     Param("domain", ((-3.0, 3.0), (-3.0, 3.0)), kind="any", check=_box)),
    _build_expr, family="target", doc="unnormalized density p̃(x, y) given as an expression",
))


# validation -------------------------------------------------------------------------------------

def normalize_distribution(value: Any, path: KeyPath, *, drawable: bool = True) -> dict[str, Any]:
    """Validate a ``distribution:``/``proposal:`` value (a name or a mapping with ``name``).

    Returns ``{"name": canonical, **every parameter}`` with defaults filled in. An ``expr`` target
    may be given as ``{expr: "...", domain: ...}`` without a name. ``drawable``: also check that
    its range can be drawn (:func:`check_drawable`; a quantile search that the loader runs only
    once the budget has refused sizes like ``binomial n: 1e18``).
    """
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict):
        raise ConfigError("must be a distribution name or a mapping with 'name'", path)
    value = dict(value)
    if "name" not in value and "expr" in value:
        value["name"] = "expr"
    if "name" not in value:
        raise ConfigError("missing 'name' (e.g. {name: normal, loc: 0, scale: 1})", path)
    name = DISTRIBUTIONS.canonical(value.pop("name"), path + ("name",))
    spec = DISTRIBUTIONS.get(name)
    valid = [p.name for p in spec.params]
    for key in value:
        if key not in valid:
            guess = closest(str(key), valid)
            raise ConfigError(
                f"unknown parameter for {name} (valid: {', '.join(valid) or 'none'})",
                path + (key,), suggestion=guess[0] if guess else None,
            )
    out: dict[str, Any] = {"name": name}
    for param in spec.params:
        if param.name in value:
            out[param.name] = param.coerce(value[param.name], path + (param.name,))
        elif param.required:
            raise ConfigError(
                f"{name} needs parameter '{param.name}' (parameters: {', '.join(valid)})", path
            )
        else:
            out[param.name] = param.default
    if spec.family in ("continuous", "discrete"):
        _check_scipy(name, {k: v for k, v in out.items() if k != "name"}, path)
    elif name == "multivariate_normal":
        _check_mvn(out, path)
    elif name == "mixture":
        out["components"] = _components(out["components"], path + ("components",))
    elif name == "expr":
        from optiviz import expr as expr_module
        from optiviz.functions import parse_domain

        out["domain"] = parse_domain(out["domain"], path + ("domain",))
        out["text"] = out["expr"]
        out["expr"] = expr_module.parse(out["text"], ("x", "y"), path=path + ("expr",))
        _check_density_somewhere(out, path)
    if drawable:
        check_drawable(out, path)
    return out


def check_drawable(spec: dict[str, Any], path: KeyPath) -> None:
    """Refuse a normalized distribution whose range cannot be drawn (see :func:`_check_box`)."""
    if spec["name"] != "expr":
        _check_box(spec, DISTRIBUTIONS.get(spec["name"]).family, path)


def _check_box(spec: dict[str, Any], family: str, path: KeyPath) -> None:
    """The box the animation is drawn over must be finite and wide enough to draw:
    ``{name: normal, loc: 1e308, scale: 1e308}`` or a banana with ``a: 1e200`` is not."""
    name = spec["name"]
    params = {k: v for k, v in spec.items() if k != "name"}
    try:
        with np.errstate(all="ignore"):
            if family in ("continuous", "discrete") and name != "norm":
                import scipy.stats

                box: Any = _finite_domain(getattr(scipy.stats, name)(**params),
                                          family == "discrete")
            else:
                box = make_distribution(spec).domain
    except OverflowError:
        raise ConfigError(f"{name} with these parameters overflows: numbers too large to "
                          "compute with", path) from None
    except RangeTooWide as exc:
        raise ConfigError(f"{name} with these parameters cannot be drawn: {exc}, more than "
                          f"the {MAX_DISCRETE_SPAN:,} unit bins a histogram may have",
                          path) from None
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise ConfigError(f"{name} cannot be built with these parameters ({exc})",
                          path) from None
    from optiviz.functions import check_interval

    axes = [box] if np.ndim(box) == 1 else list(box)
    for low, high in axes:
        try:
            check_interval(float(low), float(high))
        except ConfigError as exc:
            raise ConfigError(f"{name} with these parameters cannot be drawn: its range "
                              f"{exc.message}", path) from None


def _check_density_somewhere(spec: dict[str, Any], path: KeyPath) -> None:
    """An ``expr`` target must be a positive, finite number somewhere in its domain (checked on
    the grid the renderer draws): zero, negative, NaN or infinite everywhere is no density."""
    (x0, x1), (y0, y1) = spec["domain"]
    x, y = np.meshgrid(np.linspace(x0, x1, 160), np.linspace(y0, y1, 160))
    with np.errstate(all="ignore"):
        value = np.broadcast_to(np.asarray(spec["expr"](x=x, y=y), dtype=float), x.shape)
    if not np.any(np.isfinite(value) & (value > 0)):
        kind = ("infinite" if np.all(np.isinf(value)) else "not a number" if np.all(np.isnan(value))
                else "zero or negative")
        raise ConfigError(
            f"{spec['text']!r} is {kind} everywhere in the domain "
            f"[[{x0:g}, {x1:g}], [{y0:g}, {y1:g}]]: a density must be positive and finite "
            "somewhere", path + ("expr",))


def make_distribution(spec: dict[str, Any]) -> Distribution:
    """Build a :class:`Distribution` from a dict returned by :func:`normalize_distribution`."""
    params = {k: v for k, v in spec.items() if k != "name"}
    return DISTRIBUTIONS.get(spec["name"]).build(params)


__all__ = [
    "DISTRIBUTIONS",
    "Distribution",
    "DistributionSpec",
    "make_distribution",
    "check_drawable",
    "normalize_distribution",
]
