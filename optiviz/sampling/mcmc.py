"""Metropolis–Hastings kernels (blackjax-style) and convergence diagnostics.

A kernel is ``kernel(rng, state) -> (state, info)`` over C chains at once: positions are
``(C, d)``. Everything is in log densities. One step (REFERENCE.md §6):

    x' ~ q(·|x);   log A = min(0, log π(x') − log π(x) + log q(x|x') − log q(x'|x))
    accept iff log u < log A with u ~ U[0, 1), drawn after the proposal.

Random walk: x' = x + s·ε with ε ~ g, so log q(x|x') − log q(x'|x) = log g(−ε) − log g(ε)
(zero for symmetric g). Independence: x' ~ q, the correction is log q(x) − log q(x'); dropping it
(the "naive" ratio π(x')/π(x) of many tutorials) samples a different distribution.

Diagnostics follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), as ArviZ/Stan do:
split-R̂, rank-normalized split-R̂ (max of bulk and folded), and ESS from Geyer's initial
monotone sequence over split chains; MCSE of the mean = sd/√ESS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Array = np.ndarray
LogDensity = Callable[[Array], Array]  # (C, d) -> (C,)


class MHState(NamedTuple):
    position: Array  # (C, d)
    logdensity: Array  # (C,) cached so the target is evaluated once per step


class MHInfo(NamedTuple):
    proposal: Array  # (C, d)
    acceptance_prob: Array  # (C,) min(1, Hastings ratio)
    is_accepted: Array  # (C,) bool


Kernel = Callable[[np.random.Generator, MHState], tuple[MHState, MHInfo]]


def init(position: Array, logdensity_fn: LogDensity) -> MHState:
    position = np.atleast_2d(np.asarray(position, dtype=float))
    return MHState(position, np.asarray(logdensity_fn(position), dtype=float))


def accept_reject(
    rng: np.random.Generator,
    state: MHState,
    proposal: Array,
    proposal_logdensity: Array,
    log_correction: Array,
) -> tuple[MHState, MHInfo]:
    """The shared MH decision, given the proposal and log q(x|x') − log q(x'|x)."""
    with np.errstate(invalid="ignore"):
        log_ratio = proposal_logdensity - state.logdensity + log_correction
    log_ratio = np.where(np.isnan(log_ratio), -np.inf, log_ratio)
    log_accept = np.minimum(0.0, log_ratio)
    with np.errstate(divide="ignore"):  # u = 0 is possible: log u = -inf always accepts
        accepted = np.log(rng.random(len(log_accept))) < log_accept
    position = np.where(accepted[:, None], proposal, state.position)
    logdensity = np.where(accepted, proposal_logdensity, state.logdensity)
    return MHState(position, logdensity), MHInfo(proposal, np.exp(log_accept), accepted)


def random_walk_kernel(
    logdensity_fn: LogDensity,
    step_sample: Callable[[np.random.Generator, tuple[int, int]], Array],
    step_logdensity: Callable[[Array], Array] | None = None,
    scale: float = 1.0,
) -> Kernel:
    """x' = x + scale·ε, ε ~ g drawn by ``step_sample(rng, (C, d))``.

    ``step_logdensity(ε) -> (C,)`` is log g(ε) summed over coordinates; None means g is
    symmetric, so the Hastings correction vanishes (plain Metropolis).
    """

    def kernel(rng: np.random.Generator, state: MHState) -> tuple[MHState, MHInfo]:
        step = np.asarray(step_sample(rng, state.position.shape), dtype=float)
        proposal = state.position + scale * step
        correction = (
            np.zeros(len(proposal))
            if step_logdensity is None
            else step_logdensity(-step) - step_logdensity(step)
        )
        return accept_reject(rng, state, proposal, logdensity_fn(proposal), correction)

    return kernel


def independence_kernel(
    logdensity_fn: LogDensity,
    proposal_sample: Callable[[np.random.Generator, tuple[int, int]], Array],
    proposal_logdensity: Callable[[Array], Array],
    *,
    hastings: bool = True,
) -> Kernel:
    """x' ~ q regardless of x; A = min(1, w(x')/w(x)) with w = π/q.

    ``hastings=False`` drops the q terms — wrong unless q is uniform; kept to demonstrate it.
    """

    def kernel(rng: np.random.Generator, state: MHState) -> tuple[MHState, MHInfo]:
        proposal = np.asarray(proposal_sample(rng, state.position.shape), dtype=float)
        correction = (
            proposal_logdensity(state.position) - proposal_logdensity(proposal)
            if hastings
            else np.zeros(len(proposal))
        )
        return accept_reject(rng, state, proposal, logdensity_fn(proposal), correction)

    return kernel


class ChainTrace(NamedTuple):
    positions: Array  # (C, T+1, d): positions[:, 0] is the start
    proposals: Array  # (C, T, d)
    accepted: Array  # (C, T) bool
    acceptance_prob: Array  # (C, T)


def sample_chains(
    rng: np.random.Generator, kernel: Kernel, state: MHState, steps: int
) -> ChainTrace:
    """The driver loop: run ``kernel`` ``steps`` times and stack every state and info."""
    chains, dim = state.position.shape
    positions = np.empty((steps + 1, chains, dim))
    proposals = np.empty((steps, chains, dim))
    accepted = np.empty((steps, chains), dtype=bool)
    probability = np.empty((steps, chains))
    positions[0] = state.position
    for t in range(steps):
        state, info = kernel(rng, state)
        positions[t + 1] = state.position
        proposals[t] = info.proposal
        accepted[t] = info.is_accepted
        probability[t] = info.acceptance_prob
    return ChainTrace(
        positions.transpose(1, 0, 2), proposals.transpose(1, 0, 2), accepted.T, probability.T
    )


# diagnostics --------------------------------------------------------------------------------------

def autocorrelation(draws: Array, max_lag: int | None = None) -> Array:
    """ρ_t of one chain (biased estimator, as ArviZ/Stan), computed by FFT; ρ_0 = 1."""
    x = np.asarray(draws, dtype=float) - np.mean(draws)
    n = len(x)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / n
    rho = acov / acov[0] if acov[0] > 0 else np.zeros(n)
    return rho[: (max_lag or n - 1) + 1]


def _split(draws: Array) -> Array:
    """(C, n) -> (2C, n//2): each chain's first and second half (a middle odd draw dropped)."""
    draws = np.atleast_2d(np.asarray(draws, dtype=float))
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]])


def split_rhat(draws: Array) -> float:
    """Split-R̂ (BDA3): chains split in half; W = mean within-chain variance, B/n = variance of
    chain means, var⁺ = (n−1)/n·W + B/n, R̂ = √(var⁺/W)."""
    chains = _split(draws)
    n = chains.shape[1]
    if n < 2:
        return float("nan")
    within = np.mean(np.var(chains, axis=1, ddof=1))
    between_over_n = np.var(np.mean(chains, axis=1), ddof=1)
    if within == 0:
        return float("nan") if between_over_n > 0 else 1.0
    return float(np.sqrt(((n - 1) / n * within + between_over_n) / within))


def _rank_normalize(draws: Array) -> Array:
    """z = Φ⁻¹((rank − 3/8)/(S + 1/4)) over all draws pooled (Blom's offset, as ArviZ)."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    flat = np.asarray(draws, dtype=float).ravel()
    ranks = rankdata(flat, method="average")
    return ndtri((ranks - 0.375) / (len(flat) + 0.25)).reshape(np.shape(draws))


def rank_rhat(draws: Array) -> float:
    """Rank-normalized split-R̂: max of the bulk R̂ (on rank-normalized draws) and the tail R̂ (on
    rank-normalized |x − median|). Values above 1.01 suggest the chains have not mixed."""
    draws = np.atleast_2d(np.asarray(draws, dtype=float))
    bulk = split_rhat(_rank_normalize(draws))
    tail = split_rhat(_rank_normalize(np.abs(draws - np.median(draws))))
    return float(max(bulk, tail))


def ess(draws: Array) -> float:
    """Effective sample size of the mean over split chains (Stan/ArviZ "basic" ESS):
    ρ̂_t = 1 − (W − mean_c acov_c(t)) / var⁺, summed in pairs P_k = ρ̂_{2k} + ρ̂_{2k+1} while
    positive and made monotone (Geyer); τ = −1 + 2 Σ P_k; ESS = M·n/τ."""
    chains = _split(draws)
    m, n = chains.shape
    if n < 4:
        return float("nan")
    acov = np.array([autocorrelation(c) * np.var(c) for c in chains])  # biased, per chain
    chain_var = acov[:, 0] * n / (n - 1)
    within = np.mean(chain_var)
    var_plus = within * (n - 1) / n + (np.var(np.mean(chains, axis=1), ddof=1) if m > 1 else 0)
    if var_plus <= 0:
        return float("nan")
    rho = 1.0 - (within - np.mean(acov, axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[: n - n % 2].reshape(-1, 2).sum(axis=1)
    positive = np.argmax(pairs <= 0) if np.any(pairs <= 0) else len(pairs)
    pairs = np.minimum.accumulate(pairs[:max(positive, 1)])
    tau = max(-1.0 + 2.0 * np.sum(pairs), 1.0 / np.log10(m * n))
    return float(m * n / tau)


def mcse_mean(draws: Array) -> float:
    """Monte Carlo standard error of the mean: sd / √ESS."""
    return float(np.std(draws, ddof=1) / np.sqrt(ess(draws)))
