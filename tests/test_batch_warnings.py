"""A batch job's warnings reach the terminal as one line each under the job's line, as
`optiviz run` prints them; `batch -q` prints nothing at all."""

from __future__ import annotations

import subprocess
import sys

CONFIG = ('title: "race \\U0001F984"\nfunction: rosenbrock\nstart: [[-1, 1]]\nsteps: 5\n'
          "optimizers: [{name: adam, lr: 0.01}]\nrender: {output: r.png, width: 240, "
          "height: 180}\n")


def batch(tmp_path, *options):
    return subprocess.run([sys.executable, "-m", "optiviz", "batch", "w.yaml", "--out-dir",
                           "out", *options], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_a_workers_warning_is_one_line_under_its_job_and_silent_with_q(tmp_path):
    (tmp_path / "w.yaml").write_text(CONFIG)
    result = batch(tmp_path, "-j", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("[1/1] ok   w.yaml -> out/r.png")
    assert lines[1].startswith("warning: w.yaml: title: glyph '🦄' is missing")
    assert len(lines) == 3 and lines[2].startswith("1 ok in ")
    quiet = batch(tmp_path, "-q", "--force")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
