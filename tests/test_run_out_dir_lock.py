"""`optiviz run --out-dir` takes the out-dir's lock, as a batch does: it never writes into a
folder another batch or run is writing, and it leaves no lock behind."""

from __future__ import annotations

import os

from click.testing import CliRunner

from optiviz.batch import LOCK_NAME, OutDirLock
from optiviz.cli import cli

CONFIG = ("function: rosenbrock\nstart: [[-1, 1]]\nsteps: 5\n"
          "optimizers: [{name: adam, lr: 0.01}]\nrender: {output: r.png, width: 240, "
          "height: 180}\n")


def test_run_into_an_out_dir_in_use_is_refused_before_writing(tmp_path):
    config = tmp_path / "r.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    out.mkdir()
    with OutDirLock(out):
        result = CliRunner().invoke(cli, ["run", str(config), "--out-dir", str(out), "-q"])
    assert result.exit_code == 2
    assert f"is in use by another optiviz batch or run (pid {os.getpid()})" in result.output
    assert not (out / "r.png").exists()


def test_run_into_a_free_out_dir_writes_and_releases_the_lock(tmp_path):
    config = tmp_path / "r.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "new" / "out"
    result = CliRunner().invoke(cli, ["run", str(config), "--out-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "r.png").exists() and not (out / LOCK_NAME).exists()
    with OutDirLock(out):  # free again
        pass
