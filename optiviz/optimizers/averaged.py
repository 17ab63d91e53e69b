"""Averaged SGD (torch.optim.ASGD)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from optiviz.optimizers.base import (
    MAXIMIZE,
    OptimizerSpec,
    Oracle,
    gradient,
    lr_param,
    weight_decay_param,
)
from optiviz.registry import Param, nonnegative


class ASGDState(NamedTuple):
    step: int
    eta: float  # step size of this step (η_1 = lr)
    mu: float  # averaging weight
    ax: np.ndarray  # Polyak average of θ (recorded, not drawn)


def init_asgd(params: np.ndarray, hyper: dict) -> ASGDState:
    return ASGDState(0, float(hyper["lr"]), 1.0, np.zeros_like(params, dtype=np.float64))


def step_asgd(params: np.ndarray, state: ASGDState, hyper: dict, oracle: Oracle):
    """One ``torch.optim.ASGD.step()`` (Polyak & Juditsky 1992):

        θ ← θ·(1 − λ·η);  θ ← θ − η·g
        ax ← θ if μ = 1 else ax + μ·(θ − ax)
        η ← lr/(1 + λ·lr·t)^α;  μ ← 1/max(1, t − t0)

    The returned iterate is θ; the average ``ax`` stays in the state.
    """
    lr, lambd = hyper["lr"], hyper["lambd"]
    step = state.step + 1
    grad = gradient(params, hyper, oracle, hyper["weight_decay"])
    new_params = params * (1.0 - lambd * state.eta)
    new_params += (-state.eta) * grad
    ax = state.ax
    if state.mu != 1:
        ax += (new_params - ax) * state.mu
    else:
        ax[...] = new_params
    eta = lr / ((1 + lambd * lr * float(step)) ** hyper["alpha"])
    mu = 1 / max(1, float(step) - hyper["t0"])
    return new_params, ASGDState(step, eta, mu, ax)


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
    step=step_asgd,
    summary="ASGD, averaged SGD (Polyak & Juditsky 1992)",
    torch="torch.optim.ASGD",
)
