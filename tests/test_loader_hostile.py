"""Hostile configs through the command line: every one ends in one clear line and exit 2 (or
runs), never a traceback; numbers as ML users write them; bounded reading and parsing."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import yaml_loader
from optiviz.cli import cli

BASE = """\
function: rosenbrock
start: [-1.2, 1.0]
steps: 4
optimizers:
  - {name: adam, lr: 0.01}
render: {width: 160, height: 120, frames: 3, hold: 0}
"""

SAMPLING = """\
sampling:
  distribution: {name: normal, loc: 0, scale: 1}
  samples: 40
render: {width: 240, height: 160, frames: 3, hold: 0}
"""


def invoke(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def write(tmp_path: Path, text: str | bytes, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def refused(result, *fragments: str, lines: int = 1) -> str:
    """Exit 2, no traceback, ``lines`` lines (the first starts 'error: '), every fragment."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = result.output
    assert text.startswith("error: ") and text.count("\n") == lines, text
    for fragment in fragments:
        assert fragment in text, text
    return text


# YAML 1.2 numbers --------------------------------------------------------------------------------

NUMBERS = [
    ("1e-3", 1e-3),
    ("5E-2", 5e-2),
    ("-1E+3", -1e3),
    ("1e308", 1e308),
    (".5e1", 5.0),
    ("-.5", -0.5),
    ("2.5e-1", 0.25),
    ("1_000.5", 1000.5),
    ("1e3", 1000.0),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_yaml_1_2_numbers_are_numbers_in_the_file(tmp_path, text, value):
    config = write(tmp_path, BASE.replace("start: [-1.2, 1.0]", f"start: [{text}, 1.0]"))
    data = tmp_path / "runs.npz"
    result = invoke("run", config, "--no-render", "-q", "--data", data)
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["positions"][0, 0, 0] == value


def test_scientific_lr_is_accepted_in_the_file_and_with_set(tmp_path):
    config = write(tmp_path, BASE.replace("lr: 0.01", "lr: 1e-3"))
    data = tmp_path / "runs.npz"
    assert invoke("validate", config).exit_code == 0
    result = invoke("run", config, "--no-render", "-q", "--data", data)
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["lr"][0, 0] == 1e-3
    result = invoke("run", config, "--no-render", "-q", "--data", data,
                    "--set", "optimizers[0].lr=5E-2", "--set", "steps=1e1")
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["lr"][0, 0] == 5e-2 and npz["lr"].shape == (1, 10)


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", "1e309"])
def test_infinite_and_nan_numbers_stay_refused(tmp_path, text):
    config = write(tmp_path, BASE.replace("lr: 0.01", f"lr: {text}"))
    refused(invoke("validate", config), "exp.yaml:5: optimizers[0].lr: must be finite")


def test_strings_that_only_look_like_numbers_stay_strings(tmp_path):
    config = write(tmp_path, BASE.replace("lr: 0.01", "lr: 1e-3x"))
    refused(invoke("validate", config), "optimizers[0].lr: must be a number, got '1e-3x'")


# Bounded parsing ---------------------------------------------------------------------------------

def billion_laughs() -> str:
    rows = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        name, previous = chr(97 + i), chr(96 + i)
        rows.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_billion_laughs_is_refused_at_once(tmp_path, command):
    config = write(tmp_path, billion_laughs())
    started = time.perf_counter()
    refused(invoke(command, config), "exp.yaml:6:", "YAML aliases expand to more than 100,000")
    assert time.perf_counter() - started < 5


def test_billion_laughs_does_not_stall_batch_planning(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    write(folder, billion_laughs(), "laughs.yaml")
    started = time.perf_counter()
    result = invoke("batch", folder, "--out-dir", tmp_path / "out", "-j", "1", "-q")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert time.perf_counter() - started < 10
    assert "YAML aliases expand" in (tmp_path / "out" / "manifest.json").read_text()


def test_a_few_aliases_are_fine(tmp_path):
    text = BASE.replace("start: [-1.2, 1.0]", "start: [[-1.2, 1.0], &p [0.5, 2.0], *p, *p]")
    data = tmp_path / "runs.npz"
    result = invoke("run", write(tmp_path, text), "--no-render", "-q", "--data", data)
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["positions"].shape[0] == 4


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    refused(invoke("validate", write(tmp_path, BASE + "description: &d [1, *d]\n")),
            "exp.yaml:7:", "refers to a collection that contains it")


@pytest.mark.parametrize("depth", [1200, 101])
def test_deep_nesting_is_refused_in_the_file(tmp_path, depth):
    config = write(tmp_path, BASE + "description: " + "[" * depth + "]" * depth + "\n")
    refused(invoke("run", config, "--no-render"), "exp.yaml:7:", "nested deeper than 100 levels")


def test_nesting_within_the_bound_is_parsed(tmp_path):
    config = write(tmp_path, BASE + "description: " + "[" * 90 + "]" * 90 + "\n")
    refused(invoke("validate", config), "exp.yaml:7: description: must be a string")


def test_deep_nesting_is_refused_in_set(tmp_path):
    config = write(tmp_path, BASE)
    refused(invoke("run", config, "--no-render", "--set", "steps=" + "[" * 2000),
            "--set 'steps=[[[", "nested deeper than 100 levels")


def test_integers_beyond_floats_are_refused(tmp_path):
    config = write(tmp_path, BASE.replace("steps: 4", "steps: " + "9" * 5000))
    refused(invoke("validate", config), "exp.yaml:3: steps: integer too large")
    config = write(tmp_path, BASE.replace("lr: 0.01", "lr: " + "9" * 400))
    refused(invoke("validate", config), "exp.yaml:5: optimizers[0].lr: integer too large")


@pytest.mark.parametrize(("char", "name"), [("\x00", "U+0000 (NUL)"), ("\x07", "U+0007"),
                                            ("\x1b", "U+001B (ESC)")])
def test_control_characters_are_refused_with_line_and_column(tmp_path, char, name):
    config = write(tmp_path, BASE.replace("steps: 4", f"steps: 4{char}"))
    text = refused(invoke("validate", config), f"exp.yaml:3:9: invalid YAML: control character "
                   f"{name}", lines=3)
    assert text.splitlines()[1:] == ["  steps: 4?", "          ^"]


def test_a_lone_surrogate_is_refused_where_it_is(tmp_path):
    config = write(tmp_path, 'title: "a \\ud800 b"\n' + BASE)
    refused(invoke("run", config, "-o", tmp_path / "out.png"),
            "exp.yaml:1: title: contains a lone surrogate U+D800")
    assert not (tmp_path / "out.png").exists()


def test_bytes_that_are_not_utf8_are_refused_with_their_line(tmp_path):
    config = write(tmp_path, BASE.encode().replace(b"rosenbrock", b"rosen\xffbrock"))
    refused(invoke("validate", config), "exp.yaml:1:16: not UTF-8 text (byte 0xff)")


# Bounded reading ---------------------------------------------------------------------------------

def test_a_device_is_refused_before_reading(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    refused(invoke("run", "/dev/zero"), "/dev/zero: not a regular file (a character device)")
    refused(invoke("validate", "/dev/zero"), "/dev/zero: not a regular file (a character device)")


def test_a_config_over_the_size_bound_is_refused(tmp_path):
    config = write(tmp_path, BASE + "description: " + "x" * yaml_loader.MAX_CONFIG_BYTES + "\n")
    refused(invoke("run", config, "--no-render"), "config too large", "at most 1,000,000 bytes")


def test_a_pipe_is_read_within_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_loader, "MAX_CONFIG_BYTES", 10_000)
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)

    def write_forever() -> None:
        try:
            with open(fifo, "w") as stream:
                stream.write(BASE)
                while True:
                    stream.write("# " + "x" * 1000 + "\n")
        except BrokenPipeError:  # the reader stopped at the bound and closed the pipe
            pass

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    refused(invoke("run", fifo, "--no-render"), "config too large", "at most 10,000 bytes")
    writer.join(timeout=5)


def test_a_pipe_holding_a_config_runs(tmp_path):
    fifo = tmp_path / "piped.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(BASE), daemon=True)
    writer.start()
    result = invoke("run", fifo, "--no-render", "-q")
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# Missing files (issue 12) ------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["validate"], ["run"], ["batch", "--out-dir", "out"]])
def test_a_missing_file_is_called_missing(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    text = refused(invoke(*command, "nope.yaml"))
    assert text == "error: nope.yaml: no such file\n"
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_and_an_unmatched_glob_say_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    refused(invoke("validate", "empty"), "empty: no config files (*.yaml, *.yml) in this folder")
    refused(invoke("validate", "none/*.yaml"), "none/*.yaml: no config files (*.yaml, *.yml) match")


# Syntax errors (issue 12) ------------------------------------------------------------------------

SYNTAX = [
    # the mistake, the first line of the message, the quoted line, the caret line
    ("start: [-1.2, 1.0\nsteps: 4\n",
     "exp.yaml:1:8: invalid YAML: this '[' is never closed (expected ',' or ']', but got ':' "
     "on line 2)", "  start: [-1.2, 1.0", "         ^"),
    ("function rosenbrock\nstart: [-1.2, 1.0]\n",
     "exp.yaml:1:1: invalid YAML: 'function rosenbrock' runs on into line 2, where ':' is not "
     "allowed (a missing ':' after a key?)", "  function rosenbrock", "  ^"),
    ("function: rosenbrock\n  start: [-1.2, 1.0]\n",
     "exp.yaml:2:8: invalid YAML: this line continues the value on line 1, so ':' is not "
     "allowed here (indented too far?)", "    start: [-1.2, 1.0]", "         ^"),
    ('title: "Adam\nsteps: 4\n',
     "exp.yaml:1:8: invalid YAML: this quote is never closed (the file ends first)",
     '  title: "Adam', "         ^"),
    ("steps: 4\nfunction rosenbrock\nstart: [1, 2]\n",
     "exp.yaml:2:1: invalid YAML: this key has no ':' after it", "  function rosenbrock", "  ^"),
    ("optimizers:\n  - {name: adam, lr: 1\n  - {name: sgd}\n",
     "exp.yaml:2:5: invalid YAML: this '{' is never closed (expected ',' or '}', but got '{' on "
     "line 3)", "    - {name: adam, lr: 1", "      ^"),
    ("steps: 4\n\tseed: 1\n",
     "exp.yaml:2:1: invalid YAML: a tab character; YAML is indented with spaces",
     "   seed: 1", "  ^"),
]


@pytest.mark.parametrize(("text", "first", "quoted", "caret"), SYNTAX)
def test_syntax_errors_point_at_the_mistake_and_quote_it(tmp_path, monkeypatch, text, first,
                                                          quoted, caret):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    output = refused(invoke("validate", "exp.yaml"), lines=3)
    assert output.splitlines() == ["error: " + first, quoted, caret]


# Standard input ----------------------------------------------------------------------------------

def test_run_reads_the_config_from_stdin(tmp_path):
    data = tmp_path / "runs.npz"
    result = invoke("run", "-", "--no-render", "--data", data, input=BASE)
    assert result.exit_code == 0, result.output
    assert "<stdin>: " in result.output
    with np.load(data) as npz:
        assert npz["positions"].shape == (1, 5, 2)


def test_stdin_renders_to_the_named_output_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(invoke("run", "-", input=BASE), "<stdin>: a config read from standard input",
            "give -o FILE, render.output or --no-render")
    assert not list(tmp_path.iterdir())
    result = invoke("run", "-", "-o", "piped.png", "-q", input=BASE)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "piped.png").stat().st_size > 0
    named = BASE.replace("hold: 0}", "hold: 0, output: named.png}")
    assert invoke("run", "-", "-q", input=named).exit_code == 0
    assert (tmp_path / "named.png").exists()


def test_stdin_errors_name_stdin_and_the_line():
    refused(invoke("run", "-", "--no-render", input=BASE.replace("adam", "adma")),
            "error: <stdin>:5: optimizers[0].name: unknown optimizer 'adma'")
    refused(invoke("validate", "-", input="steps: [1\n"), "<stdin>:1:8: invalid YAML", lines=3)
    result = invoke("validate", "-", input=SAMPLING)
    assert result.exit_code == 0 and "1 config OK" in result.output


def test_stdin_is_read_once():
    refused(invoke("run", "-", "-", "--no-render", input=BASE), "standard input can be read only")
