"""The Adam family: Adam, AdamW, Adamax, NAdam, RAdam (torch.optim single-tensor CPU path)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    betas_param,
    bias_correction,
    ema_square_,
    eps_param,
    gradient,
    lerp_,
    lr_param,
    nonzero,
    per_value,
    weight_decay_param,
)
from optiviz.registry import Param, nonnegative

DECOUPLED = Param(
    "decoupled_weight_decay", False, kind="bool", doc="decay θ ← θ(1 − lr·λ) instead of L2 (AdamW)"
)


class AdamState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m, first moment
    exp_avg_sq: np.ndarray  # v, second moment
    max_exp_avg_sq: np.ndarray | None  # amsgrad running max of v


def _decayed_params_and_grad(params, hyper, oracle, decoupled: bool):
    """Weight decay as torch applies it: decoupled ``θ ← θ·(1 − lr·λ)`` before the moments, or
    L2 ``g ← g + λ·θ``. The gradient is always taken at the un-decayed θ."""
    decay = hyper["weight_decay"]
    if decoupled:
        grad = gradient(params, hyper, oracle)
        params = params * (1.0 - hyper["lr"] * decay) if nonzero(decay) else params.copy()
        return params, grad
    return params.copy(), gradient(params, hyper, oracle, decay)


def init_adam(params: np.ndarray, hyper: dict) -> AdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamState(0, zeros, zeros.copy(), zeros.copy() if hyper["amsgrad"] else None)


def step_adam(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.Adam.step()``; see :func:`adam_update`."""
    return adam_update(params, state, hyper, oracle, hyper["decoupled_weight_decay"])


def step_adamw(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.AdamW.step()``: Adam with decoupled decay θ ← θ·(1 − lr·λ)."""
    return adam_update(params, state, hyper, oracle, True)


def adam_update(params, state: AdamState, hyper: dict, oracle: Oracle, decoupled: bool):
    """Adam (Kingma & Ba 2015) in torch's order of operations:

        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²
        d = sqrt(v)/sqrt(1−β2^t) + eps          (amsgrad: vmax ← max(vmax, v) in place of v)
        θ ← θ − (lr/(1−β1^t))·m/d
    """
    beta1, beta2 = hyper["betas"]
    step = state.step + 1
    new_params, grad = _decayed_params_and_grad(params, hyper, oracle, decoupled)
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2)
    step_size = hyper["lr"] / bias_correction(beta1, step)
    bias_correction2_sqrt = per_value(lambda beta: bias_correction(beta, step) ** 0.5, beta2)
    max_exp_avg_sq = state.max_exp_avg_sq
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = np.sqrt(max_exp_avg_sq)
    else:
        denom = np.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += hyper["eps"]
    update = (-step_size) * exp_avg
    update /= denom
    new_params += update
    return new_params, AdamState(step, exp_avg, exp_avg_sq, max_exp_avg_sq)


def adam_state_vectors(state: AdamState, hyper: dict) -> dict[str, np.ndarray]:
    """m, √v̂ = sqrt(v)/sqrt(1−β2^t) (amsgrad: of the running max) and the step before weight
    decay, lr·m̂/(√v̂+ε) = (lr/(1−β1^t))·m/(√v̂+ε), in :func:`adam_update`'s order."""
    beta1, beta2 = hyper["betas"]
    if state.step == 0:
        return {"velocity": state.exp_avg}
    second = state.exp_avg_sq if state.max_exp_avg_sq is None else state.max_exp_avg_sq
    sqrt_v = np.sqrt(second)
    sqrt_v /= per_value(lambda beta: bias_correction(beta, state.step) ** 0.5, beta2)
    effective = (hyper["lr"] / bias_correction(beta1, state.step)) * state.exp_avg
    effective /= sqrt_v + hyper["eps"]
    return {"velocity": state.exp_avg, "sqrt_v": sqrt_v, "effective_step": effective}


# Elementwise uses, and powers of betas computed per distinct value (base.per_value).
PER_RUN = frozenset({"lr", "betas", "eps", "weight_decay"})

AMSGRAD = Param("amsgrad", False, kind="bool", doc="use the running max of v (Reddi et al. 2018)")


ADAM = OptimizerSpec(
    name="adam",
    params=(lr_param(1e-3), betas_param(), eps_param(1e-8), weight_decay_param(), AMSGRAD,
            MAXIMIZE, DECOUPLED),
    init=init_adam,
    step=step_adam,
    summary="Adam (Kingma & Ba 2015)",
    torch="torch.optim.Adam",
    momentum_key="betas",
    per_run_hyper=PER_RUN,
    state_vectors=adam_state_vectors,
)

ADAMW = OptimizerSpec(
    name="adamw",
    params=(lr_param(1e-3), betas_param(), eps_param(1e-8),
            weight_decay_param(1e-2, "decoupled decay θ ← θ(1 − lr·λ)"), AMSGRAD, MAXIMIZE),
    init=init_adam,
    step=step_adamw,
    summary="AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019)",
    torch="torch.optim.AdamW",
    momentum_key="betas",
    per_run_hyper=PER_RUN,
    state_vectors=adam_state_vectors,
)


class AdamaxState(NamedTuple):
    step: int
    exp_avg: np.ndarray  # m
    exp_inf: np.ndarray  # u, exponentially weighted infinity norm


def init_adamax(params: np.ndarray, hyper: dict) -> AdamaxState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamaxState(0, zeros, zeros.copy())


def step_adamax(params: np.ndarray, state: AdamaxState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.Adamax.step()`` (Kingma & Ba 2015, §7.1):

        m ← lerp(m, g, 1−β1);  u ← max(β2·u, |g| + eps)      (torch puts eps inside the max)
        θ ← θ − (lr/(1−β1^t))·m/u
    """
    beta1, beta2 = hyper["betas"]
    step = state.step + 1
    grad = gradient(params, hyper, oracle, hyper["weight_decay"])
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1)
    exp_inf = state.exp_inf
    exp_inf *= beta2
    magnitude = np.abs(grad)
    magnitude += hyper["eps"]
    np.maximum(exp_inf, magnitude, out=exp_inf)
    clr = hyper["lr"] / bias_correction(beta1, step)
    update = (-clr) * exp_avg
    update /= exp_inf
    return params + update, AdamaxState(step, exp_avg, exp_inf)


def adamax_state_vectors(state: AdamaxState, hyper: dict) -> dict[str, np.ndarray]:
    """m, the infinity norm u (Adamax's √v̂) and the step (lr/(1−β1^t))·m/u."""
    if state.step == 0:
        return {"velocity": state.exp_avg}
    effective = (hyper["lr"] / bias_correction(hyper["betas"][0], state.step)) * state.exp_avg
    effective /= state.exp_inf
    return {"velocity": state.exp_avg, "sqrt_v": state.exp_inf, "effective_step": effective}


ADAMAX = OptimizerSpec(
    name="adamax",
    params=(lr_param(2e-3), betas_param(), eps_param(1e-8), weight_decay_param(), MAXIMIZE),
    init=init_adamax,
    step=step_adamax,
    summary="Adamax, Adam with the infinity norm (Kingma & Ba 2015)",
    torch="torch.optim.Adamax",
    momentum_key="betas",
    per_run_hyper=PER_RUN,
    state_vectors=adamax_state_vectors,
)


class NAdamState(NamedTuple):
    step: int
    mu_product: float | np.ndarray  # Π of the momentum schedule μ_1···μ_t (per run: a column)
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray


def init_nadam(params: np.ndarray, hyper: dict) -> NAdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return NAdamState(0, 1.0, zeros, zeros.copy())


def step_nadam(params: np.ndarray, state: NAdamState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.NAdam.step()`` (Dozat 2016), with ψ = momentum_decay:

        μ_t = β1·(1 − ½·0.96^(t·ψ)),  Π ← Π·μ_t
        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²;  d = sqrt(v/(1−β2^t)) + eps
        θ ← θ − [lr·(1−μ_t)/(1−Π)]·g/d − [lr·μ_{t+1}/(1−Π·μ_{t+1})]·m/d
    """
    beta1, beta2 = hyper["betas"]
    lr, decay = hyper["lr"], hyper["momentum_decay"]
    step = state.step + 1
    bias_correction2 = bias_correction(beta2, step)
    new_params, grad = _decayed_params_and_grad(
        params, hyper, oracle, hyper["decoupled_weight_decay"]
    )
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (float(step) * decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((float(step) + 1) * decay)))
    mu_product = state.mu_product * mu
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2)
    denom = exp_avg_sq / bias_correction2
    np.sqrt(denom, out=denom)
    denom += hyper["eps"]
    mu_product_next = mu_product * mu_next
    grad *= -lr * (1.0 - mu) / (1.0 - mu_product)
    grad /= denom
    new_params += grad
    momentum_term = ((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg
    momentum_term /= denom
    new_params += momentum_term
    return new_params, NAdamState(step, mu_product, exp_avg, exp_avg_sq)


def nadam_state_vectors(state: NAdamState, hyper: dict) -> dict[str, np.ndarray]:
    """m and √v̂ = sqrt(v/(1−β2^t)); NAdam's step mixes the current gradient into m's term, so
    it has no step made of the state alone."""
    if state.step == 0:
        return {"velocity": state.exp_avg}
    sqrt_v = state.exp_avg_sq / bias_correction(hyper["betas"][1], state.step)
    return {"velocity": state.exp_avg, "sqrt_v": np.sqrt(sqrt_v, out=sqrt_v)}


NADAM = OptimizerSpec(
    name="nadam",
    params=(
        lr_param(2e-3),
        betas_param(),
        eps_param(1e-8),
        weight_decay_param(),
        Param("momentum_decay", 4e-3, doc="ψ of the momentum schedule μ_t", check=nonnegative),
        DECOUPLED,
        MAXIMIZE,
    ),
    init=init_nadam,
    step=step_nadam,
    summary="NAdam, Adam with Nesterov momentum (Dozat 2016)",
    torch="torch.optim.NAdam",
    momentum_key="betas",
    per_run_hyper=PER_RUN,
    state_vectors=nadam_state_vectors,
)


def init_radam(params: np.ndarray, hyper: dict) -> AdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamState(0, zeros, zeros.copy(), None)


def step_radam(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.RAdam.step()`` (Liu et al. 2020):

        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t)
        ρ∞ = 2/(1−β2) − 1,  ρ_t = ρ∞ − 2t·β2^t/(1−β2^t)
        ρ_t > 5:  θ ← θ − lr·m̂·sqrt(1−β2^t)/(sqrt(v)+eps)·r_t,
                  r_t = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))
        else:     θ ← θ − lr·m̂           (the first ~5 steps with β2 = 0.999)
    """
    beta1, beta2 = hyper["betas"]
    lr = hyper["lr"]
    step = state.step + 1
    new_params, grad = _decayed_params_and_grad(
        params, hyper, oracle, hyper["decoupled_weight_decay"]
    )
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2)
    bias_correction1 = bias_correction(beta1, step)
    bias_correction2 = bias_correction(beta2, step)
    update = exp_avg / bias_correction1
    update *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * float(step) * (beta2 ** float(step)) / bias_correction2
    if rho_t > 5.0:
        adaptive_lr = np.sqrt(exp_avg_sq)
        adaptive_lr += hyper["eps"]
        np.divide(bias_correction2**0.5, adaptive_lr, out=adaptive_lr)
        update *= adaptive_lr
        rect = math.pow(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5
        )
        update *= rect
    new_params -= update
    return new_params, AdamState(step, exp_avg, exp_avg_sq, None)


def radam_state_vectors(state: AdamState, hyper: dict) -> dict[str, np.ndarray]:
    """m, √v̂ = sqrt(v)/sqrt(1−β2^t) and the rectified step of :func:`step_radam` (lr·m̂ while
    ρ_t <= 5)."""
    if state.step == 0:
        return {"velocity": state.exp_avg}
    beta1, beta2 = hyper["betas"]
    step = state.step
    bias_correction2 = bias_correction(beta2, step)
    sqrt_v = np.sqrt(state.exp_avg_sq)
    sqrt_v /= bias_correction2**0.5
    effective = state.exp_avg / bias_correction(beta1, step)
    effective *= hyper["lr"]
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * float(step) * (beta2 ** float(step)) / bias_correction2
    if rho_t > 5.0:
        adaptive_lr = np.sqrt(state.exp_avg_sq)
        adaptive_lr += hyper["eps"]
        np.divide(bias_correction2**0.5, adaptive_lr, out=adaptive_lr)
        effective *= adaptive_lr
        effective *= math.pow(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5
        )
    return {"velocity": state.exp_avg, "sqrt_v": sqrt_v, "effective_step": effective}


RADAM = OptimizerSpec(
    name="radam",
    params=(
        lr_param(1e-3),
        betas_param(),
        eps_param(1e-8),
        weight_decay_param(),
        DECOUPLED,
        MAXIMIZE,
    ),
    init=init_radam,
    step=step_radam,
    summary="RAdam, rectified Adam (Liu et al. 2020)",
    torch="torch.optim.RAdam",
    momentum_key="betas",
    # betas stay shared: the rectification branches on ρ_t, a function of β2.
    per_run_hyper=frozenset({"lr", "eps", "weight_decay"}),
    state_vectors=radam_state_vectors,
)
