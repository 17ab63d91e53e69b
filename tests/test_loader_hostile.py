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


# Text the renderer typesets ----------------------------------------------------------------------

@pytest.mark.parametrize(("where", "text", "message"), [
    ("title", r"$\frac{a}{b$", r"exp.yaml:1: title: '$\frac{a}{b$' cannot be typeset: Expected "
     r"\frac{num}{den}, found '{' at character 6"),
    ("title", r"$\foo{x}$", r"title: '$\foo{x}$' cannot be typeset: Unknown symbol: \foo"),
    ("label", "$x^$", "exp.yaml:5: optimizers[0].label: '$x^$' cannot be typeset: unexpected end "
     "of text at character 3"),
    ("render.title", r"$\sqrt{2$", r"render.title: '$\sqrt{2$' cannot be typeset"),
])
def test_mathtext_errors_are_refused_at_their_key(tmp_path, where, text, message):
    quoted = "'" + text + "'"
    if where == "title":
        config = f"title: {quoted}\n" + BASE
    elif where == "label":
        config = BASE.replace("lr: 0.01}", f"lr: 0.01, label: {quoted}}}")
    else:
        config = BASE.replace("hold: 0}", f"hold: 0, title: {quoted}}}")
    path = write(tmp_path, config)
    refused(invoke("validate", path), message)
    refused(invoke("run", path, "-o", tmp_path / "out.png"), message)
    assert not (tmp_path / "out.png").exists()
    # Nothing is typeset without rendering: the numbers are still computed.
    assert invoke("run", path, "--no-render", "-q").exit_code == 0


def test_valid_mathtext_and_lone_dollars_are_accepted(tmp_path):
    config = write(tmp_path, "title: '$\\alpha$ costs $5'\n" + BASE.replace(
        "lr: 0.01}", r"lr: 0.01, label: '$\eta = 10^{-2}$'}"))
    result = invoke("run", config, "-o", tmp_path / "out.png", "-q")
    assert result.exit_code == 0, result.output


# Expressions -------------------------------------------------------------------------------------

def nested(depth: int) -> str:
    return "sin(" * depth + "x" + ")" * depth + " + y**2"


@pytest.mark.parametrize("depth", [50, 55])
def test_deep_expressions_within_the_limit_compute_and_render(tmp_path, depth):
    config = write(tmp_path, BASE.replace("function: rosenbrock", f'function: {{expr: "'
                                          f'{nested(depth)}"}}').replace(
        "- {name: adam, lr: 0.01}", "- {name: adam, lr: 0.01}\n  - {name: newton}"))
    assert invoke("validate", config).exit_code == 0
    result = invoke("run", config, "-o", tmp_path / "deep.png", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deep.png").stat().st_size > 0


def test_a_deep_formula_is_titled_by_its_text_not_typeset():
    from optiviz.functions import make_function

    shallow = make_function({"expr": nested(3)})
    deep = make_function({"expr": nested(55)})
    assert shallow.formula.startswith("$") and shallow.formula.endswith("$")
    assert deep.formula == deep.title == "sin(" * 55 + "x" + ")" * 55 + " + y**2"


@pytest.mark.parametrize(("expression", "message"), [
    (nested(100), "function.expr: expression nested deeper than 60 levels"),
    ("-" * 1000 + "x", "function.expr: expression too large"),
    ("(" * 1000 + "x" + ")" * 1000, "function.expr: expression too long"),
])
def test_expressions_past_the_limits_are_refused_at_once(tmp_path, expression, message):
    config = write(tmp_path, BASE.replace("function: rosenbrock",
                                          f'function: {{expr: "{expression}"}}'))
    started = time.perf_counter()
    refused(invoke("validate", config), "exp.yaml:1: " + message)
    assert time.perf_counter() - started < 5


def test_derivatives_share_subtrees_so_the_largest_expressions_stay_cheap():
    from optiviz.expr import MAX_OPERATIONS, parse

    # 40 nested quotients by variable powers: the derivative of u**v contains u**v itself.
    tower = parse("(" * 40 + "x" + ")/(x**y)" * 40)
    started = time.perf_counter()
    hessian = tower.diff("x").diff("y")
    value = hessian(x=np.full(10_000, 1.1), y=np.full(10_000, 0.5))
    assert time.perf_counter() - started < 2
    assert hessian.operations < MAX_OPERATIONS / 2 and value.shape == (10_000,)


def test_a_derivative_past_the_operation_bound_is_refused(tmp_path, monkeypatch):
    from optiviz import expr

    monkeypatch.setattr(expr, "MAX_OPERATIONS", 100)
    config = write(tmp_path, BASE.replace("function: rosenbrock",
                                          'function: {expr: "' + "x**" * 20 + 'y"}'))
    refused(invoke("validate", config), "exp.yaml:1: function.expr: expression too complex to "
            "differentiate: ∂/∂x needs 138 operations (at most 100)")


def test_a_constant_function_is_refused_for_drawing_but_computes(tmp_path):
    config = write(tmp_path, BASE.replace("function: rosenbrock", 'function: {expr: "2+3"}'))
    refused(invoke("validate", config), "exp.yaml:1: function: is constant over the shown domain "
            "[[-3, 3], [-3, 3]] (f = 5 everywhere")
    refused(invoke("run", config, "-o", tmp_path / "flat.png"), "is constant")
    data = tmp_path / "runs.npz"
    assert invoke("run", config, "--no-render", "--data", data, "-q").exit_code == 0
    with np.load(data) as npz:
        assert np.all(npz["loss"] == 5)


@pytest.mark.parametrize(("domain", "message"), [
    ("[[1, 1.000000000000001], [1, 1.000000000000001]]", "render.domain[0]: [1, 1.000000000000001]"
     " is too narrow to draw"),
    ("[[0, 1e-300], [0, 1e-300]]", "render.domain: is constant over the shown domain"),
    ("[[-1e308, 1e308], [0, 1]]", "render.domain[0]: [-1e+308, 1e+308] is wider than the largest "
     "float"),
    ("[[1e300, 1.7e308], [0, 1]]", "render.domain: the function is not finite anywhere"),
])
def test_degenerate_domains_are_refused(tmp_path, domain, message):
    config = write(tmp_path, BASE.replace("hold: 0}", f"hold: 0, domain: {domain}}}"))
    refused(invoke("validate", config), message)


def test_a_start_box_wider_than_floats_is_refused(tmp_path):
    config = write(tmp_path, BASE.replace("start: [-1.2, 1.0]",
                                          "start: {random: 3, box: [[-1e308, 1e308], [0, 1]]}"))
    refused(invoke("validate", config),
            "exp.yaml:2: start.box[0]: [-1e+308, 1e+308] is wider than the largest float")


def test_starts_at_the_edge_of_floats_diverge_cleanly(tmp_path):
    config = write(tmp_path, BASE.replace("start: [-1.2, 1.0]", "start: [1e308, -1e308]"))
    data = tmp_path / "runs.npz"
    result = invoke("run", config, "--data", data, "-o", tmp_path / "edge.png", "-q")
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert npz["diverged"].all()


# Sampling ----------------------------------------------------------------------------------------

def sampling(body: str) -> str:
    return ("sampling:\n" + "".join(f"  {row}\n" for row in body.strip().splitlines())
            + "render: {width: 320, height: 240, frames: 3, hold: 0}\n")


MH = "method: metropolis\nsamples: 40\n"


@pytest.mark.parametrize(("body", "message"), [
    ("distribution: {expr: '0'}\n" + MH,
     "sampling.distribution.expr: '0' is zero or negative everywhere in the domain"),
    ("distribution: {expr: 'log(-1 - x**2)'}\n" + MH,
     "sampling.distribution.expr: 'log(-1 - x**2)' is not a number everywhere"),
    ("distribution: {expr: '1/0'}\n" + MH, "'1/0' is infinite everywhere"),
    ("distribution: {expr: 'exp(-x**2)', domain: [[-.inf, .inf], [0, 1]]}\n" + MH,
     "sampling.distribution.domain[0][0]: must be finite"),
    ("distribution: normal\nestimate: 'log(-1)'\nsamples: 40\n",
     "sampling.estimate: 'log(-1)' is nan at x = 0, where the distribution has mass"),
    ("distribution: normal\nestimate: 'log(x)'\nsamples: 40\n",
     "sampling.estimate: 'log(x)' is nan at x = -0.841621"),
    ("distribution: normal\nmethod: importance\nproposal: {name: normal, scale: 2}\n"
     "estimate: 'sqrt(x)'\nsamples: 40\n", "sampling.estimate: 'sqrt(x)' is nan"),
    ("distribution: {name: multivariate_normal, mean: [0, 0], cov: [[1, 0], [0, 1]]}\n"
     "estimate: 'x**2'\nsamples: 40\n", "sampling.estimate: needs a univariate distribution"),
    ("distribution: {name: uniform, loc: 0, scale: 1}\nmethod: importance\n"
     "proposal: {name: uniform, loc: 5, scale: 1}\nsamples: 40\n",
     "sampling.proposal: its support [5, 6] does not meet the target's [0, 1]"),
    ("distribution: normal\n" + MH + "burn_in: 100\n",
     "sampling.burn_in: must be less than samples (40), got 100"),
    ("distribution: normal\nsamples: 40\nseed: -1\n", "sampling.seed: must be >= 0, got -1"),
    ("distribution: normal\n" + MH + "start: [[1, 2], 3]\n",
     "sampling.start[0]: must be a number, got [1, 2]"),
    ("distribution: normal\n" + MH + "start: abc\n", "sampling.start: must be a number, got 'abc'"),
    ("distribution: banana\n" + MH + "start: [1, 2, 3]\n",
     "sampling.start: must be a point of 2 numbers or a list of such points, got [1, 2, 3]"),
    ("distribution: banana\n" + MH + "start: [[1, 2], [3, .nan]]\n",
     "sampling.start[1][1]: must be finite"),
    ("distribution: banana\n" + MH + "start: []\n", "sampling.start: must be a point of 2"),
])
def test_hostile_sampling_values_are_refused_at_load(tmp_path, body, message):
    config = write(tmp_path, sampling(body))
    refused(invoke("validate", config), message)
    refused(invoke("run", config, "--no-render"), message)


def test_an_estimate_undefined_only_in_a_far_tail_is_refused_when_a_sample_lands_there(tmp_path):
    config = write(tmp_path, sampling("distribution: normal\nestimate: 'log(x + 3.2)'\n"
                                      "samples: 20000\n"))
    assert invoke("validate", config).exit_code == 0  # the quantiles it can check are fine
    refused(invoke("run", config, "--no-render"),
            "exp.yaml:3: sampling.estimate: 'log(x + 3.2)' is nan at the sample x = -3.")


def test_a_proposal_whose_samples_all_miss_the_target_is_refused(tmp_path):
    config = write(tmp_path, sampling("distribution: {name: uniform, loc: 0, scale: 1}\n"
                                      "method: importance\nproposal: {name: normal, loc: 100}\n"
                                      "samples: 40\n"))
    refused(invoke("run", config, "--no-render"),
            "exp.yaml:4: sampling.proposal: none of the 40 samples of the proposal falls where "
            "the target has mass")


@pytest.mark.parametrize("method", ["direct", "metropolis"])
def test_levy_stable_samples_and_renders(tmp_path, method):
    config = write(tmp_path, sampling("distribution: {name: levy_stable, alpha: 1.5, beta: 0}\n"
                                      f"method: {method}\nsamples: 40\n"))
    result = invoke("run", config, "-o", tmp_path / "levy.png", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "levy.png").stat().st_size > 0


@pytest.mark.parametrize("key", ["view: surface", "panels: [landscape]", "levels: 5",
                                 "domain: [[0, 1], [0, 1]]", "orbit: true"])
def test_optimizer_render_keys_are_refused_in_a_sampling_config(tmp_path, key):
    config = write(tmp_path, sampling("distribution: normal\nsamples: 40\n").replace(
        "hold: 0}", f"hold: 0, {key}}}"))
    refused(invoke("validate", config), f"render.{key.split(':')[0]}: not used by a sampling "
            "experiment")


MVN = "distribution: {name: multivariate_normal, mean: %s, cov: %s}\nsamples: 40\n"
MIXTURE = "distribution: {name: mixture, components: [{mean: [0, 0], std: 1}, %s]}\n" + MH


@pytest.mark.parametrize(("body", "message"), [
    (MVN % ("[0, 1]", "[[1, 0.5], [2]]"),
     "sampling.distribution.cov[1]: must be a list of 2 numbers, got [2]"),
    (MVN % ("[0, x]", "[[1, 0], [0, 1]]"), "sampling.distribution.mean[1]: must be a number"),
    (MVN % ("[0, 1]", "[[1, 2], [2, 1]]"), "sampling.distribution.cov: must be positive definite"),
    (MVN % ("[0, 1]", "[[1, 0], [1, 1]]"), "sampling.distribution.cov: must be symmetric"),
    (MVN % ("[0, 1]", "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]"),
     "sampling.distribution.cov: must be a 2x2 matrix"),
    (MIXTURE % "{mean: [1, 0], cov: [[1, 0.2], 37]}",
     "sampling.distribution.components[1].cov: must be a 2x2 matrix"),
    (MIXTURE % "{mean: [1, 0], std: full}",
     "sampling.distribution.components[1].std: must be a number, got 'full'"),
    (MIXTURE % "{mean: [1, 0], weigth: 2}",
     "sampling.distribution.components[1].weigth: unknown component key"),
    (MIXTURE % "{mean: [1, 0, 2]}",
     "sampling.distribution.components[1].mean: must be a list of 2 numbers"),
    (MIXTURE % "{mean: [1, 0], weight: 1e308}, {mean: [2, 0], weight: 1e308}",
     "sampling.distribution.components: the weights must have a finite sum"),
    ("distribution: {name: dirichlet, alpha: [2, 3]}\nsamples: 40\n",
     "sampling.distribution.alpha: must be at least 3 numbers, all > 0 (for 2, use {name: beta"),
    ("distribution: {name: normal, loc: 1e308, scale: 1e308}\nsamples: 40\n",
     "sampling.distribution: norm with these parameters overflows"),
    ("distribution: {name: normal, loc: 1e308, scale: 1e10}\nsamples: 40\n",
     "sampling.distribution: norm with these parameters cannot be drawn: its range "
     "[1e+308, 1e+308] is too narrow to draw"),
    ("distribution: {name: banana, a: 1e200}\n" + MH,
     "sampling.distribution: banana with these parameters overflows"),
    ("distribution: {name: donut, radius: 1e308}\n" + MH,
     "sampling.distribution: donut with these parameters cannot be drawn: its range "
     "[-1e+308, 1e+308] is wider than the largest float"),
])
def test_hostile_distribution_parameters_are_refused_at_their_key(tmp_path, body, message):
    config = write(tmp_path, sampling(body))
    refused(invoke("validate", config), message)
    refused(invoke("run", config, "-o", tmp_path / "out.png"), message)


def test_an_estimate_of_a_discrete_distribution_has_its_true_value(tmp_path):
    config = write(tmp_path, sampling("distribution: {name: binomial, n: 10, p: 0.3}\n"
                                      "method: stratified\nstrata: 4\nestimate: 'x**3'\n"
                                      "samples: 40\n"))
    data = tmp_path / "samples.npz"
    result = invoke("run", config, "--data", data, "-o", tmp_path / "out.png", "-q")
    assert result.exit_code == 0, result.output
    from optiviz.sampling.distributions import make_distribution

    binomial = make_distribution({"name": "binom", "n": 10, "p": 0.3, "loc": 0})
    assert binomial.expect(lambda x: x**3) == pytest.approx(
        sum(k**3 * binomial.pdf(np.array([k]))[0] for k in range(11)))
