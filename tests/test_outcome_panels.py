"""The ``tuning``, ``final`` and ``success`` panels: registered, refused where they have nothing
to draw, drawing what the statistics computed (checked against ``--data`` by hand), in both
the paths and the particle-cloud views, through the CLI and the Python API."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api, config
from optiviz.cli import cli
from optiviz.errors import ConfigError
from optiviz.render.panels import PANELS

CLOUD = """\
function: himmelblau
start: {{random: 30, seed: 5}}
steps: 40
optimizers:
  - {{name: gd, lr: auto}}
  - {{name: adam, lr: 0.1}}
tune: {{budget: 6, range: [1.0e-3, 0.1]}}
tolerance: {{distance: 0.05}}
render: {{panels: {panels}, width: 640, height: 400, frames: 4, hold: 0, fps: 5}}
"""
PATHS = CLOUD.replace("{{random: 30, seed: 5}}", "[[0, 0], [-1, 2]]")


def write(tmp_path, text, name="panels.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_panels_are_registered_for_both_view_families():
    for name in ("tuning", "final", "success"):
        assert set(PANELS.get(name).views) == {"paths", "cloud"}
    result = CliRunner().invoke(cli, ["list", "panels"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("tuning", "final", "success"))


@pytest.mark.parametrize("template", [CLOUD, PATHS], ids=["cloud", "paths"])
def test_panels_draw_what_the_statistics_computed(tmp_path, template):
    from optiviz.render import build_scene
    from optiviz.render.outcome_panels import FinalPanel, SuccessPanel, TuningPanel

    path = write(tmp_path, template.format(panels="[landscape, tuning, success, final]"))
    data = tmp_path / "runs.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "out.gif"),
                                      "--data", str(data), "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.gif").stat().st_size > 0
    d = np.load(data)
    # the same scene through the Python API, at its last frame
    experiment = api.tune(api.load(path))
    scene = build_scene(experiment, api.compute(experiment))
    scene.update(scene.n_frames - 1)
    panels = {type(p).__name__: p for p in scene.side}
    success, final, tuning = (panels["SuccessPanel"], panels["FinalPanel"],
                              panels["TuningPanel"])
    assert isinstance(success, SuccessPanel) and isinstance(final, FinalPanel)
    assert isinstance(tuning, TuningPanel)
    steps = d["loss"].shape[1] - 1
    for entry, line in enumerate(success.lines):
        hits = d["success_step"][d["run_optimizer"] == entry]
        expected = [(hits[hits >= 0] <= t).sum() / hits.size for t in range(steps + 1)]
        assert np.allclose(line.get_ydata(), expected)
    for entry, line in enumerate(final.lines):
        loss = d["loss"][d["run_optimizer"] == entry, -1]
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        for value in np.unique(x[1:-1]):  # ECDF against numpy (ties: the top of the step)
            share = y[1:-1][x[1:-1] == value].max()
            assert share == pytest.approx(np.mean(loss <= value), abs=1e-12)
    from matplotlib.text import Text

    labels = [t.get_text() for t in scene.figure.findobj(Text)]
    assert any("tuned lr" in label for label in labels)
    assert any("within 0.05 of a minimum" in label for label in labels)
    assert tuning.xlabel.startswith("lr")


def test_ecdf_is_the_share_at_or_below_each_point():
    from optiviz.render.outcome_panels import ecdf

    rng = np.random.default_rng(0)
    values = np.concatenate([10 ** rng.uniform(-8, 2, 50), [np.nan, np.nan, 1e-12, 1e6]])
    x, y = ecdf(values, 1e-10, 1e3)
    assert x[0] == 1e-10 and x[-1] == 1e3
    for point, share in zip(x, y, strict=True):
        assert share == pytest.approx(np.mean(np.nan_to_num(values, nan=np.inf) <= point))
    assert y[-1] == pytest.approx(51 / 54)  # two diverged (NaN) and one beyond the axis


@pytest.mark.parametrize("panels, message", [
    ("[landscape, tuning]", "render.panels: the 'tuning' panel needs an optimizer with lr: auto"),
    ("[landscape, success]", "render.panels: the 'success' panel needs a function with a known"),
])
def test_panels_with_nothing_to_draw_are_refused(tmp_path, panels, message):
    text = CLOUD.format(panels=panels).replace("lr: auto", "lr: 0.01").replace(
        "tune: {budget: 6, range: [1.0e-3, 0.1]}\n", "").replace(
        "function: himmelblau", 'function: {expr: "x**2 + y**2 - x*y"}').replace(
        "tolerance: {distance: 0.05}\n", "")
    if "tuning" in panels:
        text = text.replace('{expr: "x**2 + y**2 - x*y"}', "himmelblau")
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert message in str(caught.value)


def test_a_paths_view_refuses_more_stacked_panels_than_its_height_holds(tmp_path):
    text = PATHS.format(panels="[landscape, loss, tuning, success, final]")
    path = write(tmp_path, text.replace("height: 400", "height: 360"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "render.panels: 4 panels stacked beside the contour view's map need a frame about" \
        in result.stderr
    assert api.load(path, ["render.height=700"]).render.height == 700
