"""``lr: auto``: the tuned lr against brute force, the tie and divergence rule, reproducibility,
what the legend, the summary, ``--data``, the manifest and the budget say, and refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api, budget, config, tuning
from optiviz.cli import cli
from optiviz.errors import ConfigError

# GD on f = x² + 10y² (Hessian diag(2, 20)) from three starts for 40 steps: the final loss of
# a constant lr has a closed form, so the best lr for the horizon is found by brute force.
QUADRATIC = """\
function: {{expr: "x**2 + 10*y**2", minima: [[0, 0]]}}
start: [[-4, 3], [3, 1], [1, -2]]
steps: 40
optimizers:
  - {{name: gd, lr: auto}}
  - {{name: sgd, lr: 0.01}}
tune: {{range: [1.0e-3, 1], budget: {budget}}}
render: {{width: 320, height: 240, frames: 3, hold: 0}}
"""


def write(tmp_path, text, name="tune.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def brute_force_best(starts: np.ndarray, steps: int, grid: np.ndarray) -> float:
    """The lr of ``grid`` whose median final loss over ``starts`` is lowest, from GD's closed
    form on x² + 10y²: coordinate i after S steps is x_i (1 - lr h_i)^S."""
    h = np.array([2.0, 20.0])
    factor = (1 - grid[:, None] * h[None, :]) ** steps  # (L, 2)
    final = ((starts[None, :, :] * factor[:, None, :]) ** 2 * h / 2).sum(axis=2)  # (L, N)
    return float(grid[np.argmin(np.median(final, axis=1))])


def test_tuned_lr_is_within_one_candidate_step_of_the_brute_force_best(tmp_path):
    path = write(tmp_path, QUADRATIC.format(budget=25))
    experiment = api.load(path)
    tuned = api.tune(experiment)
    record = tuned.optimizers[0].tuned
    settings = experiment.optimizers[0].tune
    step = math.log(settings.range[1] / settings.range[0]) / (settings.budget - 1)
    best = brute_force_best(experiment.starts, experiment.steps,
                            np.geomspace(1e-3, 1, 20_001))
    assert abs(math.log(record.chosen_lr / best)) <= step
    # the engine's objective is the closed form's, candidate by candidate (median final loss)
    h = np.array([2.0, 20.0])
    for lr, objective, diverged in zip(record.lr, record.objective, record.diverged,
                                       strict=True):
        final = ((experiment.starts * (1 - lr * h) ** 40) ** 2 * h / 2).sum(axis=1)
        if diverged:
            assert not np.isfinite(final).all() or objective == math.inf
        else:
            assert objective == pytest.approx(np.median(final), rel=1e-9, abs=1e-300)
    # tuning twice gives the same choice, and the entry runs with it
    again = api.tune(api.load(path))
    assert again.optimizers[0].tuned.chosen_lr == record.chosen_lr
    assert np.array_equal(again.optimizers[0].tuned.objective, record.objective)
    assert tuned.optimizers[0].hyper["lr"] == record.chosen_lr
    assert tuned.optimizers[0].label == f"GD · lr {record.chosen_lr:.3g}, tuned"
    assert tuned.optimizers[1] == experiment.optimizers[1]


def test_the_tuned_run_is_the_tuned_candidate_bit_for_bit(tmp_path):
    path = write(tmp_path, QUADRATIC.format(budget=9))
    report = api.run_file(path, render=False)
    record = report.experiment.optimizers[0].tuned
    result = api.compute(report.experiment)
    final = result.final_loss()[:3]
    assert np.median(final) == record.objective[record.chosen]  # exactly: same arithmetic
    assert report.final[report.experiment.optimizers[0].label]["tuned_lr"] == record.chosen_lr
    # api.compute tunes an experiment that still says lr: auto, with the same outcome
    direct = api.compute(api.load(path))
    assert np.array_equal(direct.loss, result.loss, equal_nan=True)
    assert direct.label[0] == report.experiment.optimizers[0].label


def test_cli_shows_the_tuned_lr_in_the_summary_table_and_data(tmp_path):
    path = write(tmp_path, QUADRATIC.format(budget=7))
    data = tmp_path / "runs.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render", "--summary",
                                      "--data", str(data)])
    assert result.exit_code == 0, result.output
    arrays = np.load(data)
    chosen = float(arrays["tuned_lr"][0])
    assert math.isnan(arrays["tuned_lr"][1])
    assert arrays["tuning_lr"].shape == arrays["tuning_objective"].shape == (2, 7)
    assert np.allclose(arrays["tuning_lr"][0], np.geomspace(1e-3, 1, 7))
    assert np.isnan(arrays["tuning_lr"][1]).all() and (arrays["tuning_diverged"][1] == -1).all()
    assert int(arrays["tuning_runs"][0]) == 3
    index = tuning.choose(arrays["tuning_lr"][0], arrays["tuning_objective"][0],
                          arrays["tuning_diverged"][0])
    assert arrays["tuning_lr"][0, index] == chosen
    label = f"GD · lr {chosen:.3g}, tuned"
    assert arrays["label"][0] == label and arrays["summary_label"][0] == label
    # the runs use it: lr column, and the summary on stderr and the table on stdout say it
    assert (arrays["lr"][:3] == chosen).all()
    assert f"  {label}: final loss" in result.stderr
    assert "tuned lr (7 log-spaced lrs in [0.001, 1] by median final loss): GD" in result.stderr
    table = result.stdout.splitlines()
    assert "tuned lr" in table[1] and table[2].split()[-1] == f"{chosen:.3g}"


def test_the_batch_manifest_records_the_tuned_lr(tmp_path):
    write(tmp_path, QUADRATIC.format(budget=5))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "tune.yaml"), "-j", "1", "-q",
                                      "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    entry = json.loads((out / "manifest.json").read_text())["configs"][0]
    (label,) = [key for key in entry["final"] if key.startswith("GD")]
    assert entry["final"][label]["tuned_lr"] == pytest.approx(float(label.split()[3][:-1]),
                                                              rel=1e-2)
    assert "tuned_lr" not in entry["final"]["SGD lr=0.01"]


def test_choose_ranks_diverged_last_and_breaks_near_ties_to_the_smaller_lr():
    lr = np.array([0.1, 0.2, 0.3, 0.4])
    # 0.3 is best but one of its runs diverged; 0.2 and 0.4 tie within 1e-9: 0.2 wins
    assert tuning.choose(lr, np.array([2.0, 1.0, 0.5, 1.0 + 5e-10]), np.array([0, 0, 1, 0])) == 1
    # whatever the order of the candidates
    order = np.array([3, 2, 1, 0])
    picked = tuning.choose(lr[order], np.array([1.0 + 5e-10, 0.5, 1.0, 2.0]),
                           np.array([0, 1, 0, 0]))
    assert lr[order][picked] == 0.2
    # outside the tie tolerance the lower objective wins; several at zero: the smallest lr
    assert tuning.choose(lr, np.array([1.0, 1.0 - 1e-8, 3.0, 3.0]), np.zeros(4)) == 1
    assert tuning.choose(lr, np.array([5.0, 0.0, 0.0, 0.0]), np.zeros(4)) == 1
    assert tuning.choose(lr, np.full(4, np.inf), np.ones(4)) == -1


@pytest.mark.filterwarnings("ignore:.*the tuned lr")
def test_noisy_entries_repeat_over_seeds_reproducibly(tmp_path):
    text = """\
function: {name: linear_regression, samples: 64}
start: [[0, 0], [1, 1]]
steps: 30
optimizers:
  - {name: sgd, lr: auto, batch_size: 8}
  - {name: adam, lr: auto, noise: 0.5}
tune: {budget: 6, range: [1.0e-3, 1], seeds: 3, objective: mean}
"""
    path = write(tmp_path, text)
    first = api.tune(api.load(path))
    second = api.tune(api.load(path))
    for a, b in zip(first.optimizers, second.optimizers, strict=True):
        assert a.tuned.runs == 3 * 2  # seeds x starts
        assert a.tuned.chosen_lr == b.tuned.chosen_lr
        assert np.array_equal(a.tuned.objective, b.tuned.objective)
    # a deterministic entry is not repeated
    plain = api.tune(api.load(path, ["optimizers[1].noise=0"]))
    assert plain.optimizers[1].tuned.runs == 2


def test_a_schedule_scales_the_tuned_lr(tmp_path):
    text = QUADRATIC.format(budget=5).replace("{name: gd, lr: auto}",
                                              "{name: gd, lr: auto, schedule: {name: cosine}}")
    report = api.run_file(write(tmp_path, text), render=False, data=tmp_path / "d.npz")
    arrays = np.load(tmp_path / "d.npz")
    chosen = float(arrays["tuned_lr"][0])
    assert arrays["lr"][0, 0] == chosen and arrays["lr"][0, -1] < chosen / 10
    assert report.experiment.optimizers[0].schedule.name == "cosine"


def test_budget_counts_the_tuning(tmp_path):
    path = write(tmp_path, QUADRATIC.format(budget=40))
    experiment = api.load(path)

    def tuning_seconds(entries, starts=10_000):
        estimates = budget.optimizer_estimates(starts, entries, 40)
        return sum(e.seconds for e in estimates if e.path == ("tune", "budget"))

    assert tuning_seconds(experiment.optimizers) > 0
    assert tuning_seconds(experiment.optimizers[1:]) == 0
    smaller = api.load(path, ["tune.budget=4"])
    assert tuning_seconds(experiment.optimizers) > 5 * tuning_seconds(smaller.optimizers)
    noisy = api.load(path, ["optimizers[0].noise=0.1", "tune.seeds=10"])
    assert tuning_seconds(noisy.optimizers) > 5 * tuning_seconds(experiment.optimizers)
    with pytest.raises(ConfigError, match=r"tune\.budget: tuning lr: 40,000 candidate runs × "
                                          r"20,000 starts × 40 steps (need|take) about"):
        config.load(path, ["tune.budget=1000", "optimizers[0].noise=0.1", "tune.seeds=40",
                           "start={random: 20000}"])


@pytest.mark.parametrize("override, message", [
    ("optimizers[0]={name: lookahead, lr: auto, inner: {name: adam}}",
     "optimizers[0].lr: lookahead has no lr to tune"),
    ("optimizers[0]={name: lookahead, inner: {name: adam, lr: auto}}",
     "optimizers[0].inner.lr: lr: auto tunes a top-level optimizer entry"),
    ("optimizers[0]={name: sgd, lr: auto, schedule: {name: onecycle, max_lr: 0.1}}",
     "optimizers[0].lr: onecycle sets the lr itself"),
    ("optimizers[0].lr=0.1", "tune: no optimizer has lr: auto"),
    ("tune.range=[1, 0.1]", "tune.range: must be 0 < low < high"),
    ("tune.budget=1", "tune.budget: must be in [2, 1000]"),
    ("tune.objective=fnal", "did you mean 'final'"),
    ("tune.seed=3", "tune.seed: unknown key; did you mean 'seeds'?"),
])
def test_refusals(tmp_path, override, message):
    path = write(tmp_path, QUADRATIC.format(budget=5))
    with pytest.raises(ConfigError) as caught:
        config.load(path, [override])
    assert message in str(caught.value)


def test_every_candidate_diverging_is_an_error_at_the_lr(tmp_path):
    path = write(tmp_path, QUADRATIC.format(budget=3).replace("[1.0e-3, 1]", "[1.0e3, 1.0e4]")
                 .replace("steps: 40", "steps: 400"))
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render"])
    assert result.exit_code == 2
    assert "tune.yaml:5: optimizers[0].lr: every candidate lr in [1000, 10000] diverged" \
        in result.stderr


@pytest.mark.filterwarnings("ignore:.*the tuned lr")
def test_chunks_of_candidates_give_the_same_tuning(tmp_path, monkeypatch):
    """Many candidates × starts × steps advance in chunks that bound memory; a deterministic
    entry's (or a mini-batch entry's: every chunk sees one sequence of batches) objectives do
    not depend on the chunking."""
    text = """\
function: {name: linear_regression, samples: 64}
start: [[0, 0], [1, 1], [2, -1]]
steps: 25
optimizers:
  - {name: sgd, lr: auto, batch_size: 8}
  - {name: adam, lr: auto}
tune: {budget: 7, range: [1.0e-3, 1], seeds: 2}
"""
    path = write(tmp_path, text)
    whole = api.tune(api.load(path))
    monkeypatch.setattr(tuning, "CHUNK_BYTES", 3 * 26 * 24 * 2)  # two candidates per chunk
    assert tuning.chunks(tuple(range(7)), 3, 25) == [(0, 1), (2, 3), (4, 5), (6,)]
    chunked = api.tune(api.load(path))
    for a, b in zip(whole.optimizers, chunked.optimizers, strict=True):
        assert np.array_equal(a.tuned.objective, b.tuned.objective)
        assert a.tuned.chosen_lr == b.tuned.chosen_lr
