"""Per-coordinate adaptive step sizes: Adagrad, RMSprop, Adadelta (torch.optim)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    copying,
    ema_square_,
    eps_param,
    gradient,
    lerp_,
    lr_param,
    nonzero,
    weight_decay_param,
    work_buffers,
    work_of,
)
from optiviz.registry import Param, in_range, nonnegative


class AdagradState(NamedTuple):
    step: int
    sum: np.ndarray  # running sum of squared gradients
    work: Any = None  # the step's work buffers (base.Work)


def init_adagrad(params: np.ndarray, hyper: dict) -> AdagradState:
    initial = hyper["initial_accumulator_value"]
    return AdagradState(0, np.full_like(params, initial, dtype=np.float64), work_buffers(params))


def update_adagrad(params: np.ndarray, state: AdagradState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.Adagrad.step()`` (Duchi et al. 2011):

        clr = lr / (1 + (t−1)·lr_decay);  S ← S + g²
        θ ← θ − clr·g/(sqrt(S) + eps)
    """
    step = state.step + 1
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    clr = hyper["lr"] / (1 + (float(step) - 1) * hyper["lr_decay"])
    total = state.sum
    total += np.multiply(grad, grad, out=work.tmp)
    std = np.sqrt(total, out=work.tmp)
    std += hyper["eps"]
    grad *= -clr
    grad /= std
    params += grad
    return params, AdagradState(step, total, work)


def adagrad_state_vectors(state: AdagradState, hyper: dict) -> dict[str, np.ndarray]:
    """√S, the root of the running sum of squared gradients each step divides by."""
    return {"sqrt_v": np.sqrt(state.sum)}


ADAGRAD = OptimizerSpec(
    name="adagrad",
    params=(
        lr_param(1e-2),
        Param("lr_decay", 0.0, doc="lr ← lr/(1 + (t−1)·lr_decay)", check=nonnegative),
        weight_decay_param(),
        Param(
            "initial_accumulator_value", 0.0, doc="starting value of the sum", check=nonnegative
        ),
        eps_param(1e-10),
        MAXIMIZE,
    ),
    init=init_adagrad,
    step=copying(update_adagrad),
    step_in_place=update_adagrad,
    summary="Adagrad (Duchi, Hazan & Singer 2011)",
    torch="torch.optim.Adagrad",
    per_run_hyper=frozenset(
        {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"}
    ),
    state_vectors=adagrad_state_vectors,
)


class RMSpropState(NamedTuple):
    square_avg: np.ndarray  # v
    grad_avg: np.ndarray | None  # ḡ, centered only
    momentum_buffer: np.ndarray | None  # starts at 0 (unlike SGD's)
    work: Any = None  # the step's work buffers (base.Work)


def init_rmsprop(params: np.ndarray, hyper: dict) -> RMSpropState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return RMSpropState(
        zeros,
        zeros.copy() if hyper["centered"] else None,
        zeros.copy() if nonzero(hyper["momentum"]) else None,
        work_buffers(params),
    )


def update_rmsprop(params: np.ndarray, state: RMSpropState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.RMSprop.step()`` (Hinton 2012; centered:
    Graves 2013):

        v ← α·v + (1−α)·g²;  d = sqrt(v) + eps
        (centered: ḡ ← lerp(ḡ, g, 1−α), d = sqrt(v − ḡ²) + eps)
        μ > 0:  b ← μ·b + g/d,  θ ← θ − lr·b;   else  θ ← θ − lr·g/d
    """
    alpha, momentum = hyper["alpha"], hyper["momentum"]
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    square_avg = ema_square_(state.square_avg, grad, alpha, work.tmp)
    grad_avg = state.grad_avg
    if hyper["centered"]:
        if grad_avg is None:  # centered switched on by a caller after init
            grad_avg = np.zeros_like(grad)
        grad_avg = lerp_(grad_avg, grad, 1.0 - alpha, work.tmp)
        avg = np.multiply(grad_avg, -1.0, out=work.tmp)
        avg *= grad_avg
        np.add(square_avg, avg, out=avg)  # v + (−ḡ)·ḡ
        np.sqrt(avg, out=avg)
    else:
        avg = np.sqrt(square_avg, out=work.tmp)
    avg += hyper["eps"]
    buffer = state.momentum_buffer
    if nonzero(momentum):  # momentum >= 0
        if buffer is None:
            buffer = np.zeros_like(grad)
        buffer *= momentum
        buffer += np.divide(grad, avg, out=grad)
        params += np.multiply(buffer, -hyper["lr"], out=grad)
    else:
        grad *= -hyper["lr"]
        grad /= avg
        params += grad
    return params, RMSpropState(square_avg, grad_avg, buffer, work)


def rmsprop_state_vectors(state: RMSpropState, hyper: dict) -> dict[str, np.ndarray]:
    """√v (centered: sqrt(v − ḡ²)) and, with momentum, the buffer b (θ ← θ − lr·b)."""
    if state.grad_avg is not None:
        sqrt_v = np.sqrt(state.square_avg + ((-1.0) * state.grad_avg) * state.grad_avg)
    else:
        sqrt_v = np.sqrt(state.square_avg)
    out = {"sqrt_v": sqrt_v}
    if state.momentum_buffer is not None:
        out["velocity"] = state.momentum_buffer
    return out


RMSPROP = OptimizerSpec(
    name="rmsprop",
    params=(
        lr_param(1e-2),
        Param("alpha", 0.99, doc="smoothing constant α of the squared-gradient average",
              check=in_range(0.0, 1.0)),
        eps_param(1e-8),
        weight_decay_param(),
        Param("momentum", 0.0, doc="momentum factor μ", check=nonnegative),
        Param("centered", False, kind="bool", doc="normalize by the variance estimate v − ḡ²"),
        MAXIMIZE,
    ),
    init=init_rmsprop,
    step=copying(update_rmsprop),
    step_in_place=update_rmsprop,
    summary="RMSprop (Hinton 2012)",
    torch="torch.optim.RMSprop",
    momentum_key="momentum",
    # alpha stays shared: the centered form's lerp branches on its value.
    per_run_hyper=frozenset({"lr", "eps", "weight_decay", "momentum"}),
    state_vectors=rmsprop_state_vectors,
)


class AdadeltaState(NamedTuple):
    square_avg: np.ndarray  # v, average of g²
    acc_delta: np.ndarray  # u, average of Δ²
    work: Any = None  # the step's work buffers (base.Work, two temporaries)


def init_adadelta(params: np.ndarray, hyper: dict) -> AdadeltaState:
    zeros = np.zeros_like(params, dtype=np.float64)
    return AdadeltaState(zeros, zeros.copy(), work_buffers(params, 2))


def update_adadelta(params: np.ndarray, state: AdadeltaState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.Adadelta.step()`` (Zeiler 2012):

        v ← ρ·v + (1−ρ)·g²;  Δ = sqrt(u + eps)/sqrt(v + eps)·g
        u ← ρ·u + (1−ρ)·Δ²;  θ ← θ − lr·Δ
    """
    rho, eps = hyper["rho"], hyper["eps"]
    work = work_of(state, params, 2)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    square_avg = ema_square_(state.square_avg, grad, rho, work.tmp)
    std = np.add(square_avg, eps, out=work.tmp)
    np.sqrt(std, out=std)
    delta = np.add(state.acc_delta, eps, out=work.tmp2)
    np.sqrt(delta, out=delta)
    delta /= std
    delta *= grad
    acc_delta = ema_square_(state.acc_delta, delta, rho, work.tmp)
    params += np.multiply(delta, -hyper["lr"], out=work.grad)
    return params, AdadeltaState(square_avg, acc_delta, work)


def adadelta_state_vectors(state: AdadeltaState, hyper: dict) -> dict[str, np.ndarray]:
    """sqrt(v + eps), the scale the next Δ divides by."""
    return {"sqrt_v": np.sqrt(state.square_avg + hyper["eps"])}


ADADELTA = OptimizerSpec(
    name="adadelta",
    params=(
        lr_param(1.0),
        Param("rho", 0.9, doc="decay ρ of both running averages", check=in_range(0.0, 1.0)),
        eps_param(1e-6),
        weight_decay_param(),
        MAXIMIZE,
    ),
    init=init_adadelta,
    step=copying(update_adadelta),
    step_in_place=update_adadelta,
    summary="Adadelta (Zeiler 2012)",
    torch="torch.optim.Adadelta",
    per_run_hyper=frozenset({"lr", "rho", "eps", "weight_decay"}),
    state_vectors=adadelta_state_vectors,
)
