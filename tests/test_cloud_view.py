"""The particle-cloud view (many starts): requested panels are drawn or refused, the loss panel's
median and quartiles are honest about diverged runs, maps keep their aspect in a grid chosen
for the count, every mark has a key, and particles that leave the view are counted, not piled
at its edge."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.transforms import Bbox
from PIL import Image
from test_render_support import Point, Rosenbrock, make_case

from optiviz import api
from optiviz.cli import cli
from optiviz.errors import ConfigError
from optiviz.experiment import RenderConfig
from optiviz.render.animate import frame_pixels, full_redraw
from optiviz.render.cloud import (
    CloudScene,
    median_band,
    plan_layout,
    share_text,
    thin_curves,
)
from optiviz.render.landscape import build_scene
from optiviz.trajectories import Trajectories

SMALL = RenderConfig(width=320, height=240, dpi=100, frames=4, hold=0)


def run_cli(tmp_path: Path, text: str, name: str = "cloud.png") -> Path:
    config = tmp_path / "cloud.yaml"
    config.write_text(textwrap.dedent(text))
    output = tmp_path / name
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(output), "--quiet"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return output


def scene_of(tmp_path: Path, text: str) -> CloudScene:
    config = tmp_path / "scene.yaml"
    config.write_text(textwrap.dedent(text))
    experiment = api.load(config)
    scene = build_scene(experiment, api.compute(experiment))
    assert isinstance(scene, CloudScene)
    return scene


def many_starts(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform([-1.5, -0.5], [1.5, 2.5], (count, 2))


def map_axes(scene: CloudScene) -> list:
    return [cloud.axes for _, cloud, _ in scene.groups]


def pixel_box(ax) -> Bbox:
    ax.apply_aspect()
    return ax.get_window_extent()


def assert_blit_matches_redraw(scene, frames):
    blitted, layers = {}, None
    for frame in range(scene.n_frames):
        pixels, layers = frame_pixels(scene, frame, layers)
        if frame in frames:
            blitted[frame] = np.array(pixels)
    for frame in frames:
        assert np.array_equal(blitted[frame], full_redraw(scene, frame)), f"frame {frame}"


# render.panels is honoured, or refused ----------

def cloud_config(render: str, first: str = "{name: sgd, lr: 0.01}") -> str:
    """Three optimizers from 60 random starts on Himmelblau; ``render`` is the render mapping's
    inside."""
    return f"""\
    function: himmelblau
    start: {{random: 60, seed: 1}}
    steps: 12
    optimizers:
      - {first}
      - {{name: adam, lr: 0.1}}
      - {{name: sgd, lr: 0.005, momentum: 0.9}}
    render: {{{render}}}
    """


def test_a_cloud_draws_the_loss_and_lr_panels_it_is_asked_for(tmp_path):
    both = run_cli(tmp_path, cloud_config("width: 320, height: 240, panels: [landscape, loss, lr]"),
                   "both.png")
    bare = run_cli(tmp_path, cloud_config("width: 320, height: 240, panels: [landscape]"),
                   "bare.png")
    assert not np.array_equal(np.asarray(Image.open(both)), np.asarray(Image.open(bare)))
    scene = scene_of(tmp_path, cloud_config("width: 320, height: 240, frames: 2, "
                                            "panels: [landscape, loss, lr]"))
    assert scene.panels == ("landscape", "loss", "lr")
    labels = {panel.ax.get_ylabel() for panel in scene.side}
    assert labels == {"loss", "lr"}


def test_a_cloud_gets_the_loss_panel_by_default_when_it_fits(tmp_path):
    for size in ("width: 960, height: 540", "width: 480, height: 480"):
        assert scene_of(tmp_path, cloud_config(f"{size}, frames: 2")).panels == (
            "landscape", "loss")


def test_the_default_loss_panel_gives_way_when_it_would_shrink_the_maps_too_much():
    font = 14.0
    key = ((150.0, 60.0), (300.0, 30.0))
    crowded = plan_layout(1, 1.0, ("loss",), 320, 240, font, *key)
    bare = plan_layout(1, 1.0, (), 320, 240, font, *key)
    assert 0 < crowded.side < 0.66 * bare.side  # so CloudScene shows the map alone
    roomy = plan_layout(1, 1.0, ("loss",), 960, 540, font, *key)
    assert roomy.side >= 0.66 * plan_layout(1, 1.0, (), 960, 540, font, *key).side


def test_panels_asked_for_in_a_frame_too_small_for_them_are_refused(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(textwrap.dedent(cloud_config("width: 200, height: 120, "
                                                   "panels: [landscape, loss, lr]")))
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "t.png")])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {config}:8: render.panels: ")
    assert "larger" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "t.png").exists()


def test_a_panel_the_cloud_view_cannot_draw_is_refused_naming_render_panels():
    from optiviz.render.panels import PANELS, PanelSpec

    PANELS.add("paths_only_test", PanelSpec("paths_only_test", "a panel only paths views draw",
                                            {"paths": lambda ax, context: None}))
    try:
        experiment, trajectories = make_case(
            steps=3, starts=many_starts(12), start_kind="random",
            render=replace(SMALL, panels=("landscape", "paths_only_test")))
        with pytest.raises(ConfigError) as caught:
            build_scene(experiment, trajectories)
    finally:
        PANELS._entries.pop("paths_only_test")
        PANELS._folded.pop("paths_only_test")
    message = str(caught.value)
    assert "render.panels[1]" in message and "cannot draw" in message
    assert "\n" not in message and "loss" in message  # one line, naming what it draws


# the loss panel: median and quartiles, diverged runs included ----------

def reference_quartiles(loss: np.ndarray) -> np.ndarray:
    """Sorted order statistics, NaN as +inf, numpy's linear interpolation spelled out."""
    ranked = np.sort(np.where(np.isnan(loss), np.inf, loss), axis=0)
    runs = ranked.shape[0]
    rows = []
    for q in (0.25, 0.5, 0.75):
        h = (runs - 1) * q
        low = int(np.floor(h))
        below, above = ranked[low], ranked[min(low + 1, runs - 1)]
        with np.errstate(invalid="ignore"):
            between = below + (h - low) * (above - below)
        rows.append(np.where(h == low, below, np.where(np.isinf(above), above, between)))
    return np.array(rows)


@pytest.mark.parametrize("runs", [1, 2, 3, 4, 7, 10, 101])
def test_median_and_quartiles_count_a_diverged_run_as_infinite(runs):
    loss = np.random.default_rng(runs).lognormal(size=(runs, 30))
    loss[: (runs + 1) // 2, 12:] = np.nan  # half the starts (rounded up) diverge at step 12
    function = type("F", (), {"minimum": 0.0})
    assert np.array_equal(median_band(loss, function), reference_quartiles(loss))
    if runs > 1:
        assert np.all(np.isinf(median_band(loss, function)[1, 12:]))
    finite = np.random.default_rng(0).lognormal(size=(runs, 30))
    assert np.allclose(median_band(finite, function),
                       np.quantile(finite, [0.25, 0.5, 0.75], axis=0))


def test_a_run_falling_off_a_surface_unbounded_below_counts_as_minus_infinity():
    loss = np.array([[1.0, -5.0, -1e9, np.nan], [1.0, 0.5, 0.4, 0.3], [2.0, 3.0, 1e9, np.nan]])
    unbounded = type("F", (), {"minimum": None})
    curves = median_band(loss, unbounded)
    assert curves[0, 3] == -np.inf and curves[1, 3] == 0.3 and curves[2, 3] == np.inf
    assert median_band(loss, type("F", (), {"minimum": 0.0}))[1, 3] == np.inf


def test_median_leaves_the_loss_panel_through_its_top_once_half_the_starts_diverged():
    starts = many_starts(12)
    experiment, trajectories = make_case(steps=8, starts=starts, start_kind="random",
                                         lrs=(1e-3, 2e-3), diverge=None,
                                         render=replace(SMALL, width=400, height=300,
                                                        frames=None, panels=("landscape",
                                                                             "loss")))
    diverged_step = trajectories.diverged_step.copy()
    diverged_step[:7] = 4  # 7 of the first optimizer's 12 starts diverge at step 4
    loss, positions = trajectories.loss.copy(), trajectories.positions.copy()
    loss[:7, 4:] = np.nan
    positions[:7, 4:] = np.nan
    trajectories = replace(trajectories, loss=loss, positions=positions,
                           diverged_step=diverged_step)
    scene = build_scene(experiment, trajectories)
    [panel] = scene.side
    [(exit_step, marker)] = panel.exits  # the first optimizer's only; the second never leaves
    assert exit_step == 4
    scene.update(3)
    assert not marker.get_visible()
    scene.update(4)
    assert marker.get_visible() and marker.get_ydata()[0] == panel.ax.get_ylim()[1]
    assert "median above the panel" in [t.get_text() for t in scene.key.get_texts()]
    status = scene.groups[0][2]
    assert status.get_visible() and status.get_text().startswith("7/12 diverged")
    assert_blit_matches_redraw(scene, [4, scene.n_frames - 1])


def test_thinning_a_long_curve_keeps_its_oscillation_and_the_whole_band():
    steps = np.arange(100_001)
    middle = 1.0 + 0.5 * (-1.0) ** steps  # flips every step: 0.5, 1.5, 0.5 ...
    curves = np.vstack([middle - 0.2 - steps * 1e-6, middle, middle + 0.2 + steps * 1e-6])
    x, thinned = thin_curves(curves, 2000)
    assert len(x) <= 2002 and np.all(np.diff(x) >= 0)
    assert thinned[1].min() == 0.5 and thinned[1].max() == 1.5  # not a flat line at 0.5
    assert thinned[0].min() == curves[0].min() and thinned[2].max() == curves[2].max()
    short = np.vstack([np.zeros(50), np.ones(50), 2 * np.ones(50)])
    assert np.array_equal(thin_curves(short, 2000)[1], short)


# the layout: maps keep their aspect, no empty cells, everything in the frame ----------

@pytest.mark.parametrize("size", [(320, 180), (240, 240)])
@pytest.mark.parametrize("optimizers", [1, 3, 4])
def test_maps_keep_the_domain_aspect_and_never_overlap_each_other_or_a_panel(size, optimizers):
    width, height = size
    lrs = tuple(1e-3 * (k + 1) for k in range(optimizers))
    experiment, trajectories = make_case(steps=3, lrs=lrs, starts=many_starts(12),
                                         start_kind="random", diverge=None,
                                         render=replace(SMALL, width=width, height=height,
                                                        dpi=50))
    scene = build_scene(experiment, trajectories)
    figure = scene.figure
    figure.canvas.draw()
    maps = [pixel_box(ax) for ax in map_axes(scene)]
    (x0, x1), (y0, y1) = experiment.function.domain
    for box in maps:
        assert box.height / box.width == pytest.approx((y1 - y0) / (x1 - x0), abs=0.03)
    panels = [panel.ax.get_window_extent() for panel in scene.side]
    assert len(panels) == len(scene.panels) - 1
    boxes = maps + panels
    for i, first in enumerate(boxes):
        assert figure.bbox.x0 - 1 <= first.x0 and first.x1 <= figure.bbox.x1 + 1
        assert figure.bbox.y0 - 1 <= first.y0 and first.y1 <= figure.bbox.y1 + 1
        for second in boxes[i + 1:]:
            assert not overlap(first, second)
    if scene.layout.kind == "cells":  # no cell of the grid is left empty
        cells = scene.layout.rows * scene.layout.columns
        assert cells - optimizers - 1 <= int(scene.layout.key == "cell")


def test_three_optimizers_fill_a_wide_frame_with_square_maps_and_the_loss_panel(tmp_path):
    scene = scene_of(tmp_path, cloud_config("width: 960, height: 540, frames: 2"))
    scene.figure.canvas.draw()
    maps = [pixel_box(ax) for ax in map_axes(scene)]
    frame = scene.figure.bbox.width * scene.figure.bbox.height
    used = sum(box.width * box.height for box in maps) / frame
    assert all(abs(box.width - box.height) <= 1 for box in maps)
    assert used > 0.45, used  # before: 52 % of the frame, squashed to 452 x 200 px, one
    # quadrant empty; now three square maps of about 290 px and the loss panel under them


def overlap(first: Bbox, second: Bbox, slack: float = 1.0) -> bool:
    return (min(first.x1, second.x1) - max(first.x0, second.x0) > slack
            and min(first.y1, second.y1) - max(first.y0, second.y0) > slack)


def text_boxes(scene: CloudScene, renderer) -> dict[str, Bbox]:
    """Every text the frame can show, at its widest: titles, tallies ("100%"), the status at
    its longest, the step counter, the key; each tick label too."""
    boxes: dict[str, Bbox] = {"title": scene.suptitle.get_window_extent(renderer)}
    for i, ax in enumerate(map_axes(scene)):
        boxes[f"map {i} title"] = ax.title.get_window_extent(renderer)
    for i, tallies in enumerate(scene.tallies):
        for j, (_, label) in enumerate(tallies):
            label.set_text("100%")
            label.set_visible(True)
            label.draw(renderer)  # lays out its backing box
            boxes[f"map {i} tally {j}"] = label.get_bbox_patch().get_window_extent(renderer)
    for i, (_, _, status) in enumerate(scene.groups):
        if not scene.widest_status[i]:
            continue  # these runs neither diverge nor leave the view: no status ever
        status.set_text(scene.widest_status[i])
        status.set_visible(True)
        status.draw(renderer)
        boxes[f"map {i} status"] = status.get_bbox_patch().get_window_extent(renderer)
    scene.counter.set_text(f"step {scene.total_steps}/{scene.total_steps}")
    boxes["counter"] = scene.counter.get_window_extent(renderer)
    if scene.key is not None:
        boxes["key"] = scene.key.get_window_extent(renderer)
    return boxes


@pytest.mark.parametrize("size", [(960, 540), (480, 480)])
def test_titles_tallies_status_counter_and_key_stay_in_the_frame_and_apart(tmp_path, size):
    width, height = size
    text = cloud_config(f"width: {width}, height: {height}, frames: 2, "
                        "panels: [landscape, loss, lr]",
                        first="{name: sgd, lr: 0.045, label: SGD lr=0.045 (diverges)}")
    scene = scene_of(tmp_path, text)
    assert "diverged" in scene.widest_status[0]  # the status box is part of the check
    figure = scene.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = text_boxes(scene, renderer)
    frame = figure.bbox
    for name, box in boxes.items():
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, name
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, name
    names = list(boxes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not overlap(boxes[first], boxes[second]), (first, second)
    maps = [pixel_box(ax) for ax in map_axes(scene)]
    for name in ("key", "counter", "title"):
        assert not any(overlap(boxes[name], box) for box in maps), name
    for ax in figure.axes:  # no tick labels touch on any axis
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                      if t.get_visible() and t.get_text()]
            for i, first in enumerate(labels):
                for second in labels[i + 1:]:
                    assert not overlap(first, second, slack=0.5), (ax.get_title(), axis)


# the key ----------

def test_the_key_names_every_mark_and_says_what_a_percentage_means():
    experiment, trajectories = make_case(steps=3, starts=many_starts(12), start_kind="random",
                                         diverge=None, render=replace(SMALL, width=640,
                                                                      height=360))
    scene = build_scene(experiment, trajectories)
    labels = [t.get_text().replace("\n", " ") for t in scene.key.get_texts()]
    assert "minimum" in labels
    radius = scene.catch_radius
    assert f"starts within {radius:.2g} of a minimum" in labels
    assert "median loss, 25–75 % of starts" in labels
    scene.figure.canvas.draw()
    key = scene.key.get_window_extent()
    assert not any(overlap(key, pixel_box(ax)) for ax in map_axes(scene))
    assert not any(overlap(key, panel.ax.get_window_extent()) for panel in scene.side)


def test_percentages_never_round_to_a_lie():
    assert share_text(0, 400) == "0%" and share_text(1, 400) == "<1%"
    assert share_text(399, 400) == ">99%" and share_text(400, 400) == "100%"
    assert share_text(3, 12) == "25%"


def test_a_tally_near_the_right_edge_turns_left_to_stay_on_the_map():
    near_corner = np.array([[1.9, 2.9]] * 12)
    function = Rosenbrock(points=(Point(1.95, 2.95, 0.0, "global minimum"),))
    experiment, trajectories = make_case(function=function, steps=2, lrs=(1e-9,),
                                         starts=near_corner, start_kind="random", diverge=None,
                                         render=replace(SMALL, panels=("landscape",)))
    scene = build_scene(experiment, trajectories)
    scene.update(scene.n_frames - 1)
    [(_, label)] = scene.tallies[0]
    assert label.get_visible() and label.get_text() == "100%"
    renderer = scene.figure.canvas.get_renderer()
    label.draw(renderer)
    box = label.get_bbox_patch().get_window_extent(renderer)
    area = pixel_box(label.axes)
    assert area.x0 <= box.x0 and box.x1 <= area.x1 + 0.5
    assert area.y0 <= box.y0 and box.y1 <= area.y1 + 0.5


# runs that leave the view or diverge ----------

EDGE_CONFIG = """\
    function: {expr: "x**2 + y**2", domain: [[-2, 2], [-2, 2]]}
    start: [%s]
    steps: 2
    optimizers:
      - {name: sgd, lr: 0.000001, color: "#ff00ff"}
    render: {width: 320, height: 240, panels: [landscape], domain: [[-2, 2], [-2, 2]]}
    """


def test_particles_just_outside_the_view_are_counted_not_piled_at_its_edge(tmp_path):
    starts = ", ".join(f"[2.03, {y:.2f}]" for y in np.linspace(-1.5, 1.5, 12))
    text = EDGE_CONFIG % starts
    output = run_cli(tmp_path, text)
    scene = scene_of(tmp_path, text)
    scene.update(scene.n_frames - 1)
    runs, cloud, status = scene.groups[0]
    assert status.get_visible() and status.get_text() == "12/12 outside the view"
    assert np.isnan(cloud.get_xdata()).all()
    box = pixel_box(cloud.axes)
    pixels = np.asarray(Image.open(output).convert("RGB")).astype(int)
    height = pixels.shape[0]
    inside = pixels[int(height - box.y1) + 1: int(height - box.y0) - 1,
                    int(box.x0) + 1: int(box.x1) - 1]
    magenta = (np.abs(inside - [255, 0, 255]).sum(axis=2) < 60)
    assert not magenta.any()  # half markers along the right edge would be magenta


def test_a_thousand_starts_with_a_diverging_optimizer_show_the_count_and_an_honest_median(
        tmp_path):
    text = """\
    title: Himmelblau, 1,000 starts each
    function: himmelblau
    start: {random: 1000, seed: 1}
    steps: 60
    optimizers:
      - {name: sgd, lr: 0.03, label: SGD lr=0.03}
      - {name: sgd, lr: 0.002, momentum: 0.9, label: Momentum}
      - {name: adam, lr: 0.1, label: Adam}
    render: {width: 480, height: 480, frames: 3, panels: [landscape, loss, lr]}
    """
    run_cli(tmp_path, text)
    config = tmp_path / "thousand.yaml"
    config.write_text(textwrap.dedent(text))
    experiment = api.load(config)
    trajectories: Trajectories = api.compute(experiment)
    scene = build_scene(experiment, trajectories)
    scene.update(scene.n_frames - 1)
    runs, _, status = scene.groups[0]
    lost = int(trajectories.diverged[runs].sum())
    assert 0 < lost < 500
    assert status.get_visible() and f"{lost}" in status.get_text()
    assert "diverged" in status.get_text()
    loss_panel = scene.side[0]
    median = loss_panel.y[0][1]  # the SGD curve as drawn
    truth = reference_quartiles(trajectories.loss[runs])
    assert np.isfinite(truth[1]).all() and np.allclose(median[-1], truth[1, -1])
    assert not loss_panel.exits  # no median leaves the panel: fewer than half diverged


def test_a_cloud_map_shows_where_the_starts_are_and_counts_wandering_particles(tmp_path):
    """Particles of a too-large step leave the domain and come back: a cloud's maps keep the
    function's domain (fitted to the starts only) and count them, where a few paths would
    grow the view to hold them; the terminal's "left the view" counts the same runs."""
    from optiviz.view import left_view, view_domain

    text = cloud_config("width: 480, height: 480, frames: 2, panels: [landscape]",
                        first="{name: sgd, lr: 0.045, label: SGD lr=0.045}")
    config = tmp_path / "wander.yaml"
    config.write_text(textwrap.dedent(text))
    experiment = api.load(config)
    trajectories = api.compute(experiment)
    assert view_domain(experiment, trajectories) == experiment.function.domain
    left = left_view(experiment, trajectories)
    assert left.any()
    scene = build_scene(experiment, trajectories)
    scene.update(scene.n_frames - 1)
    runs, _, status = scene.groups[0]
    assert status.get_visible() and "outside the view" in scene.widest_status[0]
