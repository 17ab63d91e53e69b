"""The engine and every optimizer on d parameters (issue 8): torch parity for d = 5, Newton
against solving the d×d systems, L-BFGS with strong Wolfe against torch, divergence on any
coordinate, the objective protocol, recorded steps and the per-entry learning rates.

torch runs with ATEN_CPU_CAPABILITY=default (set before torch is imported, as in
test_optimizers_torch.py); both sides get the gradient from the same NumPy closed form, so the
comparisons hold at rtol 1e-10."""

from __future__ import annotations

import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from optiviz.engine import Oracle, PlanarObjective, as_objective, run_group, simulate  # noqa: E402
from optiviz.experiment import Experiment, OptimizerConfig, RenderConfig  # noqa: E402
from optiviz.optimizers import OPTIMIZERS  # noqa: E402
from optiviz.registry import validate_params  # noqa: E402
from optiviz.trajectories import RunLR  # noqa: E402

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)  # torch keeps step counters and NAdam's μ product in it

DIM = 5
_B = np.array([[1.0, 0.3, 0.0, -0.2, 0.1], [0.2, 1.5, 0.4, 0.0, 0.0], [0.0, -0.3, 2.0, 0.5, 0.2],
               [0.1, 0.0, 0.3, 1.2, -0.4], [0.0, 0.2, 0.0, 0.1, 0.8]])
A = _B @ _B.T + 0.5 * np.eye(DIM)  # symmetric positive definite, far from diagonal
B = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
C = 0.05  # weight of the quartic term


class Quartic:
    """f(θ) = ½ θᵀAθ − bᵀθ + c·Σ θ_i⁴ over (N, 5), with exact gradient and Hessian."""

    dim = DIM
    param_names = tuple(f"theta{i}" for i in range(DIM))

    def value(self, p):
        return 0.5 * np.einsum("ni,ij,nj->n", p, A, p) - p @ B + C * (p**4).sum(axis=1)

    def grad(self, p):
        return p @ A - B + 4 * C * p**3

    def hessian(self, p):
        return A[None] + 12 * C * np.einsum("ni,ij->nij", p**2, np.eye(DIM))


QUARTIC = Quartic()
STARTS = np.array([[1.0, -1.0, 0.5, 2.0, -0.5], [-2.0, 0.3, 1.5, -1.0, 0.8],
                   [0.2, 0.4, -0.6, 0.8, -1.0]])


def config(name, hyper):
    spec = OPTIMIZERS[name]
    return OptimizerConfig(name, name, validate_params(spec.params, hyper))


def run_ours(name, hyper, steps, starts=STARTS, objective=QUARTIC):
    positions, loss, lr, diverged = run_group([config(name, hyper)], objective, starts, steps,
                                              np.random.default_rng(0))
    return positions, loss, diverged


def run_torch(name, hyper, steps, starts=STARTS):
    parameter = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    optimizer = getattr(torch.optim, OPTIMIZERS[name].torch.split(".")[-1])([parameter], **hyper)

    def closure():
        optimizer.zero_grad()
        point = parameter.detach().numpy().copy()
        parameter.grad = torch.from_numpy(QUARTIC.grad(point))
        return torch.tensor(float(QUARTIC.value(point).sum()))

    positions = [parameter.detach().numpy().copy()]
    for _ in range(steps):
        optimizer.step(closure)
        positions.append(parameter.detach().numpy().copy())
    return np.array(positions), optimizer


# torch.optim's eleven elementwise optimizers (the twelfth, L-BFGS, below), as in
# test_optimizers_torch.py.
TORCH_CASES = [
    ("sgd", {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 1e-2, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("rmsprop", {"lr": 1e-2, "centered": True, "momentum": 0.5}),
    ("rmsprop", {"lr": 1e-2, "alpha": 0.9, "weight_decay": 0.1, "eps": 1e-6}),
    ("adam", {"lr": 5e-2, "amsgrad": True, "weight_decay": 0.1}),
    ("adam", {"lr": 5e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adamw", {"lr": 5e-2, "betas": (0.8, 0.99), "eps": 1e-6, "maximize": True}),
    ("adamax", {"lr": 5e-2, "weight_decay": 0.1}),
    ("nadam", {"lr": 5e-2, "momentum_decay": 1e-2, "decoupled_weight_decay": True,
               "weight_decay": 0.1}),
    ("radam", {"lr": 5e-2, "weight_decay": 0.1}),
    ("adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-4}),
    ("rprop", {"lr": 1e-2, "etas": (0.3, 1.5), "step_sizes": (1e-4, 0.5)}),
    ("asgd", {"lr": 1e-2, "lambd": 1e-2, "alpha": 0.5, "t0": 5.0, "weight_decay": 0.1}),
]


def test_the_table_and_lbfgs_cover_all_twelve_torch_optimizers():
    torch_names = {name for name, spec in OPTIMIZERS.items()
                   if spec.torch is not None and name != "lbfgs"}
    assert {name for name, _ in TORCH_CASES} == torch_names
    assert len({OPTIMIZERS[n].torch for n in torch_names | {"lbfgs"}}) == 12


@pytest.mark.parametrize("name, hyper", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_every_torch_optimizer_matches_torch_in_five_dimensions(name, hyper):
    steps = 30
    ours, loss, diverged = run_ours(name, hyper, steps)
    theirs, _ = run_torch(name, hyper, steps)
    assert ours.shape == (steps + 1, len(STARTS), DIM)
    assert (diverged == -1).all()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(loss, QUARTIC.value(ours.reshape(-1, DIM)).reshape(loss.shape),
                               rtol=1e-14)


def test_lbfgs_with_strong_wolfe_matches_torch_run_by_run_in_five_dimensions():
    hyper = {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 6}
    steps = 4
    ours, _, _ = run_ours("lbfgs", hyper, steps)
    for i, start in enumerate(STARTS):
        theirs, optimizer = run_torch("lbfgs", hyper, steps, starts=start[None])
        np.testing.assert_allclose(ours[:, i], theirs[:, 0], rtol=1e-8, atol=1e-10)


def test_lbfgs_state_keeps_d_dimensional_memories():
    spec = OPTIMIZERS["lbfgs"]
    hyper = validate_params(spec.params, {"history_size": 3})
    params = STARTS.copy()
    state = spec.init(params, hyper)
    assert state.old_dirs.shape == (3, 3, DIM)
    for _ in range(3):
        params, state = spec.step(params, state, hyper, Oracle(QUARTIC))
    run = state[0]
    assert len(run.d) == DIM and all(len(y) == DIM for y in run.old_dirs)


@pytest.mark.parametrize("damping", ["none", "levenberg"])
def test_newton_solves_the_d_by_d_system(damping):
    hyper = {"damping": damping, "lr": 0.7, "mu": 0.3}
    steps = 6
    ours, _, _ = run_ours("newton", hyper, steps)
    expected = [STARTS.copy()]
    for _ in range(steps):
        point = expected[-1]
        shift = hyper["mu"] if damping == "levenberg" else 0.0
        scale = hyper["lr"] if damping == "levenberg" else 1.0
        moved = []
        for row in point:
            h = QUARTIC.hessian(row[None])[0] + shift * np.eye(DIM)
            moved.append(row - scale * np.linalg.solve(h, QUARTIC.grad(row[None])[0]))
        expected.append(np.array(moved))
    np.testing.assert_allclose(ours, np.array(expected), rtol=1e-12, atol=1e-14)


def test_newton_with_backtracking_reaches_the_minimum_in_five_dimensions():
    ours, loss, _ = run_ours("newton", {"damping": "backtracking"}, 20)
    grad = QUARTIC.grad(ours[-1])
    assert np.abs(grad).max() < 1e-10
    assert (np.diff(loss, axis=0) <= 1e-12).all()


def test_a_singular_hessian_diverges_only_that_run():
    class Flat(Quartic):
        def hessian(self, p):
            h = super().hessian(p)
            h[0] = 0.0  # run 0's Hessian is singular
            return h

    _, _, diverged = run_ours("newton", {}, 3, objective=Flat())
    assert diverged.tolist() == [1, -1, -1]


@pytest.mark.parametrize("name", ["gd", "momentum", "nag", "lion", "sgd"])
def test_optimizers_without_a_torch_twin_decrease_the_loss_in_five_dimensions(name):
    _, loss, diverged = run_ours(name, {"lr": 1e-2}, 200)
    assert (diverged == -1).all()
    assert (loss[-1] < loss[0]).all()


def test_lookahead_and_the_torch_adapter_take_d_parameters():
    from optiviz.optimizers.base import InnerOptimizer

    adam = OPTIMIZERS["adam"]
    inner = InnerOptimizer(adam, validate_params(adam.params, {"lr": 5e-2}))
    look = OptimizerConfig("lookahead", "la", validate_params(OPTIMIZERS["lookahead"].params,
                                                              {"inner": inner, "k": 3}))
    positions, _, _, _ = run_group([look], QUARTIC, STARTS, 9, np.random.default_rng(0))
    assert positions.shape == (10, 3, DIM) and np.isfinite(positions).all()

    from optiviz.optimizers.torch_adapter import resolve_entry

    label, spec, hyper = resolve_entry({"torch": "torch.optim.Adam", "lr": 5e-2}, ())
    entry = OptimizerConfig(label, label, hyper, spec=spec)
    adapted, _, _, _ = run_group([entry], QUARTIC, STARTS, 20, np.random.default_rng(0))
    theirs, _ = run_torch("adam", {"lr": 5e-2}, 20)
    np.testing.assert_allclose(adapted, theirs, rtol=1e-10, atol=1e-13)


def test_divergence_is_detected_on_any_coordinate():
    class Runaway:
        """A finite loss whose last coordinate's gradient blows the run up."""

        dim = 3
        param_names = ("a", "b", "c")

        def value(self, p):
            return p[:, 0] ** 2

        def grad(self, p):
            g = np.zeros_like(p)
            g[:, 0] = 2 * p[:, 0]
            g[:, 2] = -1e200 * p[:, 2]
            return g

        def hessian(self, p):
            raise AssertionError("not needed")

    starts = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    positions, loss, _, diverged = run_group([config("gd", {"lr": 1.0})], Runaway(), starts, 4,
                                             np.random.default_rng(0))
    assert diverged.tolist() == [2, -1]
    assert np.isnan(positions[2:, 0]).all() and np.isfinite(positions[:, 1]).all()
    assert np.isnan(loss[2:, 0]).all()


def test_objective_protocol_and_the_planar_adapter():
    from optiviz.functions import make_function

    rosenbrock = make_function("rosenbrock")
    wrapped = as_objective(rosenbrock)
    assert isinstance(wrapped, PlanarObjective) and wrapped.dim == 2
    assert wrapped.param_names == ("x", "y")
    assert as_objective(QUARTIC) is QUARTIC
    p = np.array([[-1.2, 1.0], [0.5, 0.5]])
    oracle = Oracle(rosenbrock)
    np.testing.assert_array_equal(oracle.grad(p), wrapped.grad(p))
    np.testing.assert_array_equal(oracle.value(p), rosenbrock.value(p[:, 0], p[:, 1]))
    assert oracle.hessian(p).shape == (2, 2, 2)
    out = np.empty((2, 2))
    assert oracle.grad(p, out) is out
    d5 = Oracle(QUARTIC, noise=0.5, rng=np.random.default_rng(1))
    noisy = d5.grad(STARTS)
    expected = QUARTIC.grad(STARTS) + 0.5 * np.random.default_rng(1).standard_normal(STARTS.shape)
    np.testing.assert_array_equal(noisy, expected)


def _experiment(function, starts, steps, optimizers):
    return Experiment(name="d", title=None, source=None, render=RenderConfig(),
                      function=function, starts=np.asarray(starts, dtype=float), steps=steps,
                      optimizers=tuple(config(n, h) for n, h in optimizers))


def test_simulate_records_d_parameters_names_and_only_the_asked_steps():
    optimizers = [("adam", {"lr": 5e-2}), ("sgd", {"lr": 1e-2}), ("adam", {"lr": 1e-2})]
    experiment = _experiment(QUARTIC, STARTS, 12, optimizers)
    full = simulate(experiment)
    assert full.positions.shape == (9, 13, DIM) and full.dim == DIM
    assert full.param_names == QUARTIC.param_names
    kept = [0, 3, 12]
    some = simulate(experiment, record_steps=kept)
    assert some.steps == 12 and some.recorded_steps().tolist() == kept
    np.testing.assert_array_equal(some.positions, full.positions[:, kept])
    np.testing.assert_array_equal(some.loss, full.loss[:, kept])
    np.testing.assert_array_equal(some.final_loss(), full.final_loss())
    assert some.arrays()["steps_recorded"].tolist() == kept
    with pytest.raises(ValueError, match="record_steps"):
        simulate(experiment, record_steps=[3, 2])


def test_learning_rates_are_stored_once_per_entry():
    experiment = _experiment(QUARTIC, STARTS, 4, [("adam", {"lr": 0.5}), ("sgd", {"lr": 0.25})])
    lr = simulate(experiment).lr
    assert isinstance(lr, RunLR) and lr.table.shape == (2, 4) and lr.shape == (6, 4)
    expanded = np.repeat([[0.5] * 4, [0.25] * 4], 3, axis=0)
    np.testing.assert_array_equal(np.asarray(lr), expanded)
    np.testing.assert_array_equal(lr[3], expanded[3])
    np.testing.assert_array_equal(lr[[0, 4]], expanded[[0, 4]])
    np.testing.assert_array_equal(lr[1:5, 2:], expanded[1:5, 2:])
    np.testing.assert_array_equal(lr[0, :2], expanded[0, :2])
    np.testing.assert_array_equal(lr[np.isfinite(lr)], expanded.ravel())
    np.testing.assert_array_equal(lr * 2, expanded * 2)
    np.testing.assert_array_equal(np.log10(lr), np.log10(expanded))
    assert float(np.max(lr)) == 0.5 and lr.max() == 0.5
    np.testing.assert_array_equal(lr.copy(), expanded)
    np.testing.assert_array_equal(lr.T, expanded.T)
    import pickle

    np.testing.assert_array_equal(np.asarray(pickle.loads(pickle.dumps(lr))), expanded)


CONFIG = """\
function: rosenbrock
start: [[-1.2, 1.0], [0.5, -0.5]]
steps: 7
optimizers:
  - {name: adam, lr: 0.01}
  - {name: sgd, lr: [0.001, 0.002]}
"""


def test_data_names_the_parameters_through_the_cli_and_the_api(tmp_path):
    from optiviz import api
    from optiviz.cli import cli

    path = tmp_path / "exp.yaml"
    path.write_text(CONFIG)
    data = tmp_path / "out.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render", "--quiet",
                                       "--data", str(data)])
    assert result.exit_code == 0, result.output
    with np.load(data) as written:
        assert written["param_names"].tolist() == ["x", "y"]
        assert written["positions"].shape == (6, 8, 2)
        assert written["lr"].shape == (6, 7)
        np.testing.assert_array_equal(written["lr"][2:4], np.full((2, 7), 0.001))
        assert "steps_recorded" not in written.files
        from_api = api.compute(api.load(path))
        np.testing.assert_array_equal(written["positions"], from_api.positions)
        assert from_api.param_names == ("x", "y")


IN_PLACE = sorted(name for name, spec in OPTIMIZERS.items() if spec.step_in_place is not None)


def test_the_elementwise_optimizers_all_update_in_place():
    assert set(IN_PLACE) == {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax",
                             "nadam", "radam", "rprop", "asgd", "gd", "momentum", "nag", "lion"}


@pytest.mark.parametrize("name", IN_PLACE)
def test_the_in_place_update_equals_the_copying_step_bit_for_bit(name):
    spec = OPTIMIZERS[name]
    hyper = validate_params(spec.params, {"lr": 1e-2})
    copied, in_place = STARTS.copy(), STARTS.copy()
    copied_state, in_place_state = spec.init(copied, hyper), spec.init(in_place, hyper)
    for _ in range(4):
        before = copied.copy()
        new, copied_state = spec.step(copied, copied_state, hyper, Oracle(QUARTIC))
        np.testing.assert_array_equal(copied, before)  # step leaves its input alone
        copied = new
        array = in_place
        in_place, in_place_state = spec.step_in_place(in_place, in_place_state, hyper,
                                                      Oracle(QUARTIC))
        assert in_place is array  # written into the caller's array
    np.testing.assert_array_equal(in_place, copied)


def test_large_records_are_zeroed_writable_maps_on_ordinary_pages():
    import io
    import mmap

    from optiviz.engine import RECORD_MAP_BYTES, record_array

    small = record_array((3, 4))
    assert small.base is None and not small.any()
    rows = RECORD_MAP_BYTES // (8 * 64) + 1
    large = record_array((rows, 32, 2))
    owner = large
    while isinstance(owner, np.ndarray):
        owner = owner.base
    assert isinstance(getattr(owner, "obj", owner), mmap.mmap)
    assert large.flags.writeable and large.shape == (rows, 32, 2) and not large[-1].any()
    large[-1] = 1.5
    stream = io.BytesIO()
    np.savez(stream, positions=large.transpose(1, 0, 2))
    stream.seek(0)
    np.testing.assert_array_equal(np.load(stream)["positions"][:, -1], 1.5)


def test_the_torch_adapter_passes_d_dimensional_closures():
    from optiviz.optimizers.torch_adapter import resolve_entry

    hyper = {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 5}
    label, spec, adapter_hyper = resolve_entry({"torch": "torch.optim.LBFGS", **hyper}, ())
    entry = OptimizerConfig(label, label, adapter_hyper, spec=spec)
    adapted, _, _, _ = run_group([entry], QUARTIC, STARTS[:2], 3, np.random.default_rng(0))
    for i in range(2):
        theirs, _ = run_torch("lbfgs", hyper, 3, starts=STARTS[i:i + 1])
        np.testing.assert_allclose(adapted[:, i], theirs[:, 0], rtol=1e-12, atol=1e-14)
