"""`{torch: ...}` entries: any torch.optim.Optimizer through the adapter, against our native
optimizers (bit for bit), against a plain per-run torch loop, and every way it can fail."""

from __future__ import annotations

import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"  # before torch is imported: NumPy-like rounding

import sys  # noqa: E402
import textwrap  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from optiviz.cli import cli  # noqa: E402
from optiviz.functions import make_function  # noqa: E402

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

STEPS = 25
STARTS = [[-1.2, 1.0], [0.5, -0.5], [1.5, 2.5]]


def run_data(tmp_path, optimizers, *, function="rosenbrock", starts=STARTS, steps=STEPS,
             seed=0, name="exp"):
    """`optiviz run --no-render --data` on a config; returns the npz arrays."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"function": function, "start": starts, "steps": steps,
                                    "seed": seed, "optimizers": optimizers}))
    data = tmp_path / f"{name}.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render", "--data", str(data)])
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        return {key: npz[key] for key in npz.files}


def entry_rows(data, i, n=3):  # len(STARTS)
    return slice(i * n, (i + 1) * n)


# The adapter on torch.optim equals our native optimizers bit for bit --------------------------

NATIVE_PAIRS = [
    ({"name": "adam", "lr": 0.01}, {"torch": "torch.optim.Adam", "lr": 0.01}),
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": True},
     {"torch": "torch.optim.SGD", "lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    ({"name": "rmsprop", "lr": 1e-3, "centered": True, "momentum": 0.5},
     {"torch": "torch.optim.RMSprop", "lr": 1e-3, "centered": True, "momentum": 0.5}),
    ({"name": "lbfgs", "lr": 1, "line_search_fn": "strong_wolfe", "history_size": 10,
      "max_iter": 4},
     {"torch": "torch.optim.LBFGS", "lr": 1, "line_search_fn": "strong_wolfe",
      "history_size": 10, "max_iter": 4}),
    ({"name": "adam", "lr": 0.01, "schedule": {"name": "cosine", "warmup_steps": 5}},
     {"torch": "torch.optim.Adam", "lr": 0.01, "schedule": {"name": "cosine", "warmup_steps": 5}}),
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9, "schedule": {"name": "onecycle",
                                                               "max_lr": 2e-3}},
     {"torch": "torch.optim.SGD", "lr": 1e-3, "momentum": 0.9,
      "schedule": {"name": "onecycle", "max_lr": 2e-3}}),
    ({"name": "adam", "lr": 0.01, "schedule": {"name": "onecycle", "max_lr": 0.02}},
     {"torch": "torch.optim.Adam", "lr": 0.01, "batched": True,
      "schedule": {"name": "onecycle", "max_lr": 0.02}}),
]


@pytest.mark.parametrize("function", ["rosenbrock", "himmelblau"])
def test_adapter_on_torch_optim_equals_native_bit_for_bit(tmp_path, function):
    optimizers = [entry for pair in NATIVE_PAIRS for entry in pair]
    data = run_data(tmp_path, optimizers, function=function)
    for k, (_native, adapted) in enumerate(NATIVE_PAIRS):
        ours = data["positions"][entry_rows(data, 2 * k)]
        theirs = data["positions"][entry_rows(data, 2 * k + 1)]
        np.testing.assert_array_equal(theirs, ours, err_msg=str(adapted))
        np.testing.assert_array_equal(data["lr"][entry_rows(data, 2 * k + 1)],
                                      data["lr"][entry_rows(data, 2 * k)])
    assert str(data["label"][entry_rows(data, 1)][0]) == "torch:Adam lr=0.01"


def test_divergence_is_marked_as_for_native_optimizers(tmp_path):
    data = run_data(tmp_path, [{"name": "sgd", "lr": 0.01},
                               {"torch": "torch.optim.SGD", "lr": 0.01},
                               {"torch": "torch.optim.SGD", "lr": 0.01, "batched": True}])
    native = data["diverged_step"][entry_rows(data, 0)]
    assert (native > 0).any()
    np.testing.assert_array_equal(data["diverged_step"][entry_rows(data, 1)], native)
    np.testing.assert_array_equal(data["diverged_step"][entry_rows(data, 2)], native)
    np.testing.assert_array_equal(data["positions"][entry_rows(data, 1)],
                                  data["positions"][entry_rows(data, 0)])


def test_noise_and_hutchinson_draws_are_reproducible(tmp_path):
    entries = [{"torch": "torch.optim.Adam", "lr": 0.01, "noise": 0.5},
               {"torch": "adahessian", "lr": 0.05}]
    first = run_data(tmp_path, entries, name="a")
    second = run_data(tmp_path, entries, name="b")
    np.testing.assert_array_equal(first["positions"], second["positions"])
    other_seed = run_data(tmp_path, entries, seed=1, name="c")
    assert not np.array_equal(first["positions"], other_seed["positions"])


def test_sweeps_expand_torch_entries(tmp_path):
    data = run_data(tmp_path, [{"torch": "torch.optim.Adam", "lr": [0.01, 0.1],
                                "betas": [[0.9, 0.999], [0.5, 0.9]]}], steps=3)
    assert len(set(data["label"].tolist())) == 4


# pytorch-optimizer through the adapter equals a plain per-run torch loop ------------------------

def plain_loop(make, start, function, steps, *, closure=False, hvp_seed=None):
    """One run as a user would write it: a (2,) parameter, .grad from the closed form."""
    p = torch.tensor(start, requires_grad=True)
    optimizer = make([p])

    def set_grad():
        x, y = p.detach().numpy()
        if hvp_seed is not None:  # autograd of the quadratic's closed form, create_graph=True
            loss = 0.5 * p[0] ** 2 + 5 * p[1] ** 2 + p[0] * p[1]
            p.grad = None
            loss.backward(create_graph=True)
            return loss
        gx, gy = function.grad(np.array([x]), np.array([y]))
        p.grad = torch.tensor([gx[0], gy[0]])
        return torch.tensor(function.value(np.array([x]), np.array([y]))[0])

    if hvp_seed is not None:
        torch.manual_seed(hvp_seed)
    path = [p.detach().clone().numpy()]
    for _ in range(steps):
        set_grad()
        if closure:
            optimizer.step(set_grad)
        else:
            optimizer.step()
        path.append(p.detach().clone().numpy())
    return np.array(path)


po = pytest.importorskip("pytorch_optimizer")

THIRD_PARTY = [
    ({"torch": "pytorch_optimizer:AdaBelief", "lr": 0.01},
     lambda ps: po.AdaBelief(ps, lr=0.01), False),
    ({"torch": "lamb", "lr": 0.01}, lambda ps: po.Lamb(ps, lr=0.01), False),
    ({"torch": "lion", "lr": 0.001}, lambda ps: po.Lion(ps, lr=0.001), False),
    ({"torch": "ranger", "lr": 0.01}, lambda ps: po.Ranger(ps, lr=0.01), False),
    ({"torch": "ranger21", "lr": 0.01, "num_iterations": STEPS},
     lambda ps: po.Ranger21(ps, lr=0.01, num_iterations=STEPS), False),
    ({"torch": "pytorch_optimizer:SAM", "base_optimizer": "torch.optim.SGD", "lr": 1e-3,
      "momentum": 0.5, "rho": 0.05},
     lambda ps: po.SAM(ps, torch.optim.SGD, lr=1e-3, momentum=0.5, rho=0.05), True),
    ({"torch": "madgrad", "lr": 0.001}, lambda ps: po.MADGRAD(ps, lr=0.001), False),
]


def test_pytorch_optimizer_equals_a_plain_per_run_loop(tmp_path):
    data = run_data(tmp_path, [entry for entry, _, _ in THIRD_PARTY])
    function = make_function("rosenbrock")
    for k, (entry, make, closure) in enumerate(THIRD_PARTY):
        ours = data["positions"][entry_rows(data, k)]
        for r, start in enumerate(STARTS):
            expected = plain_loop(make, start, function, STEPS, closure=closure)
            np.testing.assert_array_equal(ours[r], expected, err_msg=f"{entry} run {r}")


@pytest.mark.parametrize("name", ["AdaHessian", "SophiaH"])
def test_hessian_vector_products_come_from_the_exact_hessian(tmp_path, name):
    """AdaHessian / Sophia-H through the adapter on an `expr` function equal the plain loop with
    loss.backward(create_graph=True), each run seeded as the adapter seeds it."""
    quadratic = {"expr": "0.5*x**2 + 5*y**2 + x*y", "domain": [[-3, 3], [-3, 3]]}
    entry = {"torch": f"pytorch_optimizer:{name}", "lr": 0.05}
    data = run_data(tmp_path, [entry], function=quadratic, seed=3)
    base = int(np.random.default_rng([3, 0]).integers(0, 2**62))
    for r, start in enumerate(STARTS):
        expected = plain_loop(lambda ps: getattr(po, name)(ps, lr=0.05), start, None, STEPS,
                              hvp_seed=base + r)
        np.testing.assert_allclose(data["positions"][r], expected, rtol=1e-13, atol=1e-15)
    moved = np.abs(data["positions"][:, -1] - data["positions"][:, 0]).max()
    assert moved > 0.01


# Runs do not leak into each other --------------------------------------------------------------

TRUST_RATIO = '''
import torch


class TrustRatioSGD(torch.optim.Optimizer):
    """LARS-like: the step is scaled by ||p|| / ||g|| of the tensor, and keeps a per-tensor
    running norm in its state."""

    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                ratio = p.norm() / (p.grad.norm() + 1e-12)
                state["norm"] = state.get("norm", 0.0) * 0.9 + ratio
                p.add_(p.grad, alpha=-group["lr"] * float(state["norm"]) * 0.1)


class Exploding(torch.optim.Optimizer):
    def __init__(self, params, lr=0.01):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        raise RuntimeError("this optimizer always fails")


class NotAnOptimizer:
    def __init__(self, params, lr=0.01):
        pass
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "my_torch_opts.py").write_text(TRUST_RATIO)
    (folder / "broken_opts.py").write_text("raise RuntimeError('cannot load\\nthis')\n")
    monkeypatch.syspath_prepend(str(folder))
    yield "my_torch_opts"
    for module in ("my_torch_opts", "broken_opts"):
        sys.modules.pop(module, None)


def test_per_tensor_state_never_leaks_between_runs(tmp_path, user_module):
    entry = {"torch": f"{user_module}:TrustRatioSGD", "lr": 0.01}
    together = run_data(tmp_path, [entry], function="himmelblau", name="all")
    for r, start in enumerate(STARTS):
        alone = run_data(tmp_path, [entry], function="himmelblau", starts=[start], name=f"r{r}")
        np.testing.assert_array_equal(together["positions"][r], alone["positions"][0])
    # One (N, 2) tensor shares the norm: the runs then do differ (so the test above can fail).
    batched = run_data(tmp_path, [{**entry, "batched": True}], function="himmelblau",
                       name="batched")
    assert not np.allclose(batched["positions"], together["positions"])


# Every failure: one line, exit 2, nothing written ------------------------------------------

def failure(tmp_path, entry, *, function="rosenbrock"):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"function": function, "start": [0.5, 0.5], "steps": 3,
                                    "optimizers": [{"name": "adam"}, entry]}, sort_keys=False))
    out = tmp_path / "out.gif"
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("entry, message", [
    ({"torch": "pytorch_optimizer:AdaBelief", "betaz": [0.9, 0.99]},
     "optimizers[1].betaz: not a parameter of AdaBelief; did you mean 'betas'?"),
    ({"torch": "torch.optim.Adam", "lrr": 0.1},
     "optimizers[1].lrr: not a parameter of Adam; did you mean 'lr'?"),
    ({"torch": "torch.optim.Adma"}, "'torch.optim' has no 'Adma'; did you mean 'Adam'?"),
    ({"torch": "nopkg.sub:Opt"}, "cannot import 'nopkg.sub': no module named 'nopkg'"),
    ({"torch": "collections:OrderedDict"},
     "collections:OrderedDict is not a torch.optim.Optimizer subclass"),
    ({"torch": "torch.optim.Adam", "betas": [1.5, 0.9]},
     "optimizers[1]: Adam(...) raised ValueError: Invalid beta parameter at index 0: 1.5"),
    ({"torch": "torch.optim.Adam", "lr": "fast"}, "optimizers[1].lr: must be a number"),
    ({"torch": "torch.optim.Adam", "lr": -1.0}, "optimizers[1].lr: must be > 0"),
    ({"torch": "ranger21"}, "missing required key 'num_iterations' (a parameter of Ranger21"),
    ({"torch": "rangr21"}, "unknown pytorch-optimizer optimizer 'rangr21'; did you mean "
                           "'ranger21'?"),
    ({"torch": "torch.optim.LBFGS", "batched": True},
     "optimizers[1].batched: LBFGS couples the runs"),
    ({"torch": "torch.optim.Adam", "batched": "yes"}, "batched: must be true or false"),
    ({"torch": "torch.optim.Adam", "name": "adam"}, "give either 'name'"),
    ({"torch": 3}, "optimizers[1].torch: must name a torch optimizer class"),
    ({"torch": "torch.optim.SGD", "momentum": 0.9, "schedule": {"name": "onecycle",
                                                                "max_lr": 0.1}}, None),
])
def test_bad_torch_entries_fail_with_one_line(tmp_path, entry, message):
    if message is None:  # a valid entry among the failures: the test helper is not vacuous
        path = tmp_path / "ok.yaml"
        path.write_text(yaml.safe_dump({"function": "rosenbrock", "start": [0.5, 0.5],
                                        "steps": 3, "optimizers": [entry]}))
        assert CliRunner().invoke(cli, ["validate", str(path)]).exit_code == 0
        return
    line = failure(tmp_path, entry)
    assert line.startswith(f"error: {tmp_path / 'bad.yaml'}:"), line
    assert message in line, line


def test_hvp_with_mini_batches_is_not_supported(tmp_path):
    line = failure(tmp_path, {"torch": "adahessian", "batch_size": 10},
                   function={"name": "linear_regression"})
    assert "batch_size: not supported: AdaHessian takes Hessian-vector products" in line


def test_onecycle_momentum_needs_a_momentum(tmp_path):
    line = failure(tmp_path, {"torch": "torch.optim.Adagrad",
                              "schedule": {"name": "onecycle", "max_lr": 0.1}})
    assert "onecycle cycles momentum, which torch:Adagrad does not have" in line


def test_user_modules_fail_cleanly(tmp_path, user_module):
    line = failure(tmp_path, {"torch": "broken_opts:Opt"})
    assert "importing 'broken_opts' failed: RuntimeError: cannot load this" in line
    line = failure(tmp_path, {"torch": f"{user_module}:NotAnOptimizer"})
    assert "is not a torch.optim.Optimizer subclass" in line
    line = failure(tmp_path, {"torch": f"{user_module}:Exploding"})
    assert line == ("error: torch:Exploding: step 1 (run 0) raised RuntimeError: this "
                    "optimizer always fails")


def test_without_torch_one_line_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    line = failure(tmp_path, {"torch": "torch.optim.Adam"})
    assert "torch entries need PyTorch, which is not installed: pip install 'optiviz[torch]'" \
        in line


def test_bare_names_without_pytorch_optimizer(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pytorch_optimizer", None)
    line = failure(tmp_path, {"torch": "ranger21", "num_iterations": 3})
    assert "pytorch-optimizer, which is not installed (pip install pytorch-optimizer)" in line


def test_validate_reports_torch_errors_with_line(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(textwrap.dedent("""\
        function: rosenbrock
        start: [0.5, 0.5]
        optimizers:
          - {name: adam}
          - {torch: "pytorch_optimizer:AdaBelief", betaz: [0.9, 0.99]}
    """))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert (f"{path}:5: optimizers[1].betaz: not a parameter of AdaBelief; did you mean "
            "'betas'?") in result.output


def test_python_api_runs_torch_entries(tmp_path):
    from optiviz.api import compute, load

    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump({"function": "rosenbrock", "start": STARTS, "steps": 5,
                                    "optimizers": [{"torch": "torch.optim.Adam", "lr": 0.01},
                                                   {"name": "adam", "lr": 0.01}]}))
    result = compute(load(path))
    np.testing.assert_array_equal(result.positions[:3], result.positions[3:])
