"""The optimizer contract and the small pieces every update rule shares.

An optimizer is two functions over explicit state, as in optax:

    init(params (N,d), hyper) -> state
    step(params (N,d), state, hyper, oracle) -> (new_params (N,d), new_state)

N runs of d parameters each (d = 2 for the test functions; any d for other objectives: every
optimizer here is written for (N, d), L-BFGS keeps d-dimensional memories and Newton solves
d×d systems). ``step`` performs exactly one torch ``optimizer.step()`` for all N runs at once
with whole-array NumPy operations, in torch's order of floating-point operations (REFERENCE.md
§1), so that a run matches torch in float64 (with ``ATEN_CPU_CAPABILITY=default``) bit for bit
or to ~1e-15.

Ownership: ``step`` never modifies ``params`` nor ``hyper``; it returns a fresh params array. The
state belongs to the optimizer: its buffers never alias ``params`` and ``step`` may update them in
place (torch's ``mul_``/``add_`` order is kept) before returning the state.

In place: a spec may also give ``step_in_place``, the same update writing the new parameters
into ``params`` and returning that array (``step`` is then :func:`copying` of it: the same
arithmetic on a copy). The engine, which owns its parameter array, calls ``step_in_place`` when
there is one. The built-in elementwise optimizers keep their work buffers (the gradient,
temporaries of the update) in the state, allocated once by ``init``, and write every temporary
of a step into one of them with ``out=`` or in-place operators: NumPy gives the same bits
either way, and a run of many steps then asks the allocator for nothing of size N per step.

Cross-field validation: a spec's ``check(hyper)`` raises
``ConfigError(message, path=(key,))`` for combinations no single ``Param.check`` can see (SGD's
``nesterov`` without momentum, ...). The config loader calls it after
``registry.validate_params`` and prefixes the path with ``optimizers[i]``; ``init`` calls it too,
so a spec used directly is validated as well.

Per-run hyperparameters: the float hyperparameters a spec names in ``per_run_hyper`` may be a
Python float or a float64 column of shape (N, 1), one value per run (a tuple such as ``betas``
may hold such columns), and every run then follows exactly, bit for bit, the path it takes with
its own value alone. The engine steps a learning-rate sweep as one array operation this way. It
groups entries so that each such value is zero for all runs of a group or for none, so a step may
branch on :func:`nonzero` (``g + 0·θ`` is not a no-op: it turns −0.0 into +0.0 and inf into NaN).
Booleans and choices always stay Python scalars: they change the code path.

State vectors (optional, ``OptimizerSpec.state_vectors(state, hyper) -> dict``): the state a
step keeps, named for the overlays and the ``state`` panel (:mod:`optiviz.recording`), each an
(N, 2) array read from ``state`` after the step that used ``hyper``, never a new evaluation of
the objective. The names (:data:`STATE_VECTORS`): ``velocity`` (the momentum / first-moment
buffer, pointing uphill like the gradient: the step moves against it), ``sqrt_v`` (the
per-coordinate scale an adaptive method divides by, bias-corrected where the method corrects)
and ``effective_step`` (the per-coordinate step before weight decay, lr·m̂/(√v̂+ε) for Adam).
A spec names only those it has.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from optiviz.registry import Param, in_range, nonnegative, positive


class Oracle(Protocol):
    """The objective as the engine exposes it; noise and mini-batches live inside it.

    The engine's oracle (:class:`optiviz.engine.Oracle`) also has ``grad_into(params, out)``,
    which :func:`gradient` uses to write the gradient straight into a work buffer."""

    def value(self, params: np.ndarray) -> np.ndarray: ...  # (N,d) -> (N,)

    def grad(self, params: np.ndarray) -> np.ndarray: ...  # (N,d) -> (N,d)

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def hessian(self, params: np.ndarray) -> np.ndarray: ...  # (N,d) -> (N,d,d)


InitFn = Callable[[np.ndarray, dict], Any]
StepFn = Callable[[np.ndarray, Any, dict, Oracle], tuple[np.ndarray, Any]]


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: hyperparameters (torch's names and defaults), init and step."""

    name: str
    params: tuple[Param, ...]
    init: InitFn
    step: StepFn
    summary: str
    torch: str | None = None
    momentum_key: str | None = None  # "momentum" | "betas" | None: what OneCycle writes
    position: Callable[[np.ndarray, Any], np.ndarray] | None = None  # None: params
    check: Callable[[dict], None] | None = None  # cross-field checks, raise ConfigError
    # Float hyperparameters ``step`` (and ``init``) accept as (N, 1) columns, one value per run.
    per_run_hyper: frozenset[str] = frozenset()
    # ``step`` updating ``params`` in place and returning it (see the module docstring).
    step_in_place: StepFn | None = None
    # The state a step keeps, by name (STATE_VECTORS): (state, hyper) -> {name: (N, d)}.
    state_vectors: Callable[[Any, dict], dict[str, np.ndarray]] | None = None


class InnerOptimizer(NamedTuple):
    """An optimizer wrapped by another (Lookahead's fast optimizer) with its hyperparameters.

    The config loader builds it from ``inner: {name: sgd, lr: 0.001}``; the engine writes
    scheduled values into ``hyper``."""

    spec: OptimizerSpec
    hyper: dict


#: What ``OptimizerSpec.state_vectors`` may name (see the module docstring).
STATE_VECTORS = ("velocity", "sqrt_v", "effective_step")


# Parameters shared by many optimizers ---------------------------------------------------------

def lr_param(default: float) -> Param:
    # torch accepts lr = 0, but a run that cannot move is never what a user meant.
    return Param("lr", default, doc="learning rate", check=positive)


def weight_decay_param(default: float = 0.0, doc: str = "L2 penalty λ: g ← g + λ·θ") -> Param:
    return Param("weight_decay", default, doc=doc, check=nonnegative)


def eps_param(default: float) -> Param:
    return Param("eps", default, doc="term added for numerical stability", check=positive)


def betas_param(default: tuple[float, float] = (0.9, 0.999)) -> Param:
    return Param(
        "betas",
        default,
        kind="floats",
        length=2,
        doc="decay rates of the first and second moment averages",
        check=in_range(0.0, 1.0, high_open=True),
    )


MAXIMIZE = Param("maximize", False, kind="bool", doc="ascend instead of descend: g <- -g")


# Shared numerics -------------------------------------------------------------------------------

def nonzero(value: float | np.ndarray) -> bool:
    """Whether the hyperparameter is nonzero: a Python float, or a per-run column that the engine
    keeps all-zero or all-nonzero (so testing any run decides for every run)."""
    if isinstance(value, np.ndarray):
        return bool((value != 0).any())
    return value != 0


def copying(update: StepFn) -> StepFn:
    """The ``step`` of an in-place update: the same arithmetic on a copy of ``params``, so the
    caller's array is left as it was."""

    @functools.wraps(update)
    def step(params: np.ndarray, state: Any, hyper: dict, oracle: Oracle):
        return update(np.array(params, dtype=np.float64), state, hyper, oracle)

    return step


def gradient(
    params: np.ndarray, hyper: dict, oracle: Oracle, weight_decay: float | np.ndarray = 0.0,
    out: np.ndarray | None = None, scratch: np.ndarray | None = None,
) -> np.ndarray:
    """The gradient torch feeds its update: ``g <- -g`` if maximize, then ``g <- g + λ·θ``.

    Written into ``out`` when given (``scratch``, of the same shape, holds λ·θ), else a new
    array; either way the caller may modify it in place (the oracle's result is never
    touched)."""
    if out is None:
        grad = oracle.grad(params)
        grad = (np.negative(grad) if hyper.get("maximize", False)
                else np.array(grad, dtype=np.float64))
        if nonzero(weight_decay):
            grad += weight_decay * params
        return grad
    into = getattr(oracle, "grad_into", None)
    if into is not None:
        into(params, out)
    else:
        np.copyto(out, oracle.grad(params))
    if hyper.get("maximize", False):
        np.negative(out, out=out)
    if nonzero(weight_decay):
        if scratch is None:
            out += weight_decay * params
        else:
            out += np.multiply(params, weight_decay, out=scratch)
    return out


class Work(NamedTuple):
    """(N, d) work buffers of a step: the gradient and one or two temporaries."""

    grad: np.ndarray
    tmp: np.ndarray
    tmp2: np.ndarray | None = None


def work_buffers(params: np.ndarray, temporaries: int = 1) -> Work:
    """Work buffers shaped like ``params``: the gradient and ``temporaries`` (1 or 2) more."""
    shape = np.shape(params)
    return Work(np.empty(shape), np.empty(shape), np.empty(shape) if temporaries > 1 else None)


def work_of(state: Any, params: np.ndarray, temporaries: int = 1) -> Work:
    """The state's work buffers, or fresh ones if it has none of the right shape (a state built
    by hand, or a caller stepping other shapes than ``init`` saw)."""
    work = getattr(state, "work", None)
    if (work is None or work.grad.shape != np.shape(params)
            or (temporaries > 1 and work.tmp2 is None)):
        return work_buffers(params, temporaries)
    return work


def lerp_(average: np.ndarray, target: np.ndarray, weight: float | np.ndarray,
          scratch: np.ndarray | None = None) -> np.ndarray:
    """In place ``average <- lerp(average, target, w)`` = ``β·average + (1−β)·target`` for w = 1−β,
    in torch's two forms: ``a + w·(b − a)`` when ``|w| < 0.5``, else ``b − (b − a)·(1 − w)``
    (chosen run by run when ``w`` is a per-run column). ``scratch``: a work buffer for b − a."""
    difference = np.subtract(target, average, out=scratch)
    near = abs(weight) < 0.5
    if isinstance(near, np.ndarray):
        if near.any() and not near.all():
            forward = average + difference * weight
            backward = target - difference * (1.0 - weight)
            np.copyto(average, np.where(near, forward, backward))
            return average
        near = bool(near.all())
    if near:
        difference *= weight
        average += difference
    else:
        difference *= 1.0 - weight
        np.subtract(target, difference, out=average)
    return average


def ema_square_(average: np.ndarray, grad: np.ndarray, decay: float,
                scratch: np.ndarray | None = None) -> np.ndarray:
    """In place ``v <- decay·v + ((1 − decay)·g)·g``, torch's
    ``v.mul_(decay).addcmul_(g, g, value=1 − decay)``. ``scratch``: a work buffer."""
    average *= decay
    if scratch is None:
        average += ((1.0 - decay) * grad) * grad
    else:
        term = np.multiply(grad, 1.0 - decay, out=scratch)
        term *= grad
        average += term
    return average


def per_value(scalar_fn: Callable[[float], float], value: float | np.ndarray) -> float | np.ndarray:
    """``scalar_fn`` of a hyperparameter that may be a per-run column, computed in Python floats
    once per distinct value and broadcast back, so every run gets exactly its scalar result
    (NumPy's array ``**`` may differ from Python's by an ulp). 0.0 and −0.0 share one result."""
    if not isinstance(value, np.ndarray):
        return scalar_fn(value)
    distinct, inverse = np.unique(value, return_inverse=True)
    results = np.array([scalar_fn(v) for v in distinct.tolist()], dtype=np.float64)
    return results[inverse.reshape(-1)].reshape(value.shape)


def bias_correction(beta: float | np.ndarray, step: int) -> float | np.ndarray:
    """``1 − β^t`` in Python floats, as torch computes it from its float step counter."""
    return per_value(lambda b: 1.0 - b ** float(step), beta)
