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
    assert np.sum(heights * np.diff(scene.bars.get_data().edges)) == pytest.approx(1.0)


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


def blit_matches_redraw(scene) -> bool:
    from optiviz.render.animate import frame_pixels, full_redraw

    last = scene.n_frames - 1
    pixels, layers = None, None
    for frame in range(scene.n_frames):
        pixels, layers = frame_pixels(scene, frame, layers)
    return np.array_equal(np.array(pixels), full_redraw(scene, last))


@pytest.mark.parametrize("case", ["discrete", "mh_2d", "importance"])
def test_sampling_frames_blit_like_a_full_redraw(case):
    assert blit_matches_redraw(build_scene(*experiment_for(CASES[case])))


def test_bounded_support_is_binned_inside_it():
    experiment, result = experiment_for({"distribution": {"name": "uniform"}, "samples": 400})
    scene = build_scene(experiment, result)
    edges = scene.bars.get_data().edges
    assert (edges[0], edges[-1]) == (0.0, 1.0) and result.edges[0] < 0.0
    heights = scene.update(scene.n_frames - 1)[0].get_data().values
    assert np.sum(heights * np.diff(edges)) == pytest.approx(1.0)


def test_histogram_caption_sits_over_the_short_bars_and_clears_them():
    from optiviz.render.sampling import Readout

    render = RenderConfig(width=480, height=270, frames=6, hold=0)
    experiment, result = experiment_for({"distribution": {"name": "bernoulli", "p": 0.3},
                                         "samples": 400}, render)
    scene = build_scene(experiment, result)
    caption = scene.caption
    assert isinstance(caption, Readout)
    left, right = caption.span()
    assert left > 0.4  # over x = 1 (probability 0.3), not over x = 0 (0.7)
    top = scene.bars.axes.get_ylim()[1]
    assert 0.3 / top < caption.bottom()


def test_banana_is_framed_on_its_bulk_and_the_caption_avoids_the_legend():
    from optiviz.render.sampling import VIEW_REACH, central_domain

    experiment, result = experiment_for(CASES["mh_2d"])
    dist = result.distribution
    (x0, x1), (y0, y1) = dist.domain
    ((cx0, cx1), (cy0, cy1)), inside = central_domain(dist)
    assert y0 <= cy0 and cy1 < y1 and 0.95 < inside <= 1.0
    scene = build_scene(experiment, result)
    ax = scene.caption.axes
    # the bulk, widened only as far as the chains went (at most a quarter per side)
    low, high = ax.get_ylim()
    walked = result.positions[0, :, :, 1]
    reach = VIEW_REACH * (cy1 - cy0)
    assert low == pytest.approx(max(min(cy0, walked.min()), cy0 - reach), abs=0.01)
    assert high == pytest.approx(min(max(cy1, walked.max()), cy1 + reach), abs=0.01)
    legend = ax.get_legend()
    renderer = scene.figure.canvas.get_renderer()
    box = scene.caption.get_bbox_patch()
    scene.caption.set_text("step 1/1\nmean 0\nESS 1")
    scene.caption.update_bbox_position_size(renderer)
    assert not box.get_window_extent(renderer).overlaps(legend.get_window_extent(renderer))


def test_a_wide_bar_partly_under_the_caption_still_clears_it():
    render = RenderConfig(width=640, height=360, frames=6, hold=0)
    experiment, result = experiment_for({"distribution": {"name": "bernoulli", "p": 0.3},
                                         "samples": 400}, render)
    scene = build_scene(experiment, result)
    ax = scene.bars.axes
    left, right = scene.caption.span()
    (x0, x1), top = ax.get_xlim(), ax.get_ylim()[1]
    heights = scene.update(scene.n_frames - 1)[0].get_data().values
    edges = (scene.bars.get_data().edges - x0) / (x1 - x0)
    under = (edges[1:] >= left) & (edges[:-1] <= right)
    assert under.sum() == 2  # the caption reaches over the tall bar's right half
    assert heights[under].max() / top < scene.caption.bottom()


def test_the_burn_in_label_stays_inside_its_trace_panel():
    experiment, result = experiment_for({**CASES["mh_1d"], "burn_in": 10},
                                        RenderConfig(width=640, height=360, frames=4, hold=0))
    scene = build_scene(experiment, result)
    scene.figure.canvas.draw()
    renderer = scene.figure.canvas.get_renderer()
    [label] = [text for ax in scene.figure.axes for text in ax.texts
               if text.get_text() == "burn-in"]
    panel = label.axes.get_window_extent(renderer)
    box = label.get_window_extent(renderer)
    assert panel.x0 <= box.x0 and box.x1 <= panel.x1 and panel.y0 <= box.y0 <= box.y1 <= panel.y1


def test_chain_colours_never_look_like_accepted_or_rejected_moves():
    from optiviz.render.sampling import _acceptance_colors, _chain_colors
    from optiviz.render.theme import get_theme

    for name in ("light", "dark"):
        theme = get_theme(name)
        chains = _chain_colors(theme, 12)
        assert not set(chains) & set(_acceptance_colors(theme))
        assert len(set(chains[:8])) == 8
