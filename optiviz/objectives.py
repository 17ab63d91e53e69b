"""Dataset objectives: a loss over (w, b) from generated data, for batch, stochastic and
mini-batch gradient descent.

Both objectives fit the 1-D model z_i = w·x_i + b to n samples (x_i, t_i) drawn from
``np.random.default_rng(seed)`` with x_i ~ N(0, 1):

- ``linear_regression``: t_i = w·x_i + b + noise·ε_i, ε_i ~ N(0, 1);
  loss L(w, b) = (1/n) Σ ½ (z_i − t_i)²  (half the mean squared error: ∇L = mean((z − t)·(x, 1))).
- ``logistic_regression``: t_i = 1[w·x_i + b + noise·ε_i > 0], ε_i ~ Logistic(0, 1) (noise = 1 is
  exactly the logistic model); loss L = (1/n) Σ log(1 + e^{z_i}) − t_i·z_i  (mean binary
  cross-entropy, evaluated stably with logaddexp).

Both are generalized linear losses ℓ(z, t), so with ℓ', ℓ'' the derivatives in z:
∇L = mean(ℓ'·(x, 1)), H = mean(ℓ''·[[x², x], [x, 1]]). ``batch_value`` / ``batch_grad`` take the
same means over a subset of sample indices (the engine's mini-batches), vectorized over runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optiviz.errors import ConfigError, KeyPath
from optiviz.functions import Function, Point, num, register
from optiviz.registry import Param, positive

# Elements of one (runs × samples) block: bounds memory for dense contour grids.
BLOCK_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class SampleLoss:
    """ℓ(z, t) and its first two derivatives in z, elementwise."""

    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    slope: Callable[[np.ndarray, np.ndarray], np.ndarray]
    curvature: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1/(1 + e^{−z}) without overflow


SQUARED = SampleLoss(
    value=lambda z, t: 0.5 * (z - t) ** 2,
    slope=lambda z, t: z - t,
    curvature=lambda z, t: np.ones_like(z),
)

CROSS_ENTROPY = SampleLoss(
    value=lambda z, t: np.logaddexp(0.0, z) - t * z,
    slope=lambda z, t: _sigmoid(z) - t,
    curvature=lambda z, t: _sigmoid(z) * _sigmoid(-z),
)


def sample_means(
    w: np.ndarray, b: np.ndarray, features: np.ndarray, targets: np.ndarray, loss: SampleLoss,
    order: int,
) -> tuple[np.ndarray, ...]:
    """Means over the samples at every (w, b) (broadcast shape S):
    order 0 -> (L,), 1 -> (∂w L, ∂b L), 2 -> (∂ww L, ∂wb L, ∂bb L), each of shape S."""
    w = np.asarray(w, dtype=float)
    b = np.asarray(b, dtype=float)
    shape = np.broadcast_shapes(w.shape, b.shape)
    w_flat = np.broadcast_to(w, shape).reshape(-1)
    b_flat = np.broadcast_to(b, shape).reshape(-1)
    outputs = (1, 2, 3)[order]
    means = np.empty((outputs, w_flat.size))
    rows = max(1, BLOCK_ELEMENTS // max(1, features.size))
    with np.errstate(all="ignore"):
        for start in range(0, w_flat.size, rows):
            block = slice(start, start + rows)
            z = w_flat[block, None] * features + b_flat[block, None]
            if order == 0:
                means[0, block] = loss.value(z, targets).mean(axis=1)
            elif order == 1:
                slope = loss.slope(z, targets)
                means[0, block] = (slope * features).mean(axis=1)
                means[1, block] = slope.mean(axis=1)
            else:
                curvature = loss.curvature(z, targets)
                means[0, block] = (curvature * features * features).mean(axis=1)
                means[1, block] = (curvature * features).mean(axis=1)
                means[2, block] = curvature.mean(axis=1)
    return tuple(row.reshape(shape) for row in means)


@dataclass(frozen=True, eq=False)
class DatasetObjective(Function):
    """A Function of (w, b) averaged over a data set, with mini-batch access for the engine."""

    features: np.ndarray = field(default_factory=lambda: np.zeros(0))
    targets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    loss: SampleLoss = SQUARED

    @property
    def n_samples(self) -> int:
        return int(self.features.size)

    def batch_value(self, w: np.ndarray, b: np.ndarray, indices: np.ndarray) -> np.ndarray:
        """Mean loss over the samples ``indices`` (shape (B,)) at each run's (w, b)."""
        indices = np.asarray(indices)
        (value,) = sample_means(w, b, self.features[indices], self.targets[indices], self.loss, 0)
        return value

    def batch_grad(
        self, w: np.ndarray, b: np.ndarray, indices: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean gradient over the samples ``indices`` (shape (B,)) at each run's (w, b)."""
        indices = np.asarray(indices)
        return sample_means(w, b, self.features[indices], self.targets[indices], self.loss, 1)


def _objective(
    name: str,
    title: str,
    formula: str,
    features: np.ndarray,
    targets: np.ndarray,
    loss: SampleLoss,
    best: tuple[float, float],
    params: dict,
    log_scale: bool,
) -> DatasetObjective:
    def value(w, b):
        return sample_means(w, b, features, targets, loss, 0)[0]

    def grad(w, b):
        return sample_means(w, b, features, targets, loss, 1)

    def hessian(w, b):
        return sample_means(w, b, features, targets, loss, 2)

    best_value = float(value(*best))
    # Centred on the fit, wide enough to show the origin, where runs usually start.
    half = max(3.0, 1.5 * max(abs(best[0]), abs(best[1])))
    return DatasetObjective(
        name=name,
        title=title,
        formula=formula,
        value=value,
        grad=grad,
        hessian=hessian,
        domain=((best[0] - half, best[0] + half), (best[1] - half, best[1] + half)),
        points=(Point(best[0], best[1], best_value, "global minimum"),),
        log_scale=log_scale,
        minimum=best_value,
        params=params,
        xlabel="w",
        ylabel="b",
        features=features,
        targets=targets,
        loss=loss,
    )


def _sample_count(v: int) -> str | None:
    return None if 2 <= v <= 100_000 else "must be between 2 and 100000"


_SHARED_PARAMS = (
    Param("samples", 200, kind="int", check=_sample_count, doc="number of data points"),
    Param("w", 2.0, doc="true slope"),
    Param("b", -1.0, doc="true intercept"),
)


@register(
    "linear_regression",
    _SHARED_PARAMS + (Param("noise", 0.5, check=lambda v: None if v >= 0 else "must be >= 0",
                            doc="standard deviation of the target noise"),),
    "½·mean squared error of a line w·x + b fitted to noisy data",
    aliases=("linreg",),
    seeded=True,
)
def linear_regression(
    samples: int, w: float, b: float, noise: float, seed: int = 0, path: KeyPath = ()
) -> DatasetObjective:
    """L(w, b) = (1/2n) Σ (w·x_i + b − t_i)²; minimum: the least-squares fit, from the normal
    equations [[E x², E x], [E x, 1]]·(w, b) = (E x·t, E t)."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal(samples)
    targets = w * features + b + noise * rng.standard_normal(samples)
    normal = np.array([[np.mean(features**2), np.mean(features)], [np.mean(features), 1.0]])
    moments = np.array([np.mean(features * targets), np.mean(targets)])
    best = np.linalg.solve(normal, moments)
    return _objective(
        "linear_regression",
        f"Linear regression ({samples} samples, noise {num(noise)})",
        r"$\frac{1}{2n}\sum_i (w x_i + b - t_i)^2$",
        features, targets, SQUARED,
        (float(best[0]), float(best[1])),
        {"samples": samples, "w": w, "b": b, "noise": noise, "seed": seed},
        log_scale=True,
    )


@register(
    "logistic_regression",
    _SHARED_PARAMS + (Param("noise", 1.0, check=positive,
                            doc="scale of the logistic label noise (1: the logistic model)"),),
    "mean binary cross-entropy of a logistic classifier σ(w·x + b)",
    aliases=("logreg",),
    seeded=True,
)
def logistic_regression(
    samples: int, w: float, b: float, noise: float, seed: int = 0, path: KeyPath = ()
) -> DatasetObjective:
    """L(w, b) = (1/n) Σ log(1 + e^{z_i}) − t_i·z_i, z_i = w·x_i + b; minimum: the maximum
    likelihood fit, by damped Newton steps (L is convex; the fit is finite unless the labels
    are linearly separable, which we report as a ConfigError)."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal(samples)
    targets = (w * features + b + noise * rng.logistic(size=samples) > 0).astype(float)
    best = None if _separable(features, targets) else _newton_fit(features, targets, CROSS_ENTROPY)
    if best is None:
        raise ConfigError(
            "the generated labels are linearly separable, so the loss has no minimum; "
            "raise 'noise' or 'samples', or change the seed",
            path,
        )
    return _objective(
        "logistic_regression",
        f"Logistic regression ({samples} samples, noise {num(noise)})",
        r"$\frac{1}{n}\sum_i \log(1+e^{z_i}) - t_i z_i,\ z_i = w x_i + b$",
        features, targets, CROSS_ENTROPY,
        best,
        {"samples": samples, "w": w, "b": b, "noise": noise, "seed": seed},
        log_scale=False,
    )


def _separable(features: np.ndarray, targets: np.ndarray) -> bool:
    """Whether a threshold on x splits the labels perfectly (then the MLE runs off to ±∞)."""
    positive, negative = features[targets == 1], features[targets == 0]
    if positive.size == 0 or negative.size == 0:
        return True
    return bool(negative.max() <= positive.min() or positive.max() <= negative.min())


def _newton_fit(
    features: np.ndarray, targets: np.ndarray, loss: SampleLoss, iterations: int = 100
) -> tuple[float, float] | None:
    """Minimize a convex GLM loss by Newton steps with backtracking; None if it runs off to
    infinity (no finite minimizer)."""
    theta = np.zeros(2)

    def at(point: np.ndarray, order: int) -> tuple[np.ndarray, ...]:
        return sample_means(point[0], point[1], features, targets, loss, order)

    current = float(at(theta, 0)[0])
    for _ in range(iterations):
        gw, gb = at(theta, 1)
        hww, hwb, hbb = at(theta, 2)
        gradient = np.array([float(gw), float(gb)])
        hessian = np.array([[float(hww), float(hwb)], [float(hwb), float(hbb)]])
        if np.max(np.abs(gradient)) < 1e-13:
            return float(theta[0]), float(theta[1])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return None
        scale = 1.0
        while scale > 1e-10:
            candidate = theta - scale * step
            value = float(at(candidate, 0)[0])
            if value <= current:
                break
            scale *= 0.5
        theta, current = candidate, value
        if not np.all(np.isfinite(theta)) or np.max(np.abs(theta)) > 1e6:
            return None
        if np.max(np.abs(scale * step)) < 1e-15 * (1 + np.max(np.abs(theta))):
            break
    gw, gb = at(theta, 1)
    if math.hypot(float(gw), float(gb)) > 1e-8:
        return None
    return float(theta[0]), float(theta[1])
