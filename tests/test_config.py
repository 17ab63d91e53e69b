"""The config loader: the public YAML contract and its error messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optiviz.config import load, parse_experiment, validate_files
from optiviz.errors import ConfigError

BASE = """\
title: Adaptive methods on Rosenbrock
function: rosenbrock
start: [-1.5, 2.0]
steps: 30
seed: 0
optimizers:
  - {name: sgd, lr: 0.001, label: GD}
  - {name: sgd, lr: 0.0002, momentum: 0.9, nesterov: true}
  - {name: adam, lr: 0.05, schedule: {name: cosine, t_max: 300, eta_min: 0.001}}
  - {name: lbfgs, lr: 1, max_iter: 1, history_size: 10, line_search_fn: strong_wolfe, max_eval: 25}
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str, overrides=()) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path, overrides)
    return info.value


def test_issue_example_loads(tmp_path):
    exp = load(write(tmp_path, BASE))
    assert exp.name == "exp"
    assert exp.title == "Adaptive methods on Rosenbrock"
    assert exp.steps == 30
    np.testing.assert_array_equal(exp.starts, [[-1.5, 2.0]])
    assert [o.name for o in exp.optimizers] == ["sgd", "sgd", "adam", "lbfgs"]
    assert exp.optimizers[0].label == "GD"
    assert exp.optimizers[1].hyper["nesterov"] is True
    assert exp.optimizers[1].hyper["dampening"] == 0  # torch default filled in
    assert exp.optimizers[2].schedule.name == "cosine"
    assert exp.optimizers[2].schedule.params["t_max"] == 300
    assert exp.optimizers[3].hyper["history_size"] == 10


def test_unknown_key_names_file_line_key_and_suggestion(tmp_path):
    text = BASE.replace("{name: adam, lr: 0.05,", "{name: adam, lr: 0.05, betaz: [0.9, 0.99],")
    error = error_of(tmp_path, text)
    message = str(error)
    assert message.startswith(f"{tmp_path / 'exp.yaml'}:9: optimizers[2].betaz: unknown key")
    assert "did you mean 'betas'?" in message


def test_unknown_optimizer_suggests_nearest(tmp_path):
    error = error_of(tmp_path, BASE.replace("name: adam", "name: adamm"))
    assert "optimizers[2].name" in str(error)
    assert "did you mean 'adam'?" in str(error)
    assert error.line == 9


def test_unknown_function_suggests_nearest(tmp_path):
    error = error_of(tmp_path, BASE.replace("function: rosenbrock", "function: rosenbrok"))
    assert str(error).startswith(f"{tmp_path / 'exp.yaml'}:2: function")
    assert "did you mean 'rosenbrock'?" in str(error)


def test_unknown_top_level_key(tmp_path):
    error = error_of(tmp_path, BASE + "stpes: 10\n")
    assert "stpes: unknown key; did you mean 'steps'?" in str(error)
    assert error.line == 11


@pytest.mark.parametrize(
    "old, new, key, words",
    [
        ("steps: 30", "steps: 0", "steps", "must be >= 1"),
        ("steps: 30", "steps: -5", "steps", "must be >= 1"),
        ("steps: 30", "steps: 2.5", "steps", "integer"),
        (
            "{name: sgd, lr: 0.001, label: GD}",
            "{name: sgd, lr: 0, label: GD}",
            "optimizers[0].lr",
            "> 0",
        ),
        (
            "{name: sgd, lr: 0.001, label: GD}",
            "{name: sgd, lr: -1, label: GD}",
            "optimizers[0].lr",
            "must be >",
        ),
        (
            "{name: sgd, lr: 0.001, label: GD}",
            "{name: sgd, lr: fast, label: GD}",
            "optimizers[0].lr",
            "number",
        ),
        ("start: [-1.5, 2.0]", "start: [-1.5, .nan]", "start", "finite"),
        ("start: [-1.5, 2.0]", "start: [-1.5, .inf]", "start", "finite"),
        ("start: [-1.5, 2.0]", "start: [-1.5, 2.0, 3.0]", "start", "2-D"),
        ("start: [-1.5, 2.0]", "start: [[1, 2], [3]]", "start[1]", "2-D"),
        ("start: [-1.5, 2.0]", "start: hello", "start", "must be"),
        (
            "momentum: 0.9, nesterov: true",
            "momentum: 0, nesterov: true",
            "optimizers[1]",
            "nesterov",
        ),
    ],
)
def test_refuses_what_cannot_be_right(tmp_path, old, new, key, words):
    assert old in BASE
    error = error_of(tmp_path, BASE.replace(old, new))
    assert key in str(error)
    assert words in str(error)
    assert error.line is not None


def test_missing_optimizers_and_function(tmp_path):
    assert "missing 'optimizers'" in str(
        error_of(tmp_path, "function: rosenbrock\nstart: [0, 0]\n")
    )
    assert "missing 'function'" in str(error_of(tmp_path, "start: [0, 0]\noptimizers: [adam]\n"))


def test_invalid_yaml_reports_line(tmp_path):
    error = error_of(tmp_path, "function: rosenbrock\nstart: [0, 0\noptimizers: [adam]\n")
    assert "invalid YAML" in str(error)
    assert error.line is not None


def test_duplicate_key_is_an_error(tmp_path):
    error = error_of(tmp_path, BASE + "steps: 40\n")
    assert "duplicate key" in str(error)
    assert error.line == 11


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_set_overrides(tmp_path):
    path = write(tmp_path, BASE)
    exp = load(
        path,
        ["steps=50", "optimizers[0].lr=0.01", "optimizers[2].betas=[0.8, 0.9]", "render.fps=12"],
    )
    assert exp.steps == 50
    assert exp.optimizers[0].hyper["lr"] == 0.01
    assert exp.optimizers[2].hyper["betas"] == (0.8, 0.9)
    assert exp.render.fps == 12


def test_set_override_errors_name_the_key(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError, match=r"optimizers\[0\]\.lrr: unknown key; did you mean 'lr'"):
        load(path, ["optimizers[0].lrr=0.1"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load(path, ["steps"])
    with pytest.raises(ConfigError, match="no item 9"):
        load(path, ["optimizers[9].lr=0.1"])


def test_start_forms(tmp_path):
    many = load(
        write(tmp_path, BASE.replace("start: [-1.5, 2.0]", "start: [[0, 0], [1, 1], [2, 2]]"))
    )
    assert many.starts.shape == (3, 2)
    rnd = load(
        write(
            tmp_path,
            BASE.replace(
                "start: [-1.5, 2.0]", "start: {random: 50, seed: 3, box: [[0, 1], [2, 3]]}"
            ),
        )
    )
    assert rnd.starts.shape == (50, 2) and rnd.start_kind == "random"
    assert (rnd.starts[:, 0] >= 0).all() and (rnd.starts[:, 1] <= 3).all()
    again = load(
        write(
            tmp_path,
            BASE.replace(
                "start: [-1.5, 2.0]", "start: {random: 50, seed: 3, box: [[0, 1], [2, 3]]}"
            ),
        )
    )
    np.testing.assert_array_equal(rnd.starts, again.starts)
    grid = load(write(tmp_path, BASE.replace("start: [-1.5, 2.0]", "start: {grid: [4, 5]}")))
    assert grid.starts.shape == (20, 2) and grid.start_kind == "grid"
    (x0, x1), (y0, y1) = grid.function.domain
    assert grid.starts[:, 0].min() == x0 and grid.starts[:, 1].max() == y1


def test_memory_estimate_refuses_huge_runs(tmp_path):
    text = BASE.replace("start: [-1.5, 2.0]", "start: {random: 2000000}").replace(
        "steps: 30", "steps: 5000000"
    )
    error = error_of(tmp_path, text)
    assert "GiB" in str(error) and "steps" in str(error)


def test_render_keys_are_validated(tmp_path):
    error = error_of(tmp_path, BASE + "render: {fsp: 10}\n")
    assert "render.fsp: unknown key; did you mean 'fps'?" in str(error)
    error = error_of(tmp_path, BASE + "render: {theme: pink}\n")
    assert "render.theme" in str(error) and "light" in str(error)
    error = error_of(tmp_path, BASE + "render: {output: out.bmp}\n")
    assert "render.output" in str(error) and ".gif" in str(error)
    error = error_of(tmp_path, BASE + "render: {width: 641}\n")
    assert "render.width" in str(error) and "even" in str(error)
    error = error_of(tmp_path, BASE + "render: {panels: [landscape, losss]}\n")
    assert "render.panels[1]" in str(error) and "did you mean 'loss'" in str(error)


def test_batch_size_needs_a_dataset(tmp_path):
    error = error_of(
        tmp_path,
        BASE.replace("{name: sgd, lr: 0.001, label: GD}", "{name: sgd, lr: 0.001, batch_size: 8}"),
    )
    assert "optimizers[0].batch_size" in str(error) and "dataset" in str(error)


def test_lookahead_wraps_an_inner_optimizer(tmp_path):
    text = BASE.replace(
        "{name: sgd, lr: 0.001, label: GD}",
        "{name: lookahead, k: 5, alpha: 0.5, inner: {name: sgd, lr: 0.001}}",
    )
    exp = load(write(tmp_path, text))
    assert exp.optimizers[0].inner.name == "sgd"
    error = error_of(
        tmp_path,
        text.replace(
            "inner: {name: sgd, lr: 0.001}", "inner: {name: sgd, lr: 0.001, momentun: 0.9}"
        ),
    )
    assert "optimizers[0].inner.momentun" in str(error)


def test_validate_files_collects_every_error(tmp_path):
    text = (
        BASE.replace("name: adam", "name: adamm").replace("steps: 30", "steps: 0") + "colour: red\n"
    )
    path = write(tmp_path, text)
    errors = validate_files([path])
    messages = [str(e) for e in errors]
    assert len(errors) == 3, messages
    assert all(m.startswith(f"{path}:") for m in messages)


# ---- property tests: the loader never crashes, and round-trips what it accepts ----------------

numbers = st.one_of(
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    numbers,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(
        [
            "function",
            "start",
            "steps",
            "seed",
            "optimizers",
            "render",
            "title",
            "lr",
            "betas",
            "momentum",
        ]
    ),
    value=values,
)
def test_loader_rejects_garbage_with_config_errors_only(key, value):
    data = yaml.safe_load(BASE)
    if key in ("lr", "betas", "momentum"):
        data["optimizers"][2][key] = value
    else:
        data[key] = value
    try:
        parse_experiment(data)
    except ConfigError as error:
        assert str(error)  # one line, never a traceback from deep inside
        assert "\n" not in str(error)


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(1e-6, 10),
    steps=st.integers(1, 1000),
    start=st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
    momentum=st.floats(0, 0.999),
)
def test_valid_values_are_kept_exactly(lr, steps, start, momentum):
    data = {
        "function": "rosenbrock",
        "start": list(start),
        "steps": steps,
        "optimizers": [{"name": "sgd", "lr": lr, "momentum": momentum}],
    }
    exp = parse_experiment(data)
    assert exp.steps == steps
    assert exp.optimizers[0].hyper["lr"] == lr
    assert exp.optimizers[0].hyper["momentum"] == momentum
    np.testing.assert_array_equal(exp.starts[0], start)



def test_a_list_of_values_sweeps_a_hyperparameter(tmp_path):
    text = BASE.replace("{name: sgd, lr: 0.001, label: GD}",
                        "{name: sgd, lr: [0.001, 0.01], momentum: [0, 0.9], label: GD}")
    exp = load(write(tmp_path, text))
    sweep = exp.optimizers[:4]
    assert [(o.hyper["lr"], o.hyper["momentum"]) for o in sweep] == [
        (0.001, 0.0), (0.001, 0.9), (0.01, 0.0), (0.01, 0.9)]
    assert sweep[1].label == "GD lr=0.001 momentum=0.9"
    assert [o.name for o in exp.optimizers[4:]] == ["sgd", "adam", "lbfgs"]
    swept_betas = "{name: adam, lr: 0.05, betas: [[0.9, 0.99], [0.5, 0.9]],"
    betas = load(write(tmp_path, BASE.replace("{name: adam, lr: 0.05,", swept_betas)))
    assert [o.hyper["betas"] for o in betas.optimizers if o.name == "adam"] == [(0.9, 0.99),
                                                                                 (0.5, 0.9)]
    assert betas.optimizers[2].label == "Adam lr=0.05 betas=(0.9, 0.99)"


def test_sweep_errors_point_at_the_bad_value(tmp_path):
    error = error_of(tmp_path, BASE.replace("{name: sgd, lr: 0.001, label: GD}",
                                            "{name: sgd, lr: [0.001, -1, 0.1]}"))
    assert "optimizers[0].lr[1]" in str(error)
    error = error_of(tmp_path, BASE.replace("{name: sgd, lr: 0.001, label: GD}",
                                            "{name: sgd, lr: []}"))
    assert "optimizers[0].lr: an empty sweep" in str(error)
