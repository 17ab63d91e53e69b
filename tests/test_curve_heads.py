"""A growing curve's newest point is always on show: a dot inside its panel, a ▲/▼ on the edge
it is beyond (keyed), nothing for a NaN; a KL of exactly 0 breaks the log curve instead of
being drawn at a made-up floor."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from optiviz.cli import cli
from optiviz.experiment import Experiment, RenderConfig
from optiviz.render.heads import CurveHeads
from optiviz.render.sampling import build_scene
from optiviz.render.theme import get_theme
from optiviz.sampling import run, validate

SMALL = RenderConfig(width=320, height=180, frames=8, fps=10, hold=0)


def scene_for(section: dict, render: RenderConfig = SMALL):
    config = validate(section)
    result = run(config)
    experiment = Experiment(name="t", title=None, source=None, render=render, sampling=config)
    return build_scene(experiment, result), result


def key_labels(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def heads_on(yscale: str = "linear", ylim=(0.0, 1.0), values=()):
    ax = Figure().add_subplot()
    ax.set_yscale(yscale)
    ax.set_ylim(*ylim)
    return CurveHeads(ax, ["C0", "C1"], get_theme("light"), values)


@pytest.mark.parametrize("y, dot, marker, at", [
    (0.5, True, None, None),
    (2.0, False, "^", 0.985),
    (-1.0, False, "v", 0.015),
    (np.inf, False, "^", 0.985),
    (np.nan, False, None, None),
])
def test_a_head_is_a_dot_inside_and_an_edge_mark_beyond(y, dot, marker, at):
    heads = heads_on()
    heads.update([(3.0, y), (3.0, 0.25)])
    xs, ys = heads.dots[0].get_data()
    assert (len(xs) == 1) == dot
    ex, ey = heads.edges[0].get_data()
    if marker is None:
        assert len(ex) == 0
    else:
        assert heads.edges[0].get_marker() == marker and list(ex) == [3.0] and list(ey) == [at]
    assert list(heads.dots[1].get_data()[1]) == [0.25]  # the other curve is its own


def test_two_curves_beyond_one_edge_at_one_x_show_two_marks():
    heads = heads_on()
    heads.update([(3.0, 5.0), (3.0, 7.0)])
    shown = [edge.get_transform().transform(np.column_stack(edge.get_data()))[0]
             for edge in heads.edges]
    assert abs(shown[0][0] - shown[1][0]) >= 5  # pixels apart, side by side
    assert shown[0][1] == pytest.approx(shown[1][1])


def test_zero_on_a_log_axis_is_below_it():
    heads = heads_on("log", (1e-4, 1.0))
    heads.update([(10.0, 0.0), (10.0, 1e-3)])
    assert heads.edges[0].get_marker() == "v" and len(heads.dots[0].get_data()[0]) == 0
    assert list(heads.dots[1].get_data()[1]) == [1e-3]


def test_the_key_names_the_edge_marks_only_when_some_frame_needs_them():
    inside = heads_on(values=[np.array([0.2, 0.9]), np.array([0.5])])
    assert not inside.ever_beyond
    ax = inside.ax
    ax.plot([], [], label="curve")
    legend = ax.legend()
    assert inside.add_to_key(legend) is legend
    beyond = heads_on(values=[np.array([0.2, 1.5]), np.array([0.5])])
    assert beyond.ever_beyond
    beyond.ax.plot([], [], label="curve")
    keyed = beyond.add_to_key(beyond.ax.legend())
    assert [t.get_text() for t in keyed.get_texts()] == ["curve", CurveHeads.LABEL]


def test_importance_estimates_beyond_their_panel_are_marked_on_its_edge():
    scene, result = scene_for({"distribution": "normal", "method": "importance",
                               "proposal": {"name": "normal", "loc": 1, "scale": 2},
                               "estimate": "x**2", "samples": 3000, "seed": 0})
    est_ax = scene.plain_line.axes
    low, high = est_ax.get_ylim()
    seen_beyond = False
    for frame in range(scene.n_frames):
        scene.update(frame)
        k = scene.indices[frame]
        for value, dot, edge in zip((result.plain_estimate[k],
                                     result.self_normalized_estimate[k]),
                                    scene.heads.dots, scene.heads.edges, strict=True):
            if low <= value <= high:
                assert list(dot.get_data()[1]) == [value] and len(edge.get_data()[0]) == 0
            else:
                seen_beyond = True
                assert edge.get_marker() == ("^" if value > high else "v")
                assert list(edge.get_data()[0]) == [result.checkpoints[k]]
    assert seen_beyond  # n = 1: the first weighted draw is far from E[x²] = 1
    assert "newest estimate beyond the panel" in key_labels(est_ax)
    # the first point is not on the axis's left edge (a dot there would be cut in half)
    assert est_ax.get_xlim()[0] < result.checkpoints[0]


def test_stratified_first_frame_shows_both_estimates():
    scene, result = scene_for({"distribution": {"name": "exponential", "scale": 1},
                               "method": "stratified", "strata": 10, "samples": 2000})
    scene.update(0)  # one checkpoint: a curve of one point draws nothing without its head
    shown = [len(d.get_data()[0]) + len(e.get_data()[0])
             for d, e in zip(scene.heads.dots, scene.heads.edges, strict=True)]
    assert shown == [1, 1]


def test_a_kl_of_zero_breaks_the_log_curve_and_is_marked_below():
    scene, result = scene_for({"distribution": {"name": "bernoulli", "p": 0.5},
                               "samples": 400, "seed": 3})
    zero = np.flatnonzero(result.kl == 0)
    assert zero.size  # half heads, half tails: it happens
    kl_ax = scene.kl_line.axes
    assert np.isnan(scene.kl[zero]).all()  # no fake floor value
    assert kl_ax.get_ylim()[0] <= result.kl[result.kl > 0].min()
    frames = [f for f in range(scene.n_frames) if result.kl[scene.indices[f]] == 0]
    assert frames  # seed 3: 79 of each at n = 158, a frame
    scene.update(frames[0])
    assert scene.kl_head.edges[0].get_marker() == "v"
    assert "KL = 0" in key_labels(kl_ax)
    assert kl_ax.get_legend().legend_handles[0].get_marker() == "v"


def test_the_cli_renders_the_estimate_panels(tmp_path):
    config = tmp_path / "i.yaml"
    config.write_text("sampling: {distribution: normal, method: importance, proposal: "
                      "{name: normal, loc: 1, scale: 2}, estimate: 'x**2', samples: 300}\n"
                      "render: {output: i.gif, width: 320, height: 180, frames: 5, fps: 5}\n")
    result = CliRunner().invoke(cli, ["run", str(config), "-q", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "i.gif").stat().st_size > 0


VI_NARROW = """\
title: a narrow start
variational:
  target: {name: normal, loc: 0, scale: 1}
  divergence: reverse
  gradient: exact
  start: {mean: 0.5, log_std: -4.0}
steps: 40
optimizers:
  - {name: adam, lr: 0.2}
render: {width: 480, height: 320, frames: 6, fps: 5, hold: 0}
"""


def test_a_q_narrower_than_its_panel_is_marked_over_its_mode_and_keyed(tmp_path):
    from optiviz import api
    from optiviz.config import load
    from optiviz.render.variational import DensityPanel, build_scene

    path = tmp_path / "vi.yaml"
    path.write_text(VI_NARROW)
    experiment = load(path)
    result = api.compute(experiment)
    scene = build_scene(experiment, result)
    panel = next(p for p in scene.parts if isinstance(p, DensityPanel))
    top = panel.peaks.ax.get_ylim()[1]
    panel.update(0)  # σ = e⁻⁴: a peak of 22 over p's 0.4
    (edge,) = panel.peaks.edges
    assert edge.get_marker() == "^" and list(edge.get_data()[0]) == [0.5]
    assert 1 / (np.exp(-4.0) * np.sqrt(2 * np.pi)) > top
    panel.update(result.steps)  # fitted: σ near 1, the whole curve inside
    assert len(edge.get_data()[0]) == 0 and len(panel.peaks.dots[0].get_data()[0]) == 0
    labels = [t.get_text() for t in scene.figure.legends[0].get_texts()]
    assert DensityPanel.PEAK_LABEL in labels
    out = tmp_path / "vi.gif"
    run = CliRunner().invoke(cli, ["run", str(path), "-o", str(out), "-q"])
    assert run.exit_code == 0, run.output


def test_vi_objective_heads_and_a_run_leaving_the_landscape_are_marked(tmp_path):
    from optiviz import api
    from optiviz.config import load
    from optiviz.render.landscape import left_view_handle
    from optiviz.render.theme import get_theme as theme_of
    from optiviz.render.variational import LandscapePanel, ObjectivePanel, build_scene

    path = tmp_path / "vi.yaml"
    path.write_text(VI_NARROW.replace("divergence: reverse", "divergence: forward")
                    .replace("{name: adam, lr: 0.2}", "{name: adam, lr: 0.2}\n  - {name: sgd, "
                             "lr: 0.003}"))
    experiment = load(path)
    result = api.compute(experiment)
    scene = build_scene(experiment, result)
    objective = next(p for p in scene.parts if isinstance(p, ObjectivePanel))
    objective.update(0)  # one point per curve: only the heads show it
    assert all(len(d.get_data()[0]) == 1 for d in objective.heads.dots)
    assert objective.heads.ax.get_xlim()[0] < 0
    landscape = next(p for p in scene.parts if isinstance(p, LandscapePanel))
    assert landscape.left  # σ = e⁻⁴ under forward KL: SGD's first step flies off the grid
    step = int(landscape.exits.exits.begin[0])
    shown = [a for a in landscape.update(step) if a.get_visible() and hasattr(a, "get_marker")
             and a in landscape.exits.arrows.values()]
    assert shown
    labels = [t.get_text() for t in scene.figure.legends[0].get_texts()]
    assert left_view_handle(theme_of("light")).get_label() in labels


def test_a_biased_estimate_is_not_hidden_under_the_readout():
    scene, result = scene_for({"distribution": "normal", "method": "importance",
                               "proposal": {"name": "normal", "loc": 2, "scale": 0.5},
                               "estimate": "x**2", "samples": 4000, "seed": 1},
                              RenderConfig(width=960, height=540, frames=8, fps=10, hold=0))
    ax = scene.plain_line.axes
    scene.update(scene.n_frames - 1)  # the plain estimate sits near 0.5 of a true 1
    renderer = ax.figure.canvas.get_renderer()
    scene.caption.update_bbox_position_size(renderer)
    for artist in (scene.caption.get_bbox_patch(), ax.get_legend()):
        box = artist.get_window_extent(renderer)
        n = result.checkpoints
        late = n >= n[-1] / 30
        xy = ax.transData.transform(np.column_stack([n[late], result.plain_estimate[late]]))
        inside = ((xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1)
                  & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1))
        assert not inside.any()


def test_settled_estimates_keep_the_key_upper_right_and_the_readout_lower_right():
    scene, _ = scene_for({"distribution": "normal", "method": "importance",
                          "proposal": {"name": "normal", "loc": 1, "scale": 2},
                          "estimate": "x**2", "samples": 20000, "seed": 0})
    ax = scene.plain_line.axes
    assert ax.get_legend()._loc == 1  # upper right
    assert scene.caption.get_position() == (0.98, 0.03)
