"""Statistics over many starts: the ``--summary`` table and its ``--data`` copy against NumPy
computed by hand on ``--data``'s own arrays; ``tolerance:`` forms and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api, config
from optiviz.cli import cli
from optiviz.errors import ConfigError

HIMMELBLAU = """\
function: himmelblau
start: {{random: 40, seed: 3}}
steps: 60
optimizers:
  - {{name: adam, lr: 0.1}}
  - {{name: gd, lr: 0.01}}
  - {{name: sgd, lr: 0.05, label: Wild}}
tolerance: {tolerance}
render: {{width: 320, height: 240, frames: 3, hold: 0}}
"""
MINIMA = np.array([[3.0, 2.0], [-2.805118086953, 3.131312518251],
                   [-3.779310253378, -3.283185991286], [3.584428340330, -1.848126526964]])


def write(tmp_path, text, name="stats.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("tolerance", ["{distance: 0.01}", "{loss: 1.0e-4}",
                                       "{distance: 0.05, loss: 1.0e-6}"])
def test_summary_table_and_data_match_numpy_by_hand(tmp_path, tolerance):
    path = write(tmp_path, HIMMELBLAU.format(tolerance=tolerance))
    data = tmp_path / "runs.npz"
    result = CliRunner().invoke(cli, ["run", str(path), "--no-render", "--summary", "-q",
                                      "--data", str(data)])
    assert result.exit_code == 0, result.output
    d = np.load(data)
    spec = config.load(path).tolerance
    positions, loss = d["positions"], d["loss"]
    near = np.ones(loss.shape, dtype=bool)
    if spec.distance is not None:
        gaps = np.linalg.norm(positions[:, :, None, :] - MINIMA[None, None], axis=-1)
        with np.errstate(invalid="ignore"):
            near &= (gaps <= spec.distance).any(axis=-1)
    if spec.loss is not None:
        with np.errstate(invalid="ignore"):
            near &= loss <= spec.loss  # f* = 0
    hit = np.where(near.any(axis=1), near.argmax(axis=1), -1)
    assert np.array_equal(d["success_step"], hit)
    rows = stdout_rows(result.stdout)
    for entry in range(3):
        runs = d["run_optimizer"] == entry
        diverged = d["diverged"][runs]
        final = loss[runs, -1][~diverged]
        reached = hit[runs][hit[runs] >= 0]
        expected = {
            "summary_runs": runs.sum(),
            "summary_diverged": diverged.sum(),
            "summary_median": np.median(final) if final.size else math.nan,
            "summary_q1": np.percentile(final, 25) if final.size else math.nan,
            "summary_q3": np.percentile(final, 75) if final.size else math.nan,
            "summary_success_rate": (hit[runs] >= 0).mean(),
            "summary_median_steps": np.median(reached) if reached.size else math.nan,
        }
        for key, value in expected.items():
            assert d[key][entry] == pytest.approx(value, nan_ok=True), key
        label = str(d["summary_label"][entry])
        row = rows[label]
        assert row[-1] == str(int(diverged.sum()))
        assert row[-3] == f"{100 * expected['summary_success_rate']:.0f} %"
    assert d["summary_diverged"][2] > 0 and d["summary_success_rate"].max() > 0


def stdout_rows(text: str) -> dict[str, list[str]]:
    """The --summary table's rows by label (labels here have no double spaces)."""
    rows = {}
    for line in text.splitlines()[2:]:
        cells = [c for c in line.strip().split("  ") if c]
        if len(cells) >= 6:
            rows[cells[0].strip()] = [c.strip() for c in cells]
    return rows


def test_python_api_gives_the_same_table(tmp_path):
    path = write(tmp_path, HIMMELBLAU.format(tolerance="{distance: 0.01}"))
    report = api.run_file(path, render=False)
    table = report.summary.table()
    assert table[0].split()[:2] == ["optimizer", "runs"]
    assert "success" in table[0] and "median steps" in table[0] and "tuned lr" not in table[0]
    assert table[-1] == ("success: runs within 0.01 of a minimum by the last step; median "
                         "steps: of those runs, the first step there")
    adam = report.final["Adam lr=0.1"]
    assert adam["success"] == round(adam["success_rate"] * 40)
    wild = report.summary.optimizers[2]
    assert wild.label == "Wild" and wild.diverged > 0


def test_no_known_minimum_leaves_success_out(tmp_path):
    text = """\
function: {expr: "x**2 + y**2 - x*y"}
start: [[1, 1], [2, 0]]
steps: 10
optimizers: [{name: gd, lr: 0.1}]
"""
    report = api.run_file(write(tmp_path, text), render=False, data=tmp_path / "d.npz")
    assert report.summary.optimizers[0].success is None
    assert "success" not in report.final["GD lr=0.1"]
    assert "– (the function has no known global minimum)" in report.summary.table()[-1]
    d = np.load(tmp_path / "d.npz")
    assert "success_step" not in d and np.isnan(d["summary_success_rate"]).all()


@pytest.mark.parametrize("tolerance, message", [
    ("1.0e-3", "tolerance: must be a mapping such as {distance: 0.001}"),
    ("{distance: 0}", "tolerance.distance: must be > 0"),
    ("{radius: 1}", "tolerance.radius: unknown key"),
    ("{}", "tolerance: must be a mapping"),
])
def test_tolerance_refusals(tmp_path, tolerance, message):
    path = write(tmp_path, HIMMELBLAU.format(tolerance=tolerance))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert message in str(caught.value)


def test_tolerance_needs_a_known_minimum(tmp_path):
    text = """\
function: {expr: "x**2 + y**2"}
start: [1, 1]
optimizers: [gd]
tolerance: {distance: 0.1}
"""
    result = CliRunner().invoke(cli, ["validate", str(write(tmp_path, text))])
    assert result.exit_code == 2
    assert "stats.yaml:4: tolerance: the function has no known global minimum" in result.stderr


def test_success_is_measured_when_asked_or_when_tolerance_is_written(tmp_path):
    path = write(tmp_path, HIMMELBLAU.format(tolerance="{distance: 0.01}").replace(
        "tolerance: {distance: 0.01}\n", ""))
    plain = api.run_file(path, render=False)
    assert plain.summary.optimizers[0].success is None
    assert "success" not in plain.final["GD lr=0.01"]
    assert plain.summary.table()[-1].startswith("success: – (not measured")
    asked = api.run_file(path, render=False, statistics=True)
    assert asked.summary.optimizers[1].success == 40  # GD reaches a minimum from every start
    assert asked.summary.table()[-1].startswith("success: runs within 0.001 of a minimum")
