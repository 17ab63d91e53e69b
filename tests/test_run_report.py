"""What a run tells the user: a progress line on a terminal, then one summary line per
optimizer (or the sampling estimates); the batch manifest and the Python API carry the same
numbers."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api, batch, progress
from optiviz.cli import cli
from optiviz.progress import Progress
from optiviz.report import (
    OptimizerSummary,
    final_from_json,
    final_to_json,
    number,
    summarize,
)

# Three optimizers x five starts on a fixed [-2, 2] x [-1, 3] view: GD stays inside, Adam with
# lr 3 jumps out of the view, SGD with lr 1 leaves it and diverges from every start.
THREE_BY_FIVE = """\
function: rosenbrock
start: {random: 5, seed: 1, box: [[-1.5, 1.5], [-0.5, 2.5]]}
steps: 40
optimizers:
  - {name: sgd, lr: 0.001, label: GD}
  - {name: adam, lr: 3, label: Adam}
  - {name: sgd, lr: 1, label: Wild}
render: {width: 240, height: 180, frames: 4, hold: 0, domain: [[-2, 2], [-1, 3]]}
"""

SAMPLING = """\
sampling:
  distribution: {name: normal, loc: 1, scale: 2}
  samples: 500
render: {width: 240, height: 180, frames: 4, hold: 0}
"""

METROPOLIS = """\
sampling:
  distribution: {name: banana}
  method: metropolis
  chains: 2
  samples: 300
"""


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def stderr_of(result) -> str:
    return result.stderr if hasattr(result, "stderr") else result.output


# Progress line ----------------------------------------------------------------------------------

def test_progress_line_rewrites_itself_with_eta_and_is_erased_at_the_end():
    terminal = Terminal()
    with Progress(200, stream=terminal, delay=0.0, interval=0.0, label="computing",
                  unit="steps") as line:
        for done in (50, 100, 200):
            line.advance(done)
    text = terminal.getvalue()
    assert "\n" not in text  # one line, rewritten by carriage returns
    drawn = [part for part in text.split("\r") if part.strip()]
    assert drawn[0].startswith("computing  25% [#####") and "50/200 steps" in drawn[0]
    assert "ETA" in drawn[0] and "ETA" not in drawn[-1]
    assert "100% [" + "#" * progress.BAR_WIDTH + "]" in drawn[-1]
    assert text.endswith("\r" + " " * len(drawn[-1].rstrip()) + "\r")  # erased


def test_progress_is_silent_off_a_terminal_when_disabled_and_before_its_delay():
    for stream, options in ((io.StringIO(), {}), (Terminal(), {"enabled": False}),
                            (Terminal(), {"delay": 60.0})):
        line = Progress(10, stream=stream, interval=0.0, **{"delay": 0.0, **options})
        line.advance(5)
        line.close()
        assert stream.getvalue() == ""
        assert line.callback is None or options.get("delay")


def test_progress_line_fits_a_narrow_terminal():
    line = Progress(20000, stream=Terminal(), label="computing", unit="steps")
    full = line.line(7000, 12.0, columns=200)
    assert "[" in full and "ETA" in full
    narrow = line.line(7000, 12.0, columns=50)
    assert len(narrow) <= 49 and "[" not in narrow and narrow.startswith("computing  35%")


def test_a_message_erases_the_progress_line_first():
    terminal = Terminal()
    line = Progress(10, stream=terminal, delay=0.0, interval=0.0)
    line.advance(3)
    progress.clear_line()
    assert terminal.getvalue().endswith("\r") and progress.Progress.current is None
    line.advance(4)  # comes back at the next report
    assert terminal.getvalue().split("\r")[-1].startswith("rendering  40%")
    line.close()


def test_engine_reports_progress_without_changing_a_single_bit(tmp_path):
    experiment = api.load(write(tmp_path, THREE_BY_FIVE), ["steps=2000"])
    reports: list[tuple[int, int]] = []
    with_progress = api.compute(experiment, progress=lambda done, total: reports.append(
        (done, total)))
    without = api.compute(experiment)
    assert np.array_equal(with_progress.positions, without.positions, equal_nan=True)
    assert np.array_equal(with_progress.loss, without.loss, equal_nan=True)
    done = [d for d, _ in reports]
    assert {t for _, t in reports} == {3 * 2000} and done[-1] == 3 * 2000
    assert done == sorted(done) and len(reports) > 10
    assert len(reports) <= 3 * 1000 + 3  # at most ~1000 reports per run group: cheap


def test_metropolis_reports_progress_without_changing_its_draws(tmp_path):
    experiment = api.load(write(tmp_path, METROPOLIS))
    reports: list[tuple[int, int]] = []
    with_progress = api.compute(experiment, progress=lambda d, t: reports.append((d, t)))
    without = api.compute(experiment)
    assert np.array_equal(with_progress.positions, without.positions)
    assert np.array_equal(with_progress.rhat, without.rhat, equal_nan=True)
    done = [d for d, _ in reports]
    assert done == sorted(done) and done[-1] == reports[-1][1] == 2 * 300


@pytest.fixture
def terminal_stderr(monkeypatch):
    """Let the CLI believe stderr is a terminal, with no delay before the progress line."""
    monkeypatch.setattr(progress, "is_terminal", lambda stream: True)
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)


def test_run_on_a_terminal_shows_computing_then_rendering_then_the_summary(
        tmp_path, terminal_stderr):
    config = write(tmp_path, THREE_BY_FIVE)
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "out.gif")])
    assert result.exit_code == 0, result.output
    err = stderr_of(result)
    assert "\rcomputing " in err and "\rrendering " in err
    assert err.index("\rcomputing ") < err.index("\rrendering ")
    # The progress line is erased before the summary is printed.
    head, summary = err.rsplit("\r", 1)
    assert summary.startswith(f"{config}: {tmp_path / 'out.gif'}")
    assert len(summary.strip().splitlines()) == 4


def test_run_with_quiet_prints_nothing_even_on_a_terminal(tmp_path, terminal_stderr):
    config = write(tmp_path, THREE_BY_FIVE)
    result = CliRunner().invoke(cli, ["run", str(config), "-q", "-o", str(tmp_path / "o.gif")])
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "o.gif").exists()


def test_run_off_a_terminal_draws_no_progress_line(tmp_path):
    config = write(tmp_path, THREE_BY_FIVE)
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "o.gif")])
    assert result.exit_code == 0 and "\r" not in result.output


# Summary ----------------------------------------------------------------------------------------

def test_run_prints_one_summary_line_per_optimizer(tmp_path):
    config = write(tmp_path, THREE_BY_FIVE)
    result = CliRunner().invoke(cli, ["run", str(config), "--no-render"])
    assert result.exit_code == 0, result.output
    lines = stderr_of(result).splitlines()
    assert lines[0] == f"{config}: nothing written ({lines[0].rsplit('(', 1)[1]}"
    gd, adam, wild = lines[1:]
    assert gd.startswith("  GD:   final loss ") and "(median of 5 starts; IQR " in gd
    assert gd.endswith("; 0 of 5 diverged; 0 of 5 left the view")
    assert adam.startswith("  Adam: final loss ") and adam.endswith("; 5 of 5 left the view")
    assert wild.startswith("  Wild: 5 of 5 diverged (the first at step ")
    assert wild.endswith("; 5 of 5 left the view")


def test_summary_is_median_and_quartiles_of_the_runs_that_did_not_diverge(tmp_path):
    experiment = api.load(write(tmp_path, THREE_BY_FIVE), ["optimizers[2].lr=0.004"])
    runs = api.compute(experiment)
    summary = summarize(experiment, runs)
    final = runs.final_loss()
    for index, entry in enumerate(summary.optimizers):
        rows = slice(5 * index, 5 * index + 5)
        kept = final[rows][~runs.diverged[rows]]
        assert entry.runs == 5 and entry.diverged == int(runs.diverged[rows].sum())
        if kept.size:
            assert entry.median == np.median(kept)
            assert (entry.q1, entry.q3) == tuple(np.percentile(kept, [25, 75]))
    partly = summary.optimizers[2]
    assert 0 < partly.diverged < 5, "the test wants an optimizer that diverges from some starts"
    line = summary.lines()[2]
    spread = "IQR" if 5 - partly.diverged >= 4 else "range"  # quartiles of 2 or 3 say little
    assert f"(median of the {5 - partly.diverged} starts that did not diverge; {spread} " in line
    assert f"; {partly.diverged} of 5 diverged (the first at step " in line


def test_few_finite_runs_show_their_range_not_quartiles():
    entry = OptimizerSummary(label="A", runs=3, median=2.0, q1=1.5, q3=2.5, low=1.0, high=3.0,
                             diverged=0, first_diverged_step=None, left_view=1)
    assert entry.describe() == ("final loss 2 (median of 3 starts; range 1 to 3); "
                                "0 of 3 diverged; 1 of 3 left the view")


def test_one_start_says_its_final_loss_or_where_it_diverged(tmp_path):
    experiment = api.load(write(tmp_path, THREE_BY_FIVE), ["start=[0.5, 2.0]"])
    lines = summarize(experiment, api.compute(experiment)).lines()
    assert lines[0].startswith("GD:   final loss ") and ";" not in lines[0]
    assert lines[1].startswith("Adam: final loss ") and lines[1].endswith("; left the view")
    assert lines[2].startswith("Wild: diverged at step ")


def test_sampling_run_prints_its_estimates_on_one_line(tmp_path):
    config = write(tmp_path, SAMPLING)
    result = CliRunner().invoke(cli, ["run", str(config), "--no-render"])
    assert result.exit_code == 0, result.output
    lines = stderr_of(result).splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("  direct sampling: samples=500, mean=")
    assert ", var=" in lines[1]


def test_the_python_api_returns_the_same_summary(tmp_path):
    report = api.run_file(write(tmp_path, THREE_BY_FIVE), render=False)
    assert report.summary is not None and len(report.summary.lines()) == 3
    assert set(report.final) == {"GD", "Adam", "Wild"}
    assert report.final["Wild"] == {"median": None, "q1": None, "q3": None, "diverged": 5,
                                    "left_view": 5, "runs": 5}
    gd = report.final["GD"]
    assert gd["runs"] == 5 and gd["q1"] <= gd["median"] <= gd["q3"]
    assert report.final == report.summary.final()
    sampling = api.run_file(write(tmp_path, SAMPLING, "s.yaml"), render=False)
    assert sampling.final["samples"] == 500 and math.isfinite(sampling.final["mean"])


def test_two_entries_with_one_label_keep_apart(tmp_path):
    experiment = api.load(write(tmp_path, THREE_BY_FIVE), ["optimizers[1].label=GD"])
    summary = summarize(experiment, api.compute(experiment))
    assert [entry.label for entry in summary.optimizers] == ["GD", "GD'", "Wild"]


def test_numbers_read_as_a_reader_wants_them():
    assert [number(v) for v in (500.0, 0.123456, 1.5e-10, math.nan, math.inf, -3.0)] == [
        "500", "0.1235", "1.5e-10", "undefined", "inf", "-3"]


# Manifest ---------------------------------------------------------------------------------------

def test_batch_manifest_final_is_the_summary_per_optimizer(tmp_path):
    write(tmp_path, THREE_BY_FIVE, "race.yaml")
    write(tmp_path, SAMPLING, "draws.yaml")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "*.yaml"), "-j", "1", "-q",
                                      "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    entries = {e["config"].rsplit("/", 1)[-1]: e
               for e in json.loads((out / "manifest.json").read_text())["configs"]}
    race = entries["race.yaml"]["final"]
    assert list(race) == ["GD", "Adam", "Wild"]
    assert race["Wild"] == {"median": None, "q1": None, "q3": None, "diverged": 5,
                            "left_view": 5, "runs": 5}
    assert set(race["GD"]) == {"median", "q1", "q3", "diverged", "left_view", "runs"}
    assert race["Adam"]["left_view"] == 5
    assert entries["draws.yaml"]["final"]["samples"] == 500
    # A second batch skips both and keeps the same numbers.
    again = CliRunner().invoke(cli, ["batch", str(tmp_path / "*.yaml"), "-j", "1", "-q",
                                     "--out-dir", str(out)])
    assert again.exit_code == 0
    kept = {e["config"].rsplit("/", 1)[-1]: e
            for e in json.loads((out / "manifest.json").read_text())["configs"]}
    assert kept["race.yaml"]["status"] == "skipped"
    assert kept["race.yaml"]["final"] == race


def test_manifest_final_round_trips_nested_numbers_with_null_for_nan():
    final = {"Adam": {"median": 0.5, "q1": math.nan, "q3": math.inf, "diverged": 2,
                      "left_view": 0, "runs": 5}, "mean": math.nan, "samples": 500}
    as_json = final_to_json(final)
    assert as_json["Adam"] == {"median": 0.5, "q1": None, "q3": None, "diverged": 2,
                               "left_view": 0, "runs": 5}
    assert as_json["mean"] is None
    json.dumps(as_json, allow_nan=False)
    back = final_from_json(json.loads(json.dumps(as_json)))
    assert math.isnan(back["Adam"]["q1"]) and back["Adam"]["runs"] == 5
    assert final_from_json({"bad": "text", "ok": 1.5}) == {"ok": 1.5}
    assert final_from_json("not a mapping") == {}
    entry = batch.manifest_entry(batch.JobResult(Path("c.yaml"), batch.OK,
                                                 final=batch._final_numbers(as_json)), Path("."))
    assert entry["final"] == as_json
