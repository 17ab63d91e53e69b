"""Sampling scenes: every kind builds, animates in place, and renders end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz.experiment import Experiment, RenderConfig
from optiviz.render.sampling import build_scene
from optiviz.sampling import run, validate

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs" / "sampling").glob("*.yaml"))
SMALL = RenderConfig(width=320, height=180, frames=6, fps=10, hold=0)

CASES = {
    "histogram": {"distribution": {"name": "normal"}, "samples": 500},
    "discrete": {"distribution": {"name": "poisson", "mu": 3}, "samples": 500},
    "mvn": {"distribution": {"name": "mvn", "mean": [0, 0], "cov": [[1, 0.5], [0.5, 1]]},
            "samples": 300},
    "dirichlet": {"distribution": {"name": "dirichlet", "alpha": [2, 3, 4]}, "samples": 300},
    "stratified": {"distribution": "normal", "method": "stratified", "strata": 5,
                   "samples": 400},
    "importance": {"distribution": "normal", "method": "importance", "samples": 400,
                   "proposal": {"name": "normal", "scale": 2}},
    "mh_1d": {"distribution": "normal", "method": "metropolis", "chains": 2, "samples": 200},
    "mh_2d": {"distribution": "banana", "method": "metropolis", "chains": 3, "samples": 200},
    "mh_scales": {"distribution": "donut", "method": "metropolis", "scales": [0.1, 1],
                  "samples": 150},
}


def experiment_for(section: dict, render: RenderConfig = SMALL):
    config = validate(section)
    return Experiment(name="t", title=None, source=None, render=render, sampling=config), run(
        config)


@pytest.mark.parametrize("case", sorted(CASES))
def test_scene_animates_only_animated_artists(case):
    experiment, result = experiment_for(CASES[case])
    scene = build_scene(experiment, result)
    assert 1 <= scene.n_frames <= 6
    width, height = scene.figure.canvas.get_width_height()
    assert (width, height) == (320, 180)
    scene.figure.canvas.draw()
    for frame in range(scene.n_frames):
        artists = scene.update(frame)
        assert artists and all(artist.get_animated() for artist in artists)
        for artist in artists:
            scene.figure.draw_artist(artist)


def test_histogram_is_one_stairs_artist_updated_in_place():
    experiment, result = experiment_for(CASES["histogram"])
    scene = build_scene(experiment, result)
    first = scene.update(0)
    last = scene.update(scene.n_frames - 1)
    assert first[0] is last[0] and type(first[0]).__name__ == "StepPatch"
    heights = last[0].get_data().values
    assert np.sum(heights * np.diff(result.edges)) == pytest.approx(1.0)


def test_histogram_frames_are_log_spaced_and_end_at_all_samples():
    experiment, result = experiment_for(CASES["histogram"])
    scene = build_scene(experiment, result)
    shown = result.checkpoints[scene.indices]
    assert shown[0] == 1 and shown[-1] == 500
    assert shown[1] / shown[0] > shown[-1] / shown[-2]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_curated_configs_validate(path):
    from optiviz import config

    experiment = config.load(path)
    assert experiment.kind == "sampling"


def test_cli_renders_gif_still_and_data(tmp_path):
    from optiviz.cli import cli

    source = tmp_path / "mh.yaml"
    source.write_text(
        "title: test\nsampling:\n  distribution: banana\n  method: metropolis\n"
        "  chains: 2\n  samples: 120\nrender: {width: 320, height: 180, frames: 5, hold: 0}\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(source), "-o", str(tmp_path / "mh.gif"),
                                 "--data", str(tmp_path / "mh.npz")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mh.gif").read_bytes()[:3] == b"GIF"
    data = np.load(tmp_path / "mh.npz")
    assert data["samples"].shape == (240, 2)
    assert data["accepted"].dtype == bool and data["chain"].max() == 1
    still = runner.invoke(cli, ["run", str(source), "-o", str(tmp_path / "mh.png")])
    assert still.exit_code == 0, still.output
    assert (tmp_path / "mh.png").stat().st_size > 1000


def test_cli_reports_a_bad_distribution_parameter(tmp_path):
    from optiviz.cli import cli

    source = tmp_path / "bad.yaml"
    source.write_text("sampling:\n  distribution: {name: normal, mean: 0}\n")
    result = CliRunner().invoke(cli, ["run", str(source), "-o", str(tmp_path / "x.gif")])
    assert result.exit_code == 2
    assert "sampling.distribution.mean" in result.output and "loc, scale" in result.output


def test_dark_theme_scene_uses_the_dark_background():
    dark = RenderConfig(width=320, height=180, frames=3, hold=0, theme="dark")
    experiment, result = experiment_for(CASES["mh_2d"], dark)
    scene = build_scene(experiment, result)
    scene.update(scene.n_frames - 1)
    scene.figure.canvas.draw()
    corner = np.asarray(scene.figure.canvas.buffer_rgba())[2, 2, :3]
    assert corner.max() < 60
