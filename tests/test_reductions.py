"""Recording per output (optiviz/reductions.py): an animation of particle clouds keeps only
its frames' steps and reduces the rest while the engine runs, with byte-identical outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optiviz import api
from optiviz.config import load_data
from optiviz.reductions import plan
from optiviz.render import render
from optiviz.report import summarize

SMALL = {"width": 320, "height": 240, "frames": 6, "fps": 5}


def experiment_of(data: dict):
    data = {**data, "render": {**SMALL, **data.get("render", {})}}
    return load_data(data, "test.yaml", name="test")


def cloud(**extra):
    base = {"function": "himmelblau", "start": {"random": 40, "seed": 3}, "steps": 30,
            "optimizers": [{"name": "sgd", "lr": 0.004}, {"name": "adam", "lr": 0.2},
                           {"name": "sgd", "lr": 0.05, "label": "too fast"}]}
    return {**base, **extra}


CASES = {
    # the loss panel (log axis; one entry diverges: its band leaves the panel)
    "cloud loss": cloud(),
    # the lr panel, a schedule; the loss panel on a linear axis (no known minimum: diverged
    # runs count as -inf when they fell) with the share inside the view bounding it
    "cloud lr": {"function": {"expr": "x**2 - y**4"}, "start": {"grid": [6, 6]}, "steps": 25,
                 "optimizers": [{"name": "sgd", "lr": 0.3},
                                {"name": "adam", "lr": 0.1,
                                 "schedule": {"name": "cosine"}}],
                 "render": {"panels": ["landscape", "loss", "lr"]}},
    # the success panel (first step within tolerance) and the summary's statistics
    "success": cloud(tolerance={"distance": 0.05},
                     render={"panels": ["landscape", "success"], "width": 480}),
    # the final panel reads every step's loss: everything is recorded
    "final": cloud(render={"panels": ["landscape", "final"], "width": 480}),
    # paths: every step drawn
    "paths": {"function": "rosenbrock", "start": [-1.5, 2], "steps": 40,
              "optimizers": [{"name": "adam", "lr": 0.1}, {"name": "sgd", "lr": 0.001}]},
}


@pytest.mark.parametrize("name", list(CASES))
def test_output_is_byte_identical(name: str, tmp_path: Path) -> None:
    experiment = experiment_of(CASES[name])
    chosen = plan(experiment, render=True, data=False, statistics=True)
    full = api.compute(experiment)
    kept = api.compute(experiment, plan=chosen)
    if name in ("final", "paths"):
        assert chosen.wanted is None and kept.steps_recorded is None
    else:
        # the frames (6 of 31 steps) are all that is recorded
        assert kept.positions.shape[1] == len(chosen.steps) <= 7 < experiment.steps
        assert kept.reduced is not None
    for suffix in (".gif", ".html"):
        a = render(experiment, full, tmp_path / f"full{suffix}")
        b = render(experiment, kept, tmp_path / f"kept{suffix}")
        assert a.read_bytes() == b.read_bytes(), suffix
    one = summarize(experiment, full, statistics=True)
    two = summarize(experiment, kept, statistics=True)
    assert one.final() == two.final()
    assert one.lines() == two.lines()
    for key, value in one.arrays().items():
        np.testing.assert_array_equal(value, two.arrays()[key], err_msg=key)


def test_reductions_are_step_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reduction equals what the full recording gives, bit for bit, including runs that
    diverge (and a group where every run diverges before the end), with the percentiles taken
    over blocks of 7 held steps (a block cut by divergences and by the last step)."""
    monkeypatch.setattr("optiviz.reductions.BAND_STEPS", 7)
    from optiviz.render.cloud import median_band, view_share
    from optiviz.statistics import hitting_steps
    from optiviz.view import left_view, view_domain

    data = cloud(tolerance={"distance": 0.05})
    # a run group of its own whose every run diverges by step 6 (the engine stops it early)
    data["optimizers"].append({"name": "momentum", "lr": 5.0, "label": "all diverge"})
    experiment = experiment_of(data)
    chosen = plan(experiment, render=True, data=False, statistics=True)
    full = api.compute(experiment)
    kept = api.compute(experiment, plan=chosen)
    assert full.diverged[-40:].all() and (full.diverged_step[-40:] < experiment.steps).all()
    reduced = kept.reduced
    domain = view_domain(experiment, full)
    assert reduced.domain == domain
    np.testing.assert_array_equal(reduced.final_loss, full.final_loss())
    np.testing.assert_array_equal(reduced.left_view, left_view(experiment, full))
    np.testing.assert_array_equal(reduced.hits, hitting_steps(experiment, full))
    for entry in range(4):
        runs = np.arange(entry * 40, (entry + 1) * 40)
        np.testing.assert_array_equal(reduced.bands[entry],
                                      median_band(full.loss[runs], experiment.function))
        np.testing.assert_array_equal(reduced.share[entry],
                                      view_share(full.positions, runs, domain))
    # the recorded frames are the full recording's columns
    np.testing.assert_array_equal(kept.positions, full.positions[:, kept.steps_recorded])
    np.testing.assert_array_equal(kept.loss, full.loss[:, kept.steps_recorded])


def test_plan_follows_the_outputs() -> None:
    experiment = experiment_of(cloud())
    assert plan(experiment, render=True, data=True, statistics=False).steps is None
    frames = plan(experiment, render=True, data=False, statistics=False)
    assert frames.steps.tolist() == [0, 6, 12, 18, 24, 30] and frames.wanted.bands
    assert frames.wanted.tolerance is None  # success measured only when something reads it
    assert plan(experiment, render=True, data=False, statistics=True).wanted.tolerance
    summary_only = plan(experiment, render=False, data=False, statistics=False)
    assert summary_only.steps.tolist() == [0] and not summary_only.wanted.bands
    every_step_a_frame = experiment_of({**cloud(), "render": {"frames": 40}})
    assert plan(every_step_a_frame, render=True, data=False, statistics=True).steps is None


def test_cli_records_frames_and_data_keeps_every_step(tmp_path: Path) -> None:
    """Through the CLI and the API: an animation-only run gives the same file as one that also
    writes --data, and --data still holds every step."""
    import yaml
    from click.testing import CliRunner

    from optiviz.cli import cli

    config = tmp_path / "race.yaml"
    config.write_text(yaml.safe_dump({**cloud(), "render": SMALL}))
    runner = CliRunner()
    alone = runner.invoke(cli, ["run", str(config), "-o", str(tmp_path / "a.gif"), "-q"])
    assert alone.exit_code == 0, alone.output
    both = runner.invoke(cli, ["run", str(config), "-o", str(tmp_path / "b.gif"), "-q",
                                "--data", str(tmp_path / "d.npz")])
    assert both.exit_code == 0, both.output
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    data = np.load(tmp_path / "d.npz")
    assert data["positions"].shape == (120, 31, 2) and data["loss"].shape == (120, 31)
    assert "steps_recorded" not in data
    # the summary alone (step 0 recorded, the rest reduced) says what the full recording says
    alone = runner.invoke(cli, ["run", str(config), "--no-render", "--summary"])
    both = runner.invoke(cli, ["run", str(config), "--no-render", "--summary", "--data",
                               str(tmp_path / "f.npz")])
    assert alone.exit_code == both.exit_code == 0, alone.output + both.output

    def numbers(output: str) -> list[str]:
        return [line for line in output.splitlines() if not line.startswith(str(config))]

    assert numbers(alone.output) == numbers(both.output) and "left the view" in alone.output
    report = api.run_file(config, output=tmp_path / "c.gif", statistics=True)
    assert (tmp_path / "c.gif").read_bytes() == (tmp_path / "a.gif").read_bytes()
    assert report.final == api.run_file(config, output=tmp_path / "e.gif",
                                        data=tmp_path / "e.npz").final


@pytest.mark.parametrize("objective", ["final", "mean"])
def test_tuning_keeps_the_last_step_and_a_running_sum(objective: str) -> None:
    """lr: auto candidates record their last step only (``mean``: a running sum of every
    step); the objective is bit for bit what every recorded step gives, diverged candidates
    included."""
    from optiviz import tuning
    from optiviz.engine import run_group

    experiment = experiment_of(cloud(
        optimizers=[{"name": "sgd", "lr": "auto"}],
        tune={"budget": 6, "objective": objective, "range": [1.0e-4, 1.0]}))
    record = tuning.tune_entry(experiment, 0)
    candidates = [tuning.with_lr(experiment.optimizers[0], lr) for lr in record.lr]
    _, loss, _, stopped = run_group(candidates, experiment.function, experiment.starts,
                                    experiment.steps, np.random.default_rng(0))
    with np.errstate(invalid="ignore"):
        score = loss[-1].copy() if objective == "final" else loss.mean(axis=0)
    score[(stopped >= 0) | ~np.isfinite(score)] = np.inf
    by_hand = np.median(score.reshape(len(candidates), -1), axis=1)
    assert (record.diverged > 0).any() and (record.diverged == 0).any()
    np.testing.assert_array_equal(record.objective, by_hand)
