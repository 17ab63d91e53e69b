"""Any ``torch.optim.Optimizer`` as an optiviz optimizer: ``{torch: torch.optim.Adam, lr: 0.01}``.

An entry names a class by import path (``torch.optim.Adam``, ``pytorch_optimizer:AdaBelief``) or
by a bare pytorch-optimizer name (``ranger21``, through ``pytorch_optimizer.load_optimizer``).
Importing it runs that package's code: writing the path is the user's decision to do so.

Every key besides ours (:data:`OUR_KEYS`) is a constructor keyword, checked against the
constructor's signature when the config loads, and the class is built once on a dummy tensor
then, so that a bad value fails before anything runs.

How a run is stepped (one config step = one ``optimizer.step()``):

* Per run (the default): each of the N runs is its own float64 parameter tensor of shape (d,)
  with its own optimizer instance, as in a single-run training loop, so per-tensor norms, trust
  ratios and state never mix runs. ``.grad`` is set from the function's exact closed-form
  gradient, evaluated for all N runs in one NumPy call per step.
* ``batched: true``: all N runs are one (N, d) tensor and one optimizer. It is N independent runs
  only for elementwise optimizers (Adam, SGD, RMSprop, Lion ...); anything with a norm, trust
  ratio, dot product or line search over the tensor (LAMB, LARS, SAM, L-BFGS) couples the runs.
* A ``step`` that takes a ``closure`` gets one: it evaluates the loss and gradient at the
  parameter's current value (L-BFGS line searches, SAM's perturbed point). Its first call at the
  unchanged parameter reuses the step's gradient, so every point is evaluated once.
* Optimizers that estimate curvature from Hessian-vector products of ``.grad`` (AdaHessian,
  Sophia-H: ``loss.backward(create_graph=True)``) get a ``.grad`` whose derivative is the
  function's exact Hessian: ``d(g·z)/dθ = H(θ) z``.
* Each run draws torch random numbers (Hutchinson's probe vectors) from its own stream, seeded
  from the experiment's seed, so runs are reproducible and independent of each other.
* A schedule writes ``param_groups[...]["lr"]`` before each step (and ``momentum`` or
  ``betas[0]`` for OneCycle's cycle_momentum), as torch's schedulers do.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath, OptivizError, closest
from optiviz.optimizers.base import OptimizerSpec
from optiviz.registry import Param, show_value

# Keys of a torch entry that are ours; every other key goes to the constructor.
OUR_KEYS = ("torch", "batched", "label", "schedule", "noise", "batch_size", "color")
INSTALL_HINT = "pip install 'optiviz[torch]'"
# Constructor parameters that take an optimizer class (SAM's base optimizer): a string there is
# resolved like the entry's own ``torch:`` value.
CLASS_PARAMS = ("base_optimizer",)


def import_torch(path: KeyPath = ()) -> Any:
    try:
        import torch
    except ImportError:
        raise ConfigError(
            f"torch entries need PyTorch, which is not installed: {INSTALL_HINT}", path
        ) from None
    return torch


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def import_object(text: str, path: KeyPath, what: str) -> Any:
    """The object an import path names: ``package.module:Name`` or ``package.module.Name``.

    Nothing is imported but what the path names; a failure is one ConfigError line."""
    if ":" in text:
        module_name, _, attribute = text.partition(":")
    else:
        module_name, _, attribute = text.rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(
            f"{what} {text!r} is not an import path (write package.module:Name)", path
        )
    try:
        obj = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise ConfigError(f"cannot import {module_name!r}: no module named {exc.name!r}",
                              path) from None
        raise ConfigError(f"importing {module_name!r} failed: {_one_line(exc)}", path) from None
    except Exception as exc:  # the user's module raised while importing
        raise ConfigError(f"importing {module_name!r} failed: {_one_line(exc)}", path) from None
    where = module_name
    for part in attribute.split("."):
        if not hasattr(obj, part):
            public = [name for name in dir(obj) if not name.startswith("_")]
            guess = closest(part, public)
            raise ConfigError(
                f"{where!r} has no {part!r}", path, suggestion=guess[0] if guess else None
            )
        obj = getattr(obj, part)
        where = f"{where}.{part}"
    return obj


def resolve_class(text: Any, path: KeyPath) -> type:
    """The torch optimizer class ``text`` names (see the module docstring)."""
    torch = import_torch(path)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            "must name a torch optimizer class: torch.optim.Adam, "
            f"'pytorch_optimizer:AdaBelief' or a pytorch-optimizer name; got {show_value(text)}",
            path,
        )
    text = text.strip()
    if ":" in text or "." in text:
        found = import_object(text, path, "torch optimizer")
    else:
        found = _pytorch_optimizer_class(text, path)
    if not (isinstance(found, type) and issubclass(found, torch.optim.Optimizer)):
        raise ConfigError(f"{text} is not a torch.optim.Optimizer subclass", path)
    return found


def _pytorch_optimizer_class(name: str, path: KeyPath) -> type:
    try:
        import pytorch_optimizer
    except ImportError:
        raise ConfigError(
            f"a bare name such as {name!r} is looked up in pytorch-optimizer, which is not "
            "installed (pip install pytorch-optimizer); or write an import path such as "
            "torch.optim.Adam",
            path,
        ) from None
    names = pytorch_optimizer.get_supported_optimizers()
    if name.lower() not in names:
        guess = closest(name, names)
        raise ConfigError(
            f"unknown pytorch-optimizer optimizer {name!r}",
            path,
            suggestion=guess[0] if guess else None,
        )
    return pytorch_optimizer.load_optimizer(name)


# Constructor signature -> Params ------------------------------------------------------------------

def _annotation_words(annotation: Any) -> set[str]:
    if annotation is inspect.Parameter.empty:
        return set()
    text = annotation if isinstance(annotation, str) else getattr(
        annotation, "__name__", str(annotation))
    return {word.strip() for word in text.replace("typing.", "").split("|")}


def _param(parameter: inspect.Parameter, owner: str) -> Param:
    """An optiviz Param for one constructor parameter: its default, and a kind from the default
    or the annotation (``float``, ``int``, ``bool``, a tuple of numbers, else ``any``)."""
    default = parameter.default
    words = _annotation_words(parameter.annotation)
    required = default is inspect.Parameter.empty
    nullable = default is None or "None" in words
    kind, length = "any", None
    numbers = {"float", "int", "None", "torch.Tensor", "Tensor"}
    if isinstance(default, bool) or words == {"bool"}:
        kind = "bool"
    elif (
        isinstance(default, tuple) and default
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)
    ):
        kind, length = "floats", len(default)
    elif isinstance(default, float) or ("float" in words and words <= numbers):
        kind = "float"
    elif isinstance(default, int) or ("int" in words and words <= numbers):
        kind = "int"
    shown = "" if parameter.annotation is inspect.Parameter.empty else (
        parameter.annotation if isinstance(parameter.annotation, str)
        else inspect.formatannotation(parameter.annotation))
    doc = f"{owner} constructor parameter" + (f" ({shown})" if shown else "")
    return Param(
        parameter.name,
        Param.default if required else default,  # the class attribute: "required"
        kind=kind,
        length=length,
        nullable=nullable and kind != "any",
        doc=doc,
    )


def _kwargs_read(cls: type) -> list[str]:
    """Names the constructor reads from its ``**kwargs`` (``kwargs.get('beta1', 0.9)``)."""
    try:
        source = inspect.getsource(cls.__init__)
    except (OSError, TypeError):
        return []
    return list(dict.fromkeys(re.findall(r"kwargs(?:\.get\(|\[)\s*['\"](\w+)['\"]", source)))


def constructor_params(cls: type) -> tuple[list[Param], bool]:
    """The keyword parameters of ``cls(params, ...)`` (with the names it reads from its
    ``**kwargs``) and whether it takes ``**kwargs``. Many classes (pytorch-optimizer's) take
    ``**kwargs`` and silently keep unknown names, so a key outside these is refused."""
    signature = inspect.signature(cls.__init__)
    parameters = list(signature.parameters.values())[1:]  # self
    params: list[Param] = []
    var_keyword = False
    for i, parameter in enumerate(parameters):
        positional = (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        if i == 0 and parameter.kind in positional:
            continue  # the parameters to optimize
        if parameter.kind == parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind != parameter.VAR_POSITIONAL:
            params.append(_param(parameter, cls.__name__))
    named = {p.name for p in params}
    for name in _kwargs_read(cls) if var_keyword else ():
        if name not in named:
            params.append(Param(name, None, kind="any", doc=f"{cls.__name__} keyword (**kwargs)"))
    return params, var_keyword


def _plain(value: Any) -> Any:
    """YAML lists as the tuples torch constructors expect (betas=(0.9, 0.999))."""
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _needs_hvp(cls: type) -> bool:
    """Whether ``step`` differentiates ``.grad`` (Hessian-vector products)."""
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", "") or ""
        if klass is object or module.startswith("torch.") or module.endswith(".base.optimizer"):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        if "compute_hutchinson_hessian" in source or "autograd.grad(" in source:
            return True
    return False


def _takes_closure(cls: type) -> bool:
    try:
        return "closure" in inspect.signature(cls.step).parameters
    except (TypeError, ValueError):
        return False


# The entry ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TorchEntry:
    """A resolved, validated torch entry."""

    cls: type
    kwargs: dict  # what the constructor receives
    batched: bool
    closure: bool
    hvp: bool
    random: bool  # step draws torch random numbers: each run gets its own seeded stream
    label: str  # "torch:AdaBelief"
    params: tuple[Param, ...] = field(default=())


def resolve_entry(value: dict, path: KeyPath) -> tuple[str, OptimizerSpec, dict]:
    """``{torch: ..., lr: ...}`` -> (name, spec, hyper), validated, the class probed once."""
    torch = import_torch(path + ("torch",))
    cls = resolve_class(value["torch"], path + ("torch",))
    owner = cls.__name__
    params, var_keyword = constructor_params(cls)
    given = {k: v for k, v in value.items() if k not in OUR_KEYS}
    by_name = {p.name: p for p in params}
    kwargs: dict[str, Any] = {}
    for key in CLASS_PARAMS:
        if key in given and key in by_name and isinstance(given[key], str):
            base = resolve_class(given[key], path + (key,))
            kwargs[key] = base
            if var_keyword:  # SAM-style wrappers pass the rest to the base optimizer
                base_params, _ = constructor_params(base)
                params += [p for p in base_params if p.name not in by_name]
                by_name = {p.name: p for p in params}
                owner = f"{cls.__name__} or {base.__name__}"
    for key in given:
        if key not in by_name:
            guess = closest(str(key), list(by_name) + list(OUR_KEYS))
            raise ConfigError(
                f"not a parameter of {owner}", path + (key,),
                suggestion=guess[0] if guess else None,
            )
    for param in params:
        if param.required and param.name not in given:
            raise ConfigError(
                f"missing required key '{param.name}' (a parameter of {cls.__name__} without "
                "a default)", path,
            )
    hyper: dict[str, Any] = {}
    for key, raw in given.items():
        param = by_name.get(key)
        if key in kwargs:
            hyper[key] = kwargs[key]
            continue
        coerced = param.coerce(raw, path + (key,)) if param is not None else raw
        kwargs[key] = hyper[key] = _plain(coerced)
    # What a schedule scales (lr) and cycles (momentum, betas[0]), and the lr panel shows.
    for key in ("lr", "momentum", "betas"):
        param = by_name.get(key)
        if key not in hyper and param is not None and not param.required:
            hyper[key] = param.default
    if isinstance(hyper.get("lr"), (int, float)) and not isinstance(hyper["lr"], bool):
        hyper["lr"] = float(hyper["lr"])
        if not hyper["lr"] > 0:
            raise ConfigError(f"must be > 0, got {hyper['lr']!r}", path + ("lr",))
    else:
        hyper.pop("lr", None)
    if not isinstance(hyper.get("momentum", 0.0), (int, float)):
        del hyper["momentum"]
    if not isinstance(hyper.get("betas", ()), tuple):
        del hyper["betas"]
    batched = value.get("batched", False)
    if not isinstance(batched, bool):
        raise ConfigError(f"must be true or false, got {show_value(batched)}", path + ("batched",))
    if batched and (issubclass(cls, torch.optim.LBFGS) or "base_optimizer" in by_name):
        raise ConfigError(
            f"{cls.__name__} couples the runs of one tensor (its line search or perturbation "
            "uses norms over the whole tensor); batched: true is exact only for elementwise "
            "optimizers, leave it out",
            path + ("batched",),
        )
    hvp = _needs_hvp(cls) or any(
        isinstance(v, type) and _needs_hvp(v) for v in kwargs.values())
    if hvp and value.get("batch_size") not in (None, "full"):
        raise ConfigError(
            f"not supported: {cls.__name__} takes Hessian-vector products, and dataset "
            "objectives give the exact Hessian of the full batch only; leave out batch_size",
            path + ("batch_size",),
        )
    closure, random = _probe(torch, cls, kwargs, path, hvp)
    entry = TorchEntry(
        cls=cls, kwargs=kwargs, batched=batched, closure=closure, hvp=hvp, random=random,
        label=f"torch:{cls.__name__}", params=tuple(params),
    )
    return entry.label, make_spec(entry), hyper


def _probe(torch: Any, cls: type, kwargs: dict, path: KeyPath, hvp: bool) -> tuple[bool, bool]:
    """Build the optimizer once on a dummy parameter, so that a bad value fails at load time,
    and take one step on it: does ``step`` need a closure (it fails without one: L-BFGS, SAM),
    and does it draw torch random numbers (then each run gets its own stream)? Returns
    (closure, random). Optimizers that differentiate ``.grad`` take no probe step: they draw
    random probe vectors and need no closure."""
    dummy = torch.ones(2, dtype=torch.float64, requires_grad=True)
    try:
        optimizer = cls([dummy], **kwargs)
    except Exception as exc:
        raise ConfigError(f"{cls.__name__}(...) raised {_one_line(exc)}", path) from None
    if hvp:
        return False, True
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        before = torch.get_rng_state()
        dummy.grad = torch.ones(2, dtype=torch.float64)
        try:
            optimizer.step()
        except Exception:
            return _takes_closure(cls), True  # a closure it is; its draws cannot be told
        return False, not torch.equal(before, torch.get_rng_state())


def spec_params(value: dict, path: KeyPath) -> tuple[Param, ...]:
    """The constructor's Params, for sweeps (``lr: [0.01, 0.1]``) before the entry resolves."""
    cls = resolve_class(value.get("torch"), path + ("torch",))
    return tuple(constructor_params(cls)[0])


@lru_cache(maxsize=1)
def _exact_gradient_function() -> Any:
    import torch

    class ExactGradient(torch.autograd.Function):
        """``.grad`` as a function of θ whose value is the exact gradient g(θ₀) and whose
        derivative is the exact Hessian H(θ₀): backward(z) = H z (per row for (N, d))."""

        @staticmethod
        def forward(ctx, parameter, gradient, hessian):
            ctx.save_for_backward(hessian)
            return gradient.clone()

        @staticmethod
        def backward(ctx, z):
            (hessian,) = ctx.saved_tensors
            return (hessian @ z.unsqueeze(-1)).squeeze(-1), None, None

    return ExactGradient


# The spec: init and step ------------------------------------------------------------------------

class TorchRuns:
    """State of one entry: N parameter tensors of shape (d,) (or one (N, d) tensor) and their
    optimizers."""

    def __init__(self, entry: TorchEntry, params: np.ndarray, hyper: dict):
        import torch

        self.entry = entry
        self.torch = torch
        n = params.shape[0]
        self.n = n
        if entry.batched:
            tensor = torch.tensor(params, dtype=torch.float64, requires_grad=True)
            self.tensors = [tensor]
        else:
            self.tensors = [
                torch.tensor(row, dtype=torch.float64, requires_grad=True) for row in params
            ]
        self.optimizers = [entry.cls([p], **entry.kwargs) for p in self.tensors]
        self.last = np.array(params, dtype=np.float64)
        self.frozen = np.zeros(n, dtype=bool)
        self.rng_states: list[Any] | None = None  # one per tensor, seeded at the first step
        self.hyper: dict | None = None  # the hyperparameters last written into param_groups
        self.steps = 0

    def seed(self, oracle: Any) -> None:
        torch = self.torch
        base = int(oracle.rng.integers(0, 2**62)) if hasattr(oracle, "rng") else 0
        self.rng_states = []
        for i in range(len(self.tensors)):
            torch.manual_seed(base + i)
            self.rng_states.append(torch.get_rng_state())


def _set_hyper(optimizer: Any, hyper: dict) -> None:
    for group in optimizer.param_groups:
        if "lr" in hyper and "lr" in group:
            group["lr"] = hyper["lr"]
        if "momentum" in hyper and "momentum" in group:
            group["momentum"] = hyper["momentum"]
        if "betas" in hyper and "betas" in group:
            group["betas"] = tuple(hyper["betas"])


def make_spec(entry: TorchEntry) -> OptimizerSpec:
    names = {p.name for p in entry.params}
    momentum_key = "betas" if "betas" in names else "momentum" if "momentum" in names else None

    def init(params: np.ndarray, hyper: dict) -> TorchRuns:
        return TorchRuns(entry, params, hyper)

    def step(params: np.ndarray, state: TorchRuns, hyper: dict, oracle: Any):
        return _step(entry, params, state, hyper, oracle)

    module = entry.cls.__module__
    where = f"{module}.{entry.cls.__qualname__}"
    return OptimizerSpec(
        state_vectors=_torch_state_vectors,
        name=entry.label,
        params=entry.params,
        init=init,
        step=step,
        summary=f"{entry.cls.__name__} through the torch adapter",
        torch=where,
        momentum_key=momentum_key,
    )


#: The names torch optimizers give their momentum / first-moment buffer (SGD, RMSprop:
#: ``momentum_buffer``; the Adam family, Lion-like classes: ``exp_avg``).
TORCH_VELOCITY_KEYS = ("momentum_buffer", "exp_avg")


def _torch_state_vectors(state: TorchRuns, hyper: dict) -> dict[str, np.ndarray]:
    """The velocity a torch optimizer keeps in ``optimizer.state[p]`` under one of
    :data:`TORCH_VELOCITY_KEYS`, one row per run (NaN for a run that has none yet)."""
    rows = []
    for optimizer, tensor in zip(state.optimizers, state.tensors, strict=True):
        kept = optimizer.state.get(tensor, {})
        buffer = next((kept[key] for key in TORCH_VELOCITY_KEYS
                       if key in kept and hasattr(kept[key], "shape")
                       and tuple(kept[key].shape) == tuple(tensor.shape)), None)
        if buffer is None:
            rows.append(np.full(tuple(tensor.shape), np.nan))
        else:
            rows.append(buffer.detach().cpu().numpy().astype(np.float64, copy=True))
    velocity = rows[0] if state.entry.batched else np.stack(rows)
    return {} if np.isnan(velocity).all() else {"velocity": velocity.reshape(state.n, -1)}


def _step(entry: TorchEntry, params: np.ndarray, state: TorchRuns, hyper: dict, oracle: Any):
    torch = state.torch
    with torch.random.fork_rng(devices=[], enabled=entry.random):
        if state.rng_states is None and entry.random:
            state.seed(oracle)
        changed = ~np.all(params == state.last, axis=1) & ~(
            np.isnan(params) & np.isnan(state.last)).all(axis=1)
        with torch.no_grad():
            if entry.batched and changed.any():
                state.tensors[0].copy_(torch.from_numpy(params))
            elif not entry.batched:
                for i in np.flatnonzero(changed).tolist():
                    state.tensors[i].copy_(torch.from_numpy(params[i]))
        if entry.closure or entry.hvp:
            values, grads = oracle.value_and_grad(params)
        else:
            values, grads = None, oracle.grad(params)
        grads_t = torch.from_numpy(np.ascontiguousarray(grads, dtype=np.float64))
        hessians_t = torch.from_numpy(oracle.hessian(params)) if entry.hvp else None
        if entry.batched:
            runs, grad_rows, hessian_rows = [0], [grads_t], [hessians_t]
        else:
            runs = np.flatnonzero(~state.frozen).tolist()
            grad_rows = grads_t.unbind(0)  # views, one per run
            hessian_rows = hessians_t.unbind(0) if hessians_t is not None else None
        if hyper is not state.hyper:  # a schedule's new values (a fixed dict is passed as is)
            for optimizer in state.optimizers:
                _set_hyper(optimizer, hyper)
            state.hyper = hyper
        for i in runs:
            p = state.tensors[i]
            grad = grad_rows[i]
            hessian = hessian_rows[i] if hessian_rows is not None else None
            p.grad = _gradient(entry, p, grad, hessian)
            if entry.random:
                torch.set_rng_state(state.rng_states[i])
            try:
                if entry.closure:
                    value = values if entry.batched else values[i]
                    state.optimizers[i].step(_closure(entry, p, grad, hessian, value, oracle))
                else:
                    state.optimizers[i].step()
            except OptivizError:
                raise
            except Exception as exc:
                run = "" if entry.batched else f" (run {i})"
                raise OptivizError(
                    f"{entry.label}: step {state.steps + 1}{run} raised {_one_line(exc)}"
                ) from None
            if entry.random:
                state.rng_states[i] = torch.get_rng_state()
    state.steps += 1
    if entry.batched:
        new = state.tensors[0].detach().numpy().copy()
    else:
        new = torch.stack([p.detach() for p in state.tensors]).numpy()
        new[state.frozen] = params[state.frozen]
        state.frozen |= ~np.isfinite(new).all(axis=1)
    state.last = new.copy()
    return new, state


def _gradient(entry: TorchEntry, p: Any, grad: Any, hessian: Any) -> Any:
    if entry.hvp:
        import torch

        with torch.enable_grad():
            return _exact_gradient_function().apply(p, grad, hessian)
    return grad.clone() if entry.closure else grad


def _closure(
    entry: TorchEntry, p: Any, grad: Any, hessian: Any, value: Any, oracle: Any
) -> Callable:
    """The loss at ``p``'s current value, with ``.grad`` set; the first call at the unchanged
    parameter reuses the step's evaluation (so no point is evaluated twice)."""
    import torch

    start = p.detach().clone()
    first = [True]

    def closure() -> Any:
        reuse = first[0] and torch.equal(p.detach(), start)
        first[0] = False
        if reuse:
            loss, g, h = value, grad, hessian
        else:
            dim = p.shape[-1]
            point = p.detach().numpy().reshape(-1, dim).copy()
            loss, g_np = oracle.value_and_grad(point)
            g = torch.from_numpy(np.ascontiguousarray(g_np, dtype=np.float64).reshape(p.shape))
            h = None
            if entry.hvp:
                h = torch.from_numpy(oracle.hessian(point).reshape(tuple(p.shape) + (dim,)))
        p.grad = _gradient(entry, p, g, h)
        return torch.as_tensor(float(np.sum(loss)), dtype=torch.float64)

    return closure
