"""Run groups: entries that differ only in per-run hyperparameters step as one array operation,
and every run stays bit-identical to its entry run alone (the per-entry path, ``run_entry``)."""

from __future__ import annotations

import numpy as np
import pytest

from optiviz.config import parse_experiment
from optiviz.engine import group_entries, run_entry, simulate
from optiviz.optimizers import OPTIMIZERS

STARTS = [[-1.2, 1.0], [0.5, 2.0], [-1.0, -0.5], [1.5, 1.5]]

# Three valid, nonzero values per per-run hyperparameter: one entry each.
SWEEPS = {
    "momentum": (0.5, 0.9, 0.95),
    "dampening": (0.1, 0.3, 0.5),
    "weight_decay": (1e-3, 1e-2, 0.1),
    "eps": (1e-8, 1e-6, 1e-3),
    "rho": (0.8, 0.9, 0.95),
    "lr_decay": (1e-3, 1e-2, 0.1),
    "initial_accumulator_value": (0.1, 0.5, 1.0),
    "betas": ((0.9, 0.99), (0.3, 0.99), (0.95, 0.9)),  # 1 − 0.3 takes lerp's other form
}
PER_RUN_SPECS = [name for name, spec in OPTIMIZERS.items() if spec.per_run_hyper]


def experiment(optimizers, function="rosenbrock", steps=60, start=STARTS, seed=0):
    data = {"function": function, "start": start, "steps": steps, "optimizers": optimizers}
    return parse_experiment({**data, "seed": seed})


def sweep(name: str) -> list[dict]:
    """Three entries of one optimizer, each per-run hyperparameter taking its own value."""
    spec = OPTIMIZERS.get(name)
    default_lr = next(p.default for p in spec.params if p.name == "lr")
    entries = []
    for j, factor in enumerate((0.5, 1.0, 3.0)):
        entry = {"name": name, "lr": default_lr * factor}
        entry |= {key: list(SWEEPS[key][j]) if key == "betas" else SWEEPS[key][j]
                  for key in spec.per_run_hyper if key in SWEEPS}
        entries.append(entry)
    return entries


def assert_each_entry_equals_its_run_alone(exp):
    together = simulate(exp)
    n = exp.starts.shape[0]
    for i, config in enumerate(exp.optimizers):
        rng = np.random.default_rng([exp.seed, i])
        path, loss, lr, stopped = run_entry(config, exp.function, exp.starts, exp.steps, rng)
        rows = slice(i * n, (i + 1) * n)
        np.testing.assert_array_equal(together.positions[rows], path.transpose(1, 0, 2))
        np.testing.assert_array_equal(together.loss[rows], loss.T)
        np.testing.assert_array_equal(together.lr[rows], np.broadcast_to(lr, (n, exp.steps)))
        np.testing.assert_array_equal(together.diverged_step[rows], stopped)
        assert list(together.run_optimizer[rows]) == [i] * n
        assert list(together.label[rows]) == [config.label] * n
    return together


# The grouping rule --------------------------------------------------------------------------

def test_an_lr_sweep_is_one_group():
    exp = experiment([{"name": "adam", "lr": lr} for lr in (1e-3, 1e-2, 0.1, 0.3)])
    assert group_entries(exp.optimizers) == [(0, 1, 2, 3)]


def test_groups_keep_entry_order_and_split_by_optimizer():
    exp = experiment([{"name": "adam", "lr": 0.1}, {"name": "sgd", "lr": 1e-3},
                      {"name": "adam", "lr": 0.01}, {"name": "rmsprop"}])
    assert group_entries(exp.optimizers) == [(0, 2), (1,), (3,)]


@pytest.mark.parametrize(
    "first, second",
    [
        ({"amsgrad": True}, {"amsgrad": False}),  # a boolean changes the code path
        ({"weight_decay": 0.0}, {"weight_decay": 0.1}),  # zero skips the decay term
        ({"name": "radam", "betas": [0.9, 0.999]},  # shared: ρ_t(β2) picks the update's form
         {"name": "radam", "betas": [0.8, 0.999]}),
        ({"noise": 0.5}, {"noise": 0.5}),  # noise is drawn per entry
        ({"schedule": {"name": "exponential", "gamma": 0.9}}, {}),
    ],
)
def test_entries_that_cannot_share_a_step_are_split(first, second):
    exp = experiment([{"name": "adam", "lr": 0.1, **first}, {"name": "adam", "lr": 0.2, **second}])
    assert group_entries(exp.optimizers) == [(0,), (1,)]


def test_a_shared_hyperparameter_of_minus_zero_does_not_group_with_zero():
    exp = experiment([{"name": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.0},
                      {"name": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": -0.0}])
    assert exp.optimizers[1].hyper["dampening"] == 0.0  # equal, yet not the same float
    assert group_entries(exp.optimizers) == [(0, 1)]  # dampening is per-run: a -0.0 column
    assert_each_entry_equals_its_run_alone(exp)


def test_optimizers_without_per_run_values_group_only_identical_entries():
    exp = experiment([{"name": "lbfgs", "lr": 1.0}, {"name": "lbfgs", "lr": 0.5},
                      {"name": "lbfgs", "lr": 1.0}])
    assert group_entries(exp.optimizers) == [(0, 2), (1,)]


# Bit-identity ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PER_RUN_SPECS)
def test_a_sweep_of_every_per_run_hyperparameter_equals_each_entry_alone(name):
    exp = experiment(sweep(name))
    assert group_entries(exp.optimizers) == [(0, 1, 2)]
    assert_each_entry_equals_its_run_alone(exp)


@pytest.mark.parametrize("function", ["ackley", "beale",
                                      {"name": "logistic_regression", "samples": 50}])
def test_grouped_runs_are_exact_on_transcendental_and_dataset_objectives(function):
    exp = experiment([{"name": "adam", "lr": lr, "amsgrad": True} for lr in (0.01, 0.05, 0.2)],
                     function=function, start=[[0.3, -0.4], [1.0, 0.7], [-0.2, 0.1]])
    assert_each_entry_equals_its_run_alone(exp)


def test_zero_and_nonzero_values_form_two_groups_each_exact():
    exp = experiment([{"name": "sgd", "lr": 1e-3, "momentum": m, "weight_decay": wd}
                      for m, wd in [(0.0, 0.0), (0.9, 0.0), (0.0, 0.1), (0.5, 0.0), (0.0, 0.2)]])
    assert group_entries(exp.optimizers) == [(0,), (1, 3), (2, 4)]
    assert_each_entry_equals_its_run_alone(exp)


def test_divergence_inside_a_group_freezes_only_the_diverging_runs():
    exp = experiment([{"name": "gd", "lr": lr} for lr in (1e-3, 0.05, 1e-4)])
    together = assert_each_entry_equals_its_run_alone(exp)
    n = len(STARTS)
    assert together.diverged[n : 2 * n].all()
    assert not together.diverged[:n].any() and not together.diverged[2 * n :].any()


def test_a_group_that_diverges_entirely_still_records_every_lr():
    exp = experiment([{"name": "sgd", "lr": lr, "schedule": {"name": "exponential", "gamma": 0.9}}
                      for lr in (0.05, 0.1)])
    together = assert_each_entry_equals_its_run_alone(exp)
    assert together.diverged.all()
    assert np.isfinite(together.lr).all()


@pytest.mark.parametrize(
    "name, schedule",
    [
        ("adam", {"name": "cosine", "t_max": 40, "warmup_steps": 5}),
        ("sgd", {"name": "onecycle", "max_lr": 1e-3}),  # cycles momentum too
        ("nadam", {"name": "onecycle", "max_lr": 1e-2}),  # writes β1, β2 stays per run
        ("rmsprop", {"name": "step", "step_size": 10, "gamma": 0.5}),
    ],
)
def test_scheduled_sweeps_equal_each_entry_alone(name, schedule):
    exp = experiment([{**entry, "schedule": schedule} for entry in sweep(name)])
    assert group_entries(exp.optimizers) == [(0, 1, 2)]
    together = assert_each_entry_equals_its_run_alone(exp)
    assert len(set(together.lr[:, 0].tolist())) > 1 or schedule["name"] == "onecycle"


def test_noisy_and_minibatch_entries_keep_their_own_generators():
    exp = experiment(
        [{"name": "sgd", "lr": 0.05, "noise": 0.5}, {"name": "sgd", "lr": 0.1, "noise": 0.5},
         {"name": "sgd", "lr": 0.1, "batch_size": 8}, {"name": "sgd", "lr": 0.2}],
        function={"name": "linear_regression", "samples": 40}, seed=3,
    )
    assert group_entries(exp.optimizers) == [(0,), (1,), (2,), (3,)]
    assert_each_entry_equals_its_run_alone(exp)


def test_identical_lookahead_newton_and_lbfgs_entries_group_exactly():
    lookahead = {"name": "lookahead", "k": 3, "inner": {"name": "adam", "lr": 0.05}}
    exp = experiment([lookahead, {"name": "newton"}, lookahead, {"name": "newton"},
                      {"name": "lbfgs", "lr": 0.5}, {"name": "lbfgs", "lr": 0.5}], steps=20)
    assert group_entries(exp.optimizers) == [(0, 2), (1, 3), (4, 5)]
    assert_each_entry_equals_its_run_alone(exp)


# The step contract --------------------------------------------------------------------------

@pytest.mark.parametrize("name", PER_RUN_SPECS)
def test_a_step_with_per_run_columns_equals_each_value_alone(name):
    """Three steps of spec.step with (3N, 1) columns equal each entry's scalar steps."""
    from optiviz.engine import Oracle, _group_hyper

    configs = experiment(sweep(name)).optimizers
    spec = OPTIMIZERS.get(name)
    function = experiment(sweep(name)).function
    starts = np.array(STARTS)
    n = len(STARTS)
    hyper = _group_hyper([c.hyper for c in configs], spec.per_run_hyper, n)
    assert any(isinstance(v, (np.ndarray, tuple)) for v in hyper.values())
    params = np.tile(starts, (len(configs), 1))
    state = spec.init(params, hyper)
    for _ in range(3):
        params, state = spec.step(params, state, hyper, Oracle(function))
    for j, config in enumerate(configs):
        alone, alone_state = starts.copy(), spec.init(starts.copy(), config.hyper)
        for _ in range(3):
            alone, alone_state = spec.step(alone, alone_state, config.hyper, Oracle(function))
        np.testing.assert_array_equal(params[j * n : (j + 1) * n], alone)
