"""-q means silent unless the run fails; without it a warning is one line, once; SIGTERM says
"terminated" and exits 143 with the previous output intact."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from optiviz import api
from optiviz.cli import cli
from optiviz.notices import one_line_warnings
from optiviz.render.glyphs import MissingGlyphs, font_families

# Emoji and CJK that the bundled DejaVu Sans lacks (😀 it has), in the title and a label.
GLYPHS = """\
title: "Race 🚀 漢字"
function: beale
start: [1, 1]
steps: 10
optimizers:
  - {name: adam, lr: 0.1, label: "Adam 🦊"}
  - {name: sgd, lr: 0.01, label: "GD 字"}
render: {width: 240, height: 180, frames: 3, hold: 0}
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def optiviz(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optiviz", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


def test_quiet_run_with_emoji_and_cjk_prints_nothing(tmp_path):
    write(tmp_path, GLYPHS)
    done = optiviz("run", "exp.yaml", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert (tmp_path / "exp.gif").exists()


def test_without_quiet_each_missing_glyph_is_said_once_on_one_line(tmp_path):
    write(tmp_path, GLYPHS)
    done = optiviz("run", "exp.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    warned = [line for line in lines if line.startswith("warning: ")]
    assert "Traceback" not in done.stderr and "UserWarning" not in done.stderr
    assert len(warned) == len(set(warned)) == 3, done.stderr
    assert warned[0] == ("warning: exp.yaml: title: glyphs '🚀', '漢', '字' are missing from "
                         "DejaVu Sans and every other installed font; they are drawn as boxes")
    assert any("optimizers[0].label: glyph '🦊'" in line for line in warned)
    assert any("optimizers[1].label: glyph '字'" in line for line in warned)
    # Nothing else but the result and its summary.
    assert [line for line in lines if not line.startswith("warning: ")][0].startswith(
        "exp.yaml: exp.gif")


def test_a_character_the_font_lacks_comes_from_an_installed_font_that_has_it():
    # 'ᶁ' is not in Matplotlib's DejaVu Sans but is in its bundled STIX fonts.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        families = font_families({"label": ("Adam ᶁ", "normal")})
    assert families[0] == "sans-serif" and len(families) == 2
    assert font_families({"label": ("plain text, 😀 included", "normal")}) == ["sans-serif"]
    with pytest.warns(MissingGlyphs, match=r"^title: glyph '漢' is missing"):
        font_families({"title": ("漢 ", "bold")})


def test_a_borrowed_glyph_renders_without_a_warning(tmp_path):
    config = write(tmp_path, GLYPHS.replace('"Race 🚀 漢字"', "Race").replace(
        '"Adam 🦊"', '"Adam ᶁ"').replace('"GD 字"', "GD"))
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_warnings_and_library_logs_become_one_line_each_once():
    lines: list[str] = []

    class IntegrationWarning(UserWarning):  # scipy's, by name
        pass

    with one_line_warnings(lines.append, prefix="exp.yaml: "):
        for _ in range(3):
            warnings.warn("first line of it\n  and its second line\n\nan aside", UserWarning,
                          stacklevel=1)
            warnings.warn("The integral is probably divergent, or slowly convergent.",
                          IntegrationWarning, stacklevel=1)
            warnings.warn("constrained_layout not applied because axes sizes collapsed to "
                          "zero.  Try making figure larger or Axes decorations smaller.",
                          UserWarning, stacklevel=1)
            warnings.warn("Glyph 28450 (\\N{CJK UNIFIED IDEOGRAPH-6F22}) missing from font(s) "
                          "DejaVu Sans.", UserWarning, stacklevel=1)
            logging.getLogger("matplotlib.font_manager").warning("findfont: no such font")
        warnings.warn(MissingGlyphs("title", ["字"], "DejaVu Sans"), stacklevel=1)
        warnings.warn("Glyph 23383 (\\N{CJK UNIFIED IDEOGRAPH-5B57}) missing from font(s) "
                      "DejaVu Sans.", UserWarning, stacklevel=1)  # already said, with its text
    assert lines == [
        "warning: exp.yaml: first line of it and its second line",
        "warning: exp.yaml: an exact value computed by numerical integration may be inaccurate "
        "(scipy: The integral is probably divergent, or slowly convergent)",
        "warning: exp.yaml: the frame is too small for its panels and labels, so they may "
        "overlap; make render.width/height larger or show fewer panels",
        "warning: exp.yaml: glyph '漢' (cjk unified ideograph-6f22) is missing from DejaVu Sans;"
        " it is drawn as a box",
        "warning: exp.yaml: findfont: no such font",
        "warning: exp.yaml: title: glyph '字' is missing from DejaVu Sans and every other "
        "installed font; it is drawn as a box",
    ]


def test_quiet_drops_warnings_and_restores_what_was_there():
    before_show, before_handlers = warnings.showwarning, list(logging.getLogger().handlers)
    with one_line_warnings(None):
        warnings.warn("nobody hears this", UserWarning, stacklevel=1)
        logging.getLogger("optiviz.test").warning("nor this")
    assert warnings.showwarning is before_show
    assert logging.getLogger().handlers == before_handlers


# SIGTERM ----------------------------------------------------------------------------------------

MOVIE = """\
function: rosenbrock
start: [[-1.2, 1.0], [0.5, 2.0]]
steps: 400
optimizers:
  - {name: adam, lr: 0.05}
render: {width: 240, height: 180, frames: 400, hold: 0}
"""


def test_sigterm_mid_render_says_terminated_exits_143_and_keeps_the_old_file(tmp_path):
    write(tmp_path, MOVIE)
    (tmp_path / "out.mp4").write_bytes(b"previous")
    process = subprocess.Popen(
        [sys.executable, "-m", "optiviz", "run", "exp.yaml", "-o", "out.mp4"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    deadline = time.monotonic() + 120
    # ffmpeg creates the hidden temporary file once the first frame has arrived.
    while not any(p.name.startswith(".out.") for p in tmp_path.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the render never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err == "terminated\n" and out == ""
    assert (tmp_path / "out.mp4").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml", "out.mp4"]


def test_sigterm_while_computing_says_terminated_and_exits_143(tmp_path, monkeypatch):
    config = write(tmp_path, MOVIE)
    (tmp_path / "out.gif").write_bytes(b"previous")
    compute = api.compute

    def compute_then_terminated(experiment, progress=None, **options):
        os.kill(os.getpid(), signal.SIGTERM)
        return compute(experiment, progress, **options)

    def unhandled(signum, frame):
        raise AssertionError("the run did not handle SIGTERM")

    monkeypatch.setattr(api, "compute", compute_then_terminated)
    before = signal.signal(signal.SIGTERM, unhandled)  # never let the test process be killed
    try:
        result = CliRunner().invoke(cli, ["run", str(config), "-o", str(tmp_path / "out.gif")])
        assert signal.getsignal(signal.SIGTERM) is unhandled
    finally:
        signal.signal(signal.SIGTERM, before)
    assert result.exit_code == 143
    assert result.output == "terminated\n"
    assert (tmp_path / "out.gif").read_bytes() == b"previous"


def test_sigterm_swallowed_or_disguised_by_library_code_still_ends_with_143():
    """A SIGTERM whose SystemExit a C extension turns into an error of its own (Agg's
    "Invalid affine transformation matrix"), or swallows, still ends the block as SIGTERM."""
    import os
    import signal

    from optiviz.atomic import sigterm_as_exit

    with pytest.raises(SystemExit) as disguised:
        with sigterm_as_exit():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except SystemExit:
                raise ValueError("Invalid affine transformation matrix") from None
    assert disguised.value.code == 143
    with pytest.raises(SystemExit) as swallowed:
        with sigterm_as_exit():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except SystemExit:
                pass
    assert swallowed.value.code == 143
