"""Through the command line, against torch.optim: `optiviz run --data` trajectories equal the
standard torch loop (`opt.step(); sched.step()`) in float64 for every torch optimizer and
schedule, on Rosenbrock and Himmelblau from several starts at once."""

from __future__ import annotations

import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"  # before torch is imported: NumPy-like rounding

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from optiviz.cli import cli  # noqa: E402

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

STEPS = 30
FUNCTIONS = {
    "rosenbrock": (lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
                   [[-1.2, 1.0], [0.5, -0.5], [1.5, 2.5]]),
    "himmelblau": (lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
                   [[0.0, 0.0], [-1.0, 2.5], [4.0, -4.0]]),
}

# (config entry, torch constructor, scheduler factory or None)
CASES = [
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": True},
     lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, nesterov=True), None),
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1},
     lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, dampening=0.5, weight_decay=0.1), None),
    ({"name": "adagrad", "lr": 0.1, "lr_decay": 0.01},
     lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01), None),
    ({"name": "rmsprop", "lr": 1e-3, "centered": True, "momentum": 0.5},
     lambda p: torch.optim.RMSprop(p, lr=1e-3, centered=True, momentum=0.5), None),
    ({"name": "adam", "lr": 1e-2, "amsgrad": True},
     lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True), None),
    ({"name": "adamw", "lr": 1e-2}, lambda p: torch.optim.AdamW(p, lr=1e-2), None),
    ({"name": "adamax", "lr": 1e-2}, lambda p: torch.optim.Adamax(p, lr=1e-2), None),
    ({"name": "nadam", "lr": 1e-2}, lambda p: torch.optim.NAdam(p, lr=1e-2), None),
    ({"name": "radam", "lr": 1e-3}, lambda p: torch.optim.RAdam(p, lr=1e-3), None),
    ({"name": "adadelta", "lr": 1.0}, lambda p: torch.optim.Adadelta(p, lr=1.0), None),
    ({"name": "rprop", "lr": 1e-2}, lambda p: torch.optim.Rprop(p, lr=1e-2), None),
    ({"name": "asgd", "lr": 1e-3}, lambda p: torch.optim.ASGD(p, lr=1e-3), None),
    ({"name": "sgd", "lr": 1e-3, "schedule": {"name": "step", "step_size": 7, "gamma": 0.5}},
     lambda p: torch.optim.SGD(p, lr=1e-3),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    ({"name": "adam", "lr": 1e-2, "schedule": {"name": "exponential", "gamma": 0.95}},
     lambda p: torch.optim.Adam(p, lr=1e-2),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95)),
    ({"name": "adam", "lr": 1e-2, "schedule": {"name": "cosine", "t_max": 10, "eta_min": 1e-4}},
     lambda p: torch.optim.Adam(p, lr=1e-2),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-4)),
    ({"name": "sgd", "lr": 1e-3, "schedule": {"name": "linear", "start_factor": 0.25,
                                                "total_iters": 12}},
     lambda p: torch.optim.SGD(p, lr=1e-3),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=12)),
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9,
      "schedule": {"name": "onecycle", "max_lr": 2e-3}},
     lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9),
     lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=2e-3, total_steps=STEPS)),
    ({"name": "adam", "lr": 1e-2, "schedule": {"name": "cosine", "eta_min": 1e-4,
                                                 "warmup_steps": 5, "warmup_start_factor": 0.1}},
     lambda p: torch.optim.Adam(p, lr=1e-2),
     lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
         torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5),
         torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS - 5, eta_min=1e-4)],
         milestones=[5])),
]


def torch_paths(function, starts, make_optimizer, make_scheduler):
    """The standard loop, all starts as one (N, 2) parameter with the summed loss."""
    p = torch.tensor(starts, requires_grad=True)
    opt = make_optimizer([p])
    sched = make_scheduler(opt) if make_scheduler else None
    path, lrs = [p.detach().clone()], []
    for _ in range(STEPS):
        opt.zero_grad()
        function(p[:, 0], p[:, 1]).sum().backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
        path.append(p.detach().clone())
    return torch.stack(path, dim=1).numpy(), np.array(lrs)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_cli_trajectories_equal_torch(tmp_path, function):
    closed_form, starts = FUNCTIONS[function]
    config = {"function": function, "start": starts, "steps": STEPS,
              "optimizers": [entry for entry, _, _ in CASES]}
    path = tmp_path / "torch.yaml"
    path.write_text(yaml.safe_dump(config))
    data = tmp_path / "runs.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render", "--data", str(data)])
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        positions, lr = npz["positions"], npz["lr"]
    n = len(starts)
    for i, (entry, make_optimizer, make_scheduler) in enumerate(CASES):
        expected, expected_lr = torch_paths(closed_form, starts, make_optimizer, make_scheduler)
        ours = positions[i * n:(i + 1) * n]
        finite = np.isfinite(expected).all(axis=(1, 2))
        np.testing.assert_allclose(ours[finite], expected[finite], rtol=1e-8, atol=1e-12,
                                   err_msg=str(entry))
        np.testing.assert_allclose(lr[i * n], expected_lr, rtol=1e-13, err_msg=str(entry))


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_cli_lbfgs_equals_torch_run_alone(tmp_path, line_search):
    closed_form, starts = FUNCTIONS["rosenbrock"]
    entry = {"name": "lbfgs", "lr": 1, "history_size": 10, "max_iter": 4,
             "line_search_fn": line_search}
    path = tmp_path / "lbfgs.yaml"
    path.write_text(yaml.safe_dump({"function": "rosenbrock", "start": starts, "steps": 6,
                                    "optimizers": [entry]}))
    data = tmp_path / "runs.npz"
    assert CliRunner().invoke(cli, ["run", str(path), "--no-render", "--data", str(data)]
                              ).exit_code == 0
    with np.load(data) as npz:
        positions = npz["positions"]
    for r, start in enumerate(starts):
        p = torch.tensor(start, requires_grad=True)
        opt = torch.optim.LBFGS([p], lr=1, history_size=10, max_iter=4,
                                line_search_fn=line_search)

        def closure(p=p):
            # The closed forms optiviz.functions uses, in the same order of operations: L-BFGS
            # amplifies a last-bit difference between autograd and the closed form to ~1e-9.
            x, y = p.detach()[0], p.detach()[1]
            valley = y - x * x
            p.grad = torch.stack((-2 * (1 - x) - 4 * 100.0 * x * valley, 2 * 100.0 * valley))
            return (1 - x) * (1 - x) + 100.0 * (valley * valley)

        expected = [p.detach().clone().numpy()]
        for _ in range(6):
            opt.step(closure)
            expected.append(p.detach().clone().numpy())
        np.testing.assert_allclose(positions[r], np.array(expected), rtol=1e-10, atol=1e-14)
