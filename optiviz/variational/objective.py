"""Divergences between a Gaussian q and the target p, their exact values and gradients, and the
Monte Carlo gradient estimators (formulas: ``docs/ARCHITECTURE.md``, the variational section).

q = N(m, L Lᵀ) with z = m + L ε, ε ~ N(0, I). A :class:`Family` maps the d unconstrained
parameters to (m, L): the diagonal of L is stored as its log. Expectations under q are
Gauss–Hermite sums (200 nodes in 1-D, 48 × 48 in 2-D), so that ``exact`` values and gradients
are the derivative of the same sum a torch loop would differentiate.

- reverse: KL(q‖p) = H(q, p) − H(q), H(q, p) = −E_q[log p(z)], H(q) = k/2·log(2πe) + log|L|.
  Gradients: exact, pathwise by quadrature; ``reparam`` the same with K draws of ε (entropy
  term exact); ``score`` (REINFORCE) E_q[(log q − log p)∇θ log q] with a leave-one-out baseline
  (unbiased).
- forward: KL(p‖q) = H(p, q) − H(p), H(p, q) = k/2·log 2π + log|L| + ½ tr(Σ⁻¹ S),
  S = Cov_p + (E_p − m)(E_p − m)ᵀ: closed form from p's moments; Monte Carlo with K draws
  from p (both estimators coincide: the expectation is under p, which θ does not move).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from optiviz.variational.targets import Target

Array = np.ndarray

NODES_1D = 200
NODES_2D = 48
NEGLIGIBLE_WEIGHT = 1e-22
HESSIAN_STEP = 1e-5  # central differences of the exact gradient (Newton, HVP optimizers)


@dataclass(frozen=True)
class Family:
    """A Gaussian family: ``dim`` (k, of z) means first, then the entries of L as
    ``(row, column, stored as log)``; ``param_names`` name the d parameters."""

    name: str
    dim: int
    param_names: tuple[str, ...]
    scale_entries: tuple[tuple[int, int, bool], ...]
    summary: str = ""

    @property
    def d(self) -> int:
        return self.dim + len(self.scale_entries)

    def unpack(self, params: Array) -> tuple[Array, Array]:
        """(N, d) -> means (N, k) and lower-triangular L (N, k, k)."""
        params = np.asarray(params, dtype=float)
        k = self.dim
        scale = np.zeros(params.shape[:-1] + (k, k))
        for index, (row, column, log) in enumerate(self.scale_entries):
            value = params[..., k + index]
            scale[..., row, column] = np.exp(value) if log else value
        return params[..., :k], scale

    def scale_slopes(self, params: Array) -> Array:
        """∂L[row, col]/∂θ for each scale entry: (N, entries)."""
        k = self.dim
        columns = [np.exp(params[..., k + i]) if log else np.ones(params.shape[:-1])
                   for i, (_, _, log) in enumerate(self.scale_entries)]
        return np.stack(columns, axis=-1)

    def log_det(self, params: Array) -> Array:
        k = self.dim
        return sum(params[..., k + i] for i, (r, c, log) in enumerate(self.scale_entries)
                   if r == c)

    def entropy(self, params: Array) -> Array:
        """H(q) = k/2·log(2πe) + log|L| (nats)."""
        return 0.5 * self.dim * math.log(2 * math.pi * math.e) + self.log_det(params)

    def entropy_grad(self) -> Array:
        grad = np.zeros(self.d)
        for i, (r, c, _) in enumerate(self.scale_entries):
            if r == c:
                grad[self.dim + i] = 1.0
        return grad

    def chain(self, params: Array, grad_z: Array, eps: Array) -> Array:
        """∂/∂θ of f(z(θ, ε)) given ∇f at z: ``grad_z`` and ``eps`` (..., k) -> (..., d).
        ``params`` broadcasts against the leading axes."""
        slopes = self.scale_slopes(params)
        parts = [grad_z[..., i] for i in range(self.dim)]
        for i, (row, column, _) in enumerate(self.scale_entries):
            parts.append(grad_z[..., row] * eps[..., column] * slopes[..., i])
        return np.stack(parts, axis=-1)

    def scale_grad(self, params: Array, grad_l: Array) -> Array:
        """A gradient with respect to the entries of L (..., k, k) as one over θ's scale part."""
        slopes = self.scale_slopes(params)
        return np.stack([grad_l[..., r, c] * slopes[..., i]
                         for i, (r, c, _) in enumerate(self.scale_entries)], axis=-1)


FAMILIES_1D = {
    "gaussian": Family("gaussian", 1, ("mu", "log_sigma"), ((0, 0, True),),
                       "q = N(μ, σ²), parameters (μ, log σ)"),
}
FAMILIES_2D = {
    "gaussian": Family("gaussian", 2, ("mu1", "mu2", "log_l11", "l21", "log_l22"),
                       ((0, 0, True), (1, 0, False), (1, 1, True)),
                       "full covariance Σ = L Lᵀ, L = [[e^a, 0], [c, e^b]]: (μ₁, μ₂, a, c, b)"),
    "diagonal": Family("diagonal", 2, ("mu1", "mu2", "log_sigma1", "log_sigma2"),
                       ((0, 0, True), (1, 1, True)),
                       "diagonal covariance: (μ₁, μ₂, log σ₁, log σ₂)"),
}


def family_for(name: str, dim: int) -> Family | None:
    return (FAMILIES_1D if dim == 1 else FAMILIES_2D).get(name)


def inverse_lower(scale: Array) -> Array:
    """The inverse of lower-triangular 1x1 or 2x2 matrices (..., k, k), elementwise: a zero
    diagonal (σ underflowed) gives inf/NaN entries, which make the run diverge, instead of
    numpy's LinAlgError for the whole batch."""
    out = np.zeros_like(scale)
    with np.errstate(all="ignore"):
        out[..., 0, 0] = 1.0 / scale[..., 0, 0]
        if scale.shape[-1] == 2:
            out[..., 1, 1] = 1.0 / scale[..., 1, 1]
            out[..., 1, 0] = -scale[..., 1, 0] * out[..., 0, 0] * out[..., 1, 1]
    return out


def quadrature_nodes(dim: int) -> int:
    """How many nodes :func:`quadrature` keeps (what one exact expectation costs)."""
    return int(quadrature(dim)[1].size)


def quadrature(dim: int) -> tuple[Array, Array]:
    """Standard-normal nodes ε (M, k) and weights (M,) summing to 1. Nodes whose weight is
    under ``NEGLIGIBLE_WEIGHT`` are left out: they change no sum by more than that times
    log p there, and far out (|ε| > 9) a density that underflows to 0 would make the whole sum
    infinite."""
    x, w = np.polynomial.hermite.hermgauss(NODES_1D if dim == 1 else NODES_2D)
    eps, weights = math.sqrt(2.0) * x, w / math.sqrt(math.pi)
    if dim == 1:
        nodes, weights = eps[:, None], weights
    else:
        e1, e2 = np.meshgrid(eps, eps, indexing="ij")
        nodes = np.stack([e1.ravel(), e2.ravel()], axis=-1)
        weights = np.outer(weights, weights).ravel()
    kept = weights >= NEGLIGIBLE_WEIGHT
    return nodes[kept], weights[kept]


def log_q_at(family: Family, params: Array, eps: Array) -> Array:
    """log q(z) at z = m + Lε, (N, M): −k/2·log 2π − log|L| − ½|ε|²."""
    return (-0.5 * family.dim * math.log(2 * math.pi) - family.log_det(params)[..., None]
            - 0.5 * np.sum(eps * eps, axis=-1))


def points(family: Family, params: Array, eps: Array) -> Array:
    """z = m + L ε for every run and node: (N, M, k)."""
    mean, scale = family.unpack(params)
    return mean[:, None, :] + np.einsum("nij,mj->nmi", scale, eps) if eps.ndim == 2 else \
        mean[:, None, :] + np.einsum("nij,nmj->nmi", scale, eps)


class Divergence(ABC):
    """The reverse or forward KL between the family's q and the target, on (N, d) params
    (:class:`ReverseKL`, :class:`ForwardKL`)."""

    name = ""

    def __init__(self, target: Target, family: Family):
        self.target = target
        self.family = family
        self.eps, self.weights = quadrature(family.dim)

    def value(self, params: Array) -> Array:
        return self.parts(params)[0]

    @abstractmethod
    def parts(self, params: Array) -> tuple[Array, Array, Array]:
        """(KL, cross-entropy, entropy) at each row: KL = cross − entropy."""
        ...

    @abstractmethod
    def grad(self, params: Array) -> Array:
        ...

    @abstractmethod
    def estimate(self, params: Array, draws: Array, estimator: str) -> Array:
        """A Monte Carlo gradient from ``draws`` (N, K, k): ε for reverse, p's samples for
        forward."""
        ...

    @abstractmethod
    def draw(self, rng: np.random.Generator, rows: int, samples: int) -> Array:
        ...

    @abstractmethod
    def spread(self, params: Array, samples: int) -> Array:
        """Standard deviation of the ``samples``-draw Monte Carlo estimate of the objective."""
        ...


class ReverseKL(Divergence):
    """KL(q‖p) = −E_q[log p] − H(q) (the negative ELBO plus log Z)."""

    name = "reverse"
    title = "KL(q‖p)"

    def parts(self, params: Array) -> tuple[Array, Array, Array]:
        params = np.asarray(params, dtype=float)
        with np.errstate(all="ignore"):
            log_p = self.target.logp(points(self.family, params, self.eps))
            cross = -(log_p @ self.weights)
        entropy = self.family.entropy(params)
        return cross - entropy, cross, entropy

    def grad(self, params: Array) -> Array:
        params = np.asarray(params, dtype=float)
        with np.errstate(all="ignore"):
            g = self.target.grad_logp(points(self.family, params, self.eps))
            path = self.family.chain(params[:, None, :], g, self.eps[None])
            return -np.einsum("nmd,m->nd", path, self.weights) - self.family.entropy_grad()

    def draw(self, rng: np.random.Generator, rows: int, samples: int) -> Array:
        return rng.standard_normal((rows, samples, self.family.dim))

    def estimate(self, params: Array, draws: Array, estimator: str) -> Array:
        params = np.asarray(params, dtype=float)
        z = points(self.family, params, draws)
        with np.errstate(all="ignore"):
            if estimator == "reparam":
                g = self.target.grad_logp(z)
                path = self.family.chain(params[:, None, :], g, draws)
                return -path.mean(axis=1) - self.family.entropy_grad()
            # score function with a leave-one-out baseline
            f = log_q_at(self.family, params, draws) - self.target.logp(z)  # (N, K)
            scores = self.score(params, draws)
            count = draws.shape[1]
            if count > 1:
                baseline = (f.sum(axis=1, keepdims=True) - f) / (count - 1)
            else:
                baseline = 0.0
            return np.einsum("nk,nkd->nd", f - baseline, scores) / count

    def score(self, params: Array, eps: Array) -> Array:
        """∇θ log q(z) at z = m + Lε held fixed: (N, K, d). ∇_m = L⁻ᵀε,
        ∇_L = tril(L⁻ᵀ ε εᵀ) − diag(1/L_ii)."""
        _, scale = self.family.unpack(params)
        inverse_t = np.swapaxes(inverse_lower(scale), -1, -2)  # (N, k, k)
        mean_part = np.einsum("nij,nkj->nki", inverse_t, eps)
        grad_l = mean_part[..., :, None] * eps[..., None, :]
        diagonal = 1.0 / np.diagonal(scale, axis1=-2, axis2=-1)  # (N, k)
        k = self.family.dim
        grad_l[..., np.arange(k), np.arange(k)] -= diagonal[:, None, :]
        scale_part = self.family.scale_grad(params[:, None, :], grad_l)
        return np.concatenate([mean_part, scale_part], axis=-1)

    def spread(self, params: Array, samples: int) -> Array:
        params = np.asarray(params, dtype=float)
        with np.errstate(all="ignore"):
            f = (log_q_at(self.family, params, self.eps)
                 - self.target.logp(points(self.family, params, self.eps)))
            mean = f @ self.weights
            variance = np.maximum((f * f) @ self.weights - mean * mean, 0.0)
        return np.sqrt(variance / samples)


class ForwardKL(Divergence):
    """KL(p‖q) = H(p, q) − H(p), from p's mean and covariance."""

    name = "forward"
    title = "KL(p‖q)"

    def __init__(self, target: Target, family: Family, reference: Array | None = None):
        super().__init__(target, family)
        k = family.dim
        self.p_mean = np.asarray(target.mean, dtype=float).reshape(k)
        self.p_cov = np.asarray(target.cov, dtype=float).reshape(k, k)
        self.reference = reference  # p's draws for the spread of the Monte Carlo objective

    def _cross(self, params: Array, mean_p: Array, second: Array) -> tuple[Array, Array, Array]:
        """H(p, q) given E_p[z] (N, k) and Cov-like S about E_p (N, k, k); also Σ⁻¹, L."""
        mean, scale = self.family.unpack(params)
        inverse = inverse_lower(scale)
        precision = np.swapaxes(inverse, -1, -2) @ inverse  # Σ⁻¹ = L⁻ᵀ L⁻¹
        delta = mean_p - mean
        s = second + delta[..., :, None] * delta[..., None, :]
        cross = (0.5 * self.family.dim * math.log(2 * math.pi) + self.family.log_det(params)
                 + 0.5 * np.einsum("nij,nji->n", precision, s))
        return cross, precision, s

    def parts(self, params: Array) -> tuple[Array, Array, Array]:
        params = np.asarray(params, dtype=float)
        n = params.shape[0]
        with np.errstate(all="ignore"):
            cross, _, _ = self._cross(params, np.broadcast_to(self.p_mean, (n, self.family.dim)),
                                      np.broadcast_to(self.p_cov, (n,) + self.p_cov.shape))
        entropy = np.full(n, self.target.entropy)
        return cross - entropy, cross, entropy

    def _grad_from(self, params: Array, mean_p: Array, second: Array) -> Array:
        mean, scale = self.family.unpack(params)
        _, precision, s = self._cross(params, mean_p, second)
        grad_m = -np.einsum("nij,nj->ni", precision, mean_p - mean)
        # ∂/∂L [log|L| + ½ tr(Σ⁻¹S)] = diag(1/L_ii) − Σ⁻¹ S Σ⁻¹ L (lower part)
        grad_l = -precision @ s @ precision @ scale
        k = self.family.dim
        grad_l[..., np.arange(k), np.arange(k)] += 1.0 / np.diagonal(scale, axis1=-2, axis2=-1)
        return np.concatenate([grad_m, self.family.scale_grad(params, grad_l)], axis=-1)

    def grad(self, params: Array) -> Array:
        params = np.asarray(params, dtype=float)
        n = params.shape[0]
        with np.errstate(all="ignore"):
            return self._grad_from(params, np.broadcast_to(self.p_mean, (n, self.family.dim)),
                                   np.broadcast_to(self.p_cov, (n,) + self.p_cov.shape))

    def draw(self, rng: np.random.Generator, rows: int, samples: int) -> Array:
        drawn = np.asarray(self.target.sample(rng, rows * samples), dtype=float)
        return drawn.reshape(rows, samples, self.family.dim)

    def estimate(self, params: Array, draws: Array, estimator: str) -> Array:
        """∇θ of −(1/K) Σ log q(x_k), x_k ~ p: the closed form with p's moments replaced by
        the draws' mean and scatter."""
        params = np.asarray(params, dtype=float)
        mean_p = draws.mean(axis=1)
        centred = draws - mean_p[:, None, :]
        second = np.einsum("nki,nkj->nij", centred, centred) / draws.shape[1]
        with np.errstate(all="ignore"):
            return self._grad_from(params, mean_p, second)

    def spread(self, params: Array, samples: int) -> Array:
        if self.reference is None:
            return np.full(np.asarray(params).shape[0], np.nan)
        mean, scale = self.family.unpack(np.asarray(params, dtype=float))
        with np.errstate(all="ignore"):
            u = np.einsum("nij,nrj->nri", inverse_lower(scale),
                          self.reference[None] - mean[:, None, :])
            f = 0.5 * np.sum(u * u, axis=-1)  # −log q up to a per-run constant
        return f.std(axis=1) / math.sqrt(samples)


def make_divergence(name: str, target: Target, family: Family, seed: int = 0) -> Divergence:
    if name == "reverse":
        return ReverseKL(target, family)
    reference = None
    if target.sample is not None:
        reference = np.asarray(target.sample(np.random.default_rng([seed, 7]), 4096),
                               dtype=float).reshape(4096, family.dim)
    return ForwardKL(target, family, reference)


class VariationalObjective:
    """What the engine optimizes: one divergence over (N, d) parameters. ``grad`` is exact or a
    Monte Carlo estimate with ``samples`` draws from this objective's own generator (seeded by
    the experiment's seed, the divergence and the optimizer entry: deterministic per config);
    ``value`` is always exact (the recorded objective, line searches)."""

    def __init__(self, divergence: Divergence, gradient: str, samples: int,
                 rng: np.random.Generator | None = None):
        self.divergence = divergence
        self.family = divergence.family
        self.dim = self.family.d
        self.param_names = self.family.param_names
        self.gradient = gradient
        self.samples = samples
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def value(self, params: Array) -> Array:
        return self.divergence.value(params)

    def exact_grad(self, params: Array) -> Array:
        return self.divergence.grad(params)

    def grad(self, params: Array) -> Array:
        params = np.asarray(params, dtype=float)
        if self.gradient == "exact":
            return self.divergence.grad(params)
        draws = self.divergence.draw(self.rng, params.shape[0], self.samples)
        return self.divergence.estimate(params, draws, self.gradient)

    def value_and_grad(self, params: Array) -> tuple[Array, Array]:
        return self.value(params), self.grad(params)

    def hessian(self, params: Array) -> Array:
        """Central differences of the exact gradient, symmetrized: (N, d, d)."""
        params = np.asarray(params, dtype=float)
        n, d = params.shape
        out = np.empty((n, d, d))
        for j in range(d):
            step = np.zeros(d)
            step[j] = HESSIAN_STEP
            out[:, :, j] = (self.exact_grad(params + step)
                            - self.exact_grad(params - step)) / (2 * HESSIAN_STEP)
        return 0.5 * (out + np.swapaxes(out, 1, 2))
