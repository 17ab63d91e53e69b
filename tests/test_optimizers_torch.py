"""Our optimizers and schedules against torch.optim 2.13 in float64 (the reference).

torch runs with ATEN_CPU_CAPABILITY=default (no FMA kernels), set before torch is imported, so
the NumPy ports can match it bit for bit; trajectories are compared at rtol 1e-8."""

from __future__ import annotations

import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from optiviz.experiment import ScheduleConfig  # noqa: E402
from optiviz.optimizers import OPTIMIZERS  # noqa: E402
from optiviz.registry import validate_params  # noqa: E402
from optiviz.schedules import SCHEDULES, schedule_values  # noqa: E402

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)


# Test functions: torch closures and NumPy oracles from the same closed forms ---------------------

def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, (-2 * (1 - x) - 400 * x * (y - x * x),
                                                   200 * (y - x * x))


def beale(x, y):
    a1, a2, a3 = 1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y * y * y
    return a1**2 + a2**2 + a3**2, (
        2 * a1 * (y - 1) + 2 * a2 * (y * y - 1) + 2 * a3 * (y * y * y - 1),
        2 * a1 * x + 4 * a2 * x * y + 6 * a3 * x * y * y,
    )


def himmelblau(x, y):
    u, v = x * x + y - 11, x + y * y - 7
    return u**2 + v**2, (4 * x * u + 2 * v, 2 * u + 4 * y * v)


def quadratic(x, y):
    return 0.5 * x * x + 5 * y * y + x * y, (x + y, 10 * y + x)


FUNCTIONS = {"rosenbrock": rosenbrock, "beale": beale, "himmelblau": himmelblau,
             "quadratic": quadratic}
STARTS = {
    "rosenbrock": [(-1.2, 1.0), (0.5, -0.5), (1.5, 2.5)],
    "beale": [(1.0, 1.0), (-1.0, 0.5), (2.0, -1.0)],
    "himmelblau": [(0.0, 0.0), (-1.0, 2.5), (4.0, -4.0)],
    "quadratic": [(3.0, -2.0), (-1.0, 1.0), (0.5, 0.1)],
}


class NumpyOracle:
    def __init__(self, function):
        self.function = function
        self.calls = 0

    def value_and_grad(self, params):
        self.calls += 1
        with np.errstate(over="ignore", invalid="ignore"):  # diverging maximize runs
            value, (gx, gy) = self.function(params[:, 0], params[:, 1])
        return value, np.stack([gx, gy], axis=1)

    def value(self, params):
        return self.value_and_grad(params)[0]

    def grad(self, params):
        return self.value_and_grad(params)[1]


def torch_closure(function, parameter, optimizer):
    """Summed loss over the rows; the analytic gradient is written into .grad (as a model would)."""

    def closure():
        optimizer.zero_grad()
        with torch.no_grad(), np.errstate(over="ignore", invalid="ignore"):
            value, (gx, gy) = function(parameter[:, 0], parameter[:, 1])
            parameter.grad = torch.stack([gx, gy], dim=1)
        return value.sum()

    return closure


def run_torch(name, hyper, function, starts, steps, schedule=None):
    parameter = torch.tensor(np.asarray(starts, dtype=np.float64), requires_grad=True)
    optimizer = getattr(torch.optim, OPTIMIZERS[name].torch.split(".")[-1])([parameter], **hyper)
    scheduler = schedule(optimizer) if schedule else None
    closure = torch_closure(function, parameter, optimizer)
    positions = []
    for _ in range(steps):
        optimizer.step(closure)
        if scheduler is not None:
            scheduler.step()
        positions.append(parameter.detach().numpy().copy())
    return np.array(positions), optimizer


def run_ours(name, hyper, function, starts, steps, values=None):
    spec = OPTIMIZERS[name]
    full = validate_params(spec.params, hyper)
    params = np.array(starts, dtype=np.float64)
    state = spec.init(params, full)
    oracle = NumpyOracle(function)
    positions = []
    for k in range(steps):
        step_hyper = dict(full)
        if values is not None:
            step_hyper["lr"] = float(values.lr[k])
            if values.momentum is not None:
                if spec.momentum_key == "betas":
                    step_hyper["betas"] = (float(values.momentum[k]), full["betas"][1])
                else:
                    step_hyper["momentum"] = float(values.momentum[k])
        params, state = spec.step(params, state, step_hyper, oracle)
        positions.append(params.copy())
    return np.array(positions), state


# Hyperparameter table covering every option of every element-wise torch optimizer ------------

CASES = [
    ("sgd", {"lr": 1e-3}),
    ("sgd", {"lr": 1e-3, "momentum": 0.9}),
    ("sgd", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("sgd", {"lr": 1e-3, "momentum": 0.5, "maximize": True}),
    ("adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("adagrad", {"lr": 0.05, "maximize": True}),
    ("rmsprop", {"lr": 1e-3}),
    ("rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
    ("rmsprop", {"lr": 1e-3, "alpha": 0.9, "weight_decay": 0.1, "momentum": 0.9, "eps": 1e-6}),
    ("rmsprop", {"lr": 1e-3, "centered": True, "maximize": True}),
    ("adam", {"lr": 1e-2}),
    ("adam", {"lr": 1e-2, "amsgrad": True}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}),
    ("adam", {"lr": 1e-2, "maximize": True}),
    ("adamw", {"lr": 1e-2}),
    ("adamw", {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("adamw", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("adamax", {"lr": 1e-2}),
    ("adamax", {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.5, 0.9), "maximize": True}),
    ("adamax", {"lr": 1e-2, "eps": 1e-3}),
    ("nadam", {"lr": 1e-2}),
    ("nadam", {"lr": 1e-2, "weight_decay": 0.1, "momentum_decay": 1e-2, "eps": 1e-6,
               "betas": (0.8, 0.99)}),
    ("nadam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("radam", {"lr": 1e-3}),
    ("radam", {"lr": 1e-3, "weight_decay": 0.1, "betas": (0.9, 0.99), "eps": 1e-4}),
    ("radam", {"lr": 1e-3, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("adadelta", {}),
    ("adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}),
    ("rprop", {"lr": 1e-2}),
    ("rprop", {"lr": 1e-3, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.05), "maximize": True}),
    ("asgd", {"lr": 1e-3}),
    ("asgd", {"lr": 1e-3, "lambd": 1e-2, "alpha": 0.5, "t0": 5.0, "weight_decay": 0.1}),
    ("asgd", {"lr": 1e-3, "maximize": True}),
]


def _case_id(case):
    name, hyper = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in hyper.items())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_elementwise_optimizer_matches_torch(case, function_name):
    name, hyper = case
    function = FUNCTIONS[function_name]
    starts = STARTS[function_name]
    steps = 40
    ours, _ = run_ours(name, hyper, function, starts, steps)
    theirs, _ = run_torch(name, hyper, function, starts, steps)
    finite = np.isfinite(theirs).all(axis=(1, 2))
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-8, atol=1e-12)


def test_every_torch_optimizer_option_is_covered_by_the_table():
    for name, spec in OPTIMIZERS.items():
        if spec.torch is None or name == "lbfgs":
            continue
        exercised = {key for case_name, hyper in CASES if case_name == name for key in hyper}
        missing = {p.name for p in spec.params} - exercised - {"lr"}
        assert not missing, f"{name}: no case sets {sorted(missing)}"


ROSENBROCK_GOLDEN = [  # REFERENCE.md §1: θ after 1, 2 and 100 steps from (−1.2, 1)
    ("sgd", {"lr": 1e-3}, (-0.9844, 1.088), (-1.0272715665664, 1.064208672),
     (-0.94818637854, 0.907094100354)),
    ("sgd", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, (-0.79036, 1.1672),
     (-0.934804723169021, 1.032318193248), (0.457086930281, 0.205926970656)),
    ("sgd", {"lr": 1e-3, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1},
     (-0.98428, 1.0879), (-0.81154265430025, 1.15504631684), (0.344667162528, 0.113717415192)),
    ("adagrad", {"lr": 0.1}, (-1.10000000000005, 1.09999999999989),
     (-1.07629815805882, 1.12425356250354), (-0.998940358093, 1.00409850501)),
    ("rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.5},
     (-1.18994962185209, 1.01005037814111), (-1.17808117438604, 1.02194330186007),
     (-1.05816580419, 1.1260103333)),
    ("adam", {"lr": 1e-2}, (-1.19000000000046, 1.00999999999886),
     (-1.18003196279144, 1.01997111212516), (-1.0435756024, 1.09388266296)),
    ("adam", {"lr": 1e-2, "amsgrad": True}, (-1.19000000000046, 1.00999999999886),
     (-1.18003196279144, 1.01997111212516), (-1.04381128979, 1.09427542067)),
    ("adamw", {"lr": 1e-2}, (-1.18988000000046, 1.00989999999886),
     (-1.17979323499217, 1.01976991198676), (-1.03625591914, 1.07899406978)),
    ("adamax", {"lr": 1e-2}, (-1.19000000000046, 1.00999999999886),
     (-1.18042779719559, 1.01960410170716), (-1.0585027559, 1.12519973936)),
    ("nadam", {"lr": 1e-2}, (-1.18943548221694, 1.01056451778235),
     (-1.18192503215974, 1.01810015746625), (-1.04721912627, 1.1030067368)),
    ("radam", {"lr": 1e-3}, (-0.9844, 1.088), (-0.904837666613895, 1.11716245894737),
     (-0.966584232857, 1.05305593785)),
    ("adadelta", {"lr": 1.0}, (-1.19683772234017, 1.00316227765813),
     (-1.19363482449076, 1.00636845447095), (-1.06095673228, 1.13072629305)),
    ("rprop", {"lr": 1e-2}, (-1.19, 1.01), (-1.178, 1.022), (-0.784813881518, 0.616534554548)),
    ("asgd", {"lr": 1e-3}, (-0.98439988, 1.0879999), (-1.02727139309328, 1.06420843773317),
     (-0.948180373015, 0.907082812473)),
]


@pytest.mark.parametrize("name, hyper, first, second, hundredth", ROSENBROCK_GOLDEN,
                         ids=[f"{g[0]}-{i}" for i, g in enumerate(ROSENBROCK_GOLDEN)])
def test_reference_golden_values_on_rosenbrock(name, hyper, first, second, hundredth):
    positions, _ = run_ours(name, hyper, rosenbrock, [(-1.2, 1.0)], 100)
    np.testing.assert_allclose(positions[0, 0], first, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(positions[1, 0], second, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(positions[99, 0], hundredth, rtol=1e-10, atol=1e-11)


# L-BFGS: each start alone in torch, all starts at once in ours ------------------------------

LBFGS_CASES = [
    {},
    {"line_search_fn": "strong_wolfe"},
    {"history_size": 3},
    {"history_size": 3, "line_search_fn": "strong_wolfe"},
    {"lr": 0.5, "max_iter": 7, "max_eval": 9},
    {"max_iter": 5, "line_search_fn": "strong_wolfe", "tolerance_change": 1e-6},
]


@pytest.mark.parametrize("hyper", LBFGS_CASES,
                         ids=lambda h: "-".join(map(str, h.values())) or "defaults")
@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_lbfgs_matches_torch_run_by_run(hyper, function_name):
    function, starts, steps = FUNCTIONS[function_name], STARTS[function_name], 6
    ours, state = run_ours("lbfgs", hyper, function, starts, steps)
    for i, start in enumerate(starts):
        theirs, optimizer = run_torch("lbfgs", hyper, function, [start], steps)
        np.testing.assert_allclose(ours[:, i], theirs[:, 0], rtol=1e-8, atol=1e-12)
        torch_state = optimizer.state[optimizer.param_groups[0]["params"][0]]
        assert state[i].func_evals == torch_state["func_evals"]
        assert state[i].n_iter == torch_state["n_iter"]


@pytest.mark.parametrize("hyper, golden", [
    ({}, [((-0.392909524888, 0.146968084894), 20), ((0.240403147223, 0.0529704874809), 40),
          ((0.999803325826, 0.999607845373), 60), ((0.999998789791, 0.999997448255), 62)]),
    ({"line_search_fn": "strong_wolfe"},
     [((0.380622643346, 0.124910131873), 25), ((0.999981421079, 0.999961965181), 44)]),
])
def test_lbfgs_reference_golden_values(hyper, golden):
    # The table was made on an FMA build; ULP differences grow to ~4e-10 by the third step (we
    # match torch with ATEN_CPU_CAPABILITY=default bit for bit, see the test above).
    for k, (theta, func_evals) in enumerate(golden):
        positions, state = run_ours("lbfgs", hyper, rosenbrock, [(-1.2, 1.0)], k + 1)
        np.testing.assert_allclose(positions[k, 0], theta, rtol=1e-9, atol=1e-11)
        assert state[0].func_evals == func_evals


# Schedules driving optimizers, in torch's loop opt.step(); sched.step() ----------------------

def _torch_schedule(name, params, warmup_steps=0, warmup_start_factor=0.01):
    scheduler = torch.optim.lr_scheduler
    constructors = {
        "step": lambda opt: scheduler.StepLR(opt, **params),
        "exponential": lambda opt: scheduler.ExponentialLR(opt, **params),
        "cosine": lambda opt: scheduler.CosineAnnealingLR(
            opt, T_max=params["t_max"], eta_min=params.get("eta_min", 0.0)),
        "linear": lambda opt: scheduler.LinearLR(opt, **params),
        "onecycle": lambda opt: scheduler.OneCycleLR(opt, **params),
    }
    build = constructors[name]
    if not warmup_steps:
        return build

    def sequential(opt):
        warmup = scheduler.LinearLR(opt, start_factor=warmup_start_factor, end_factor=1.0,
                                    total_iters=warmup_steps)
        return scheduler.SequentialLR(opt, [warmup, build(opt)], milestones=[warmup_steps])

    return sequential


SCHEDULE_CASES = [
    ("sgd", {"lr": 1e-3, "momentum": 0.9}, "step", {"step_size": 7, "gamma": 0.5}, 0),
    ("adam", {"lr": 2e-2}, "exponential", {"gamma": 0.97}, 0),
    ("sgd", {"lr": 1e-3}, "cosine", {"t_max": 15, "eta_min": 1e-4}, 0),
    ("adam", {"lr": 2e-2}, "linear", {"start_factor": 0.25, "end_factor": 1.0,
                                      "total_iters": 10}, 0),
    ("sgd", {"lr": 1e-3, "momentum": 0.9}, "onecycle",
     {"max_lr": 2e-3, "total_steps": 40}, 0),
    ("sgd", {"lr": 1e-3}, "onecycle",
     {"max_lr": 2e-3, "total_steps": 40, "anneal_strategy": "linear", "three_phase": True}, 0),
    ("adam", {"lr": 1e-2}, "onecycle", {"max_lr": 3e-2, "total_steps": 40, "pct_start": 0.4}, 0),
    ("adam", {"lr": 1e-2}, "cosine", {"t_max": 30}, 10),
    ("sgd", {"lr": 1e-3, "momentum": 0.9}, "cosine", {"t_max": 30, "eta_min": 1e-5}, 10),
]


@pytest.mark.parametrize("optimizer, hyper, schedule, params, warmup", SCHEDULE_CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(SCHEDULE_CASES)])
def test_scheduled_optimizer_matches_torch(optimizer, hyper, schedule, params, warmup):
    steps = 40
    full = validate_params(SCHEDULES[schedule].params, params)
    config = ScheduleConfig(schedule, full, warmup_steps=warmup, warmup_start_factor=0.1)
    momentum = hyper.get("momentum", 0.0) if optimizer == "sgd" else 0.9
    values = schedule_values(config, hyper["lr"], steps, base_momentum=momentum)
    ours, _ = run_ours(optimizer, hyper, rosenbrock, STARTS["rosenbrock"], steps, values)
    build = _torch_schedule(schedule, params, warmup, 0.1)
    theirs, _ = run_torch(optimizer, hyper, rosenbrock, STARTS["rosenbrock"], steps, build)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)
