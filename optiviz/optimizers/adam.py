"""The Adam family: Adam, AdamW, Adamax, NAdam, RAdam (torch.optim single-tensor CPU path)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    Work,
    betas_param,
    bias_correction,
    copying,
    ema_square_,
    eps_param,
    gradient,
    lerp_,
    lr_param,
    nonzero,
    per_value,
    weight_decay_param,
    work_buffers,
    work_of,
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
    work: Work | None = None  # the step's work buffers (base.Work)


def _decayed_params_and_grad(params, hyper, oracle, decoupled: bool, work: Work):
    """Weight decay as torch applies it: decoupled ``θ ← θ·(1 − lr·λ)`` (in place) before the
    moments, or L2 ``g ← g + λ·θ``. The gradient (in ``work.grad``) is always taken at the
    un-decayed θ."""
    decay = hyper["weight_decay"]
    if decoupled:
        grad = gradient(params, hyper, oracle, out=work.grad)
        if nonzero(decay):
            params *= 1.0 - hyper["lr"] * decay
        return params, grad
    return params, gradient(params, hyper, oracle, decay, out=work.grad, scratch=work.tmp)


def init_adam(params: np.ndarray, hyper: dict) -> AdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamState(0, zeros, zeros.copy(), zeros.copy() if hyper["amsgrad"] else None,
                     work_buffers(params))


def update_adam(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.Adam.step()``; see :func:`adam_update`."""
    return adam_update(params, state, hyper, oracle, hyper["decoupled_weight_decay"])


def update_adamw(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.AdamW.step()``: Adam with decoupled decay
    θ ← θ·(1 − lr·λ)."""
    return adam_update(params, state, hyper, oracle, True)


def adam_update(params, state: AdamState, hyper: dict, oracle: Oracle, decoupled: bool):
    """Adam (Kingma & Ba 2015) in torch's order of operations:

        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²
        d = sqrt(v)/sqrt(1−β2^t) + eps          (amsgrad: vmax ← max(vmax, v) in place of v)
        θ ← θ − (lr/(1−β1^t))·m/d
    """
    beta1, beta2 = hyper["betas"]
    step = state.step + 1
    work = work_of(state, params)
    new_params, grad = _decayed_params_and_grad(params, hyper, oracle, decoupled, work)
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1, work.tmp)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2, work.tmp)
    step_size = hyper["lr"] / bias_correction(beta1, step)
    bias_correction2_sqrt = per_value(lambda beta: bias_correction(beta, step) ** 0.5, beta2)
    max_exp_avg_sq = state.max_exp_avg_sq
    denom = work.grad  # g is used up: its buffer holds the denominator
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        np.sqrt(max_exp_avg_sq, out=denom)
    else:
        np.sqrt(exp_avg_sq, out=denom)
    denom /= bias_correction2_sqrt
    denom += hyper["eps"]
    update = np.multiply(exp_avg, -step_size, out=work.tmp)
    update /= denom
    new_params += update
    return new_params, AdamState(step, exp_avg, exp_avg_sq, max_exp_avg_sq, work)


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
    step=copying(update_adam),
    step_in_place=update_adam,
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
    step=copying(update_adamw),
    step_in_place=update_adamw,
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
    work: Work | None = None


def init_adamax(params: np.ndarray, hyper: dict) -> AdamaxState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamaxState(0, zeros, zeros.copy(), work_buffers(params))


def update_adamax(params: np.ndarray, state: AdamaxState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.Adamax.step()`` (Kingma & Ba 2015, §7.1):

        m ← lerp(m, g, 1−β1);  u ← max(β2·u, |g| + eps)      (torch puts eps inside the max)
        θ ← θ − (lr/(1−β1^t))·m/u
    """
    beta1, beta2 = hyper["betas"]
    step = state.step + 1
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1, work.tmp)
    exp_inf = state.exp_inf
    exp_inf *= beta2
    magnitude = np.abs(grad, out=grad)
    magnitude += hyper["eps"]
    np.maximum(exp_inf, magnitude, out=exp_inf)
    clr = hyper["lr"] / bias_correction(beta1, step)
    update = np.multiply(exp_avg, -clr, out=work.tmp)
    update /= exp_inf
    params += update
    return params, AdamaxState(step, exp_avg, exp_inf, work)


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
    step=copying(update_adamax),
    step_in_place=update_adamax,
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
    work: Work | None = None


def init_nadam(params: np.ndarray, hyper: dict) -> NAdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return NAdamState(0, 1.0, zeros, zeros.copy(), work_buffers(params))


def update_nadam(params: np.ndarray, state: NAdamState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.NAdam.step()`` (Dozat 2016), with
    ψ = momentum_decay:

        μ_t = β1·(1 − ½·0.96^(t·ψ)),  Π ← Π·μ_t
        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²;  d = sqrt(v/(1−β2^t)) + eps
        θ ← θ − [lr·(1−μ_t)/(1−Π)]·g/d − [lr·μ_{t+1}/(1−Π·μ_{t+1})]·m/d
    """
    beta1, beta2 = hyper["betas"]
    lr, decay = hyper["lr"], hyper["momentum_decay"]
    step = state.step + 1
    bias_correction2 = bias_correction(beta2, step)
    work = work_of(state, params)
    new_params, grad = _decayed_params_and_grad(
        params, hyper, oracle, hyper["decoupled_weight_decay"], work
    )
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (float(step) * decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((float(step) + 1) * decay)))
    mu_product = state.mu_product * mu
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1, work.tmp)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2, work.tmp)
    denom = np.divide(exp_avg_sq, bias_correction2, out=work.tmp)
    np.sqrt(denom, out=denom)
    denom += hyper["eps"]
    mu_product_next = mu_product * mu_next
    grad *= -lr * (1.0 - mu) / (1.0 - mu_product)
    grad /= denom
    new_params += grad
    momentum_term = np.multiply(exp_avg, (-lr * mu_next) / (1.0 - mu_product_next),
                                out=work.grad)  # g is used up
    momentum_term /= denom
    new_params += momentum_term
    return new_params, NAdamState(step, mu_product, exp_avg, exp_avg_sq, work)


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
    step=copying(update_nadam),
    step_in_place=update_nadam,
    summary="NAdam, Adam with Nesterov momentum (Dozat 2016)",
    torch="torch.optim.NAdam",
    momentum_key="betas",
    per_run_hyper=PER_RUN,
    state_vectors=nadam_state_vectors,
)


def init_radam(params: np.ndarray, hyper: dict) -> AdamState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdamState(0, zeros, zeros.copy(), None, work_buffers(params))


def update_radam(params: np.ndarray, state: AdamState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.RAdam.step()`` (Liu et al. 2020):

        m ← lerp(m, g, 1−β1);  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t)
        ρ∞ = 2/(1−β2) − 1,  ρ_t = ρ∞ − 2t·β2^t/(1−β2^t)
        ρ_t > 5:  θ ← θ − lr·m̂·sqrt(1−β2^t)/(sqrt(v)+eps)·r_t,
                  r_t = sqrt((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t))
        else:     θ ← θ − lr·m̂           (the first ~5 steps with β2 = 0.999)
    """
    beta1, beta2 = hyper["betas"]
    lr = hyper["lr"]
    step = state.step + 1
    work = work_of(state, params)
    new_params, grad = _decayed_params_and_grad(
        params, hyper, oracle, hyper["decoupled_weight_decay"], work
    )
    exp_avg = lerp_(state.exp_avg, grad, 1.0 - beta1, work.tmp)
    exp_avg_sq = ema_square_(state.exp_avg_sq, grad, beta2, work.tmp)
    bias_correction1 = bias_correction(beta1, step)
    bias_correction2 = bias_correction(beta2, step)
    update = np.divide(exp_avg, bias_correction1, out=work.tmp)
    update *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * float(step) * (beta2 ** float(step)) / bias_correction2
    if rho_t > 5.0:
        adaptive_lr = np.sqrt(exp_avg_sq, out=work.grad)  # g is used up
        adaptive_lr += hyper["eps"]
        np.divide(bias_correction2**0.5, adaptive_lr, out=adaptive_lr)
        update *= adaptive_lr
        rect = math.pow(
            (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5
        )
        update *= rect
    new_params -= update
    return new_params, AdamState(step, exp_avg, exp_avg_sq, None, work)


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
    step=copying(update_radam),
    step_in_place=update_radam,
    summary="RAdam, rectified Adam (Liu et al. 2020)",
    torch="torch.optim.RAdam",
    momentum_key="betas",
    # betas stay shared: the rectification branches on ρ_t, a function of β2.
    per_run_hyper=frozenset({"lr", "eps", "weight_decay"}),
    state_vectors=radam_state_vectors,
)
