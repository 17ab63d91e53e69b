"""End to end through the command line: exit codes, messages, files written (or not)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz.cli import cli

CONFIG = """\
title: Two optimizers
function: rosenbrock
start: [[-1.2, 1.0], [0.5, 2.0]]
steps: 25
optimizers:
  - {name: sgd, lr: 0.001, label: GD}
  - {name: adam, lr: 0.05}
render: {width: 160, height: 120, frames: 5, hold: 0}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(CONFIG)
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_writes_data_without_rendering(config, tmp_path):
    data = tmp_path / "runs.npz"
    result = invoke("run", str(config), "--data", str(data), "--no-render", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    with np.load(data) as npz:
        assert npz["positions"].shape == (4, 26, 2)
        assert npz["loss"].shape == (4, 26)
        assert npz["lr"].shape == (4, 25)
        assert (
            list(npz["label"]) == ["GD", "GD", "Adam lr=0.05", "Adam lr=0.05"]
            or npz["label"][0] == "GD"
        )
        assert list(npz["optimizer"]) == ["sgd", "sgd", "adam", "adam"]
        assert list(npz["run_optimizer"]) == [0, 0, 1, 1]
        assert list(npz["run_start"]) == [0, 1, 0, 1]
        assert npz["diverged"].dtype == bool
    assert not list(tmp_path.glob("*.gif"))


def test_set_overrides_on_the_command_line(config, tmp_path):
    data = tmp_path / "runs.npz"
    result = invoke(
        "run",
        str(config),
        "--no-render",
        "--data",
        str(data),
        "--set",
        "steps=7",
        "--set",
        "optimizers[0].lr=0.0001",
    )
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["positions"].shape[1] == 8
        np.testing.assert_allclose(npz["lr"][0], 1e-4)


def test_data_is_byte_identical_across_runs(config, tmp_path):
    for name in ("a.npz", "b.npz"):
        assert (
            invoke("run", str(config), "--no-render", "--data", str(tmp_path / name)).exit_code == 0
        )
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize(
    "change, fragment",
    [
        (
            ("name: adam", "name: adamm"),
            "exp.yaml:7: optimizers[1].name: unknown optimizer 'adamm'; did you mean 'adam'?",
        ),
        (
            ("lr: 0.05}", "lr: 0.05, betaz: [0.9, 0.9]}"),
            "optimizers[1].betaz: unknown key; did you mean 'betas'?",
        ),
        (("steps: 25", "steps: 0"), "exp.yaml:4: steps: must be >= 1"),
        (("[0.5, 2.0]]", "[0.5, .nan]]"), "start[1][1]: must be finite"),
        (("function: rosenbrock", "function: {expr: \"__import__('os')\"}"), "function.expr"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(config, tmp_path, change, fragment):
    config.write_text(CONFIG.replace(*change))
    out = tmp_path / "out.gif"
    data = tmp_path / "runs.npz"
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]
    result = CliRunner().invoke(cli, ["run", str(config), "--no-render", "--data", str(data)])
    assert result.exit_code == 2
    assert not out.exists() and not data.exists()
    assert list(tmp_path.iterdir()) == [config]


def test_real_process_prints_no_traceback(config):
    config.write_text(CONFIG.replace("name: adam", "name: adamm"))
    proc = subprocess.run(
        [sys.executable, "-m", "optiviz", "run", str(config), "--no-render"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "did you mean 'adam'?" in proc.stderr


def test_unknown_output_format_is_refused_before_computing(config, tmp_path):
    result = invoke("run", str(config), "-o", str(tmp_path / "x.bmp"))
    assert result.exit_code == 2
    assert "bmp" in result.output


def test_data_must_be_npz(config, tmp_path):
    result = invoke("run", str(config), "--no-render", "--data", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and ".npz" in result.output


def test_several_configs_need_out_dir_for_outputs(config, tmp_path):
    result = invoke("run", str(config), str(config), "-o", str(tmp_path / "x.gif"))
    assert result.exit_code == 2 and "--out-dir" in result.output


def test_validate_reports_all_errors(tmp_path, config):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.replace("name: adam", "name: adamm").replace("steps: 25", "steps: -1"))
    result = invoke("validate", str(config), str(bad))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert all(f"{bad}:" in e for e in errors)
    assert invoke("validate", str(config)).exit_code == 0


def test_version_and_help():
    assert invoke("--version").output.startswith("optiviz, version")
    assert "run" in invoke("--help").output


def test_run_renders_gif_by_default_name(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", str(config), "--quiet")
    assert result.exit_code == 0, result.output
    gif = tmp_path / "exp.gif"
    assert gif.exists() and gif.read_bytes()[:6] == b"GIF89a"


def test_textwrap_example_config_runs(tmp_path):
    path = tmp_path / "expr.yaml"
    path.write_text(
        textwrap.dedent("""\
        function: {expr: "x**2 + 10*y**2", domain: [[-3, 3], [-3, 3]]}
        start: [2, 2]
        steps: 200
        optimizers: [{name: sgd, lr: 0.05}, {name: adam, lr: 0.1}]
    """)
    )
    result = invoke("run", str(path), "--no-render", "--data", str(tmp_path / "d.npz"))
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "d.npz") as npz:
        assert npz["loss"][0, -1] < 1e-6


def test_list_prints_every_registered_name():
    from optiviz.functions import FUNCTIONS
    from optiviz.optimizers import OPTIMIZERS
    from optiviz.schedules import SCHEDULES

    result = invoke("list")
    assert result.exit_code == 0, result.output
    for name in OPTIMIZERS.names() + FUNCTIONS.names() + SCHEDULES.names():
        assert name in result.output
    optimizers = invoke("list", "optimizers")
    assert "betas" in optimizers.output and "torch.optim.Adam" in optimizers.output or \
        "betas" in optimizers.output
    bad = CliRunner().invoke(cli, ["list", "optimisers"])
    assert bad.exit_code == 2 and "did you mean 'optimizers'?" in bad.output


def test_init_prints_a_config_that_runs(tmp_path):
    result = invoke("init", "--function", "beale", "--optimizers", "sgd,adam,rmsprop")
    assert result.exit_code == 0, result.output
    path = tmp_path / "new.yaml"
    path.write_text(result.output)
    data = tmp_path / "d.npz"
    ran = invoke("run", str(path), "--no-render", "--data", str(data), "--set", "steps=20")
    assert ran.exit_code == 0, ran.output
    with np.load(data) as npz:
        assert npz["positions"].shape == (3, 21, 2)


def test_init_sampling_prints_a_config_that_runs(tmp_path):
    result = invoke("init", "--sampling", "normal")
    assert result.exit_code == 0, result.output
    path = tmp_path / "s.yaml"
    path.write_text(result.output)
    ran = invoke("run", str(path), "--no-render", "--data", str(tmp_path / "s.npz"))
    assert ran.exit_code == 0, ran.output


def test_init_unknown_optimizer_suggests_nearest():
    result = CliRunner().invoke(cli, ["init", "--optimizers", "sgd,adamm"])
    assert result.exit_code == 2
    assert "did you mean 'adam'?" in result.output


def test_outputs_get_ordinary_permissions(config, tmp_path):
    old = os.umask(0o022)
    try:
        data, gif = tmp_path / "runs.npz", tmp_path / "out.gif"
        assert invoke("run", str(config), "--data", str(data), "-o", str(gif), "-q").exit_code == 0
    finally:
        os.umask(old)
    assert data.stat().st_mode & 0o777 == 0o644
    assert gif.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("flag, name", [("-o", "out.gif"), ("--data", "runs.npz")])
def test_unwritable_output_is_refused_before_computing(config, tmp_path, flag, name):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    target = blocker / "sub" / name
    args = ["run", str(config), flag, str(target)] + (["--no-render"] if flag == "--data" else [])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "cannot" in result.output and "Traceback" not in result.output


def test_missing_output_folders_are_created(config, tmp_path):
    target = tmp_path / "new" / "deeper" / "out.png"
    assert invoke("run", str(config), "-o", str(target), "-q").exit_code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("suffix", ["gif", "mp4", "png", "svg"])
def test_same_config_and_seed_give_identical_bytes(config, tmp_path, suffix):
    first, second = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    for target in (first, second):
        assert invoke("run", str(config), "-o", str(target), "-q").exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_sampling_config_gives_identical_bytes(tmp_path):
    path = tmp_path / "mh.yaml"
    path.write_text(textwrap.dedent("""\
        sampling:
          distribution: {name: banana}
          method: metropolis
          chains: 2
          samples: 300
          seed: 3
        render: {width: 320, height: 180, frames: 12, hold: 0}
    """))
    outputs = []
    for name in ("a.gif", "b.gif"):
        target = tmp_path / name
        data = tmp_path / f"{name}.npz"
        result = invoke("run", str(path), "-o", str(target), "--data", str(data))
        assert result.exit_code == 0, result.output
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert (tmp_path / "a.gif.npz").read_bytes() == (tmp_path / "b.gif.npz").read_bytes()
