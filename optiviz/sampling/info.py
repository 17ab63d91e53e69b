"""Entropy, cross-entropy and KL divergence, in nats (REFERENCE.md §7).

Conventions: ``0·ln 0 = 0``; ``KL(p‖q) = +inf`` when some ``q_i = 0`` has ``p_i > 0``. Unlike
``scipy.stats.entropy(pk, qk)``, nothing here silently renormalizes its inputs.
"""

from __future__ import annotations

import numpy as np


def entropy(p: np.ndarray) -> float:
    """H(p) = −Σ p_i ln p_i."""
    p = np.asarray(p, dtype=float)
    positive = p > 0
    return float(-np.sum(p[positive] * np.log(p[positive])))


def cross_entropy(p: np.ndarray, q: np.ndarray) -> float:
    """H(p, q) = −Σ p_i ln q_i (= H(p) + KL(p‖q))."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    positive = p > 0
    if np.any(q[positive] <= 0):
        return float("inf")
    return float(-np.sum(p[positive] * np.log(q[positive])))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p‖q) = Σ p_i ln(p_i / q_i) ≥ 0."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    positive = p > 0
    if np.any(q[positive] <= 0):
        return float("inf")
    return float(np.sum(p[positive] * np.log(p[positive] / q[positive])))


def gaussian_kl(mean_p: float, std_p: float, mean_q: float, std_q: float) -> float:
    """KL(N(μp, σp²) ‖ N(μq, σq²)) = ln(σq/σp) + (σp² + (μp − μq)²)/(2σq²) − ½."""
    return float(
        np.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5
    )


def bin_probabilities(cdf, edges: np.ndarray) -> np.ndarray:
    """True probability of each bin [e_i, e_{i+1}); the tails beyond the outer edges are added to
    the outer bins so the probabilities sum to 1 (the empirical histogram covers everything)."""
    cumulative = np.asarray(cdf(edges), dtype=float)
    probabilities = np.diff(cumulative)
    probabilities[0] += cumulative[0]
    probabilities[-1] += 1.0 - cumulative[-1]
    return probabilities
