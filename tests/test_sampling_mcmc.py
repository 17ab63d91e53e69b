"""Metropolis–Hastings kernels, the driver loop and convergence diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from optiviz.errors import ConfigError
from optiviz.sampling import mcmc, run, validate


def standard_normal_logdensity(points):
    return -0.5 * np.sum(points**2, axis=-1)


class FixedUniform:
    """A stand-in Generator: proposals come from the kernel's own sampler, ``random`` is fixed."""

    def __init__(self, u):
        self.u = np.asarray(u, dtype=float)

    def random(self, size):
        return np.resize(self.u, size)


# kernels without randomness -----------------------------------------------------------------------

def test_accept_reject_follows_the_hastings_ratio():
    state = mcmc.init(np.zeros((3, 1)), standard_normal_logdensity)
    proposal = np.array([[1.0], [1.0], [0.5]])
    # log ratio = −0.5 (x' = 1), −0.5, −0.125; u = 0.7: accept iff 0.7 < A
    new, info = mcmc.accept_reject(FixedUniform([0.7, 0.5, 0.7]), state, proposal,
                                   standard_normal_logdensity(proposal), np.zeros(3))
    assert np.allclose(info.acceptance_prob, np.exp([-0.5, -0.5, -0.125]))
    assert list(info.is_accepted) == [False, True, True]
    assert np.allclose(new.position[:, 0], [0.0, 1.0, 0.5])
    assert np.allclose(new.logdensity, [0.0, -0.5, -0.125])


def test_uphill_moves_are_always_accepted_and_nan_never():
    state = mcmc.init(np.array([[2.0], [2.0]]), standard_normal_logdensity)
    proposal = np.array([[0.0], [5.0]])
    logdensity = np.array([0.0, np.nan])
    new, info = mcmc.accept_reject(FixedUniform([0.999]), state, proposal, logdensity, np.zeros(2))
    assert list(info.is_accepted) == [True, False]
    assert info.acceptance_prob[0] == 1.0


def test_independence_kernel_applies_the_proposal_correction():
    # π = N(0,1), q = N(1, 2²); from x = 0 propose x' = 1:
    # log A = log π(1) − log π(0) + log q(0) − log q(1) = −0.5 + (−1/8) − 0 = −0.625
    def q_logpdf(points):
        return -0.5 * np.sum(((points - 1) / 2) ** 2, axis=-1)

    kernel = mcmc.independence_kernel(standard_normal_logdensity,
                                      lambda rng, shape: np.ones(shape), q_logpdf)
    _, info = kernel(FixedUniform([0.5]), mcmc.init(np.zeros((1, 1)), standard_normal_logdensity))
    assert info.acceptance_prob[0] == pytest.approx(np.exp(-0.625))
    naive = mcmc.independence_kernel(standard_normal_logdensity,
                                     lambda rng, shape: np.ones(shape), q_logpdf, hastings=False)
    _, info = naive(FixedUniform([0.5]), mcmc.init(np.zeros((1, 1)), standard_normal_logdensity))
    assert info.acceptance_prob[0] == pytest.approx(np.exp(-0.5))


def test_random_walk_with_an_asymmetric_step_is_corrected():
    # g = N(1, 1) steps: log g(−ε) − log g(ε) = −0.5(−ε−1)² + 0.5(ε−1)² = −2ε
    def step_logpdf(eps):
        return -0.5 * np.sum((eps - 1) ** 2, axis=-1)

    kernel = mcmc.random_walk_kernel(standard_normal_logdensity,
                                     lambda rng, shape: np.full(shape, 0.5), step_logpdf)
    _, info = kernel(FixedUniform([0.0]), mcmc.init(np.zeros((1, 1)), standard_normal_logdensity))
    assert info.acceptance_prob[0] == pytest.approx(np.exp(-0.125 - 1.0))


# the chains sample the right distribution ---------------------------------------------------------

def test_random_walk_mean_and_variance_1d():
    result = run(validate({"distribution": {"name": "normal", "loc": 2, "scale": 1.5},
                           "method": "metropolis", "chains": 4, "samples": 6000,
                           "proposal": {"name": "normal", "scale": 2.5}, "seed": 11}))
    draws = result.positions[0, :, result.burn_in + 1:, 0]
    assert draws.mean() == pytest.approx(2.0, abs=0.1)
    assert draws.var() == pytest.approx(2.25, rel=0.08)
    assert 0.3 < result.acceptance_rate()[0] < 0.6
    assert result.rhat[0, -1] < 1.01


def test_random_walk_banana_moments():
    result = run(validate({"distribution": {"name": "banana", "a": 1, "b": 0.5},
                           "method": "metropolis", "chains": 4, "samples": 8000,
                           "proposal": {"name": "normal", "scale": 1.0}, "seed": 5}))
    draws = result.positions[0, :, result.burn_in + 1:].reshape(-1, 2)
    assert np.allclose(draws.mean(axis=0), [0.0, 0.5], atol=0.1)
    assert np.var(draws[:, 0]) == pytest.approx(1.0, rel=0.15)
    assert np.var(draws[:, 1]) == pytest.approx(1.5, rel=0.15)


def independence_run(hastings: bool, seed: int = 3):
    """π = N(0,1), q = N(1, 2²): the naive ratio targets π·q instead (∝ N(0.2, 0.8))."""
    rng = np.random.default_rng(seed)

    def q_logpdf(points):
        return -0.5 * np.sum(((points - 1) / 2) ** 2, axis=-1)

    kernel = mcmc.independence_kernel(
        standard_normal_logdensity,
        lambda rng, shape: 1 + 2 * rng.standard_normal(shape), q_logpdf, hastings=hastings)
    trace = mcmc.sample_chains(rng, kernel, mcmc.init(np.zeros((8, 1)),
                                                      standard_normal_logdensity), 4000)
    return trace.positions[:, 200:, 0].ravel()


def test_independence_sampler_with_full_hastings_ratio_is_right():
    draws = independence_run(hastings=True)
    assert draws.mean() == pytest.approx(0.0, abs=0.04)
    assert draws.var() == pytest.approx(1.0, rel=0.05)


def test_independence_sampler_without_q_terms_samples_the_wrong_distribution():
    draws = independence_run(hastings=False)
    # Stationary density ∝ π(x)·q(x) = N(0.2, 0.8): mean and variance are both off.
    assert draws.mean() == pytest.approx(0.2, abs=0.04)
    assert draws.var() == pytest.approx(0.8, rel=0.05)


def test_independence_config_runs_through_validate_and_run():
    result = run(validate({"distribution": "normal", "method": "metropolis", "independent": True,
                           "proposal": {"name": "normal", "loc": 1, "scale": 2},
                           "samples": 4000, "chains": 4, "seed": 1}))
    draws = result.positions[0, :, result.burn_in + 1:, 0]
    assert draws.mean() == pytest.approx(0.0, abs=0.06)
    assert draws.var() == pytest.approx(1.0, rel=0.08)


def test_scale_comparison_orders_acceptance_rates():
    result = run(validate({"distribution": "banana", "method": "metropolis", "samples": 1500,
                           "scales": [0.05, 1, 20], "chains": 2}))
    rates = result.acceptance_rate()
    assert rates[0] > 0.9 and rates[2] < 0.1 and rates[0] > rates[1] > rates[2]
    arrays = result.arrays()
    assert arrays["samples"].shape == (3 * 2 * 1500, 2)
    assert set(np.unique(arrays["scale"])) == {0.05, 1.0, 20.0}
    assert arrays["accepted"].shape == arrays["chain"].shape == (9000,)


def test_same_seed_same_chain():
    config = validate({"distribution": "donut", "method": "metropolis", "samples": 300,
                       "chains": 3})
    assert np.array_equal(run(config).positions, run(config).positions)


def test_start_points_are_validated_and_used():
    config = validate({"distribution": "banana", "method": "metropolis", "samples": 10,
                       "start": [[-2, 3], [2, 3]], "chains": 2})
    assert np.allclose(run(config).positions[0, :, 0], [[-2, 3], [2, 3]])
    with pytest.raises(ConfigError, match="2 numbers"):
        validate({"distribution": "banana", "method": "metropolis", "start": [1, 2, 3]})


# diagnostics --------------------------------------------------------------------------------------

def ar1(phi: float, chains: int, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((chains, n)) * np.sqrt(1 - phi**2)
    x = np.empty((chains, n))
    x[:, 0] = rng.standard_normal(chains)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_split_rhat_matches_the_bda3_formula_by_hand():
    draws = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 5.0, 7.0]])
    halves = np.array([[1, 2], [2, 2], [3, 4], [5, 7]], dtype=float)
    n = 2
    within = np.mean(halves.var(axis=1, ddof=1))
    between = np.var(halves.mean(axis=1), ddof=1)
    assert mcmc.split_rhat(draws) == pytest.approx(np.sqrt(((n - 1) / n * within + between)
                                                           / within))


def test_rhat_is_one_for_mixed_chains_and_large_for_stuck_ones():
    mixed = np.random.default_rng(0).standard_normal((4, 2000))
    assert mcmc.rank_rhat(mixed) < 1.01
    stuck = mixed + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    assert mcmc.rank_rhat(stuck) > 1.3
    drifting = mixed + np.linspace(0, 3, 2000)
    assert mcmc.split_rhat(drifting) > 1.1


def test_ess_of_independent_draws_is_about_n():
    draws = np.random.default_rng(1).standard_normal((4, 2500))
    assert mcmc.ess(draws) == pytest.approx(10000, rel=0.1)


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ess_of_ar1_matches_n_times_one_minus_phi_over_one_plus_phi(phi):
    draws = ar1(phi, 4, 5000, seed=2)
    assert mcmc.ess(draws) == pytest.approx(20000 * (1 - phi) / (1 + phi), rel=0.15)


def test_autocorrelation_of_ar1_is_geometric_and_mcse_is_sd_over_root_ess():
    draws = ar1(0.8, 1, 40000, seed=3)[0]
    rho = mcmc.autocorrelation(draws, 3)
    assert np.allclose(rho, 0.8 ** np.arange(4), atol=0.03)
    assert mcmc.mcse_mean(draws) == pytest.approx(np.std(draws, ddof=1) / np.sqrt(mcmc.ess(draws)))
