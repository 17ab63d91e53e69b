"""Learning-rate schedules: closed forms, torch's recursive values, warm-up, OneCycle momentum."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from optiviz.errors import ConfigError
from optiviz.experiment import ScheduleConfig
from optiviz.registry import validate_params
from optiviz.schedules import SCHEDULES, schedule_values


def values(name, params, base_lr=0.1, steps=50, **config):
    full = validate_params(SCHEDULES[name].params, params) if name else {}
    return schedule_values(ScheduleConfig(name, full, **config), base_lr, steps, base_momentum=0.9)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_schedule_has_summary_and_valid_defaults(name):
    spec = SCHEDULES[name]
    assert spec.summary and spec.torch and spec.name == name
    for param in spec.params:
        if not param.required:
            assert param.coerce(param.default, (param.name,)) == param.default


@pytest.mark.parametrize("name, params, closed_form", [
    ("step", {"step_size": 7, "gamma": 0.5}, lambda e: 0.1 * 0.5 ** (e // 7)),
    ("exponential", {"gamma": 0.9}, lambda e: 0.1 * 0.9**e),
    ("cosine", {"t_max": 20, "eta_min": 0.01},
     lambda e: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * e / 20)) / 2),
    ("linear", {"start_factor": 0.25, "end_factor": 0.75, "total_iters": 10},
     lambda e: 0.1 * (0.25 + 0.5 * min(e, 10) / 10)),
])
def test_recursive_values_agree_with_the_closed_form(name, params, closed_form):
    expected = [closed_form(e) for e in range(50)]
    np.testing.assert_allclose(values(name, params).lr, expected, rtol=1e-14)


def test_cosine_is_not_clamped_past_t_max():
    lr = values("cosine", {"t_max": 10}, steps=21).lr
    assert lr[10] == pytest.approx(0.0, abs=1e-17) and lr[20] == pytest.approx(0.1, rel=1e-14)


def test_onecycle_starts_at_max_lr_over_div_factor_through_cos():
    result = values("onecycle", {"max_lr": 1.0}, steps=100)
    assert result.lr[0] == 0.040000000000000036
    assert result.lr.max() == pytest.approx(1.0) and result.lr[-1] == pytest.approx(4e-6)
    assert result.momentum[0] == 0.95 and result.momentum.min() == pytest.approx(0.85)


def test_onecycle_without_cycle_momentum_has_no_momentum_values():
    assert values("onecycle", {"max_lr": 1.0, "cycle_momentum": False}).momentum is None


def test_onecycle_shorter_than_the_run_is_an_error():
    with pytest.raises(ConfigError) as error:
        values("onecycle", {"max_lr": 1.0, "total_steps": 10}, steps=11)
    assert error.value.path == ("total_steps",)


def test_onecycle_cycle_momentum_needs_a_momentum_optimizer():
    full = validate_params(SCHEDULES["onecycle"].params, {"max_lr": 1.0})
    with pytest.raises(ConfigError) as error:
        schedule_values(ScheduleConfig("onecycle", full), 0.1, 10, base_momentum=None)
    assert error.value.path == ("cycle_momentum",)


def test_warmup_then_cosine_counts_the_cosine_from_the_milestone():
    lr = values("cosine", {"t_max": 40}, steps=50, warmup_steps=10, warmup_start_factor=0.1).lr
    expected = [0.1 * (0.1 + 0.9 * e / 10) for e in range(10)]
    expected += [0.1 * (1 + math.cos(math.pi * (e - 10) / 40)) / 2 for e in range(10, 50)]
    np.testing.assert_allclose(lr, expected, rtol=1e-14)


def test_warmup_alone_ramps_to_the_base_lr():
    lr = values(None, {}, steps=20, warmup_steps=5, warmup_start_factor=0.2).lr
    np.testing.assert_allclose(lr, [0.1 * min(0.2 + 0.8 * e / 5, 1.0) for e in range(20)],
                               rtol=1e-14)
    np.testing.assert_array_equal(values(None, {}, steps=3).lr, [0.1, 0.1, 0.1])


TORCH_CASES = [
    ("step", {"step_size": 3, "gamma": 0.5}, {}),
    ("exponential", {"gamma": 0.93}, {}),
    ("cosine", {"t_max": 12, "eta_min": 1e-3}, {}),
    ("linear", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 17}, {}),
    ("onecycle", {"max_lr": 0.7, "total_steps": 60}, {}),
    ("onecycle", {"max_lr": 0.7, "anneal_strategy": "linear", "three_phase": True,
                  "div_factor": 10.0, "final_div_factor": 100.0, "pct_start": 0.25}, {}),
    ("cosine", {"t_max": 20, "eta_min": 1e-4}, {"warmup_steps": 8, "warmup_start_factor": 0.05}),
    ("step", {"step_size": 4}, {"warmup_steps": 6}),
]


@pytest.mark.parametrize("name, params, config", TORCH_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_lr_and_momentum_values_equal_torch(name, params, config):
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")
    torch = pytest.importorskip("torch")
    steps = 60
    parameter = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9)
    scheduler = torch.optim.lr_scheduler
    torch_names = {"step": "StepLR", "exponential": "ExponentialLR", "linear": "LinearLR",
                   "cosine": "CosineAnnealingLR", "onecycle": "OneCycleLR"}
    kwargs = {("T_max" if k == "t_max" else k): v for k, v in params.items()}
    if name == "onecycle":
        kwargs.setdefault("total_steps", steps)
    main = getattr(scheduler, torch_names[name])
    if config.get("warmup_steps"):
        warmup = config["warmup_steps"]
        ramp = scheduler.LinearLR(optimizer, start_factor=config.get("warmup_start_factor", 0.01),
                                  end_factor=1.0, total_iters=warmup)
        schedule = scheduler.SequentialLR(optimizer, [ramp, main(optimizer, **kwargs)],
                                          milestones=[warmup])
    else:
        schedule = main(optimizer, **kwargs)
    torch_lr, torch_momentum = [], []
    for _ in range(steps):
        torch_lr.append(optimizer.param_groups[0]["lr"])
        torch_momentum.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        schedule.step()
    ours = values(name, params, steps=steps, **config)
    np.testing.assert_array_equal(ours.lr, torch_lr)
    if name == "onecycle":
        np.testing.assert_array_equal(ours.momentum, torch_momentum)
