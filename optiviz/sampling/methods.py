"""Direct, stratified and importance sampling (REFERENCE.md §6), as pure functions.

Each ``*_sampling`` function takes a built distribution, a sample count and an explicit
``np.random.Generator`` and returns a frozen result. Running quantities (estimates, error bands,
histograms, KL) are evaluated at ``checkpoints``: the sample counts the animation shows, log-spaced
so that both early and late stages are visible. The renderer only draws these numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError
from optiviz.sampling.distributions import Distribution
from optiviz.sampling.info import bin_probabilities, cross_entropy, entropy, kl_divergence
from optiviz.sampling.moments import true_expectation

Array = np.ndarray
Estimand = Callable[[Array], Array]


def log_checkpoints(n: int, count: int = 240, start: int = 1) -> Array:
    """Distinct integers from ``start`` to ``n``, log-spaced (always ending at n)."""
    start = max(1, min(start, n))
    points = np.unique(np.round(np.geomspace(start, n, count)).astype(int))
    return points


def finite_values(values: Array, samples: Array, text: str | None) -> Array:
    """``values`` = f(samples), refused with a :class:`ConfigError` at ``sampling.estimate``
    where f is not a number at a sample: the expectation does not exist (``log(x)`` under a
    normal) and every running estimate after that sample would be NaN."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        key = ("sampling", "estimate") if text is not None else ("sampling", "distribution")
        shown = f"{text!r} is" if text is not None else "the samples are"
        raise ConfigError(f"{shown} {values[i]} at the sample x = {float(samples[i]):g}: the "
                          "expectation is not a finite number", key)
    return values


def histogram_edges(distribution: Distribution, samples: Array, bins: int) -> Array:
    """Bin edges: unit bins centred on integers for discrete distributions, else ``bins`` equal
    bins over the plotting domain widened to cover every sample."""
    lo, hi = distribution.domain
    if distribution.discrete:
        first, last = np.ceil(lo), np.floor(hi)
        if len(samples):
            first, last = min(first, samples.min()), max(last, samples.max())
        return np.arange(first - 0.5, last + 1.0, 1.0)
    if len(samples):
        lo, hi = min(lo, float(samples.min())), max(hi, float(samples.max()))
    return np.linspace(lo, hi, bins + 1)


def _cumulative_sums(values: Array, labels: Array, size: int, checkpoints: Array) -> Array:
    """sums[k, b] = Σ values[i] over i < checkpoints[k] with labels[i] == b (O(n + K·size))."""
    sums = np.zeros((len(checkpoints), size))
    running = np.zeros(size)
    previous = 0
    for k, stop in enumerate(checkpoints):
        running += np.bincount(labels[previous:stop], values[previous:stop], minlength=size)
        sums[k] = running
        previous = stop
    return sums


def cumulative_histograms(samples: Array, edges: Array, checkpoints: Array) -> Array:
    """counts[k, b] = number of samples[:checkpoints[k]] in bin b (edges inclusive at the ends)."""
    which = np.clip(np.searchsorted(edges, samples, side="right") - 1, 0, len(edges) - 2)
    ones = np.ones(len(samples))
    return _cumulative_sums(ones, which, len(edges) - 1, checkpoints).astype(np.int64)


def running_mean_var(values: Array) -> tuple[Array, Array]:
    """Running mean and unbiased variance (0 for a single value) of values[:k], k = 1..n."""
    k = np.arange(1, len(values) + 1).reshape((-1,) + (1,) * (values.ndim - 1))
    mean = np.cumsum(values, axis=0) / k
    # Welford-free but stable enough here: centre on the overall mean first.
    centred = values - values.mean(axis=0)
    second = np.cumsum(centred**2, axis=0) / k - (np.cumsum(centred, axis=0) / k) ** 2
    var = np.where(k > 1, second * k / np.maximum(k - 1, 1), 0.0)
    return mean, np.maximum(var, 0.0)


# direct -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DirectResult:
    """Exact draws from the distribution, and how the histogram and moments converge.

    ``counts[k]`` is the histogram of the first ``checkpoints[k]`` samples over ``edges``;
    ``kl[k]`` = KL(empirical ‖ true) over those bins (discrete: over the support, exactly);
    ``cross_entropy[k]`` = H(empirical, true) (discrete only, else NaN).
    """

    distribution: Distribution
    samples: Array  # (n,) or (n, d)
    checkpoints: Array  # (K,)
    mean: Array  # (K,) or (K, d): running sample mean
    var: Array  # (K,) or (K, d): running sample variance
    edges: Array | None = None  # univariate only
    counts: Array | None = None  # (K, bins)
    true_probabilities: Array | None = None  # (bins,) true mass of each bin
    kl: Array | None = None  # (K,)
    cross_entropy: Array | None = None  # (K,)
    estimate_text: str | None = None
    estimate: Array | None = None  # (K,) running mean of f(x)
    true_estimate: float | None = None
    method: str = "direct"

    def arrays(self) -> dict[str, Array]:
        out = {"samples": self.samples, "checkpoints": self.checkpoints}
        if self.estimate is not None:
            out["estimate"] = self.estimate
        if self.kl is not None:
            out["kl"] = self.kl
        return out

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"samples": float(len(self.samples))}
        mean, var = np.atleast_1d(self.mean[-1]), np.atleast_1d(self.var[-1])
        for i, (m, v) in enumerate(zip(mean, var, strict=True)):
            suffix = "" if len(mean) == 1 else f"_{i}"
            out[f"mean{suffix}"] = float(m)
            out[f"var{suffix}"] = float(v)
        if self.kl is not None:
            out["kl"] = float(self.kl[-1])
        if self.estimate is not None:
            out["estimate"] = float(self.estimate[-1])
        return out


def direct_sampling(
    distribution: Distribution,
    n: int,
    rng: np.random.Generator,
    *,
    bins: int = 60,
    estimand: Estimand | None = None,
    estimate_text: str | None = None,
    checkpoint_count: int = 240,
) -> DirectResult:
    """x_i ~ p i.i.d.; the histogram of x_1..x_k approaches p as k grows."""
    if distribution.sample is None:
        raise ValueError(f"{distribution.name} cannot be sampled directly; use method: metropolis")
    samples = distribution.sample(rng, n)
    checkpoints = log_checkpoints(n, checkpoint_count)
    mean, var = (a[checkpoints - 1] for a in running_mean_var(samples))
    extra: dict[str, Any] = {}
    if distribution.dim == 1 and distribution.cdf is not None:
        edges = histogram_edges(distribution, samples, bins)
        counts = cumulative_histograms(samples, edges, checkpoints)
        if distribution.discrete:
            support = np.round(0.5 * (edges[:-1] + edges[1:]))
            truth = distribution.pdf(support)
        else:
            truth = bin_probabilities(distribution.cdf, edges)
        empirical = counts / checkpoints[:, None]
        extra = {
            "edges": edges,
            "counts": counts,
            "true_probabilities": truth,
            "kl": np.array([kl_divergence(e, truth) for e in empirical]),
            "cross_entropy": np.array(
                [cross_entropy(e, truth) if distribution.discrete else np.nan for e in empirical]
            ),
        }
    if estimand is not None:
        values = finite_values(estimand(samples), samples, estimate_text)
        extra["estimate"] = np.cumsum(values)[checkpoints - 1] / checkpoints
        extra["estimate_text"] = estimate_text
        if distribution.univariate:
            extra["true_estimate"] = true_expectation(distribution, estimand, estimate_text)
    return DirectResult(distribution, samples, checkpoints, mean, var, **extra)


def empirical_entropy(counts: Array) -> float:
    """H of the empirical distribution given by counts."""
    return entropy(np.asarray(counts, dtype=float) / np.sum(counts))


# stratified ---------------------------------------------------------------------------------------

def proportional_allocation(n: int, weights: Array) -> Array:
    """n_h = n·W_h rounded by largest remainder so that Σ n_h = n exactly.

    Ties in the remainder go to the lower stratum index (a stable, deterministic rule).
    """
    weights = np.asarray(weights, dtype=float)
    exact = n * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    short = n - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def interleaved_order(counts: Array) -> Array:
    """Stratum label of each sample, ordered so that every prefix is as close to proportional as
    possible: the j-th sample of stratum h arrives at "time" (j + ½)/n_h."""
    labels = np.repeat(np.arange(len(counts)), counts)
    ranks = np.concatenate([np.arange(c) for c in counts]) if len(labels) else labels
    times = (ranks + 0.5) / np.repeat(np.maximum(counts, 1), counts)
    return labels[np.argsort(times, kind="stable")]


@dataclass(frozen=True)
class StratifiedResult:
    """Stratified (equal-probability strata, proportional allocation) vs plain Monte Carlo.

    Both estimate E[f(X)]. ``*_estimate[k]`` uses the first ``checkpoints[k]`` samples of each
    scheme and ``*_se[k]`` is its standard error: plain s/√k; stratified √(Σ W_h² s_h²/n_h),
    with the mean over sampled strata renormalized by their total weight (post-stratification).
    """

    distribution: Distribution
    strata: int
    boundaries: Array  # (H+1,) stratum edges in x (quantiles)
    counts: Array  # (H,) final allocation
    samples: Array  # (n,) stratified samples, in arrival order
    stratum: Array  # (n,) stratum of each
    plain_samples: Array  # (n,)
    checkpoints: Array
    stratified_estimate: Array
    stratified_se: Array
    plain_estimate: Array
    plain_se: Array
    true_value: float
    estimate_text: str = "x"
    method: str = "stratified"

    def arrays(self) -> dict[str, Array]:
        return {
            "samples": self.samples, "stratum": self.stratum, "plain_samples": self.plain_samples,
            "checkpoints": self.checkpoints,
        }

    def summary(self) -> dict[str, float]:
        return {
            "samples": float(len(self.samples)),
            "estimate": float(self.stratified_estimate[-1]),
            "se": float(self.stratified_se[-1]),
            "plain_estimate": float(self.plain_estimate[-1]),
            "plain_se": float(self.plain_se[-1]),
            "true_value": self.true_value,
        }


def stratified_estimates(
    values: Array, stratum: Array, weights: Array, checkpoints: Array
) -> tuple[Array, Array]:
    """μ̂ = Σ W_h ȳ_h and SE = √(Σ W_h² s_h²/n_h) over values[:k] for each checkpoint k."""
    strata = len(weights)
    n_h = _cumulative_sums(np.ones(len(values)), stratum, strata, checkpoints)
    sums = _cumulative_sums(values, stratum, strata, checkpoints)
    squares = _cumulative_sums(values**2, stratum, strata, checkpoints)
    seen = n_h > 0
    means = np.divide(sums, n_h, out=np.zeros_like(sums), where=seen)
    var = np.divide(squares - n_h * means**2, n_h - 1, out=np.zeros_like(sums), where=n_h > 1)
    w = np.where(seen, weights[None, :], 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    estimate = np.sum(w * means, axis=1)
    se = np.sqrt(np.sum(np.divide(w**2 * np.maximum(var, 0), n_h, out=np.zeros_like(sums),
                                  where=seen), axis=1))
    return estimate, se


def stratified_sampling(
    distribution: Distribution,
    n: int,
    rng: np.random.Generator,
    *,
    strata: int = 10,
    estimand: Estimand | None = None,
    estimate_text: str = "x",
    checkpoint_count: int = 240,
) -> StratifiedResult:
    """Equal-probability strata S_h = [F⁻¹(h/H), F⁻¹((h+1)/H)), proportional allocation, and
    x = F⁻¹((h + u)/H) with u ~ U[0, 1) inside stratum h; plain draws use the same inverse CDF."""
    if not distribution.univariate:
        raise ValueError("stratified sampling needs a univariate distribution")
    given_estimand = estimand is not None
    estimand = estimand or (lambda x: x)
    weights = np.full(strata, 1.0 / strata)
    counts = proportional_allocation(n, weights)
    stratum = interleaved_order(counts)
    samples = np.asarray(distribution.ppf((stratum + rng.random(n)) / strata), dtype=float)
    plain_samples = np.asarray(distribution.ppf(rng.random(n)), dtype=float)
    checkpoints = log_checkpoints(n, checkpoint_count, start=min(n, 2 * strata))
    text = estimate_text if given_estimand else None
    estimate, se = stratified_estimates(
        finite_values(estimand(samples), samples, text), stratum, weights, checkpoints
    )
    plain_mean, plain_var = running_mean_var(
        finite_values(estimand(plain_samples), plain_samples, text))
    plain_mean, plain_var = plain_mean[checkpoints - 1], plain_var[checkpoints - 1]
    return StratifiedResult(
        distribution=distribution,
        strata=strata,
        boundaries=np.asarray(distribution.ppf(np.linspace(0, 1, strata + 1)), dtype=float),
        counts=counts,
        samples=samples,
        stratum=stratum,
        plain_samples=plain_samples,
        checkpoints=checkpoints,
        stratified_estimate=estimate,
        stratified_se=se,
        plain_estimate=plain_mean,
        plain_se=np.sqrt(plain_var / checkpoints),
        true_value=true_expectation(distribution, estimand, estimate_text),
        estimate_text=estimate_text,
    )


# importance ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportanceResult:
    """x_i ~ q, w_i = p(x_i)/q(x_i); estimates of E_p[f] at each checkpoint k:
    plain (1/k)Σ w_i f_i, self-normalized Σ w_i f_i / Σ w_i, and ESS = (Σw)²/Σw²."""

    distribution: Distribution  # target p
    proposal: Distribution  # q
    samples: Array  # (n,) drawn from q
    weights: Array  # (n,)
    values: Array  # (n,) f(x_i)
    checkpoints: Array
    plain_estimate: Array
    self_normalized_estimate: Array
    ess: Array
    true_value: float | None
    estimate_text: str
    method: str = "importance"

    def arrays(self) -> dict[str, Array]:
        return {"samples": self.samples, "weights": self.weights, "checkpoints": self.checkpoints}

    def summary(self) -> dict[str, float]:
        out = {
            "samples": float(len(self.samples)),
            "estimate": float(self.plain_estimate[-1]),
            "self_normalized_estimate": float(self.self_normalized_estimate[-1]),
            "ess": float(self.ess[-1]),
        }
        if self.true_value is not None:
            out["true_value"] = self.true_value
        return out


def importance_weights(target: Distribution, proposal: Distribution, samples: Array) -> Array:
    """w = p/q computed as exp(log p − log q) (no overflow of either density alone)."""
    return np.exp(target.logpdf(samples) - proposal.logpdf(samples))


def effective_sample_size(weights: Array) -> float:
    """ESS = (Σ w)² / Σ w² = 1 / Σ w̄², between 1 and n."""
    weights = np.asarray(weights, dtype=float)
    return float(weights.sum() ** 2 / np.sum(weights**2))


def importance_sampling(
    target: Distribution,
    proposal: Distribution,
    n: int,
    rng: np.random.Generator,
    *,
    estimand: Estimand,
    estimate_text: str,
    checkpoint_count: int = 240,
) -> ImportanceResult:
    """Draw from q, weight by p/q and track both estimators and the ESS as samples arrive."""
    if proposal.sample is None:
        raise ValueError(f"proposal {proposal.name} cannot be sampled directly")
    samples = proposal.sample(rng, n)
    weights = importance_weights(target, proposal, samples)
    if not np.any(weights > 0):
        raise ConfigError(f"none of the {n:,} samples of the proposal falls where the target has "
                          "mass: every importance weight is 0", ("sampling", "proposal"))
    values = finite_values(estimand(samples), samples, estimate_text) * np.ones_like(weights)
    checkpoints = log_checkpoints(n, checkpoint_count)
    weighted = np.cumsum(weights * values)[checkpoints - 1]
    total = np.cumsum(weights)[checkpoints - 1]
    squares = np.cumsum(weights**2)[checkpoints - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        self_normalized = weighted / total
        ess = total**2 / squares
    return ImportanceResult(
        distribution=target,
        proposal=proposal,
        samples=samples,
        weights=weights,
        values=values,
        checkpoints=checkpoints,
        plain_estimate=weighted / checkpoints,
        self_normalized_estimate=self_normalized,
        ess=np.nan_to_num(ess, nan=0.0),
        true_value=(true_expectation(target, estimand, estimate_text) if target.univariate
                    else None),
        estimate_text=estimate_text,
    )
