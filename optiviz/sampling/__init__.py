"""Sampling experiments: validate the ``sampling:`` section and run it.

``validate(section, seed=..., path=...) -> SamplingConfig`` checks every key (unknown ones get the
nearest valid name), normalizes the distribution(s) and parses expressions; ``run(config)``
returns one of the frozen results below, each with ``arrays()`` (for ``--data``) and
``summary()`` (for the batch manifest). Methods are registered in :data:`METHODS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath, closest
from optiviz.experiment import SamplingConfig
from optiviz.registry import Param, Registry, as_float, nonnegative, positive, show_value
from optiviz.sampling import mcmc
from optiviz.sampling.distributions import (
    DISTRIBUTIONS,
    Distribution,
    make_distribution,
    normalize_distribution,
)
from optiviz.sampling.methods import (
    DirectResult,
    ImportanceResult,
    StratifiedResult,
    direct_sampling,
    importance_sampling,
    stratified_sampling,
)

Array = np.ndarray


# Metropolis–Hastings result -----------------------------------------------------------------------

@dataclass(frozen=True)
class MetropolisResult:
    """C chains of T steps, once per proposal scale (``scales``; one entry without comparison).

    ``positions[s, c, t]`` is chain c's state after t steps at scale s (t = 0: the start);
    ``proposals``/``accepted``/``acceptance_prob`` are step t+1's MH info. Diagnostics over the
    draws after ``burn_in`` are given at ``checkpoints`` (step counts) for scale 0 or each scale:
    ``rhat`` (rank-normalized split-R̂, worst coordinate), ``ess`` (smallest over coordinates),
    ``running_mean``/``mcse`` (per coordinate, pooled over chains).
    """

    distribution: Distribution
    scales: Array  # (S,)
    independent: bool
    burn_in: int
    positions: Array  # (S, C, T+1, d)
    proposals: Array  # (S, C, T, d)
    accepted: Array  # (S, C, T) bool
    acceptance_prob: Array  # (S, C, T)
    checkpoints: Array  # (K,) steps
    running_mean: Array  # (S, K, d)
    mcse: Array  # (S, K, d)
    ess: Array  # (S, K)
    rhat: Array  # (S, K)
    autocorrelation: Array  # (S, L+1) pooled over chains, first coordinate, after burn-in
    method: str = "metropolis"
    # (S,) bool: whether setting s accepts with the full Hastings ratio (``hastings: [true,
    # false]`` compares an independence sampler with and without it); None: every one does.
    hastings: Array | None = None

    @property
    def corrected(self) -> Array:
        """(S,) bool: the settings whose acceptance ratio has the Hastings correction."""
        if self.hastings is None:
            return np.ones(len(self.scales), dtype=bool)
        return np.asarray(self.hastings, dtype=bool)

    @property
    def compares_hastings(self) -> bool:
        return not bool(self.corrected.all())

    def setting_label(self, s: int) -> str:
        """What setting ``s`` is, for frames and summaries."""
        if self.compares_hastings:
            return HASTINGS_LABELS[bool(self.corrected[s])]
        return f"step scale {self.scales[s]:g}"

    @property
    def chains(self) -> int:
        return self.positions.shape[1]

    @property
    def steps(self) -> int:
        return self.accepted.shape[2]

    def acceptance_rate(self, upto: int | None = None) -> Array:
        """(S,) fraction of accepted proposals in steps 1..upto (all chains)."""
        return self.accepted[:, :, :upto].mean(axis=(1, 2))

    def arrays(self) -> dict[str, Array]:
        scales, chains, steps, dim = self.proposals.shape
        draws = self.positions[:, :, 1:]
        samples = draws.reshape(-1, dim)
        out = {
            "samples": samples[:, 0] if dim == 1 else samples,
            "chain": np.broadcast_to(np.arange(chains)[None, :, None], draws.shape[:3]).ravel(),
            "step": np.broadcast_to(np.arange(1, steps + 1), draws.shape[:3]).ravel(),
            "accepted": self.accepted.ravel(),
            "acceptance_prob": self.acceptance_prob.ravel(),
            "proposals": self.proposals.reshape(-1, dim).squeeze(-1) if dim == 1
            else self.proposals.reshape(-1, dim),
            "start": self.positions[:, :, 0].reshape(-1, dim),
        }
        if scales > 1 and not self.compares_hastings:
            out["scale"] = np.repeat(self.scales, chains * steps)
        if self.compares_hastings:
            # which draws come from an uncorrected chain: the ratio π(x')/π(x), wrong target
            out["hastings"] = np.repeat(self.corrected, chains * steps)
            out["chain_hastings"] = np.repeat(self.corrected[:, None], chains, axis=1)
        return out

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {}
        rates = self.acceptance_rate()
        for s, scale in enumerate(self.scales):
            suffix = "" if len(self.scales) == 1 else f"@{scale:g}"
            if self.compares_hastings:
                suffix = "" if self.corrected[s] else "@no_hastings"
            out[f"acceptance_rate{suffix}"] = float(rates[s])
            out[f"ess{suffix}"] = float(self.ess[s, -1])
            out[f"rhat{suffix}"] = float(self.rhat[s, -1])
            for i, m in enumerate(self.running_mean[s, -1]):
                out[f"mean_{i}{suffix}"] = float(m)
        return out


SamplingResult = DirectResult | StratifiedResult | ImportanceResult | MetropolisResult

#: How a frame names a setting with and without the Hastings correction.
HASTINGS_LABELS = {True: "with the Hastings correction",
                   False: "no Hastings correction — wrong target"}


# methods ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MethodSpec:
    """``run(config, target, rng, progress=None)``: ``progress(done, total)``, when given, hears
    now and then how far a long run is (the fast, vectorized methods ignore it)."""

    name: str
    params: tuple[Param, ...]
    run: Callable[..., SamplingResult]
    doc: str = ""


METHODS: Registry[MethodSpec] = Registry("sampling method")

_COMMON = ("distribution", "method", "samples", "seed")


def _scales_check(value: tuple) -> str | None:
    return None if len(value) >= 1 and min(value) > 0 else "must be a list of numbers > 0"


def _estimand(config: SamplingConfig) -> tuple[Callable[[Array], Array] | None, str | None]:
    expression = config.options.get("estimate")
    if expression is None:
        return None, None
    return (lambda x: np.asarray(expression(x=x), dtype=float)), config.options["estimate_text"]


def _run_direct(config: SamplingConfig, target: Distribution, rng: np.random.Generator,
                progress: Any = None):
    estimand, text = _estimand(config)
    return direct_sampling(target, config.samples, rng, bins=config.options["bins"],
                           estimand=estimand, estimate_text=text)


def _run_stratified(config: SamplingConfig, target: Distribution, rng: np.random.Generator,
                    progress: Any = None):
    estimand, text = _estimand(config)
    return stratified_sampling(target, config.samples, rng, strata=config.options["strata"],
                               estimand=estimand, estimate_text=text or "x")


def _run_importance(config: SamplingConfig, target: Distribution, rng: np.random.Generator,
                    progress: Any = None):
    estimand, text = _estimand(config)
    proposal = make_distribution(config.options["proposal"])
    return importance_sampling(target, proposal, config.samples, rng,
                               estimand=estimand or (lambda x: x), estimate_text=text or "x")


def _coordinatewise(step: Distribution, dim: int):
    """Sampler and log density of a step distribution: a multivariate one of dimension d as is,
    a univariate one i.i.d. in each coordinate."""
    if step.dim == dim and step.dim > 1:
        return (lambda rng, shape: step.sample(rng, shape[0]).reshape(shape),
                lambda x: step.logpdf(x))
    return (lambda rng, shape: step.sample(rng, int(np.prod(shape))).reshape(shape),
            lambda x: step.logpdf(np.ravel(x)).reshape(np.shape(x)).sum(axis=-1))


def _is_symmetric(step: Distribution) -> bool:
    probe = np.linspace(-3, 3, 13)
    if step.dim > 1:
        probe = np.column_stack([probe] * step.dim)
    return bool(np.allclose(step.logpdf(probe), step.logpdf(-probe)))


def _starts(config: SamplingConfig, target: Distribution, rng: np.random.Generator) -> Array:
    chains = config.options["chains"]
    start = config.options["start"]
    if start is not None:
        start = np.asarray(start, dtype=float).reshape(-1, target.dim)
        return np.resize(start, (chains, target.dim))
    box = np.atleast_2d(np.asarray(target.domain, dtype=float))
    # Over-dispersed starts inside the middle 60% of the plotted domain, so R-hat means something.
    low = box[:, 0] + 0.2 * (box[:, 1] - box[:, 0])
    high = box[:, 1] - 0.2 * (box[:, 1] - box[:, 0])
    return rng.uniform(low, high, size=(chains, target.dim))


def _diagnostics(positions: Array, burn_in: int, checkpoints: Array, max_lag: int,
                 progress: Callable[[int], None] | None = None):
    """Running mean, MCSE, ESS and R-hat of the draws after burn-in up to each checkpoint;
    ``progress(i)`` after checkpoint i."""
    chains, _, dim = positions.shape
    k = len(checkpoints)
    mean, mcse = np.full((k, dim), np.nan), np.full((k, dim), np.nan)
    ess, rhat = np.full(k, np.nan), np.full(k, np.nan)
    for i, stop in enumerate(checkpoints):
        draws = positions[:, burn_in + 1: stop + 1]
        if draws.shape[1] < 1:
            continue
        mean[i] = draws.mean(axis=(0, 1))
        if draws.shape[1] < 8:
            continue
        per_dim = [mcmc.ess(draws[:, :, j]) for j in range(dim)]
        ess[i] = min(per_dim)
        mcse[i] = [np.std(draws[:, :, j], ddof=1) / np.sqrt(e) for j, e in enumerate(per_dim)]
        rhat[i] = max(mcmc.rank_rhat(draws[:, :, j]) for j in range(dim)) if chains > 1 else \
            max(mcmc.split_rhat(draws[:, :, j]) for j in range(dim))
        if progress is not None:
            progress(i)
    kept = positions[:, burn_in + 1:, 0]
    acf = np.mean([mcmc.autocorrelation(c, max_lag) for c in kept], axis=0)
    return mean, mcse, ess, rhat, acf


def metropolis(config: SamplingConfig, target: Distribution, rng: np.random.Generator,
               progress: Callable[[int, int], None] | None = None) -> MetropolisResult:
    """Run the configured MH chains (random walk or independence) at every proposal scale.
    ``progress(done, total)``: see :func:`_reporting`."""
    options = config.options
    steps = config.samples
    burn_in = options["burn_in"] if options["burn_in"] is not None else steps // 10
    proposal = make_distribution(options["proposal"])
    sample_step, step_logpdf = _coordinatewise(proposal, target.dim)
    hastings = hastings_settings(options)
    scales = np.asarray(options["scales"] or (1.0,), dtype=float)
    if len(hastings) > 1:  # a Hastings comparison: one setting per value, at the one scale
        scales = np.repeat(scales, len(hastings))
    else:
        hastings = hastings * len(scales)
    starts = _starts(config, target, rng)

    def logdensity(points: Array) -> Array:  # (C, d) -> (C,)
        return target.logpdf(points[:, 0] if target.dim == 1 else points)

    # Diagnostics cost O(C·T log T) each, so they are taken at a few dozen step counts only.
    checkpoints = np.unique(np.linspace(1, steps, min(steps, 48)).round().astype(int))
    max_lag = min(50, max(1, steps - burn_in - 1))
    traces, stats = [], []
    for index, scale in enumerate(scales):
        if options["independent"]:
            kernel = mcmc.independence_kernel(
                logdensity,
                lambda rng, shape, s=scale: s * sample_step(rng, shape),
                lambda x, s=scale: step_logpdf(x / s) - x.shape[-1] * np.log(s),
                hastings=hastings[index],
            )
        else:
            symmetric = _is_symmetric(proposal)
            kernel = mcmc.random_walk_kernel(
                logdensity, sample_step, None if symmetric else step_logpdf, scale
            )
        chain_report, diagnostics_report = _reporting(progress, index, len(scales), steps,
                                                      checkpoints)
        if chain_report is not None:
            kernel = _counted(kernel, chain_report, every=max(1, steps // 1000))
        trace = mcmc.sample_chains(rng, kernel, mcmc.init(starts, logdensity), steps)
        traces.append(trace)
        stats.append(_diagnostics(trace.positions, burn_in, checkpoints, max_lag,
                                  diagnostics_report))
    return MetropolisResult(
        distribution=target,
        scales=scales,
        independent=options["independent"],
        burn_in=burn_in,
        positions=np.stack([t.positions for t in traces]),
        proposals=np.stack([t.proposals for t in traces]),
        accepted=np.stack([t.accepted for t in traces]),
        acceptance_prob=np.stack([t.acceptance_prob for t in traces]),
        checkpoints=checkpoints,
        running_mean=np.stack([s[0] for s in stats]),
        mcse=np.stack([s[1] for s in stats]),
        ess=np.stack([s[2] for s in stats]),
        rhat=np.stack([s[3] for s in stats]),
        autocorrelation=np.stack([s[4] for s in stats]),
        hastings=np.asarray(hastings, dtype=bool),
    )


def _reporting(progress: Callable[[int, int], None] | None, scale: int, scales: int, steps: int,
               checkpoints: Array) -> tuple[Any, Any]:
    """Progress callbacks for scale ``scale``'s chain steps and diagnostics checkpoints, or
    (None, None). Each scale counts ``2 * steps`` units: its chain steps, then its diagnostics
    (which cost about as much), each checkpoint weighted by the draws it reads."""
    if progress is None:
        return None, None
    total, base = 2 * steps * scales, 2 * steps * scale
    read = np.cumsum(checkpoints) / max(float(np.sum(checkpoints)), 1.0)

    def chain_steps(done: int) -> None:
        progress(base + done, total)

    def diagnostics(index: int) -> None:
        progress(base + steps + int(round(steps * read[index])), total)

    return chain_steps, diagnostics


def _counted(kernel: Callable, report: Callable[[int], None], every: int) -> Callable:
    """``kernel`` that reports how many times it has run, every ``every`` calls."""
    calls = 0

    def counted(rng: np.random.Generator, state: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls % every == 0:
            report(calls)
        return kernel(rng, state)

    return counted


_ESTIMATE = Param("estimate", None, kind="str", nullable=True,
                  doc="expression in x whose expectation is tracked")
METHODS.add("direct", MethodSpec(
    "direct",
    (Param("bins", 60, kind="int", check=positive, doc="histogram bins (continuous)"), _ESTIMATE),
    _run_direct, doc="i.i.d. draws from the distribution",
))
METHODS.add("stratified", MethodSpec(
    "stratified",
    (Param("strata", 10, kind="int", check=positive, doc="equal-probability strata"), _ESTIMATE),
    _run_stratified, doc="proportional allocation over equal-probability strata vs plain",
))
METHODS.add("importance", MethodSpec(
    "importance",
    (Param("proposal", kind="any", doc="the sampling distribution q"), _ESTIMATE),
    _run_importance, doc="draws from q weighted by p/q",
))
METHODS.add("metropolis", MethodSpec(
    "metropolis",
    (
        Param("proposal", {"name": "norm", "loc": 0.0, "scale": 1.0}, kind="any",
              doc="random-walk step distribution, or q itself with independent: true"),
        Param("independent", False, kind="bool", doc="independence sampler"),
        Param("hastings", True, kind="any",
              doc="independence sampler: [true, false] runs the chains with and without the "
                  "Hastings correction q(x)/q(x'), side by side (false: the wrong target)"),
        Param("chains", 1, kind="int", check=positive),
        Param("scales", None, kind="floats", nullable=True, check=_scales_check,
              doc="compare proposal scales (each multiplies the proposal's step)",
              default_text="one: the proposal as given"),
        Param("burn_in", None, kind="int", nullable=True, check=nonnegative,
              doc="steps left out of the diagnostics (default: 10%)",
              default_text="10% of samples"),
        Param("start", None, kind="any", nullable=True, doc="start point(s)",
              default_text="random, in the middle 60% of the plot"),
    ),
    metropolis, doc="Metropolis–Hastings chains",
), aliases=("mh", "metropolis_hastings", "mcmc"))


# validate / run -----------------------------------------------------------------------------------

def validate(section: dict, *, seed: int = 0, path: KeyPath = ("sampling",),
             drawable: bool = True) -> SamplingConfig:
    """Check the ``sampling:`` mapping and return the normalized :class:`SamplingConfig`.

    ``drawable=False`` leaves out :func:`check_drawable` (the distributions' quantile searches),
    which the loader runs after the budget has refused sizes no search should meet."""
    if not isinstance(section, dict):
        raise ConfigError("must be a mapping (distribution, method, samples, ...)", path)
    method = METHODS.canonical(section.get("method", "direct"), path + ("method",))
    spec = METHODS.get(method)
    own = {p.name for p in spec.params}
    everything = set(_COMMON) | {p.name for m in METHODS.items() for p in m[1].params}
    for key in section:
        if key in _COMMON or key in own:
            continue
        if key in everything:
            users = [name for name, m in METHODS.items() if key in {p.name for p in m.params}]
            raise ConfigError(f"only used by method {' or '.join(users)}, not {method}",
                              path + (key,))
        guess = closest(str(key), sorted(set(_COMMON) | own))
        raise ConfigError(
            f"unknown key (valid: {', '.join(sorted(set(_COMMON) | own))})" if not guess
            else "unknown key", path + (key,), suggestion=guess[0] if guess else None,
        )
    if "distribution" not in section:
        raise ConfigError("missing 'distribution' (e.g. {name: normal, loc: 0, scale: 1})", path)
    distribution = normalize_distribution(section["distribution"], path + ("distribution",),
                                          drawable=drawable)
    samples = Param("samples", 5000, kind="int", check=positive).coerce(
        section.get("samples", 5000), path + ("samples",))
    seed = Param("seed", kind="int", check=nonnegative).coerce(section.get("seed", seed),
                                                              path + ("seed",))
    options = {p.name: p.coerce(section[p.name], path + (p.name,)) if p.name in section
               else p.default for p in spec.params}
    if options.get("estimate") is not None:
        from optiviz import expr as expr_module

        options["estimate_text"] = options["estimate"]
        options["estimate"] = expr_module.parse(options["estimate"], ("x",),
                                                path=path + ("estimate",))
    if "proposal" in options:
        options["proposal"] = normalize_distribution(options["proposal"], path + ("proposal",),
                                                     drawable=drawable)
    _check_combination(method, distribution, options, path)
    _check_values(method, distribution, options, samples, path)
    return SamplingConfig(distribution=distribution, method=method, samples=samples, seed=seed,
                          options=options)


def check_drawable(config: SamplingConfig, path: KeyPath = ("sampling",)) -> None:
    """Refuse a target or proposal whose range cannot be drawn (a finite, wide-enough box)."""
    from optiviz.sampling.distributions import check_drawable as check_one

    check_one(config.distribution, path + ("distribution",))
    if isinstance(config.options.get("proposal"), dict):
        check_one(config.options["proposal"], path + ("proposal",))


def _check_combination(method: str, distribution: dict, options: dict, path: KeyPath) -> None:
    family = DISTRIBUTIONS.get(distribution["name"]).family
    name = distribution["name"]
    if method in ("stratified", "importance") and family not in ("continuous", "discrete"):
        raise ConfigError(f"{method} sampling needs a univariate distribution, not {name}",
                          path + ("distribution",))
    if method == "direct" and name in ("donut", "expr"):
        raise ConfigError(f"{name} is known only up to a constant; use method: metropolis",
                          path + ("method",))
    if method == "importance":
        proposal_family = DISTRIBUTIONS.get(options["proposal"]["name"]).family
        if proposal_family not in ("continuous", "discrete"):
            raise ConfigError("must be a univariate distribution", path + ("proposal",))
    if method == "metropolis":
        if family == "discrete":
            raise ConfigError("metropolis here needs a continuous target", path + ("distribution",))
        if name == "dirichlet":
            raise ConfigError("metropolis on the simplex is not supported; use method: direct",
                              path + ("distribution",))
        step = DISTRIBUTIONS.get(options["proposal"]["name"]).family
        if step not in ("continuous", "multivariate") or options["proposal"]["name"] == "dirichlet":
            raise ConfigError("must be a continuous distribution", path + ("proposal",))
        options["hastings"] = _hastings(options, path + ("hastings",))
        if options["start"] is not None:
            dim = len(np.atleast_1d(distribution.get("mean", [0, 0]))) \
                if family != "continuous" else 1
            options["start"] = _points(options["start"], dim, path + ("start",))


def hastings_settings(options: dict) -> list[bool]:
    """The validated ``hastings`` option as a list of settings ([True] by default)."""
    value = options.get("hastings", True)
    return [bool(v) for v in value] if isinstance(value, (list, tuple)) else [bool(value)]


def _hastings(options: dict, path: KeyPath) -> tuple[bool, ...]:
    """``hastings``: true, or a list comparing the corrected sampler with the uncorrected one.
    An uncorrected independence sampler accepts with π(x')/π(x) and so samples ∝ π·q, not π:
    it is allowed only beside a corrected run, so that the picture shows the error."""
    value = options["hastings"]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, bool) for v in values):
        raise ConfigError(f"must be true, false or a list [true, false], got {show_value(value)}",
                          path)
    if len(set(values)) != len(values):
        raise ConfigError(f"lists each setting once, got {show_value(value)}", path)
    if False in values:
        if not options["independent"]:
            raise ConfigError("false drops the q(x)/q(x') factor of an independence sampler "
                              "(independent: true); this random walk has no such factor", path)
        if True not in values:
            raise ConfigError("false alone samples the wrong distribution (∝ π·q, not π) with "
                              "nothing to show it against: use hastings: [true, false]", path)
        if options["scales"] is not None and len(options["scales"]) > 1:
            raise ConfigError("compares with and without the correction at one proposal "
                              "scale; remove scales or keep one", path)
    return tuple(values)


def _points(value: object, dim: int, path: KeyPath) -> tuple[tuple[float, ...], ...]:
    """MH start point(s): ``x`` or ``[x1, x2, ...]`` in 1-D; ``[x, y]`` or ``[[x, y], ...]``
    in 2-D (d-D alike); every coordinate a finite number."""
    what = "a number or a list of numbers" if dim == 1 else \
        f"a point of {dim} numbers or a list of such points"
    if dim == 1:
        items = value if isinstance(value, list) else [value]
        points = [(as_float(v, path + ((i,) if isinstance(value, list) else ())),)
                  for i, v in enumerate(items)]
    else:
        if not isinstance(value, list) or not value:
            raise ConfigError(f"must be {what}, got {show_value(value)}", path)
        nested = isinstance(value[0], list)
        items = value if nested else [value]
        points = []
        for i, point in enumerate(items):
            where = path + ((i,) if nested else ())
            if not isinstance(point, list) or len(point) != dim:
                raise ConfigError(f"must be {what}, got {show_value(point)}", where)
            points.append(tuple(as_float(v, where + (j,)) for j, v in enumerate(point)))
    if not points:
        raise ConfigError(f"must be {what}, got {show_value(value)}", path)
    return tuple(points)


def _check_values(method: str, distribution: dict, options: dict, samples: int,
                  path: KeyPath) -> None:
    """Values every part accepts alone but the method cannot use: a burn-in that leaves no
    draws, an estimate that is never a number, a proposal that never meets the target."""
    family = DISTRIBUTIONS.get(distribution["name"]).family
    burn_in = options.get("burn_in")
    if burn_in is not None and burn_in >= samples:
        raise ConfigError(f"must be less than samples ({samples:,}), got {burn_in:,}",
                          path + ("burn_in",))
    estimate = options.get("estimate")
    if estimate is not None:
        if family not in ("continuous", "discrete"):
            raise ConfigError(f"needs a univariate distribution (x is one number), not "
                              f"{distribution['name']}", path + ("estimate",))
        x = _quantiles(distribution)
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(estimate(x=x), dtype=float), x.shape)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            i = bad[len(bad) // 2]
            raise ConfigError(
                f"{options['estimate_text']!r} is {values[i]} at x = {x[i]:g}, where the "
                f"distribution has mass: E[{options['estimate_text']}] is not a finite number",
                path + ("estimate",))
    if method == "importance":
        target, proposal = _support(distribution), _support(options["proposal"])
        low, high = max(target[0], proposal[0]), min(target[1], proposal[1])
        if low > high or (low == high and family == "continuous"):
            raise ConfigError(
                f"its support [{proposal[0]:g}, {proposal[1]:g}] does not meet the target's "
                f"[{target[0]:g}, {target[1]:g}]: every importance weight would be 0",
                path + ("proposal",))


# Where an estimate must be a finite number: these quantiles of the distribution (the body and
# both tails, never the support's edges, where log(x) under an exponential is -inf but
# integrable).
ESTIMATE_QUANTILES = np.array([0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
                               0.95, 0.99, 0.999])


def _quantiles(spec: dict) -> np.ndarray:
    import scipy.stats

    params = {k: v for k, v in spec.items() if k != "name"}
    with np.errstate(all="ignore"):
        return np.asarray(getattr(scipy.stats, spec["name"])(**params).ppf(ESTIMATE_QUANTILES),
                          dtype=float)


def _support(spec: dict) -> tuple[float, float]:
    """The support of a univariate scipy distribution with these parameters."""
    import scipy.stats

    params = {k: v for k, v in spec.items() if k != "name"}
    low, high = getattr(scipy.stats, spec["name"]).support(**params)
    return float(low), float(high)


def run(config: SamplingConfig,
        progress: Callable[[int, int], None] | None = None) -> SamplingResult:
    """Run the experiment; all randomness comes from ``np.random.default_rng(config.seed)``.
    ``progress(done, total)`` hears how far a long run (Metropolis–Hastings) is."""
    from optiviz import budget

    budget.check_sampling_run(config)  # loaded configs passed it; configs built in Python
    rng = np.random.default_rng(config.seed)
    target = make_distribution(config.distribution)
    return METHODS.get(config.method).run(config, target, rng, progress=progress)


def run_experiment(experiment: Any,
                   progress: Callable[[int, int], None] | None = None) -> SamplingResult:
    """:func:`run` of a sampling Experiment's section (the kind table's ``compute``)."""
    return run(experiment.sampling, progress=progress)


__all__ = [
    "DISTRIBUTIONS",
    "METHODS",
    "DirectResult",
    "ImportanceResult",
    "MetropolisResult",
    "SamplingResult",
    "StratifiedResult",
    "run",
    "validate",
]
