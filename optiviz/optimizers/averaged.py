"""Averaged SGD (torch.optim.ASGD)."""

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
    weight_decay_param,
    work_buffers,
    work_of,
)
from optiviz.registry import Param, nonnegative


class ASGDState(NamedTuple):
    step: int
    eta: float  # step size of this step (η_1 = lr)
    mu: float  # averaging weight
    ax: np.ndarray  # Polyak average of θ (recorded, not drawn)
    work: Any = None  # the step's work buffers (base.Work)


def init_asgd(params: np.ndarray, hyper: dict) -> ASGDState:
    return ASGDState(0, float(hyper["lr"]), 1.0, np.zeros_like(params, dtype=np.float64),
                     work_buffers(params))


def update_asgd(params: np.ndarray, state: ASGDState, hyper: dict, oracle: Oracle):
    """In place on ``params``, one ``torch.optim.ASGD.step()`` (Polyak & Juditsky 1992):

        θ ← θ·(1 − λ·η);  θ ← θ − η·g
        ax ← θ if μ = 1 else ax + μ·(θ − ax)
        η ← lr/(1 + λ·lr·t)^α;  μ ← 1/max(1, t − t0)

    The returned iterate is θ; the average ``ax`` stays in the state.
    """
    lr, lambd = hyper["lr"], hyper["lambd"]
    step = state.step + 1
    work = work_of(state, params)
    grad = gradient(params, hyper, oracle, hyper["weight_decay"], out=work.grad,
                    scratch=work.tmp)
    params *= 1.0 - lambd * state.eta
    params += np.multiply(grad, -state.eta, out=grad)
    ax = state.ax
    if state.mu != 1:
        difference = np.subtract(params, ax, out=work.tmp)
        difference *= state.mu
        ax += difference
    else:
        ax[...] = params
    eta = lr / ((1 + lambd * lr * float(step)) ** hyper["alpha"])
    mu = 1 / max(1, float(step) - hyper["t0"])
    return params, ASGDState(step, eta, mu, ax, work)


ASGD = OptimizerSpec(
    name="asgd",
    params=(
        lr_param(1e-2),
        Param("lambd", 1e-4, doc="decay term λ", check=nonnegative),
        Param("alpha", 0.75, doc="power α of the η update", check=nonnegative),
        Param("t0", 1e6, doc="step at which averaging starts", check=nonnegative),
        weight_decay_param(),
        MAXIMIZE,
    ),
    init=init_asgd,
    step=copying(update_asgd),
    step_in_place=update_asgd,
    summary="ASGD, averaged SGD (Polyak & Juditsky 1992)",
    torch="torch.optim.ASGD",
)
