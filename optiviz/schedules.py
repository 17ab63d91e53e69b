"""Learning-rate schedules, computed the way torch.optim.lr_scheduler computes them.

``schedule_values`` returns the lr (and, for OneCycle, the momentum) used by every optimizer
step. Step k (0-based) uses ``lr[k]``: the value after k ``scheduler.step()`` calls in torch's
loop ``opt.step(); sched.step()``. Where torch is recursive (it multiplies the optimizer's
current lr each step) we are recursive too, so values match torch bit for bit rather than to a
few ULPs (REFERENCE.md §4).

A warm-up of W steps before schedule X is torch's
``SequentialLR([LinearLR(start_factor=warmup_start_factor, total_iters=W), X], milestones=[W])``:
the linear ramp for k < W, then X counting from the milestone (entered through X's closed form
at its epoch 0, as SequentialLR does). A warm-up with no schedule is ``LinearLR`` alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optiviz.errors import ConfigError
from optiviz.experiment import ScheduleConfig
from optiviz.registry import Param, Registry, in_range, nonnegative, positive

# A schedule body: (base_lr, steps, params, after_milestone) -> lr values for epochs 0..steps-1.
LrFn = Callable[[float, int, dict, bool], list]


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    params: tuple[Param, ...]
    summary: str
    torch: str | None
    lrs: LrFn | None = None  # None: OneCycle, handled with its momentum in _onecycle


@dataclass(frozen=True)
class ScheduleValues:
    lr: np.ndarray  # (steps,)
    momentum: np.ndarray | None  # (steps,): OneCycle's momentum / beta1, else None


SCHEDULES: Registry[ScheduleSpec] = Registry("schedule")


def _step_lrs(base: float, steps: int, p: dict, after_milestone: bool) -> list:
    """StepLR: lr(e) = base·γ^floor(e/step_size); recursively ×γ when e % step_size = 0 < e."""
    lrs = [base * p["gamma"] ** 0 if after_milestone else base]
    for e in range(1, steps):
        lrs.append(lrs[-1] * p["gamma"] if e % p["step_size"] == 0 else lrs[-1])
    return lrs


def _exponential_lrs(base: float, steps: int, p: dict, after_milestone: bool) -> list:
    """ExponentialLR: lr(e) = base·γ^e, recursively lr_e = lr_{e−1}·γ."""
    lrs = [base * p["gamma"] ** 0 if after_milestone else base]
    for _ in range(1, steps):
        lrs.append(lrs[-1] * p["gamma"])
    return lrs


def _cosine_lrs(base: float, steps: int, p: dict, after_milestone: bool) -> list:
    """CosineAnnealingLR: lr(e) = η_min + (base − η_min)·(1 + cos(π·e/T))/2, not clamped past T
    (period 2T), in torch's recursive form."""
    t_max, eta_min = p["t_max"], p["eta_min"]
    first = eta_min + (base - eta_min) * (1 + math.cos(math.pi * 0 / t_max)) / 2
    lrs = [first if after_milestone else base]
    for e in range(1, steps):
        previous = lrs[-1]
        if (e - 1 - t_max) % (2 * t_max) == 0:
            lrs.append(previous + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2)
        else:
            lrs.append(
                (1 + math.cos(math.pi * e / t_max))
                / (1 + math.cos(math.pi * (e - 1) / t_max))
                * (previous - eta_min)
                + eta_min
            )
    return lrs


def _linear_lrs(base: float, steps: int, p: dict, after_milestone: bool) -> list:
    """LinearLR: lr(e) = base·(s + (e_f − s)·min(e, T)/T), in torch's recursive form
    lr_e = lr_{e−1}·(1 + (e_f − s)/(T·s + (e−1)(e_f − s))) for 1 ≤ e ≤ T."""
    start, end, total = p["start_factor"], p["end_factor"], p["total_iters"]
    if after_milestone:
        first = base * (start + (end - start) * min(total, 0) / total)
    else:
        first = base * start
    lrs = [first]
    for e in range(1, steps):
        if e > total:
            lrs.append(lrs[-1])
        else:
            lrs.append(lrs[-1] * (1.0 + (end - start) / (total * start + (e - 1) * (end - start))))
    return lrs


def _anneal(strategy: str, start: float, end: float, pct: float) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def _onecycle(p: dict, steps: int) -> tuple[list, list]:
    """OneCycleLR (Smith & Topin 2017): lr rises from max_lr/div_factor to max_lr over pct_start
    of the steps, then anneals to initial/final_div_factor (three_phase: back to initial first);
    momentum moves the opposite way between max_momentum and base_momentum."""
    total = p["total_steps"] if p["total_steps"] is not None else steps
    if steps > total:
        raise ConfigError(f"is {total} but the experiment runs {steps} steps", ("total_steps",))
    pct_start = p["pct_start"]
    levels = {
        "initial": p["max_lr"] / p["div_factor"],
        "max": p["max_lr"],
        "max_m": p["max_momentum"],
        "base_m": p["base_momentum"],
    }
    levels["min"] = levels["initial"] / p["final_div_factor"]
    if p["three_phase"]:
        phases = [
            (float(pct_start * total) - 1, "initial", "max", "max_m", "base_m"),
            (float(2 * pct_start * total) - 2, "max", "initial", "base_m", "max_m"),
            (total - 1, "initial", "min", "max_m", "max_m"),
        ]
    else:
        phases = [
            (float(pct_start * total) - 1, "initial", "max", "max_m", "base_m"),
            (total - 1, "max", "min", "base_m", "max_m"),
        ]
    lrs, momenta = [], []
    for e in range(steps):
        start_step = 0.0
        for i, (end_step, lr_from, lr_to, m_from, m_to) in enumerate(phases):
            if e <= end_step or i == len(phases) - 1:
                pct = (e - start_step) / (end_step - start_step)
                lrs.append(_anneal(p["anneal_strategy"], levels[lr_from], levels[lr_to], pct))
                momenta.append(_anneal(p["anneal_strategy"], levels[m_from], levels[m_to], pct))
                break
            start_step = end_step
    return lrs, momenta


def schedule_values(
    config: ScheduleConfig, base_lr: float, steps: int, *, base_momentum: float | None = None
) -> ScheduleValues:
    """The lr for each of ``steps`` optimizer steps (and OneCycle's momentum, if it cycles).

    ``base_momentum`` is the optimizer's own momentum / beta1, or None when it has neither: then
    OneCycle's ``cycle_momentum`` is an error, as in torch. ``ConfigError`` paths are relative to
    the schedule (the loader prefixes them)."""
    warmup = config.warmup_steps
    if config.name is None:
        if warmup <= 0:
            return ScheduleValues(np.full(steps, float(base_lr)), None)
        ramp = {"start_factor": config.warmup_start_factor, "end_factor": 1.0,
                "total_iters": warmup}
        return ScheduleValues(np.array(_linear_lrs(base_lr, steps, ramp, False)), None)

    spec = SCHEDULES.get(config.name, ("name",))
    params = config.params
    if spec.lrs is None:  # OneCycle: it sets its own warm-up and overwrites lr
        if warmup > 0:
            raise ConfigError("onecycle has its own warm-up phase; remove warmup_steps",
                              ("warmup_steps",))
        if params["cycle_momentum"] and base_momentum is None:
            raise ConfigError("needs an optimizer with momentum or betas (or set it false)",
                              ("cycle_momentum",))
        lrs, momenta = _onecycle(params, steps)
        momentum = np.array(momenta) if params["cycle_momentum"] else None
        return ScheduleValues(np.array(lrs), momentum)

    if warmup <= 0:
        return ScheduleValues(np.array(spec.lrs(base_lr, steps, params, False)), None)
    ramp = {"start_factor": config.warmup_start_factor, "end_factor": 1.0, "total_iters": warmup}
    head = _linear_lrs(base_lr, min(warmup, steps), ramp, False)
    tail = spec.lrs(base_lr, max(steps - warmup, 0), params, True)
    return ScheduleValues(np.array(head + tail), None)


def _positive_int(name: str, doc: str, *default: int, default_text: str = "") -> Param:
    """An int > 0; required unless a default is given (or computed at load: ``default_text``)."""
    return Param(name, *default, kind="int", doc=doc, check=positive, default_text=default_text)


SCHEDULES.add("step", ScheduleSpec(
    "step",
    (_positive_int("step_size", "steps between decays"),
     Param("gamma", 0.1, doc="decay factor", check=positive)),
    "lr × gamma every step_size steps",
    "torch.optim.lr_scheduler.StepLR",
    _step_lrs,
))
SCHEDULES.add("exponential", ScheduleSpec(
    "exponential",
    (Param("gamma", doc="decay factor per step", check=positive),),
    "lr × gamma every step",
    "torch.optim.lr_scheduler.ExponentialLR",
    _exponential_lrs,
))
SCHEDULES.add("cosine", ScheduleSpec(
    "cosine",
    (_positive_int("t_max", "half period in steps (torch's T_max)",
                   default_text="steps after warm-up"),
     Param("eta_min", 0.0, doc="lowest lr", check=nonnegative)),
    "cosine annealing to eta_min over t_max steps, rising again after (Loshchilov & Hutter 2017)",
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    _cosine_lrs,
))
SCHEDULES.add("linear", ScheduleSpec(
    "linear",
    (Param("start_factor", 1.0 / 3, doc="lr factor at step 0",
           check=in_range(0.0, 1.0, low_open=True)),
     Param("end_factor", 1.0, doc="lr factor from total_iters on", check=in_range(0.0, 1.0)),
     _positive_int("total_iters", "steps of the ramp", 5)),
    "linear ramp of the lr factor from start_factor to end_factor",
    "torch.optim.lr_scheduler.LinearLR",
    _linear_lrs,
))
SCHEDULES.add("onecycle", ScheduleSpec(
    "onecycle",
    (Param("max_lr", doc="peak lr", check=positive),
     # None (or null) until the loader fills in the run's steps. The loader checks
     # total_steps >= steps, the whole constraint: a check here would state a weaker one first.
     Param("total_steps", None, kind="int", nullable=True, doc="cycle length",
           default_text="steps"),
     Param("pct_start", 0.3, doc="fraction of the cycle spent rising", check=in_range(0.0, 1.0)),
     Param("anneal_strategy", "cos", kind="choice", choices=("cos", "linear"),
           doc="cos or linear annealing"),
     Param("cycle_momentum", True, kind="bool", doc="cycle momentum / beta1 inversely to lr"),
     Param("base_momentum", 0.85, doc="lowest momentum", check=in_range(0.0, 1.0)),
     Param("max_momentum", 0.95, doc="highest momentum", check=in_range(0.0, 1.0)),
     Param("div_factor", 25.0, doc="initial lr = max_lr/div_factor", check=positive),
     Param("final_div_factor", 1e4, doc="min lr = initial lr/final_div_factor", check=positive),
     Param("three_phase", False, kind="bool", doc="rise, fall back to initial, then anneal")),
    "one-cycle policy: warm up to max_lr, anneal far below (Smith & Topin 2017)",
    "torch.optim.lr_scheduler.OneCycleLR",
    None,
))
