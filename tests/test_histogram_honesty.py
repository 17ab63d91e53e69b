"""Histograms tell the truth: no sample beyond the view is ever added to an edge bar, the bars'
area is the share of samples inside the view (a density normalized over ALL samples), and a
panel says how much lies beyond each side ("6.8 % outside →").

Every histogram scene is checked against its raw samples, bar by bar, at its first, middle and
last frames: direct (continuous, heavy-tailed, discrete, bounded), stratified, importance (the
weighted draws and the weights) and Metropolis–Hastings (1-D and the 2-D marginals, including
the banana of issue 12 whose chains leave the target's bulk).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz.experiment import Experiment, RenderConfig
from optiviz.render.sampling import build_scene, percent
from optiviz.sampling import run, validate

SMALL = RenderConfig(width=320, height=180, frames=6, fps=10, hold=0)

BANANA = {"distribution": "banana", "method": "metropolis", "chains": 4, "samples": 2000,
          "proposal": {"name": "normal", "scale": 0.5}}
CASES = {
    "direct_normal": {"distribution": "normal", "samples": 3000},
    "direct_cauchy": {"distribution": "cauchy", "samples": 3000},
    "direct_poisson": {"distribution": {"name": "poisson", "mu": 3}, "samples": 2000},
    "direct_uniform": {"distribution": "uniform", "samples": 1000},
    "stratified_exponential": {"distribution": "exponential", "method": "stratified",
                               "samples": 3000},
    "stratified_cauchy": {"distribution": "cauchy", "method": "stratified", "samples": 3000},
    "importance_small_weights": {"distribution": "normal", "method": "importance",
                                 "proposal": {"name": "normal", "loc": 1, "scale": 2},
                                 "samples": 4000},
    "importance_t": {"distribution": {"name": "t", "df": 3}, "method": "importance",
                     "proposal": {"name": "normal", "scale": 2}, "samples": 3000},
    "mh_1d": {"distribution": "normal", "method": "metropolis", "chains": 2, "samples": 400},
    "mh_banana": BANANA,
}


def scene_for(section: dict, render: RenderConfig = SMALL):
    config = validate(section)
    result = run(config)
    experiment = Experiment(name="t", title=None, source=None, render=render, sampling=config)
    return build_scene(experiment, result), result


@functools.cache
def built(case: str):
    """One scene per case for the whole module (tests only move it between frames)."""
    return scene_for(CASES[case])


def histograms(scene, result, frame: int):
    """``(bars, values, weights, total, kind)`` for each histogram the frame shows, from the raw
    result: kind "density" (area = share) or "fraction" (height = share of the draws so far)."""
    kind = type(scene).__name__
    if kind == "HistogramScene":
        n = result.checkpoints[scene.indices[frame]]
        return [(scene.bars, result.samples[:n], None, n, "density")]
    if kind == "StratifiedScene":
        n = result.checkpoints[scene.indices[frame]]
        return [(scene.plain_bars, result.plain_samples[:n], None, n, "density"),
                (scene.strat_bars, result.samples[:n], None, n, "density")]
    if kind == "ImportanceScene":
        n = result.checkpoints[scene.indices[frame]]
        return [(scene.bars, result.samples[:n], result.weights[:n], n, "density"),
                (scene.weight_bars, result.weights[:n], None, n, "fraction")]
    assert kind == "ChainScene"
    step = int(scene.steps[frame])
    kept = result.positions[0, :, result.burn_in + 1: step + 1]  # (chains, draws, dim)
    total = kept.shape[0] * kept.shape[1]
    if result.distribution.dim == 1:
        return [(scene.bars, kept[..., 0].ravel(), None, total, "density")]
    return [(bars, kept[..., axis].ravel(), None, total, "density")
            for axis, (bars, *_) in enumerate(scene.marginals)]


def bin_shares(values, weights, edges, total):
    """Each bin's share of ``total``, counting a value only in the bin it lies in (the last
    bin closed on the right), and the shares beyond the left and the right edge."""
    values = np.asarray(values, float)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, float)
    shares = np.array([weights[(values >= a) & ((values < b) | ((b == edges[-1]) & (values == b)))]
                       .sum() for a, b in zip(edges[:-1], edges[1:], strict=True)]) / total
    beyond = (weights[values < edges[0]].sum() / total, weights[values > edges[-1]].sum() / total)
    return shares, beyond


def visible_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_bar_holds_samples_outside_it_and_the_area_is_the_share_inside(case):
    scene, result = built(case)
    for frame in sorted({0, scene.n_frames // 2, scene.n_frames - 1}):
        scene.update(frame)
        for bars, values, weights, total, kind in histograms(scene, result, frame):
            data = bars.get_data()
            edges, heights = data.edges, data.values
            widths = np.diff(edges)
            shares, (left, right) = bin_shares(values, weights, edges, total)
            drawn = heights * widths if kind == "density" else heights
            # bar by bar, the edge bars included: nothing beyond the view is piled into them
            np.testing.assert_allclose(drawn, shares, rtol=1e-9, atol=1e-12)
            inside = 1.0 - (left + right) if weights is None else float(
                np.sum(weights[(values >= edges[0]) & (values <= edges[-1])]) / total)
            assert drawn.sum() == pytest.approx(inside, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_panel_says_how_much_lies_beyond_each_side(case):
    scene, result = built(case)
    frame = scene.n_frames - 1
    scene.update(frame)
    for bars, values, weights, total, _ in histograms(scene, result, frame):
        _, (left, right) = bin_shares(values, weights, bars.get_data().edges, total)
        if type(scene).__name__ == "HistogramScene":
            labels, numbers = scene.caption.labels.get_text(), scene.caption.values.get_text()
            if left + right > 0:
                assert "outside view" in labels and percent(left + right) in numbers.split("\n")
            else:
                assert "outside" not in labels
            continue
        texts = visible_texts(bars.axes)
        notes = [t for t in texts if "outside" in t]
        for share, arrow in ((left, "←"), (right, "→")):
            mine = [t for t in notes if arrow in t]
            if share > 0:
                assert mine and percent(share) in mine[0], (texts, share)
            elif type(scene).__name__ != "StratifiedScene":  # plain and stratified share one
                assert not mine, texts


def test_the_view_holds_the_mass_and_what_is_left_is_said():
    """Issue 12's banana: before, 6–7 % of the draws sat beyond the marginals' right edge, piled
    into the last bar (as tall as the mode). Now the view follows the chains (a quarter wider at
    most) and the rest is written on the panel."""
    scene, result = built("mh_banana")
    frame = scene.n_frames - 1
    scene.update(frame)
    for bars, values, _, total, _ in histograms(scene, result, frame):
        heights = bars.get_data().values
        edges = bars.get_data().edges
        _, (left, right) = bin_shares(values, None, edges, total)
        assert left + right < 0.03
        assert max(heights[0], heights[-1]) / heights.max() < 0.3


def test_a_note_shows_only_while_something_is_beyond():
    scene, result = built("mh_banana")
    for frame in range(scene.n_frames):
        scene.update(frame)
        for bars, values, _, total, _ in histograms(scene, result, frame):
            _, (left, right) = bin_shares(values, None, bars.get_data().edges, total)
            notes = [t for t in visible_texts(bars.axes) if "outside" in t]
            assert len(notes) == (left > 0) + (right > 0)


def test_a_heavy_tail_is_framed_on_its_bulk():
    """A Cauchy's 99.8 % range is ±318: its histogram would be one bar. The view holds the
    central 95 % (plus the samples a quarter beyond) and says how much it leaves out."""
    scene, result = built("direct_cauchy")
    low, high = scene.bars.axes.get_xlim()
    assert 12 < -low < 25 and 12 < high < 25
    scene.update(scene.n_frames - 1)
    outside = np.mean((result.samples < low) | (result.samples > high))
    assert 0.01 < outside < 0.06
    assert percent(outside) in scene.caption.values.get_text().split("\n")


def test_percentages_never_round_a_real_share_to_zero():
    assert percent(0.0) == "0 %"
    assert percent(0.00004) == "<0.01 %"
    assert percent(0.0012) == "0.12 %"
    assert percent(0.068) == "6.8 %"
    assert percent(0.25) == "25 %"


@pytest.fixture
def captured_scenes(monkeypatch):
    """The scenes the CLI builds, kept for inspection after it has written its file."""
    import optiviz.render as render_module

    scenes = []
    original = render_module.build_scene

    def keep(experiment, result):
        scenes.append(original(experiment, result))
        return scenes[-1]

    monkeypatch.setattr(render_module, "build_scene", keep)
    return scenes


def test_cli_banana_marginal_says_what_is_outside(tmp_path, captured_scenes):
    from optiviz.cli import cli

    source = tmp_path / "banana.yaml"
    source.write_text(
        "sampling:\n  distribution: banana\n  method: metropolis\n  chains: 4\n"
        "  samples: 2000\n  proposal: {name: normal, scale: 0.5}\n"
        "render: {width: 480, height: 270}\n")
    result = CliRunner().invoke(cli, ["run", str(source), "-o", str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    assert Path(tmp_path / "b.png").stat().st_size > 1000
    [scene] = captured_scenes
    _, y_marginal = scene.figure.axes[1:3]
    notes = [t for t in visible_texts(y_marginal) if "outside" in t]
    positions = scene.result.positions[0, :, scene.result.burn_in + 1:, 1].ravel()
    high = y_marginal.get_xlim()[1]
    assert notes == [f"{percent(np.mean(positions > high))} outside →"]
