"""No output ever costs the user a file: collisions, outputs over inputs, out-dir confinement,
kept permissions, names checked before computing, one-line messages that name the file."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api
from optiviz.atomic import TEMPORARY_MARK, atomic_write_text, remove_stale_temporaries
from optiviz.cli import cli
from optiviz.render import writers

CONFIG = """\
function: booth
start: [-5.0, 5.0]
steps: 6
optimizers:
  - {name: sgd, lr: 0.01}
render: {width: 160, height: 120, frames: 3, hold: 0}
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(path: Path, text: str = CONFIG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMPORARY_MARK in p.name)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_compute(monkeypatch):
    """Refusals must come before any computing: computing fails the test."""

    def compute(experiment):
        raise AssertionError("computed before refusing")

    monkeypatch.setattr(api, "compute", compute)


# Collisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("out_dir", [None, "G"])
def test_run_of_two_configs_with_one_output_name_is_refused(tmp_path, monkeypatch, no_compute,
                                                            out_dir):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a" / "same.yaml")
    write(tmp_path / "b" / "same.yaml", CONFIG.replace("lr: 0.01", "lr: 0.02"))
    args = ["run", "a/same.yaml", "b/same.yaml"] + (["--out-dir", out_dir] if out_dir else [])
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "would be written twice" in result.output
    assert "a/same.yaml" in result.output and "b/same.yaml" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.gif"))


def test_batch_refuses_a_collision_with_a_cached_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cfgs" / "a" / "same.yaml")
    write(tmp_path / "cfgs" / "b" / "same.yaml", CONFIG.replace("lr: 0.01", "lr: 0.02"))
    assert invoke("batch", "cfgs/a", "--out-dir", "G", "-j", "1").exit_code == 0
    before = sha256(tmp_path / "G" / "same.gif")
    manifest = (tmp_path / "G" / "manifest.json").read_text()

    result = invoke("batch", "cfgs/a", "cfgs/b", "--out-dir", "G", "-j", "1")
    assert result.exit_code == 2, result.output
    assert "cfgs/a/same.yaml" in result.output and "cfgs/b/same.yaml" in result.output
    assert sha256(tmp_path / "G" / "same.gif") == before
    assert (tmp_path / "G" / "manifest.json").read_text() == manifest
    recorded = json.loads(manifest)["configs"][0]["outputs"][0]["sha256"]
    assert recorded == before


def test_an_output_recorded_for_another_config_is_not_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cfgs" / "a" / "same.yaml")
    write(tmp_path / "cfgs" / "b" / "same.yaml", CONFIG.replace("lr: 0.01", "lr: 0.02"))
    assert invoke("batch", "cfgs/a", "--out-dir", "G", "-j", "1").exit_code == 0
    before = sha256(tmp_path / "G" / "same.gif")
    for command in (["batch", "cfgs/b", "-j", "1"], ["run", "cfgs/b/same.yaml"]):
        result = invoke(*command, "--out-dir", "G")
        assert result.exit_code == 2, result.output
        assert "already holds the output of cfgs/a/same.yaml" in result.output
        assert "G/manifest.json" in result.output
    assert sha256(tmp_path / "G" / "same.gif") == before
    # a config that is gone no longer claims anything: its output may be replaced
    (tmp_path / "cfgs" / "a" / "same.yaml").rename(tmp_path / "cfgs" / "a" / "same.yaml.bak")
    assert invoke("batch", "cfgs/b", "--out-dir", "G", "-j", "1").exit_code == 0
    assert sha256(tmp_path / "G" / "same.gif") != before


# An output never replaces an input -------------------------------------------------------------


@pytest.mark.parametrize(
    "config_name, args",
    [
        ("exp.gif", []),  # the default output is the config's own name with .gif
        ("x.png", ["-o", "x.png"]),
        ("x.npz", ["--data", "x.npz", "--no-render"]),
        ("self.png", []),  # render.output names the config itself
    ],
)
def test_run_refuses_an_output_that_is_the_config(tmp_path, monkeypatch, no_compute,
                                                  config_name, args):
    monkeypatch.chdir(tmp_path)
    text = CONFIG.replace("hold: 0}", "hold: 0, output: self.png}") \
        if config_name == "self.png" else CONFIG
    config = write(tmp_path / config_name, text)
    result = invoke("run", config_name, *args)
    assert result.exit_code == 2, result.output
    assert "would replace the config itself" in result.output
    assert config.read_text() == text


def test_outputs_are_compared_after_links_are_followed(tmp_path, monkeypatch, no_compute):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "exp.yaml")
    os.link(config, tmp_path / "hard.png")
    result = invoke("run", "exp.yaml", "-o", "hard.png")
    assert result.exit_code == 2 and "would replace the config itself" in result.output
    (tmp_path / "runs.npz").write_bytes(b"old data")
    os.symlink("runs.npz", tmp_path / "link.gif")
    result = invoke("run", "exp.yaml", "-o", "link.gif", "--data", "runs.npz")
    assert result.exit_code == 2 and "would be written twice" in result.output
    assert (tmp_path / "runs.npz").read_bytes() == b"old data"
    assert config.read_text() == CONFIG


def test_batch_refuses_an_output_that_is_one_of_its_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "exp.gif")
    result = invoke("batch", "exp.gif", "--out-dir", ".", "-j", "1")
    assert result.exit_code == 2, result.output
    assert "would replace the config itself" in result.output
    assert config.read_text() == CONFIG
    assert not (tmp_path / "manifest.json").exists()


def test_the_python_api_refuses_too(tmp_path, no_compute):
    config = write(tmp_path / "x.png")
    with pytest.raises(api.OptivizError, match="would replace the config itself"):
        api.run_file(config, output=config)


# Batch outputs stay inside the out-dir ---------------------------------------------------------


def test_an_absolute_render_output_lands_inside_the_out_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "elsewhere" / "abs.gif"
    text = CONFIG.replace("hold: 0}", f"hold: 0, output: {outside}}}")
    write(tmp_path / "cfgs" / "abs.yaml", text)
    result = invoke("batch", "cfgs", "--out-dir", "G", "-j", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "G" / "abs.gif").read_bytes()[:6] == b"GIF89a"
    assert not outside.parent.exists()
    entry = json.loads((tmp_path / "G" / "manifest.json").read_text())["configs"][0]
    assert entry["outputs"][0]["path"] == "abs.gif"


# Permissions are kept --------------------------------------------------------------------------


def test_replacing_an_output_keeps_its_permissions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    movie, still, data = tmp_path / "out.mp4", tmp_path / "out.png", tmp_path / "runs.npz"
    gallery = tmp_path / "G"
    kept = [movie, still, data, gallery / "exp.gif", gallery / "manifest.json"]

    def write_all(*batch_options: str) -> None:
        assert invoke("run", "exp.yaml", "-o", movie, "--data", data, "-q").exit_code == 0
        assert invoke("run", "exp.yaml", "-o", still, "-q").exit_code == 0
        assert invoke("batch", "exp.yaml", "--out-dir", gallery, "-j", "1", "-q",
                      *batch_options).exit_code == 0

    write_all()
    for path in kept:
        path.chmod(0o600)
    write_all("--force")
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in kept} == {
        p.name: "0o600" for p in kept
    }
    assert temporaries(tmp_path) == []


# Names and messages ----------------------------------------------------------------------------


def test_an_output_without_extension_names_the_option(tmp_path, monkeypatch, no_compute):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    result = invoke("run", "exp.yaml", "-o", "noext")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: -o/--output 'noext': no extension")
    assert "render.output" not in result.output
    result = invoke("run", "exp.yaml", "-o", "x.gfi")
    assert result.exit_code == 2 and "-o/--output 'x.gfi'" in result.output
    assert "did you mean '.gif'?" in result.output


@pytest.mark.parametrize("length", [251, 300])
@pytest.mark.parametrize("option", ["-o", "--data"])
def test_names_too_long_are_refused_before_computing(tmp_path, monkeypatch, no_compute, length,
                                                     option):
    # 251 + ".gif" fits a 255-byte name, but not the temporary name it is written under
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    name = "a" * length + (".gif" if option == "-o" else ".npz")
    extra = ["--no-render"] if option == "--data" else []
    result = invoke("run", "exp.yaml", option, name, *extra)
    assert result.exit_code == 2, result.output
    assert "file name too long" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full_disk)
    result = invoke("run", "exp.yaml", "--data", "runs.npz", "--no-render")
    assert result.exit_code == 1
    assert result.output == f"error: runs.npz: {os.strerror(errno.ENOSPC)}\n"
    assert temporaries(tmp_path) == [] and not (tmp_path / "runs.npz").exists()


def test_an_ffmpeg_failure_is_one_line_naming_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    monkeypatch.setattr(writers.Mp4Writer, "codec_args", ("-c:v", "no_such_encoder"))
    result = invoke("run", "exp.yaml", "-o", "movie.mp4")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: movie.mp4: ffmpeg failed: ")
    assert "no_such_encoder" in lines[0]
    assert list(tmp_path.iterdir()) == [tmp_path / "exp.yaml"]


def test_ffmpeg_message_is_one_line_and_bounded():
    text = "Unknown encoder 'x'\nError selecting an encoder\nConversion failed!\n" + "y" * 500
    message = writers.ffmpeg_message(text)
    assert "\n" not in message and len(message) == 300 and message.startswith("...")
    assert writers.ffmpeg_message("a\n\na\nb") == "a / b"
    assert writers.ffmpeg_message("") == "no message"


@pytest.mark.parametrize("name", ["file:x.mp4", "pipe:1.mp4", "file:y.gif"])
def test_protocol_like_names_are_plain_files(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    result = invoke("run", "exp.yaml", "-o", name, "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / name).stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["exp.yaml", name])


# Leftovers of killed writers -------------------------------------------------------------------


def dead_pid() -> int:
    """A pid no process has: a child that has already been reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_the_next_write_removes_temporary_files_of_killed_writers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exp.yaml")
    stale = tmp_path / f".out{TEMPORARY_MARK}{dead_pid()}.gif"
    stale.write_bytes(b"half a gif")
    live = tmp_path / f".out{TEMPORARY_MARK}{os.getppid()}.gif"  # a living writer's
    live.write_bytes(b"being written")
    other = tmp_path / f".other{TEMPORARY_MARK}{dead_pid()}.gif"  # another target's
    other.write_bytes(b"not ours to judge")
    assert invoke("run", "exp.yaml", "-o", "out.gif", "-q").exit_code == 0
    assert not stale.exists() and live.exists() and other.exists()


def test_a_reused_pid_does_not_keep_a_temporary_file(tmp_path):
    target = tmp_path / "manifest.json"
    stale = tmp_path / f".manifest{TEMPORARY_MARK}{os.getppid()}.json"
    stale.write_text("{")
    os.utime(stale, (1_000_000, 1_000_000))  # written long before that process started
    atomic_write_text(target, "{}")
    assert not stale.exists() and target.read_text() == "{}"
    assert remove_stale_temporaries(target) == []
