"""Signum: SGD on the sign of momentum (Bernstein et al., 2018), as an optiviz plugin."""

import numpy as np

from optiviz.optimizers import OptimizerSpec
from optiviz.registry import Param, in_range, positive


def init(params, hyper):
    return np.zeros_like(params)  # the momentum buffer: one row per run


def step(params, momentum, hyper, oracle):
    grad = oracle.grad(params)  # (N, 2): every run at once
    beta = hyper["momentum"]
    momentum = beta * momentum + (1 - beta) * grad
    return params - hyper["lr"] * np.sign(momentum), momentum


signum = OptimizerSpec(
    name="signum",
    params=(
        Param("lr", 0.01, doc="step size", check=positive),
        Param("momentum", 0.9, doc="EMA of gradients", check=in_range(0, 1, high_open=True)),
    ),
    init=init,
    step=step,
    summary="SGD on the sign of momentum (Bernstein et al., 2018)",
    momentum_key="momentum",  # what OneCycle's cycle_momentum writes
    per_run_hyper=frozenset({"lr", "momentum"}),  # an lr sweep steps as one array op
)
