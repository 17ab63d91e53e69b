"""Optimizers that move by the sign of a gradient statistic: Rprop (torch) and Lion."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    Work,
    betas_param,
    copying,
    gradient,
    lr_param,
    nonzero,
    weight_decay_param,
    work_buffers,
    work_of,
)
from optiviz.registry import Param


class RpropState(NamedTuple):
    prev: np.ndarray  # last gradient used (0 after a sign flip)
    step_size: np.ndarray  # Δ per coordinate
    work: Any = None  # the step's work buffers (base.Work); the gradient's becomes ``prev``


def _increasing_pair(value: tuple) -> str | None:
    return None if 0 < value[0] <= value[1] else "must satisfy 0 < first <= second"


def _etas(value: tuple) -> str | None:
    return None if 0 < value[0] < 1 < value[1] else "must satisfy 0 < eta_minus < 1 < eta_plus"


def init_rprop(params: np.ndarray, hyper: dict) -> RpropState:
    return RpropState(
        np.zeros_like(params, dtype=np.float64),
        np.full_like(params, hyper["lr"], dtype=np.float64),
        work_buffers(params),
    )


def update_rprop(params: np.ndarray, state: RpropState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.Rprop.step()`` (Rprop− of Riedmiller & Braun
    1993, no backtracking):

        s = sign(g·prev);  Δ ← clip(Δ·(η+ if s > 0, η− if s < 0, 1 otherwise), Δmin, Δmax)
        g ← 0 where s < 0;  θ ← θ − sign(g)·Δ;  prev ← g

    ``lr`` only sets the initial Δ; the gradient magnitude is never used.
    """
    eta_minus, eta_plus = hyper["etas"]
    step_min, step_max = hyper["step_sizes"]
    work = work_of(state, params)
    if work.grad is state.prev or np.shares_memory(work.grad, state.prev):
        work = work_buffers(params)
    grad = gradient(params, hyper, oracle, out=work.grad)
    sign = np.multiply(grad, state.prev, out=work.tmp)
    np.sign(sign, out=sign)
    flipped = sign < 0
    factor = np.where(sign > 0, eta_plus, np.where(flipped, eta_minus, 1.0))
    step_size = state.step_size
    step_size *= factor
    np.clip(step_size, step_min, step_max, out=step_size)
    grad[flipped] = 0.0
    update = np.sign(grad, out=work.tmp)
    update *= -1.0
    update *= step_size
    params += update
    # this step's g is the next one's ``prev``; the old ``prev`` holds the next gradient
    return params, RpropState(grad, step_size, Work(state.prev, work.tmp))


def rprop_state_vectors(state: RpropState, hyper: dict) -> dict[str, np.ndarray]:
    """Δ, the per-coordinate step size (the step is ±Δ, or 0 after a sign flip)."""
    return {"effective_step": state.step_size}


RPROP = OptimizerSpec(
    name="rprop",
    params=(
        lr_param(1e-2),
        Param("etas", (0.5, 1.2), kind="floats", length=2, doc="(η−, η+) step-size factors",
              check=_etas),
        Param("step_sizes", (1e-6, 50.0), kind="floats", length=2, doc="(Δmin, Δmax)",
              check=_increasing_pair),
        MAXIMIZE,
    ),
    init=init_rprop,
    step=copying(update_rprop),
    step_in_place=update_rprop,
    summary="Rprop, resilient backpropagation (Riedmiller & Braun 1993)",
    torch="torch.optim.Rprop",
    per_run_hyper=frozenset({"lr"}),  # the initial Δ
    state_vectors=rprop_state_vectors,
)


class LionState(NamedTuple):
    exp_avg: np.ndarray  # m
    work: Any = None  # the step's work buffers (base.Work, two temporaries)


def init_lion(params: np.ndarray, hyper: dict) -> LionState:
    return LionState(np.zeros_like(params, dtype=np.float64), work_buffers(params, 2))


def update_lion(params: np.ndarray, state: LionState, hyper: dict, oracle: Oracle):
    """One Lion step (Chen et al. 2023), as lion-pytorch writes it, in place on ``params``:

        c = β1·m + (1−β1)·g
        θ ← θ·(1 − lr·λ);  θ ← θ − lr·sign(c)
        m ← β2·m + (1−β2)·g
    """
    beta1, beta2 = hyper["betas"]
    lr, decay = hyper["lr"], hyper["weight_decay"]
    work = work_of(state, params, 2)
    grad = gradient(params, hyper, oracle, out=work.grad)
    exp_avg = state.exp_avg
    direction = np.multiply(exp_avg, beta1, out=work.tmp)
    direction += np.multiply(grad, 1.0 - beta1, out=work.tmp2)
    if nonzero(decay):
        params *= 1.0 - lr * decay
    step = np.sign(direction, out=direction)
    step *= -lr
    params += step
    exp_avg *= beta2
    exp_avg += np.multiply(grad, 1.0 - beta2, out=work.tmp2)
    return params, LionState(exp_avg, work)


def lion_state_vectors(state: LionState, hyper: dict) -> dict[str, np.ndarray]:
    """m, the momentum whose sign (mixed with the gradient's) is the step."""
    return {"velocity": state.exp_avg}


LION = OptimizerSpec(
    name="lion",
    params=(
        lr_param(1e-4),
        betas_param((0.9, 0.99)),
        weight_decay_param(doc="decoupled decay θ ← θ(1 − lr·λ)"),
        MAXIMIZE,
    ),
    init=init_lion,
    step=copying(update_lion),
    step_in_place=update_lion,
    summary="Lion, evolved sign momentum (Chen et al. 2023)",
    momentum_key="betas",
    per_run_hyper=frozenset({"lr", "betas", "weight_decay"}),
    state_vectors=lion_state_vectors,
)
