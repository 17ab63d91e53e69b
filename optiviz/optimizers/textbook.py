"""Textbook forms that torch does not ship: plain gradient descent, EMA momentum, Sutskever NAG.

They are exactly the update rules printed in lecture notes, so their trajectories differ from
torch's SGD variants in the ways REFERENCE.md §3 spells out (first buffer, look-ahead point)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    copying,
    gradient,
    lr_param,
    work_buffers,
    work_of,
)
from optiviz.registry import Param, in_range


class GDState(NamedTuple):
    work: Any = None  # the step's work buffers (base.Work)


def init_gd(params: np.ndarray, hyper: dict) -> GDState:
    return GDState(work_buffers(params))


def update_gd(params: np.ndarray, state: GDState, hyper: dict, oracle: Oracle):
    """Gradient descent, in place on ``params``: θ ← θ − lr·∇f(θ)."""
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, out=work.grad)
    params -= np.multiply(grad, hyper["lr"], out=grad)
    return params, GDState(work)


GD = OptimizerSpec(
    name="gd",
    params=(lr_param(1e-3), MAXIMIZE),
    init=init_gd,
    step=copying(update_gd),
    step_in_place=update_gd,
    summary="gradient descent θ ← θ − lr·∇f(θ) (Cauchy 1847)",
    per_run_hyper=frozenset({"lr"}),
)


class VelocityState(NamedTuple):
    velocity: np.ndarray  # v, starts at 0
    work: Any = None  # the step's work buffers (base.Work)


def init_velocity(params: np.ndarray, hyper: dict) -> VelocityState:
    return VelocityState(np.zeros_like(params, dtype=np.float64), work_buffers(params))


def update_momentum(params: np.ndarray, state: VelocityState, hyper: dict, oracle: Oracle):
    """EMA momentum with β = ``momentum``, in place on ``params``: v ← β·v + (1−β)·g,
    θ ← θ − lr·v,  v0 = 0.

    Equals torch ``SGD(lr=lr·(1−β), momentum=β)`` up to rounding (REFERENCE §3.1a), not torch
    ``SGD(momentum=β, dampening=β)`` whose first buffer is g rather than (1−β)·g."""
    beta = hyper["momentum"]
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, out=work.grad)
    velocity = state.velocity
    velocity *= beta
    velocity += np.multiply(grad, 1.0 - beta, out=grad)
    params -= np.multiply(velocity, hyper["lr"], out=work.tmp)
    return params, VelocityState(velocity, work)


def velocity_state_vectors(state: VelocityState, hyper: dict) -> dict[str, np.ndarray]:
    """v: EMA momentum's average of gradients; NAG's v, the displacement θ ← θ − v."""
    return {"velocity": state.velocity}


MOMENTUM = OptimizerSpec(
    name="momentum",
    params=(
        lr_param(1e-3),
        Param("momentum", 0.9, doc="EMA factor β of v ← β·v + (1−β)·g",
              check=in_range(0.0, 1.0, high_open=True)),
        MAXIMIZE,
    ),
    init=init_velocity,
    step=copying(update_momentum),
    step_in_place=update_momentum,
    summary="momentum as an EMA of gradients, v ← βv + (1−β)g (Polyak 1964)",
    momentum_key="momentum",
    per_run_hyper=frozenset({"lr", "momentum"}),
    state_vectors=velocity_state_vectors,
)


def update_nag(params: np.ndarray, state: VelocityState, hyper: dict, oracle: Oracle):
    """Sutskever et al. (2013) Nesterov momentum, recording θ (not torch's look-ahead point),
    in place on ``params``:

        v ← μ·v + lr·∇f(θ − μ·v);  θ ← θ − v
    """
    mu = hyper["momentum"]
    work = work_of(state, params)
    velocity = state.velocity
    velocity *= mu
    grad = gradient(np.subtract(params, velocity, out=work.tmp), hyper, oracle, out=work.grad)
    velocity += np.multiply(grad, hyper["lr"], out=grad)
    params -= velocity
    return params, VelocityState(velocity, work)


NAG = OptimizerSpec(
    name="nag",
    params=(
        lr_param(1e-3),
        Param("momentum", 0.9, doc="momentum factor μ", check=in_range(0.0, 1.0, high_open=True)),
        MAXIMIZE,
    ),
    init=init_velocity,
    step=copying(update_nag),
    step_in_place=update_nag,
    summary="Nesterov accelerated gradient, Sutskever form (Nesterov 1983)",
    momentum_key="momentum",
    per_run_hyper=frozenset({"lr", "momentum"}),
    state_vectors=velocity_state_vectors,
)
