"""The engine: vectorized runs, divergence freezing, noise and mini-batches, data export."""

from __future__ import annotations

import numpy as np
import pytest

from optiviz.config import parse_experiment
from optiviz.engine import simulate


def experiment(**changes):
    data = {
        "function": "rosenbrock",
        "start": [[-1.2, 1.0], [0.5, 2.0], [-1.0, -0.5]],
        "steps": 40,
        "optimizers": [{"name": "sgd", "lr": 1e-3}, {"name": "adam", "lr": 1e-2}],
    }
    data.update(changes)
    return parse_experiment(data)


def test_shapes_and_run_order_are_optimizer_major():
    runs = simulate(experiment())
    assert runs.positions.shape == (6, 41, 2)
    assert runs.loss.shape == (6, 41)
    assert runs.lr.shape == (6, 40)
    assert list(runs.run_optimizer) == [0, 0, 0, 1, 1, 1]
    assert list(runs.run_start) == [0, 1, 2, 0, 1, 2]
    assert list(runs.optimizer) == ["sgd"] * 3 + ["adam"] * 3
    np.testing.assert_array_equal(
        runs.positions[:, 0], np.tile([[-1.2, 1.0], [0.5, 2.0], [-1.0, -0.5]], (2, 1))
    )
    assert not runs.diverged.any()


def test_batched_runs_equal_single_runs():
    together = simulate(experiment())
    for i, start in enumerate([[-1.2, 1.0], [0.5, 2.0], [-1.0, -0.5]]):
        alone = simulate(experiment(start=start))
        np.testing.assert_array_equal(alone.positions[0], together.positions[i])
        np.testing.assert_array_equal(alone.positions[1], together.positions[3 + i])


def test_reference_golden_sgd_and_adam():
    runs = simulate(experiment(start=[-1.2, 1.0], steps=100))
    # REFERENCE.md section 1 golden values (torch 2.13, float64).
    np.testing.assert_allclose(runs.positions[0, 1], [-0.9844, 1.088], rtol=1e-12)
    np.testing.assert_allclose(runs.positions[0, 100], [-0.94818637854, 0.907094100354], rtol=1e-10)
    np.testing.assert_allclose(runs.positions[1, 100], [-1.0435756024, 1.09388266296], rtol=1e-10)


def test_loss_is_the_function_at_each_position():
    runs = simulate(experiment())
    x, y = runs.positions[..., 0], runs.positions[..., 1]
    np.testing.assert_allclose(runs.loss, (1 - x) ** 2 + 100 * (y - x * x) ** 2, rtol=1e-14)


def test_divergent_runs_are_frozen_and_others_go_on():
    exp = experiment(
        start=[[-1.2, 1.0], [3.0, 3.0]], steps=60, optimizers=[{"name": "sgd", "lr": 0.01}]
    )
    runs = simulate(exp)
    assert runs.diverged.tolist() == [True, True] or runs.diverged[1]
    bad = int(np.flatnonzero(runs.diverged)[0])
    step = runs.diverged_step[bad]
    assert step > 0
    assert np.isnan(runs.positions[bad, step:]).all()
    assert np.isnan(runs.loss[bad, step:]).all()
    assert np.isfinite(runs.positions[bad, :step]).all()


def test_diverged_run_does_not_disturb_the_other():
    exp = experiment(
        start=[[0.0, 0.0], [3.0, 3.0]], steps=30, optimizers=[{"name": "sgd", "lr": 0.002}]
    )
    both = simulate(exp)
    alone = simulate(
        experiment(start=[0.0, 0.0], steps=30, optimizers=[{"name": "sgd", "lr": 0.002}])
    )
    np.testing.assert_array_equal(both.positions[0], alone.positions[0])


def test_schedule_lr_is_recorded():
    exp = experiment(
        optimizers=[
            {
                "name": "sgd",
                "lr": 0.001,
                "schedule": {"name": "step", "step_size": 10, "gamma": 0.5},
            }
        ]
    )
    runs = simulate(exp)
    np.testing.assert_allclose(runs.lr[0, :10], 1e-3)
    np.testing.assert_allclose(runs.lr[0, 10:20], 5e-4)
    np.testing.assert_allclose(runs.lr[0, 30:40], 1.25e-4)


def test_noise_is_seeded_and_changes_the_path():
    noisy = experiment(optimizers=[{"name": "sgd", "lr": 1e-3, "noise": 1.0}])
    a, b = simulate(noisy), simulate(noisy)
    np.testing.assert_array_equal(a.positions, b.positions)
    clean = simulate(experiment(optimizers=[{"name": "sgd", "lr": 1e-3}]))
    assert not np.allclose(a.positions, clean.positions)
    other_seed = simulate(parse_experiment({**_raw(noisy_opts=True), "seed": 1}))
    assert not np.array_equal(a.positions, other_seed.positions)


def _raw(noisy_opts=False):
    return {
        "function": "rosenbrock",
        "start": [[-1.2, 1.0], [0.5, 2.0], [-1.0, -0.5]],
        "steps": 40,
        "optimizers": [{"name": "sgd", "lr": 1e-3, "noise": 1.0}],
    }


@pytest.mark.parametrize("batch_size", ["full", 32, 1])
def test_dataset_objectives_batch_minibatch_and_stochastic(batch_size):
    exp = parse_experiment(
        {
            "function": {"name": "linear_regression", "samples": 64, "noise": 0.5},
            "start": [-2.0, 3.0],
            "steps": 200,
            "optimizers": [{"name": "sgd", "lr": 0.1, "batch_size": batch_size}],
        }
    )
    runs = simulate(exp)
    assert runs.loss[0, -1] < runs.loss[0, 0] / 10
    minimum = [p for p in exp.function.points if p.kind == "global minimum"][0]
    distance = np.hypot(*(runs.positions[0, -1] - [minimum.x, minimum.y]))
    assert distance < (1e-3 if batch_size == "full" else 0.5)
    if batch_size != "full":  # stochastic paths are not monotone, the full-batch one is
        assert (np.diff(runs.loss[0]) > 0).any()


def test_full_batch_equals_plain_gradient_descent():
    exp = parse_experiment(
        {
            "function": {"name": "linear_regression", "samples": 50},
            "start": [0.0, 0.0],
            "steps": 5,
            "optimizers": [
                {"name": "sgd", "lr": 0.1, "batch_size": 50},
                {"name": "sgd", "lr": 0.1},
            ],
        }
    )
    runs = simulate(exp)
    np.testing.assert_allclose(runs.positions[0], runs.positions[1], rtol=1e-13)


def test_lookahead_records_slow_weights():
    exp = experiment(
        start=[-1.2, 1.0],
        steps=10,
        optimizers=[
            {"name": "lookahead", "k": 5, "alpha": 0.5, "inner": {"name": "sgd", "lr": 1e-3}}
        ],
    )
    runs = simulate(exp)
    np.testing.assert_allclose(
        runs.positions[0, 5], [-1.1126557438470768, 1.0296207142494793], rtol=1e-12
    )
    np.testing.assert_allclose(
        runs.positions[0, 10], [-1.0688649867085225, 1.0441880083832729], rtol=1e-12
    )
    np.testing.assert_allclose(runs.lr[0], 1e-3)


def test_lbfgs_golden_values():
    exp = experiment(
        start=[-1.2, 1.0],
        steps=2,
        optimizers=[{"name": "lbfgs", "lr": 1, "line_search_fn": "strong_wolfe"}],
    )
    runs = simulate(exp)
    np.testing.assert_allclose(runs.positions[0, 1], [0.380622643346, 0.124910131873], rtol=1e-10)
    np.testing.assert_allclose(runs.positions[0, 2], [0.999981421079, 0.999961965181], rtol=1e-10)


def test_arrays_for_data_export():
    arrays = simulate(experiment()).arrays()
    assert set(arrays) >= {
        "positions",
        "loss",
        "lr",
        "label",
        "optimizer",
        "run_optimizer",
        "run_start",
        "diverged",
    }
    assert arrays["label"].dtype.kind == "U"
    assert arrays["diverged"].dtype == bool
