"""Stochastic gradient descent with momentum (torch.optim.SGD)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optiviz.errors import ConfigError
from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    copying,
    gradient,
    lr_param,
    nonzero,
    weight_decay_param,
    work_buffers,
    work_of,
)
from optiviz.registry import Param, nonnegative


class SGDState(NamedTuple):
    momentum_buffer: np.ndarray | None  # None until the first step with momentum != 0
    work: Any = None  # the step's work buffers (base.Work)


def check_sgd(hyper: dict) -> None:
    """Nesterov momentum needs momentum > 0 and dampening = 0 (torch raises ValueError); per-run
    columns must satisfy it in every run."""
    momentum, dampening = np.asarray(hyper["momentum"]), np.asarray(hyper["dampening"])
    if hyper["nesterov"] and ((momentum <= 0).any() or (dampening != 0).any()):
        raise ConfigError("nesterov requires momentum > 0 and dampening = 0", ("nesterov",))


def init_sgd(params: np.ndarray, hyper: dict) -> SGDState:
    check_sgd(hyper)
    return SGDState(momentum_buffer=None, work=work_buffers(params))


def update_sgd(params: np.ndarray, state: SGDState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.SGD.step()``:

        g ← g + λ·θ
        b ← g (first step)  |  b ← μ·b + (1−τ)·g
        g ← g + μ·b (nesterov)  |  g ← b
        θ ← θ − lr·g
    """
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    momentum = hyper["momentum"]
    buffer = state.momentum_buffer
    if nonzero(momentum):
        if buffer is None:
            buffer = grad.copy()
        else:
            buffer *= momentum
            buffer += np.multiply(grad, 1.0 - hyper["dampening"], out=work.tmp)
        if hyper["nesterov"]:
            grad += np.multiply(buffer, momentum, out=work.tmp)
        else:
            grad = buffer
    params += np.multiply(grad, -hyper["lr"], out=work.tmp)
    return params, SGDState(buffer, work)


def sgd_state_vectors(state: SGDState, hyper: dict) -> dict[str, np.ndarray]:
    """The momentum buffer b (torch's ``momentum_buffer``), once momentum has made one."""
    return {} if state.momentum_buffer is None else {"velocity": state.momentum_buffer}


SGD = OptimizerSpec(
    name="sgd",
    params=(
        lr_param(1e-3),
        Param("momentum", 0.0, doc="momentum factor μ", check=nonnegative),
        Param("dampening", 0.0, doc="dampening τ of the momentum update"),
        weight_decay_param(),
        Param("nesterov", False, kind="bool", doc="Nesterov momentum"),
        MAXIMIZE,
    ),
    init=init_sgd,
    step=copying(update_sgd),
    step_in_place=update_sgd,
    summary="SGD with optional (Nesterov) momentum (Robbins & Monro 1951; Sutskever et al. 2013)",
    torch="torch.optim.SGD",
    momentum_key="momentum",
    check=check_sgd,
    per_run_hyper=frozenset({"lr", "momentum", "dampening", "weight_decay"}),
    state_vectors=sgd_state_vectors,
)
