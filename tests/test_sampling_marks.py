"""Bars cut by their panel's top are marked (▲ on the edge, explained in the key), and a
stratified discrete distribution is drawn as unit bins against its PMF."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from optiviz.cli import cli
from optiviz.experiment import Experiment, RenderConfig
from optiviz.render.sampling import AboveTop, build_scene
from optiviz.sampling import run, validate

SMALL = RenderConfig(width=320, height=180, frames=6, fps=10, hold=0)


def scene_for(section: dict):
    config = validate(section)
    result = run(config)
    experiment = Experiment(name="t", title=None, source=None, render=SMALL, sampling=config)
    return build_scene(experiment, result)


def key_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_the_first_samples_spike_is_marked_above_the_panel_and_keyed():
    scene = scene_for({"distribution": "normal", "samples": 2000})
    ax = scene.bars.axes
    scene.update(0)
    top = ax.get_ylim()[1]
    heights = scene.bars.get_data().values
    above = heights > top
    assert above.any()  # one sample: a bar of 1/width, far above the settled histogram
    marked, _ = scene.above.marks.get_data()
    assert np.allclose(np.sort(marked), np.sort(scene.above.centres[above]))
    assert AboveTop.LABEL in key_labels(ax)
    scene.update(scene.n_frames - 1)
    assert len(scene.above.marks.get_data()[0]) == 0  # settled: nothing above
    assert (scene.bars.get_data().values <= top).all()


def test_importance_marks_its_weighted_draws_and_its_weights_above_their_panels():
    scene = scene_for({"distribution": "normal", "method": "importance",
                       "proposal": {"name": "normal", "loc": 1, "scale": 2}, "samples": 3000})
    scene.update(0)
    for above, bars in ((scene.above, scene.bars), (scene.weight_above, scene.weight_bars)):
        top = bars.axes.get_ylim()[1]
        assert len(above.marks.get_data()[0]) == int((bars.get_data().values > top).sum())


def test_stratified_discrete_draws_unit_bins_against_the_pmf(tmp_path):
    scene = scene_for({"distribution": {"name": "poisson", "mu": 4}, "method": "stratified",
                       "samples": 2000})
    edges = scene.strat_bars.get_data().edges
    assert np.allclose(np.diff(edges), 1.0) and np.allclose(edges % 1, 0.5)
    ax = scene.strat_bars.axes
    assert ax.get_ylabel() == "probability"
    scene.update(scene.n_frames - 1)
    heights = scene.strat_bars.get_data().values
    assert 0.95 < heights.sum() <= 1.0 + 1e-12  # probabilities of the unit bins
    assert heights.max() < ax.get_ylim()[1]
    config = tmp_path / "s.yaml"
    config.write_text("sampling: {distribution: {name: poisson, mu: 4}, method: stratified, "
                      "samples: 500}\nrender: {output: s.png, width: 320, height: 180}\n")
    result = CliRunner().invoke(cli, ["run", str(config), "-q", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.png").stat().st_size > 0
