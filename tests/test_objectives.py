"""Dataset objectives: exact full-batch derivatives, mini-batches, the fitted minimum, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from optiviz.errors import ConfigError
from optiviz.functions import make_function
from optiviz.objectives import DatasetObjective

OBJECTIVES = ["linear_regression", "logistic_regression"]


def per_sample_gradients(objective: DatasetObjective, w: float, b: float) -> np.ndarray:
    """(n, 2) gradients of each sample's loss, written out by hand for each model."""
    x, t = objective.features, objective.targets
    z = w * x + b
    if objective.name == "linear_regression":
        slope = z - t  # d/dz ½(z − t)²
    else:
        slope = 1 / (1 + np.exp(-z)) - t  # d/dz [log(1 + e^z) − t·z]
    return np.stack([slope * x, slope], axis=1)


def per_sample_losses(objective: DatasetObjective, w: float, b: float) -> np.ndarray:
    x, t = objective.features, objective.targets
    z = w * x + b
    if objective.name == "linear_regression":
        return 0.5 * (z - t) ** 2
    return np.log1p(np.exp(z)) - t * z


@pytest.mark.parametrize("name", OBJECTIVES)
def test_full_batch_gradient_is_the_mean_of_per_sample_gradients(name):
    objective = make_function({"name": name, "samples": 50}, seed=4)
    for w, b in [(0.0, 0.0), (1.5, -2.0), (-3.0, 0.7)]:
        expected = per_sample_gradients(objective, w, b).mean(axis=0)
        np.testing.assert_allclose(objective.grad(w, b), expected, rtol=1e-12, atol=1e-15)
        assert float(objective.value(w, b)) == pytest.approx(
            per_sample_losses(objective, w, b).mean(), rel=1e-12
        )


@pytest.mark.parametrize("name", OBJECTIVES)
def test_hessian_matches_finite_differences_of_gradient(name):
    objective = make_function(name, seed=1)
    w, b, h = 0.8, -0.3, 1e-5
    fxx, fxy, fyy = objective.hessian(w, b)
    dw = (np.array(objective.grad(w + h, b)) - np.array(objective.grad(w - h, b))) / (2 * h)
    db = (np.array(objective.grad(w, b + h)) - np.array(objective.grad(w, b - h))) / (2 * h)
    np.testing.assert_allclose([fxx, fxy], dw, rtol=1e-7)
    np.testing.assert_allclose([fxy, fyy], db, rtol=1e-7)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_batch_over_all_indices_equals_the_full_batch(name):
    objective = make_function(name, seed=2)
    w = np.array([0.0, 1.0, -2.0, 3.5])
    b = np.array([0.5, -1.0, 2.0, 0.0])
    everything = np.arange(objective.n_samples)
    np.testing.assert_allclose(objective.batch_grad(w, b, everything), objective.grad(w, b),
                               rtol=1e-12)
    np.testing.assert_allclose(objective.batch_value(w, b, everything), objective.value(w, b),
                               rtol=1e-12)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_mini_batch_gradient_averages_the_chosen_samples_for_every_run(name):
    objective = make_function({"name": name, "samples": 30}, seed=3)
    indices = np.array([4, 9, 9, 17])  # repeats count twice, as with sampling with replacement
    w, b = np.array([0.3, -1.2]), np.array([1.0, 0.1])
    gw, gb = objective.batch_grad(w, b, indices)
    assert gw.shape == gb.shape == (2,)
    for run in range(2):
        expected = per_sample_gradients(objective, w[run], b[run])[indices].mean(axis=0)
        np.testing.assert_allclose((gw[run], gb[run]), expected, rtol=1e-12)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_the_marked_minimum_is_stationary_and_lowest(name):
    objective = make_function(name, seed=5)
    (best,) = objective.points
    assert best.kind == "global minimum" and objective.minimum == best.value
    assert np.hypot(*objective.grad(best.x, best.y)) < 1e-10
    fxx, fxy, fyy = (float(h) for h in objective.hessian(best.x, best.y))
    assert np.linalg.eigvalsh([[fxx, fxy], [fxy, fyy]]).min() > 0
    (w0, w1), (b0, b1) = objective.domain
    assert w0 < best.x < w1 and b0 < best.y < b1
    assert (w0 + w1) / 2 == pytest.approx(best.x) and (b0 + b1) / 2 == pytest.approx(best.y)


def test_linear_regression_recovers_the_true_line_without_noise():
    objective = make_function({"name": "linear_regression", "w": 1.5, "b": 0.25, "noise": 0})
    (best,) = objective.points
    assert (best.x, best.y) == (pytest.approx(1.5), pytest.approx(0.25))
    assert best.value == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_same_seed_same_data_and_other_seed_other_data(name):
    first, again = make_function(name, seed=11), make_function(name, seed=11)
    other = make_function(name, seed=12)
    np.testing.assert_array_equal(first.features, again.features)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.features, other.features)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_dense_grids_are_evaluated_in_blocks_with_the_same_result(name):
    objective = make_function({"name": name, "samples": 2000}, seed=0)
    w, b = np.meshgrid(np.linspace(-1, 3, 40), np.linspace(-2, 1, 30))  # 1200 × 2000 > one block
    values = objective.value(w, b)
    assert values.shape == (30, 40)
    assert values[7, 11] == pytest.approx(float(objective.value(w[7, 11], b[7, 11])), rel=1e-12)


def test_objectives_label_their_axes_and_report_sample_count():
    objective = make_function({"name": "linear_regression", "samples": 64})
    assert (objective.xlabel, objective.ylabel, objective.n_samples) == ("w", "b", 64)
    assert "64 samples" in objective.title


def test_separable_logistic_data_is_refused_with_the_path():
    with pytest.raises(ConfigError) as caught:
        make_function({"name": "logistic_regression", "samples": 5, "noise": 1e-9, "w": 5},
                      path=("function",))
    assert caught.value.path == ("function",)
    assert "separable" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"name": "linear_regression", "samples": 1}, "samples"),
        ({"name": "linear_regression", "noise": -1}, "noise"),
        ({"name": "logistic_regression", "noise": 0}, "noise"),
        ({"name": "logistic_regression", "samples": 2.5}, "samples"),
    ],
)
def test_bad_parameters_name_the_key(spec, key):
    with pytest.raises(ConfigError) as caught:
        make_function(spec, path=("function",))
    assert caught.value.path == ("function", key)
