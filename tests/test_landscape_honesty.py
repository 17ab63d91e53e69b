"""The contour and surface views tell the truth and use the slide: runs that leave the function's
domain stay in view (or their exit is marked), each start has its own line style, every mark on
the map is keyed, sweeps read in order, the surface view honours its panels and lays the paths
on the surface, and orbits are cheaper and warn when their GIF is large."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_render_support import make_case

from optiviz import api
from optiviz.cli import cli
from optiviz.experiment import RenderConfig
from optiviz.render.animate import frame_pixels, full_redraw
from optiviz.render.landscape import LossPanel, LrPanel, build_scene, run_colors
from optiviz.render.theme import THEMES, contrast, relative_luminance
from optiviz.view import exits, fitted_domain, left_view, view_domain

SMALL = "width: 320, height: 240, dpi: 60, hold: 0"


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def scene_of(path: Path):
    experiment = api.load(path)
    trajectories = api.compute(experiment)
    return experiment, trajectories, build_scene(experiment, trajectories)


def legend_texts(scene) -> list[str]:
    [legend] = scene.overlays
    return [text.get_text() for text in legend.get_texts()]


def final_frame(scene):
    scene.update(scene.n_frames - 1)
    scene.figure.canvas.draw()
    return scene.figure.canvas.get_renderer()


# 1. runs that leave the view -----------------------------------------------------------------

def test_a_run_heading_for_a_minimum_beyond_the_domain_stays_in_view(tmp_path):
    # Adam heads for the minimum at (0, pi), just past the expression's default [-3, 3] domain
    config = write(tmp_path, f"""\
        function: {{expr: "x**2 + 3*sin(y)**2"}}
        start: [2.5, 2.0]
        steps: 200
        optimizers: [{{name: adam, lr: 0.05}}]
        render: {{{SMALL}, frames: 5}}
        """)
    result = run_cli("run", str(config), "-o", str(tmp_path / "out.png"), "--quiet")
    assert result.exit_code == 0, result.output
    experiment, trajectories, scene = scene_of(config)
    final = trajectories.positions[0, -1]
    assert final[1] > 3.1  # it did leave the function's domain...
    (x0, x1), (y0, y1) = scene.ax.get_xlim(), scene.ax.get_ylim()
    assert x0 <= final[0] <= x1 and y0 <= final[1] <= y1  # ...and the map still shows it
    assert (x0, x1) == (-3.0, 3.0) or x1 - x0 >= 6.0  # the function's domain is still all there
    assert y0 <= -3.0
    assert view_domain(experiment, trajectories) == ((x0, x1), (y0, y1))
    assert not left_view(experiment, trajectories).any()
    assert "left the view" not in legend_texts(scene)


def test_a_start_far_outside_the_domain_is_fitted_into_the_view_with_a_margin(tmp_path):
    config = write(tmp_path, f"""\
        function: {{expr: "x**2 + y**2", domain: [[-3, 3], [-3, 3]]}}
        start: [10, 10]
        steps: 40
        optimizers: [{{name: sgd, lr: 0.1}}]
        render: {{{SMALL}, frames: 4}}
        """)
    assert run_cli("run", str(config), "-o", str(tmp_path / "out.gif"), "--quiet").exit_code == 0
    experiment, trajectories, scene = scene_of(config)
    (x0, x1), (y0, y1) = scene.ax.get_xlim(), scene.ax.get_ylim()
    assert x0 == -3.0 and y0 == -3.0 and 10.3 < x1 < 11.5 and 10.3 < y1 < 11.5
    assert not left_view(experiment, trajectories).any()


def test_an_exploding_run_does_not_blow_up_the_view_and_is_marked_where_it_left():
    experiment, trajectories = make_case(steps=20, diverge=None, lrs=(1e-3, 2e-3),
                                         render=RenderConfig(width=320, height=240, dpi=60))
    positions = trajectories.positions.copy()
    positions[1, 5:] = positions[1, 4] + np.geomspace(1, 1e30, 16)[:, None]  # off to 1e30
    trajectories = type(trajectories)(**{**trajectories.__dict__, "positions": positions})
    assert view_domain(experiment, trajectories) == experiment.function.domain
    assert list(left_view(experiment, trajectories)) == [False, True]
    scene = build_scene(experiment, trajectories)
    assert "left the view" in legend_texts(scene)
    scene.update(2)
    assert not scene.exits.arrows[1].get_visible() and scene.exits.note.get_text() == ""
    scene.update(scene.n_frames - 1)
    arrow = scene.exits.arrows[1]
    assert arrow.get_visible() and scene.exits.note.get_text() == "1 run left the view"
    (x,), (y,) = arrow.get_data()
    (x0, x1), (y0, y1) = scene.ax.get_xlim(), scene.ax.get_ylim()
    assert x0 < x < x1 and y0 < y < y1
    [crossing] = exits(positions, experiment.function.domain).point
    assert crossing[1] == 3.0 or crossing[0] == 2.0  # it flew out through the top or right...
    assert np.hypot(x - crossing[0], y - crossing[1]) < 0.1 * (x1 - x0)  # ...marked there


def test_a_fixed_domain_marks_the_exit_with_an_arrow_pointing_the_way_and_a_note(tmp_path):
    config = write(tmp_path, f"""\
        function: {{expr: "x**2 + y**2"}}
        start: [[-1, 0.5], [1, -0.5]]
        steps: 30
        optimizers: [{{name: sgd, lr: 1.05}}]
        render: {{{SMALL}, frames: 31, domain: [[-3, 3], [-3, 3]]}}
        """)
    result = run_cli("run", str(config), "-o", str(tmp_path / "out.gif"), "--quiet")
    assert result.exit_code == 0, result.output
    experiment, trajectories, scene = scene_of(config)
    assert scene.ax.get_xlim() == (-3.0, 3.0)  # the user's domain is the view
    assert left_view(experiment, trajectories).all()
    found = exits(trajectories.positions, ((-3, 3), (-3, 3)))
    first = int(found.begin[found.run == 0][0])
    scene.update(first - 1)
    assert not scene.exits.arrows[0].get_visible()
    scene.update(first)
    arrow = scene.exits.arrows[0]
    assert arrow.get_visible() and "left the view" in scene.exits.note.get_text()
    # the arrow sits at the edge the run crossed and points the way the run went
    (x,), _ = arrow.get_data()
    step = trajectories.positions[0, first] - trajectories.positions[0, first - 1]
    assert np.sign(x) == np.sign(step[0]) and abs(x) > 2.5
    assert_blit_matches_redraw(scene, [first, scene.n_frames - 1])


def test_fitted_views_keep_a_sane_aspect_and_stay_exact_when_nothing_leaves():
    domain = ((-3.0, 3.0), (-3.0, 3.0))
    inside = np.zeros((2, 5, 2))
    assert fitted_domain(domain, inside) == domain
    tall = np.zeros((1, 5, 2))
    tall[0, :, 1] = np.linspace(0, 8, 5)
    (x0, x1), (y0, y1) = fitted_domain(domain, tall)
    assert y1 > 8 and 1 / 1.26 <= (x1 - x0) / (y1 - y0) <= 1.26


def test_exits_cross_the_edge_where_the_segment_leaves():
    positions = np.array([[[0.0, 0.0], [2.0, 0.5], [0.5, 0.5], [0.5, 3.0], [np.nan, np.nan]]])
    found = exits(positions, ((-1.0, 1.0), (-1.0, 1.0)))
    assert list(found.begin) == [1, 3] and list(found.end) == [2, 4]
    assert np.allclose(found.point, [[1.0, 0.25], [0.5, 1.0]])
    assert list(found.first_step(1)) == [1]


# 2. which curve is which start -------------------------------------------------------------

MANY_STARTS = """\
    function: rosenbrock
    start: [[-1.5, 2], [1.5, -0.5], [-0.5, -0.5]]
    steps: 30
    optimizers:
      - {name: sgd, lr: 0.001}
      - {name: adam, lr: 0.05}
      - {name: rmsprop, lr: 0.01}
      - {name: sgd, lr: 0.0005, momentum: 0.9}
    render: {width: 320, height: 240, dpi: 60, hold: 0, frames: 4, panels: [landscape, loss, lr]}
    """


def test_each_start_has_its_own_line_style_and_marker_in_the_paths_and_the_panels(tmp_path):
    config = write(tmp_path, MANY_STARTS)
    assert run_cli("run", str(config), "-o", str(tmp_path / "o.png"), "--quiet").exit_code == 0
    _, trajectories, scene = scene_of(config)
    assert trajectories.runs == 12
    path_styles = [dashes(path.moving) for path in scene.paths]
    heads = [head.get_marker() for head in scene.heads]
    loss_panel, lr_panel = scene.side
    assert isinstance(loss_panel, LossPanel) and isinstance(lr_panel, LrPanel)
    loss_styles = [dashes(line.moving) for line in loss_panel.lines]
    lr_styles = [dashes(line) for line in lr_panel.ax.get_lines()[1:]]
    for r in range(trajectories.runs):
        same_start = trajectories.run_start == trajectories.run_start[r]
        for other in range(trajectories.runs):
            assert (path_styles[r] == path_styles[other]) == bool(same_start[other])
            assert (heads[r] == heads[other]) == bool(same_start[other])
        assert loss_styles[r] == path_styles[r] and lr_styles[r] == path_styles[r]
    texts = legend_texts(scene)
    assert {"start (−1.5, 2)", "start (1.5, −0.5)", "start (−0.5, −0.5)"} <= set(texts)


def dashes(line) -> tuple:
    """A line's dash pattern (``get_linestyle`` says ``--`` for every custom pattern)."""
    offset, pattern = line._unscaled_dash_pattern
    return (offset, tuple(pattern) if pattern is not None else None)


# 3. every mark is keyed --------------------------------------------------------------------

def test_the_key_explains_the_marks_shown_and_only_those():
    experiment, trajectories = make_case(steps=12, diverge=1)
    assert legend_texts(build_scene(experiment, trajectories))[-2:] == ["minimum", "diverged"]
    experiment, trajectories = make_case(function="saddle", steps=6, diverge=None,
                                         starts=((1.0, 0.05),))
    texts = legend_texts(build_scene(experiment, trajectories))
    assert "saddle" in texts and "minimum" not in texts and "diverged" not in texts


def test_the_surface_view_draws_and_keys_the_known_points(tmp_path):
    config = write(tmp_path, f"""\
        function: himmelblau
        start: [0, 0]
        steps: 10
        optimizers: [{{name: adam, lr: 0.1}}]
        render: {{{SMALL}, frames: 3, view: surface}}
        """)
    assert run_cli("run", str(config), "-o", str(tmp_path / "o.png"), "--quiet").exit_code == 0
    _, _, scene = scene_of(config)
    assert {"minimum", "saddle", "maximum"} <= set(legend_texts(scene))
    markers = {line.get_marker() for line in scene.ax.get_lines() if not line.get_animated()}
    assert {"*", "D", "^"} <= markers


def test_the_key_covers_no_cross_and_no_known_point():
    experiment, trajectories = make_case(steps=20, diverge=None, render=RenderConfig(
        width=640, height=360, dpi=100))
    positions = trajectories.positions.copy()
    positions[1, 6] = (1.9, 2.9)  # a run last seen in the upper-right corner...
    positions[1, 7:] = np.nan  # ...where it overflowed
    diverged = trajectories.diverged_step.copy()
    diverged[1] = 7
    trajectories = type(trajectories)(**{**trajectories.__dict__, "positions": positions,
                                         "diverged_step": diverged})
    scene = build_scene(experiment, trajectories)
    renderer = final_frame(scene)
    [legend] = scene.overlays
    box = legend.get_window_extent(renderer)
    assert not box.overlaps(scene.crosses[1].get_window_extent(renderer))
    star = scene.ax.transData.transform((1.0, 1.0))
    assert not box.contains(*star)


# 4. sweeps read in order -------------------------------------------------------------------

SWEEP = """\
    function: rosenbrock
    start: [-1.5, 2]
    steps: 10
    optimizers:
      - {name: adam, lr: [0.1, 0.0001, 0.01, 0.001]}
      - {name: sgd, lr: 0.001}
    render: {width: 320, height: 240, dpi: 60, hold: 0, frames: 3, theme: THEME}
    """


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_lr_sweep_gets_an_ordered_colour_scale_listed_in_order(tmp_path, theme):
    config = write(tmp_path, SWEEP.replace("THEME", theme))
    assert run_cli("run", str(config), "-o", str(tmp_path / "o.png"), "--quiet").exit_code == 0
    experiment, trajectories, scene = scene_of(config)
    colors = run_colors(experiment, trajectories, THEMES[theme])
    lrs = [entry.hyper["lr"] for entry in experiment.optimizers[:4]]
    by_value = [colors[i] for i in np.argsort(lrs)]
    lightness = [relative_luminance(color) for color in by_value]
    assert lightness == sorted(lightness, reverse=True)  # light to dark, smallest lr first
    assert all(contrast(color, THEMES[theme].background) >= 2.0 for color in by_value)
    assert colors[4] == THEMES[theme].runs[0]  # the unswept entry keeps a categorical colour
    assert colors[4] not in by_value
    texts = legend_texts(scene)
    assert texts[:5] == ["Adam lr=0.0001", "Adam lr=0.001", "Adam lr=0.01", "Adam lr=0.1",
                         "SGD lr=0.001"]


def test_sweeps_over_pairs_or_given_colours_stay_categorical(tmp_path):
    config = write(tmp_path, """\
        function: rosenbrock
        start: [-1.5, 2]
        steps: 5
        optimizers:
          - {name: adam, lr: 0.01, betas: [[0.9, 0.999], [0.5, 0.9]]}
          - {name: sgd, lr: [0.001, 0.002], color: black}
        """)
    experiment = api.load(config)
    trajectories = api.compute(experiment)
    colors = run_colors(experiment, trajectories, THEMES["light"])
    assert colors[:2] == list(THEMES["light"].runs[:2]) and colors[2:] == ["black", "black"]


# 5-6. the surface view honours its panels and uses the slide -------------------------------

def test_the_surface_view_draws_the_requested_panels_beside_the_surface(tmp_path):
    config = write(tmp_path, f"""\
        function: rosenbrock
        start: [-1.5, 2]
        steps: 20
        optimizers: [{{name: sgd, lr: 0.001}}, {{name: adam, lr: 0.05}}]
        render: {{{SMALL}, frames: 4, view: surface, panels: [landscape, loss, lr]}}
        """)
    result = run_cli("run", str(config), "-o", str(tmp_path / "o.gif"), "--quiet")
    assert result.exit_code == 0, result.output
    _, _, scene = scene_of(config)
    assert [type(panel) for panel in scene.side] == [LossPanel, LrPanel]
    renderer = final_frame(scene)
    surface = scene.ax.get_tightbbox(renderer)
    for panel in scene.side:
        assert panel.ax.get_window_extent(renderer).x0 > surface.x1  # beside, not on top
    assert_blit_matches_redraw(scene, [1, scene.n_frames - 1])


def test_the_surface_view_fills_the_frame_and_keeps_its_key_under_it():
    from optiviz.render.surface import drawn_box_3d

    experiment, trajectories = make_case(steps=8, diverge=None, render=RenderConfig(
        width=640, height=360, dpi=100, view="surface"))
    scene = build_scene(experiment, trajectories)
    renderer = final_frame(scene)
    surface = drawn_box_3d(scene.ax, renderer)
    [panel] = scene.side
    used = panel.ax.get_tightbbox(renderer).x1 - surface.x0
    assert used / scene.figure.bbox.width > 0.85  # was 0.45: the legend held the left 40 %
    [legend] = scene.overlays
    assert legend.get_window_extent(renderer).y1 <= surface.y0 + 1


def test_a_surface_alone_keeps_its_key_beside_it_and_fills_the_height():
    from optiviz.render.surface import drawn_box_3d

    experiment, trajectories = make_case(steps=4, diverge=None, render=RenderConfig(
        width=640, height=360, dpi=100, view="surface", panels=("landscape",)))
    scene = build_scene(experiment, trajectories)
    assert scene.side == []
    renderer = final_frame(scene)
    surface = drawn_box_3d(scene.ax, renderer)
    [legend] = scene.overlays
    key = legend.get_window_extent(renderer)
    assert key.x0 > surface.x1  # beside the surface, where a 16:9 frame has room
    assert surface.height / scene.figure.bbox.height > 0.75
    for box in (key, surface, scene.counter.get_window_extent(renderer)):
        assert 0 <= box.x0 and box.x1 <= 640 and 0 <= box.y0 and box.y1 <= 360


def test_surface_paths_lie_on_the_drawn_surface():
    from optiviz.render.surface import SURFACE_GRID, SURFACE_LIFT, surface_grid, surface_heights

    experiment, trajectories = make_case(steps=6, diverge=None, render=RenderConfig(
        width=320, height=240, dpi=60, view="surface"))
    scene = build_scene(experiment, trajectories)
    grid, _, _ = surface_grid(experiment.function, scene.domain, SURFACE_GRID)
    low, high = scene.ax.get_zlim()
    expected = surface_heights(grid, trajectories.positions[..., 0],
                               trajectories.positions[..., 1]) + SURFACE_LIFT * (high - low)
    assert np.allclose(scene.xyz[..., 2], expected)
    # at a grid node the height is the surface's own sample
    x, y, _, shown = grid
    assert surface_heights(grid, x[5, 7:8], y[5, 7:8])[0] == pytest.approx(shown[5, 7])


# 7. orbits ---------------------------------------------------------------------------------

def test_an_orbit_draws_fewer_faces_and_frames_and_blits_like_a_full_redraw():
    from optiviz.render.surface import ORBIT_GRID, ORBIT_MAX_FRAMES

    experiment, trajectories = make_case(steps=400, diverge=None, render=RenderConfig(
        width=240, height=160, dpi=50, view="surface", orbit=True, fps=10))
    scene = build_scene(experiment, trajectories)
    assert scene.n_frames == ORBIT_MAX_FRAMES
    [surface] = scene.ax.collections
    assert len(surface.get_facecolor()) == (ORBIT_GRID - 1) ** 2
    experiment, trajectories = make_case(steps=6, diverge=1, render=RenderConfig(
        width=240, height=160, dpi=50, view="surface", orbit=True, fps=10))
    scene = build_scene(experiment, trajectories)
    assert_blit_matches_redraw(scene, [3, scene.n_frames - 1])


def test_a_large_gif_warns_on_stderr_once_and_not_when_quiet(tmp_path, monkeypatch):
    import optiviz.render as render_module

    monkeypatch.setattr(render_module, "LARGE_GIF_BYTES", 10_000)
    config = write(tmp_path, f"""\
        function: rosenbrock
        start: [-1.5, 2]
        steps: 6
        optimizers: [{{name: adam, lr: 0.05}}]
        render: {{{SMALL}}}
        """)
    output = tmp_path / "orbit.gif"
    result = run_cli("run", str(config), "-o", str(output))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "orbit.mp4" in warnings[0] and "MB" in warnings[0]
    quiet = run_cli("run", str(config), "-o", str(output), "--quiet")
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    small = run_cli("run", str(config), "-o", str(tmp_path / "still.png"))
    assert "warning" not in small.output


def assert_blit_matches_redraw(scene, frames):
    """Blit every frame in order; at each of ``frames`` the pixels equal a full redraw (with the
    camera turned for that frame)."""
    layers = None
    for frame in range(scene.n_frames):
        pixels, layers = frame_pixels(scene, frame, layers)
        if frame in frames:
            blitted = np.array(pixels)
            scene.restage(frame)
            redrawn = full_redraw(scene, frame)
            assert np.array_equal(blitted, redrawn), f"frame {frame} differs"
            layers = None  # the full redraw replaced the cached background
