"""Sampling: distributions, validation, direct / stratified / importance sampling, information."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from optiviz.errors import ConfigError, UnknownNameError
from optiviz.sampling import DISTRIBUTIONS, run, validate
from optiviz.sampling.distributions import make_distribution, normalize_distribution
from optiviz.sampling.info import cross_entropy, entropy, gaussian_kl, kl_divergence
from optiviz.sampling.methods import (
    direct_sampling,
    effective_sample_size,
    importance_sampling,
    interleaved_order,
    proportional_allocation,
    stratified_sampling,
)


def build(value):
    return make_distribution(normalize_distribution(value, ("sampling", "distribution")))


# validation ---------------------------------------------------------------------------------------

def test_aliases_and_defaults_are_normalized():
    config = validate({"distribution": {"name": "normal", "loc": 1}}, seed=7)
    assert config.distribution == {"name": "norm", "loc": 1.0, "scale": 1.0}
    assert (config.method, config.samples, config.seed) == ("direct", 5000, 7)
    assert validate({"distribution": "normal", "seed": 3}, seed=7).seed == 3


def test_every_scipy_univariate_distribution_is_registered():
    for name in ("norm", "expon", "beta", "gamma", "binom", "poisson", "bernoulli", "t", "levy"):
        assert name in DISTRIBUTIONS
    assert DISTRIBUTIONS.get("binom").family == "discrete"


def test_unknown_distribution_suggests_the_nearest_name():
    with pytest.raises(UnknownNameError) as error:
        validate({"distribution": {"name": "binomal", "n": 3, "p": 0.5}})
    assert error.value.path == ("sampling", "distribution", "name")
    assert "did you mean 'binomial'" in str(error.value)


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        validate({"distribution": {"name": "normal", "mean": 0}})
    assert error.value.path == ("sampling", "distribution", "mean")
    assert "valid: loc, scale" in str(error.value)


def test_missing_shape_parameter_is_named():
    with pytest.raises(ConfigError, match="needs parameter 'p'.*n, p, loc"):
        validate({"distribution": {"name": "binomial", "n": 3}})


@pytest.mark.parametrize("params", [
    {"name": "binomial", "n": 3, "p": 1.5},
    {"name": "binomial", "n": 2.5, "p": 0.5},
    {"name": "normal", "scale": -1},
    {"name": "beta", "a": -1, "b": 2},
])
def test_invalid_parameter_values_are_rejected(params):
    with pytest.raises(ConfigError):
        validate({"distribution": params})


def test_unknown_key_suggests_the_nearest_key():
    with pytest.raises(ConfigError) as error:
        validate({"distribution": "normal", "sampels": 10})
    assert error.value.path == ("sampling", "sampels")
    assert error.value.suggestion == "samples"


def test_key_of_another_method_says_which_method_uses_it():
    with pytest.raises(ConfigError, match="only used by method stratified"):
        validate({"distribution": "normal", "strata": 4})


def test_unknown_method_suggests_the_nearest():
    with pytest.raises(UnknownNameError, match="did you mean 'importance'"):
        validate({"distribution": "normal", "method": "importanse"})


def test_mvn_covariance_must_be_positive_definite():
    with pytest.raises(ConfigError, match="positive definite") as error:
        validate({"distribution": {"name": "mvn", "mean": [0, 0], "cov": [[1, 2], [2, 1]]}})
    assert error.value.path[-1] == "cov"


def test_unnormalized_targets_need_metropolis():
    with pytest.raises(ConfigError, match="metropolis"):
        validate({"distribution": "donut"})


def test_stratified_needs_a_univariate_distribution():
    with pytest.raises(ConfigError, match="univariate"):
        validate({"distribution": "banana", "method": "stratified"})


def test_estimate_expression_is_parsed():
    pytest.importorskip("optiviz.expr")
    config = validate({"distribution": "normal", "method": "importance", "estimate": "x**2",
                       "proposal": {"name": "normal", "scale": 2}, "samples": 4000})
    result = run(config)
    assert result.true_value == pytest.approx(1.0)
    assert result.self_normalized_estimate[-1] == pytest.approx(1.0, abs=0.1)


# direct sampling ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    {"name": "normal", "loc": 1, "scale": 2},
    {"name": "exponential", "scale": 0.5},
    {"name": "beta", "a": 2, "b": 5},
    {"name": "uniform", "loc": -1, "scale": 3},
])
def test_direct_continuous_samples_pass_ks_against_scipy(spec):
    result = run(validate({"distribution": spec, "samples": 4000, "seed": 1}))
    frozen = result.distribution.frozen
    assert st.kstest(result.samples, frozen.cdf).pvalue > 0.01
    assert result.mean[-1] == pytest.approx(np.mean(result.samples))


@pytest.mark.parametrize("spec", [
    {"name": "bernoulli", "p": 0.3},
    {"name": "binomial", "n": 10, "p": 0.3},
    {"name": "poisson", "mu": 3},
])
def test_direct_discrete_samples_pass_chi_square(spec):
    result = run(validate({"distribution": spec, "samples": 5000, "seed": 2}))
    counts = result.counts[-1]
    expected = result.true_probabilities * counts.sum()
    keep = expected >= 5  # pool the sparse tail into one cell, as the test requires
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(expected[keep], expected[~keep].sum())
    observed, expected = observed[expected > 0], expected[expected > 0]
    assert st.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 0.01


def test_direct_histogram_counts_grow_to_every_sample():
    result = run(validate({"distribution": "normal", "samples": 3000}))
    assert result.checkpoints[0] == 1 and result.checkpoints[-1] == 3000
    assert np.all(np.diff(result.checkpoints) > 0)
    assert list(result.counts.sum(axis=1)) == list(result.checkpoints)
    assert result.kl[-1] < result.kl[len(result.kl) // 4] < result.kl[0]


def test_discrete_kl_and_cross_entropy_match_definitions():
    result = run(validate({"distribution": {"name": "binomial", "n": 6, "p": 0.4},
                           "samples": 2000}))
    empirical = result.counts[-1] / 2000
    truth = st.binom(6, 0.4).pmf(np.arange(7))
    assert np.allclose(result.true_probabilities, truth)
    assert result.kl[-1] == pytest.approx(np.sum(st.entropy(empirical, truth)))
    assert result.cross_entropy[-1] == pytest.approx(entropy(empirical) + result.kl[-1])
    assert result.distribution.entropy == pytest.approx(st.binom(6, 0.4).entropy())


def test_multivariate_normal_sample_moments():
    cov = [[1.0, 0.6], [0.6, 2.0]]
    result = run(validate({"distribution": {"name": "mvn", "mean": [1, -1], "cov": cov},
                           "samples": 20000}))
    assert result.samples.shape == (20000, 2)
    assert np.allclose(result.samples.mean(axis=0), [1, -1], atol=0.05)
    assert np.allclose(np.cov(result.samples.T), cov, atol=0.06)


def test_dirichlet_samples_lie_on_the_simplex_with_the_right_mean():
    result = run(validate({"distribution": {"name": "dirichlet", "alpha": [2, 3, 5]},
                           "samples": 10000}))
    assert np.allclose(result.samples.sum(axis=1), 1.0)
    assert np.allclose(result.samples.mean(axis=0), [0.2, 0.3, 0.5], atol=0.01)
    assert np.allclose(result.distribution.cov, np.cov(result.samples.T), atol=2e-3)


def test_banana_and_mixture_moments_are_exact():
    banana = build({"name": "banana", "a": 1.0, "b": 0.5})
    draws = banana.sample(np.random.default_rng(0), 100000)
    assert np.allclose(draws.mean(axis=0), banana.mean, atol=0.02)
    assert np.allclose(np.var(draws, axis=0), np.diag(banana.cov), rtol=0.03)
    mixture = build({"name": "mixture", "components": [
        {"mean": [-2, 0], "std": 0.5, "weight": 1}, {"mean": [2, 1], "std": 1.0, "weight": 3}]})
    draws = mixture.sample(np.random.default_rng(1), 100000)
    assert np.allclose(draws.mean(axis=0), mixture.mean, atol=0.02)
    assert np.allclose(np.cov(draws.T), mixture.cov, atol=0.05)


def test_targets_log_density_integrates_to_one_when_normalized():
    for spec in ({"name": "banana", "a": 0.8, "b": 1.0},
                 {"name": "mixture", "components": [{"mean": [0, 0]}, {"mean": [1, 1]}]}):
        target = build(spec)
        (x0, x1), (y0, y1) = target.domain
        x, y = np.meshgrid(np.linspace(x0 - 3, x1 + 3, 600), np.linspace(y0 - 3, y1 + 3, 600))
        mass = target.pdf(np.column_stack([x.ravel(), y.ravel()])).sum()
        mass *= (x[0, 1] - x[0, 0]) * (y[1, 0] - y[0, 0])
        assert mass == pytest.approx(1.0, abs=2e-3)


def test_direct_estimate_tracks_the_running_mean_of_f():
    target = build("normal")
    result = direct_sampling(target, 1000, np.random.default_rng(0), estimand=lambda x: x**2,
                             estimate_text="x**2")
    assert result.estimate[-1] == pytest.approx(np.mean(result.samples**2))
    assert result.true_estimate == pytest.approx(1.0)


# stratified ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, weights, expected", [
    (100, [0.25] * 4, [25, 25, 25, 25]),
    (10, [0.25] * 4, [3, 3, 2, 2]),
    (7, [0.5, 0.3, 0.2], [4, 2, 1]),  # 3.5, 2.1, 1.4 -> floors 3,2,1; remainder .5 wins
    (10, [0.05, 0.15, 0.8], [1, 1, 8]),  # 0.5, 1.5, 8.0 -> tie broken by lower index
])
def test_proportional_allocation_is_largest_remainder(n, weights, expected):
    assert list(proportional_allocation(n, np.array(weights))) == expected


def test_stratified_counts_are_exactly_proportional():
    result = run(validate({"distribution": "normal", "method": "stratified", "strata": 8,
                           "samples": 1003}))
    assert list(np.bincount(result.stratum)) == [126, 126, 126, 125, 125, 125, 125, 125]
    inside = (result.samples >= result.boundaries[result.stratum]) & (
        result.samples <= result.boundaries[result.stratum + 1])
    assert inside.all()


def test_interleaved_order_keeps_every_prefix_nearly_proportional():
    labels = interleaved_order(np.array([50, 30, 20]))
    for k in range(1, 101):
        counts = np.bincount(labels[:k], minlength=3)
        assert np.all(np.abs(counts - k * np.array([0.5, 0.3, 0.2])) <= 1.0)


def test_stratified_beats_plain_monte_carlo():
    result = stratified_sampling(build("normal"), 4000, np.random.default_rng(3), strata=20)
    assert result.true_value == pytest.approx(0.0, abs=1e-12)
    assert result.stratified_se[-1] < 0.2 * result.plain_se[-1]
    assert abs(result.stratified_estimate[-1]) < 3 * result.stratified_se[-1]
    plain_sd = np.std(result.plain_samples, ddof=1)
    assert result.plain_se[-1] == pytest.approx(plain_sd / np.sqrt(4000))


# importance ---------------------------------------------------------------------------------------

def test_importance_weights_match_the_closed_form():
    target, proposal = build("normal"), build({"name": "normal", "loc": 1, "scale": 2})
    result = importance_sampling(target, proposal, 20000, np.random.default_rng(4),
                                 estimand=lambda x: x**2, estimate_text="x**2")
    x = result.samples
    closed = 2.0 * np.exp(-0.5 * x**2 + 0.5 * ((x - 1) / 2) ** 2)
    assert np.allclose(result.weights, closed, rtol=1e-12)
    assert result.plain_estimate[-1] == pytest.approx(np.mean(closed * x**2))
    assert result.plain_estimate[-1] == pytest.approx(1.0, abs=0.05)
    assert result.self_normalized_estimate[-1] == pytest.approx(1.0, abs=0.05)
    assert result.ess[-1] == pytest.approx(effective_sample_size(closed))
    assert np.mean(closed) == pytest.approx(1.0, abs=0.03)  # E_q[w] = 1


def test_ess_bounds():
    assert effective_sample_size(np.ones(10)) == pytest.approx(10)
    assert effective_sample_size(np.array([1.0, 0, 0, 0])) == pytest.approx(1)


def test_importance_mean_of_exponential_from_a_wider_proposal():
    target, proposal = build({"name": "expon", "scale": 1}), build({"name": "expon", "scale": 2})
    result = importance_sampling(target, proposal, 20000, np.random.default_rng(5),
                                 estimand=lambda x: x, estimate_text="x")
    assert result.true_value == pytest.approx(1.0)
    assert result.self_normalized_estimate[-1] == pytest.approx(1.0, abs=0.03)
    # Var_q(w): E_q[w²] = ∫ p²/q = 2·∫ e^{-2x}·e^{x/2}·... = 4/3 for these rates.
    assert np.mean(result.weights**2) == pytest.approx(4 / 3, rel=0.05)


# information --------------------------------------------------------------------------------------

def test_information_measures():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5])
    assert entropy(p) == pytest.approx(math.log(2))
    assert cross_entropy(p, q) == pytest.approx(math.log(4))
    assert kl_divergence(p, q) == pytest.approx(math.log(2))
    assert kl_divergence(q, p) == math.inf
    assert gaussian_kl(0, 1, 1, 2) == pytest.approx(math.log(2) + 2 / 8 - 0.5)
    # scipy's entropy(pk, qk) renormalizes; ours does not (documented gotcha).
    assert kl_divergence(2 * p, q) != pytest.approx(st.entropy(2 * p, q))


def test_scipy_name_table_matches_the_installed_scipy():
    from optiviz.sampling import _scipy_names

    installed = {}
    for name in dir(st):
        dist = getattr(st, name)
        if isinstance(dist, (st.rv_continuous, st.rv_discrete)) and name == dist.name:
            installed[name] = ",".join(s.strip() for s in (dist.shapes or "").split(",")
                                       if s.strip())
    assert {**_scipy_names.CONTINUOUS, **_scipy_names.DISCRETE} == installed
    assert set(_scipy_names.DISCRETE) == {
        n for n in installed if isinstance(getattr(st, n), st.rv_discrete)}


def test_numpy_normal_matches_scipy():
    ours = build({"name": "normal", "loc": 1.5, "scale": 0.7})
    theirs = st.norm(1.5, 0.7)
    x = np.linspace(-3, 6, 41)
    assert np.allclose(ours.logpdf(x), theirs.logpdf(x), rtol=1e-13, atol=1e-13)
    assert np.allclose(ours.cdf(x), theirs.cdf(x), rtol=1e-12, atol=1e-15)
    q = np.linspace(0.01, 0.99, 9)
    assert np.allclose(ours.ppf(q), theirs.ppf(q))
    assert ours.entropy == pytest.approx(theirs.entropy())
    assert np.allclose(ours.domain, (theirs.ppf(0.001) - 0.08 * 3.0902323 * 0.7,
                                     theirs.ppf(0.999) + 0.08 * 3.0902323 * 0.7))
    assert ours.expect(lambda v: v**2) == pytest.approx(1.5**2 + 0.7**2)
