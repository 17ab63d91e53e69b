"""No two tick labels overlap, and none leaves the frame, on any axis of any scene.

Every config in configs/ (gallery, optimizer and sampling) and the problem configs of issue 12
is built through the API at its own frame size; the first, middle and last frames are drawn and
the window extent of every drawn tick label is compared with every other one in the figure,
across axes too (a y label at a panel's corner against the x label under it).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from optiviz import api
from optiviz.render import build_scene

ROOT = Path(__file__).resolve().parent.parent
GALLERY = sorted((ROOT / "configs").rglob("*.yaml"))
TOLERANCE = 0.5  # pixels: boxes that share an edge do not overlap

# Fewer steps and samples keep this fast; the axes and their limits come out the same.
OPTIMIZER_SPEED = ("steps=40",)
SAMPLING_SPEED = ("sampling.samples=600",)

# The configs issue 12 names (its "problem configs"), written as a user would.
PROBLEMS = {
    "expr_leaves_domain": """
function: {expr: "x**2 + 3*sin(y)**2"}
start: [2.0, 2.0]
steps: 200
optimizers: [{name: adam, lr: 0.1}]
""",
    "start_outside_domain": """
function: booth
start: [10, 10]
steps: 100
optimizers: [{name: sgd, lr: 0.01}, {name: adam, lr: 0.1}]
render: {domain: [[-3, 3], [-3, 3]]}
""",
    "cloud_with_panels": """
function: himmelblau
start: {random: 500, seed: 1}
steps: 60
optimizers: [{name: sgd, lr: 0.002}, {name: adam, lr: 0.05}]
render: {panels: [landscape, loss, lr]}
""",
    "cloud_three_optimizers": """
function: himmelblau
start: {random: 200, seed: 1}
steps: 60
optimizers: [{name: sgd, lr: 0.002}, {name: momentum, lr: 0.001}, {name: adam, lr: 0.05}]
""",
    "surface_with_panels": """
function: rosenbrock
start: [-1.5, 2.0]
steps: 100
optimizers: [{name: adam, lr: 0.05}, {name: rmsprop, lr: 0.01}]
render: {view: surface, panels: [landscape, loss]}
""",
    "starts_by_optimizers": """
function: himmelblau
start: [[0, 0], [-1, 3], [2, -3]]
steps: 100
optimizers:
  - {name: sgd, lr: 0.005}
  - {name: momentum, lr: 0.002}
  - {name: rmsprop, lr: 0.02}
  - {name: adam, lr: 0.05}
""",
    "lr_sweep": """
function: rosenbrock
start: [-1.5, 2.0]
steps: 200
optimizers: [{name: adam, lr: [0.0001, 0.001, 0.01, 0.1]}]
""",
    "mh_banana_no_burn_in": """
sampling:
  distribution: banana
  method: metropolis
  chains: 4
  samples: 2000
  proposal: {name: normal, scale: 0.5}
""",
    "importance_t_weights_within_a_decade": """
sampling:
  distribution: {name: t, df: 5}
  method: importance
  proposal: {name: normal, scale: 2}
  samples: 2000
""",
    "cauchy_readout": """
sampling: {distribution: cauchy, samples: 3000}
""",
    "slide_sized_sampling": """
sampling:
  distribution: {name: t, df: 3}
  method: importance
  proposal: {name: normal, scale: 2}
  samples: 3000
render: {width: 640, height: 360}
""",
    "slide_sized_kl": """
sampling: {distribution: {name: gamma, a: 2}, samples: 20000}
render: {width: 480, height: 270}
""",
}


def drawn_tick_labels(figure) -> list[tuple[str, str, object]]:
    """``(axis, text, window extent)`` of every tick label the last draw put on the canvas."""
    renderer = figure.canvas.get_renderer()
    found = []
    for ax in figure.axes:
        if not (ax.get_visible() and ax.axison):
            continue
        axes = [ax.xaxis, ax.yaxis] + ([ax.zaxis] if hasattr(ax, "zaxis") else [])
        for axis in axes:
            if not axis.get_visible():
                continue
            # the ticks the last draw used: those inside the view (matplotlib keeps more)
            for tick in axis._update_ticks():
                for label in (tick.label1, tick.label2):
                    if label.get_visible() and label.get_text().strip():
                        name = f"{type(ax).__name__}@{ax.get_position().bounds[:2]}"
                        found.append((f"{name}.{axis.axis_name}", label.get_text(),
                                      label.get_window_extent(renderer)))
    return found


def minor_label_problems(figure) -> list[str]:
    """Minor tick labels drawn larger than the major ones of their axis (matplotlib's default
    log labels did: tick_params sizes only the majors unless told otherwise)."""
    problems = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = axis._update_ticks()
            sizes = {kind: [t.label1.get_fontsize() for t in drawn if t in ticks
                            and t.label1.get_visible() and t.label1.get_text().strip()]
                     for kind, ticks in (("major", axis.majorTicks), ("minor", axis.minorTicks))}
            if sizes["minor"] and sizes["major"] and max(sizes["minor"]) > min(sizes["major"]):
                problems.append(f"{axis.axis_name}: minor labels {max(sizes['minor'])} pt, "
                                f"major {min(sizes['major'])} pt")
    return problems


def label_problems(figure) -> list[str]:
    labels = drawn_tick_labels(figure)
    width, height = figure.canvas.get_width_height()
    problems = []
    for (axis_a, text_a, a), (axis_b, text_b, b) in itertools.combinations(labels, 2):
        across = min(a.x1, b.x1) - max(a.x0, b.x0)
        up = min(a.y1, b.y1) - max(a.y0, b.y0)
        if across > TOLERANCE and up > TOLERANCE:
            problems.append(f"{axis_a} {text_a!r} overlaps {axis_b} {text_b!r}")
    for axis, text, box in labels:
        if (box.x0 < -TOLERANCE or box.y0 < -TOLERANCE or box.x1 > width + TOLERANCE
                or box.y1 > height + TOLERANCE):
            problems.append(f"{axis} {text!r} leaves the {width}x{height} frame")
    return problems + minor_label_problems(figure)


def check_every_frame_kind(path: Path, overrides: tuple[str, ...] = ()) -> list[str]:
    experiment = api.load(path)
    speed = SAMPLING_SPEED if experiment.kind == "sampling" else OPTIMIZER_SPEED
    experiment = api.load(path, speed + overrides)
    scene = build_scene(experiment, api.compute(experiment))
    problems = []
    for frame in sorted({0, scene.n_frames // 2, scene.n_frames - 1}):
        scene.update(frame)
        scene.figure.canvas.draw()
        problems += [f"frame {frame}: {p}" for p in label_problems(scene.figure)]
    return problems


@pytest.mark.parametrize("path", GALLERY, ids=[str(p.relative_to(ROOT / "configs"))
                                                for p in GALLERY])
def test_gallery_tick_labels_never_overlap_or_leave_the_frame(path):
    assert check_every_frame_kind(path) == []


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_issue_configs_tick_labels_never_overlap_or_leave_the_frame(name, tmp_path):
    path = tmp_path / f"{name}.yaml"
    path.write_text(PROBLEMS[name])
    assert check_every_frame_kind(path) == []


def test_minor_labels_are_never_larger_than_major_ones():
    """style_axes sizes minor labels with the majors: matplotlib's log formatter labels minor
    ticks on an axis spanning a decade or so, which used to come out at the larger rc size."""
    from optiviz.render.scene import new_figure
    from optiviz.render.theme import get_theme, style_axes

    figure = new_figure(640, 360, 100, "white")
    ax = figure.add_subplot()
    ax.set_xscale("log")
    ax.set_xlim(0.33, 8.2)
    style_axes(ax, get_theme("light"), 12)
    figure.canvas.draw()
    minor = [t for t in ax.xaxis.get_minor_ticks() if t.label1.get_text()]
    assert minor and minor_label_problems(figure) == []


def test_a_weight_axis_within_a_decade_gets_legible_plain_labels():
    """Issue 12: weights from 0.33 to 8.2 on a narrow panel; log_ticks labels 0.5 1 2 5 with
    room between them, where matplotlib's labels overlapped."""
    from optiviz.render.scene import new_figure
    from optiviz.render.theme import get_theme, log_ticks, style_axes

    figure = new_figure(240, 160, 100, "white")
    figure.set_layout_engine("constrained")
    ax = figure.add_subplot()
    ax.set_xscale("log")
    ax.set_xlim(0.33, 8.2)
    style_axes(ax, get_theme("light"), 10)
    log_ticks(ax.xaxis)
    figure.canvas.draw()
    labels = [text for name, text, _ in drawn_tick_labels(figure) if name.endswith(".x")]
    assert label_problems(figure) == []
    assert {"1", "2"} <= set(labels) and not any("$" in label for label in labels)


def test_the_check_sees_overlapping_labels():
    """The bounding-box check itself: matplotlib's own log labels on a short axis spanning
    less than a decade overlap (what the importance-weight axis did), and are caught."""
    from optiviz.render.scene import new_figure

    figure = new_figure(320, 200, 100, "white")
    ax = figure.add_subplot()
    ax.set_xscale("log")
    ax.set_xlim(0.33, 8.2)
    figure.canvas.draw()
    assert any("overlaps" in problem for problem in label_problems(figure))
