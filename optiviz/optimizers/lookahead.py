"""Lookahead around any registered optimizer (Zhang, Lucas, Hinton & Ba 2019)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from optiviz.optimizers.base import InnerOptimizer, OptimizerSpec, Oracle
from optiviz.optimizers.sgd import SGD
from optiviz.registry import Param, in_range, positive


class LookaheadState(NamedTuple):
    inner: Any  # the fast optimizer's state, kept across syncs
    slow: np.ndarray  # φ
    count: int  # inner steps taken


def _inner_check(value: Any) -> str | None:
    return None if isinstance(value, InnerOptimizer) else "must be an optimizer {name: ..., ...}"


DEFAULT_INNER = InnerOptimizer(SGD, {p.name: p.default for p in SGD.params})


def init_lookahead(params: np.ndarray, hyper: dict) -> LookaheadState:
    inner: InnerOptimizer = hyper["inner"]
    if inner.spec.check is not None:
        inner.spec.check(inner.hyper)
    return LookaheadState(inner.spec.init(params, inner.hyper), params.copy(), 0)


def step_lookahead(params: np.ndarray, state: LookaheadState, hyper: dict, oracle: Oracle):
    """One inner step on the fast weights θ (gradient at θ); after every k-th:

        φ ← φ + α·(θ − φ);  θ ← φ

    ``params`` are the fast weights; ``position`` reports the slow weights φ."""
    inner: InnerOptimizer = hyper["inner"]
    fast, inner_state = inner.spec.step(params, state.inner, inner.hyper, oracle)
    count = state.count + 1
    slow = state.slow
    if count % hyper["k"] == 0:
        slow = slow + hyper["alpha"] * (fast - slow)
        fast = slow.copy()
    return fast, LookaheadState(inner_state, slow, count)


def slow_weights(params: np.ndarray, state: LookaheadState) -> np.ndarray:
    return state.slow


def lookahead_state_vectors(state: LookaheadState, hyper: dict) -> dict[str, np.ndarray]:
    """The inner (fast) optimizer's state vectors."""
    inner: InnerOptimizer = hyper["inner"]
    if inner.spec.state_vectors is None:
        return {}
    return inner.spec.state_vectors(state.inner, inner.hyper)


LOOKAHEAD = OptimizerSpec(
    name="lookahead",
    params=(
        Param("k", 5, kind="int", doc="sync period: inner steps between syncs", check=positive),
        Param("alpha", 0.5, doc="slow step size α", check=in_range(0.0, 1.0, low_open=True)),
        # A config must name the inner optimizer; DEFAULT_INNER serves direct use of the spec.
        Param("inner", DEFAULT_INNER, kind="any", doc="the fast optimizer it wraps",
              check=_inner_check,
              default_text="required: an optimizer entry, e.g. {name: adam, lr: 0.01}"),
    ),
    init=init_lookahead,
    step=step_lookahead,
    summary="Lookahead: slow weights pulled toward k fast steps (Zhang et al. 2019)",
    position=slow_weights,
    state_vectors=lookahead_state_vectors,
)
