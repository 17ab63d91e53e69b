"""What the tool says: listings, suggestions, bound messages, help, exit codes and docs.

Each test goes through the command line (click's CliRunner) where a user would meet the
message; the registry-wide checks go through the config loader, which every command shares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optiviz import catalog, templates
from optiviz.cli import cli
from optiviz.config import RENDER_PARAMS, parse_experiment
from optiviz.errors import ConfigError, closest, edit_distance
from optiviz.functions import FUNCTIONS
from optiviz.optimizers import OPTIMIZERS
from optiviz.sampling import METHODS
from optiviz.sampling.distributions import DISTRIBUTIONS
from optiviz.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, width: int | None = None):
    return CliRunner().invoke(cli, list(args), prog_name="optiviz", terminal_width=width)


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# `optiviz list` ---------------------------------------------------------------------------------

def test_list_prints_no_python_repr_anywhere():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<function" not in text and "0x" not in text
    assert not re.search(r"\b[A-Z]\w*\(\w+=", text), "a dataclass repr"
    assert not re.search(r"\b(None|True|False)\b", text), "a Python literal, not YAML"
    assert not re.search(r"[=:] '\w+'", text), "a quoted Python string"


def cell(text: str, name: str, heading: str) -> str:
    """The cell of row ``name`` under ``heading`` in a printed table, lines joined."""
    lines = text.splitlines()
    start = lines[1].index(heading)
    end = lines[2].find(" ", start)
    parts, inside = [], False
    for line in lines[3:]:
        if line and not line.startswith(" "):
            inside = line.split()[0] == name
        if inside:
            parts.append(line[start:end if end > 0 else None].strip())
    return " ".join(part for part in parts if part)


def test_list_shows_lookahead_inner_as_an_entry_a_user_writes():
    text = invoke("list", "optimizers").output
    assert cell(text, "lookahead", "parameters: defaults") == (
        "k: 5, alpha: 0.5, inner: (required: an optimizer entry, e.g. {name: adam, lr: 0.01})")


def test_list_shows_defaults_worked_out_at_load_instead_of_required():
    schedules = " ".join(invoke("list", "schedules").output.split())
    assert "t_max: (steps after warm-up)" in schedules
    assert "total_steps: (steps)" in schedules
    assert "t_max=required" not in schedules and "total_steps=None" not in schedules
    optimizers = " ".join(invoke("list", "optimizers").output.split())
    assert "max_eval: (max_iter × 5/4)" in optimizers
    methods = " ".join(invoke("list", "methods").output.split())
    assert "burn_in: (10% of samples)" in methods


def test_list_defaults_read_back_as_the_registered_values():
    """Every literal default a listing shows is YAML for exactly the registered default."""
    for registry in (OPTIMIZERS, SCHEDULES, FUNCTIONS, METHODS):
        for name, spec in registry.items():
            for param in spec.params:
                shown = param.describe_default()
                if shown.startswith("("):
                    continue
                value = yaml.safe_load(shown)
                expected = param.default
                if isinstance(expected, tuple):
                    expected = [list(v) if isinstance(v, tuple) else v for v in expected]
                if isinstance(expected, float) and not float(expected).is_integer():
                    assert value == pytest.approx(expected, rel=1e-5), (name, param.name)
                else:
                    assert value == expected, (name, param.name, shown)


SCHEDULE_REQUIRED = {"step": {"step_size": 10}, "exponential": {"gamma": 0.9},
                     "onecycle": {"max_lr": 0.1}}


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_a_schedule_parameter_listed_as_required_is_required(name):
    given = SCHEDULE_REQUIRED.get(name, {})
    for param in SCHEDULES.get(name).params:
        doc = _optimizer_doc({"name": "adam", "lr": 0.01, "schedule": {"name": name, **given}})
        listed = param.describe_default()
        if listed == "(required)":
            del doc["optimizers"][0]["schedule"][param.name]
            with pytest.raises(ConfigError, match=f"missing required key '{param.name}'"):
                parse_experiment(doc)
        elif param.name not in given:
            parse_experiment(doc)  # a listed default is a real default: loads without the key


def test_cosine_t_max_defaults_to_the_steps_after_warm_up(tmp_path):
    doc = _optimizer_doc({"name": "adam", "lr": 0.1,
                          "schedule": {"name": "cosine", "warmup_steps": 3}})
    doc["steps"] = 20
    experiment = parse_experiment(doc)
    assert experiment.optimizers[0].schedule.params["t_max"] == 17


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_an_optimizer_listing_says_required_exactly_where_the_loader_requires(name):
    entry: dict[str, Any] = {"name": name}
    listed = {p.name: p.describe_default() for p in OPTIMIZERS.get(name).params}
    required = [key for key, shown in listed.items() if shown.startswith("(required")]
    if required:
        with pytest.raises(ConfigError, match="missing required key"):
            parse_experiment(_optimizer_doc(entry))
        entry["inner"] = {"name": "sgd", "lr": 0.01}  # lookahead's only required key
    parse_experiment(_optimizer_doc(entry))


@pytest.mark.parametrize(
    ("word", "kind"),
    [("optimizers", "optimizers"), ("optimizer", "optimizers"), ("Optimizer", "optimizers"),
     ("SCHEDULES", "schedules"), ("function", "functions"), ("method", "methods"),
     ("distribution", "distributions"), ("formats", "writers"), ("writer", "writers")],
)
def test_list_takes_a_kind_in_any_case_singular_or_plural(word, kind):
    result = invoke("list", word)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{kind} (")


def test_list_of_an_unknown_kind_is_one_line_with_a_suggestion():
    result = invoke("list", "optimisers")
    assert result.exit_code == 2
    assert result.output == "error: unknown kind 'optimisers'; did you mean 'optimizers'?\n"
    nothing_close = invoke("list", "x")
    assert nothing_close.exit_code == 2 and nothing_close.output.count("\n") == 1
    assert "Usage" not in nothing_close.output and "(valid: distributions," in nothing_close.output


@pytest.mark.parametrize("width", [60, 80, 120])
def test_list_help_never_breaks_a_word(width):
    text = invoke("list", "--help", width=width).output
    assert text.splitlines()[0] == "Usage: optiviz list [OPTIONS] [KIND]"
    words = " ".join(text.split())
    for kind in catalog.kinds():
        assert re.search(rf"\b{kind}\b", words), kind
    assert max(len(line) for line in text.splitlines()) <= width


# Names: case and suggestions --------------------------------------------------------------------

OPTIMIZER_CONFIG = """\
function: booth
start: [0.5, 0.5]
steps: 3
optimizers:
  - {{name: {name}, lr: 0.01}}
"""

TYPOS = [
    ("adma", "adam"),
    ("Adma", "adam"),
    ("adamx", "adamax"),
    ("sdg", "sgd"),
    ("rmsprob", "rmsprop"),
    ("lbgfs", "lbfgs"),
    ("nadm", "nadam"),
    ("momentun", "momentum"),
    ("lookahaed", "lookahead"),
]


@pytest.mark.parametrize(("typo", "meant"), TYPOS)
def test_a_misspelt_optimizer_gets_the_nearest_name(tmp_path, typo, meant):
    path = write(tmp_path, OPTIMIZER_CONFIG.format(name=typo))
    result = invoke("run", str(path), "--no-render")
    assert result.exit_code == 2
    assert result.output == (
        f"error: {path}:5: optimizers[0].name: unknown optimizer '{typo}'; "
        f"did you mean '{meant}'?\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml"]


@pytest.mark.parametrize(
    ("line", "key", "meant"),
    [
        ("function: rosenbrok", "function.name", "rosenbrock"),
        ("function: {name: himelblau}", "function.name", "himmelblau"),
        ("render: {theme: drak}", "render.theme", "dark"),
        ("render: {view: surfce}", "render.view", "surface"),
        ("optimizers: [{name: adam, lr: 0.1, schedule: {name: cosin}}]",
         "optimizers[0].schedule.name", "cosine"),
    ],
)
def test_misspelt_names_of_every_kind_get_the_nearest(tmp_path, line, key, meant):
    lines = {"function": "function: booth", "render": "render: {width: 160, height: 120}",
             "optimizers": "optimizers: [{name: gd, lr: 0.01}]"}
    lines[line.split(":")[0]] = line
    text = "start: [0.5, 0.5]\nsteps: 3\n" + "\n".join(lines.values()) + "\n"
    path = write(tmp_path, text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    number = text.splitlines().index(line) + 1
    assert re.fullmatch(
        rf"error: {re.escape(str(path))}:{number}: {re.escape(key)}: .*; "
        rf"did you mean '{meant}'\?\n", result.output), result.output


@pytest.mark.parametrize(
    ("text", "meant"),
    [("sampling: {distribution: gausian}", "gaussian"),
     ("sampling: {distribution: normal, method: metroplis}", "metropolis")],
)
def test_misspelt_sampling_names_get_the_nearest(tmp_path, text, meant):
    result = invoke("validate", str(write(tmp_path, text + "\n")))
    assert result.exit_code == 2 and result.output.endswith(f"did you mean '{meant}'?\n")


def test_names_ignore_case_everywhere(tmp_path):
    optimizer = write(tmp_path, """\
function: {name: Himmelblau}
start: [0.5, 0.5]
steps: 3
optimizers:
  - {name: Adam, lr: 0.01, schedule: {name: Cosine, anneal_strategy: x}}
  - {name: LBFGS, line_search_fn: Strong_Wolfe}
  - {name: lookahead, inner: {name: SGD, lr: 0.01}}
render: {theme: Dark, view: Surface}
""".replace(", anneal_strategy: x", ""), "optimizer.yaml")
    sampling = write(tmp_path, """\
sampling:
  distribution: {name: Normal, loc: 0, scale: 1}
  method: Metropolis
  proposal: {name: GAUSSIAN, scale: 0.5}
  samples: 50
""", "sampling.yaml")
    for path in (optimizer, sampling):
        result = invoke("validate", str(path))
        assert result.exit_code == 0, result.output
    data = tmp_path / "d.npz"
    result = invoke("run", str(optimizer), "--no-render", "--data", str(data))
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        assert list(npz["optimizer"]) == ["adam", "lbfgs", "lookahead"]


def test_init_takes_names_in_any_case():
    result = invoke("init", "--function", "Booth", "--optimizers", "Adam,SGD")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert document["function"] == "booth"
    assert [o["name"] for o in document["optimizers"]] == ["adam", "sgd"]
    sampling = yaml.safe_load(invoke("init", "--sampling", "Normal").output)
    assert sampling["sampling"]["distribution"]["name"] == "normal"


def test_edit_distance_counts_a_swap_as_one_edit():
    assert edit_distance("adma", "adam") == 1
    assert edit_distance("adma", "adamax") == 2
    assert edit_distance("", "abc") == 3 and edit_distance("kitten", "sitting") == 3


def test_suggestions_do_not_depend_on_the_order_of_the_candidates():
    names = OPTIMIZERS.names()
    for typo, meant in TYPOS:
        assert closest(typo, names) == closest(typo, list(reversed(names))) == [meant]
    assert closest("zzzzzz", names) == []
    assert closest("rosen", FUNCTIONS.names()) == ["rosenbrock"]  # a prefix counts


# Bound messages: the first message states the whole constraint ----------------------------------

BASE: dict[str, Any] = {"function": "booth", "start": [0.5, 0.5], "steps": 2}


def _optimizer_doc(entry: dict) -> dict:
    return {**BASE, "optimizers": [entry]}


def _sampling_doc(section: dict) -> dict:
    return {"sampling": {"distribution": "normal", "samples": 10, **section}}


# Values for the other required parameters, so that one parameter can be probed alone.
REQUIRED: dict[tuple[str, str], dict[str, Any]] = {
    ("optimizer", "lookahead"): {"inner": {"name": "sgd", "lr": 0.01}},
    ("schedule", "step"): {"step_size": 1},
    ("schedule", "exponential"): {"gamma": 0.5},
    ("schedule", "onecycle"): {"max_lr": 0.1},
    ("function", "expr"): {"expr": "x**2 + y**2"},
    ("method", "importance"): {"proposal": {"name": "normal", "scale": 2}},
    ("distribution", "dirichlet"): {"alpha": [2.0, 3.0, 4.0]},
}
LIST_EXAMPLES = {"scales": [1.0, 2.0], "eigenvalues": [1.0, 4.0]}


@dataclass(frozen=True)
class Probe:
    """One numeric key: how to build a document with a value there, and where errors land."""

    name: str
    build: Callable[[Any], dict]
    path: tuple
    integer: bool

    def __str__(self) -> str:
        return self.name


def _param_probes(kind: str, name: str, params, build, path) -> list[Probe]:
    probes = []
    given = REQUIRED.get((kind, name), {})
    for p in params:
        if p.kind in ("float", "int"):
            probes.append(Probe(f"{kind}.{name}.{p.name}",
                                lambda v, p=p: build({**given, p.name: v}), path + (p.name,),
                                p.kind == "int"))
        elif p.kind == "floats":
            base = given.get(p.name) or LIST_EXAMPLES.get(p.name) or list(p.default)
            for i in range(len(base)):
                def with_item(v, p=p, i=i, base=base):
                    values = list(base)
                    values[i] = v
                    return build({**given, p.name: values})
                probes.append(Probe(f"{kind}.{name}.{p.name}[{i}]", with_item,
                                    path + (p.name,), False))
    return probes


def _all_probes() -> list[Probe]:
    probes: list[Probe] = []
    for name, spec in OPTIMIZERS.items():
        probes += _param_probes("optimizer", name, spec.params,
                                lambda d, n=name: _optimizer_doc({"name": n, **d}),
                                ("optimizers", 0))
    for name, spec in SCHEDULES.items():
        probes += _param_probes(
            "schedule", name, spec.params,
            lambda d, n=name: _optimizer_doc(
                {"name": "adam", "lr": 0.01, "schedule": {"name": n, **d}}),
            ("optimizers", 0, "schedule"))
    for name, spec in FUNCTIONS.items():
        probes += _param_probes(
            "function", name, spec.params,
            lambda d, n=name: {**BASE, "function": {"name": n, **d},
                               "optimizers": [{"name": "gd", "lr": 0.01}]},
            ("function",))
    for name, spec in METHODS.items():
        probes += _param_probes("method", name, spec.params,
                                lambda d, n=name: _sampling_doc({"method": n, **d}),
                                ("sampling",))
    for name, spec in DISTRIBUTIONS.items():
        if spec.family in ("continuous", "discrete") and name != "norm":
            continue  # scipy's: one Param set shared by all, probed through norm
        method = "metropolis" if spec.family == "target" else "direct"
        probes += _param_probes(
            "distribution", name, spec.params,
            lambda d, n=name, m=method: _sampling_doc(
                {"method": m, "distribution": {"name": n, **d}}),
            ("sampling", "distribution"))
    probes += _param_probes("render", "render", RENDER_PARAMS,
                            lambda d: {**_optimizer_doc({"name": "gd"}), "render": d}, ())
    # Keys the loader checks itself.
    probes += [
        Probe("steps", lambda v: {**_optimizer_doc({"name": "gd"}), "steps": v}, ("steps",), True),
        Probe("seed", lambda v: {**_optimizer_doc({"name": "gd"}), "seed": v}, ("seed",), True),
        Probe("noise", lambda v: _optimizer_doc({"name": "gd", "noise": v}),
              ("optimizers", 0, "noise"), False),
        Probe("batch_size",
              lambda v: {**_optimizer_doc({"name": "sgd", "lr": 0.01, "batch_size": v}),
                         "function": {"name": "linear_regression", "samples": 50}},
              ("optimizers", 0, "batch_size"), True),
        Probe("warmup_steps",
              lambda v: _optimizer_doc({"name": "gd", "schedule": {"warmup_steps": v}}),
              ("optimizers", 0, "schedule", "warmup_steps"), True),
        Probe("warmup_start_factor",
              lambda v: _optimizer_doc({"name": "gd", "schedule": {
                  "warmup_steps": 1, "warmup_start_factor": v}}),
              ("optimizers", 0, "schedule", "warmup_start_factor"), False),
        Probe("sampling.samples", lambda v: _sampling_doc({"samples": v}),
              ("sampling", "samples"), True),
    ]
    return probes


NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"
BOUND_WORDS = re.compile(r">|<|\bin [\[(]|\bbetween\b")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def stated_bounds(message: str) -> list[tuple[str, float]]:
    """The constraints a message states: ``must be in [0, 1)`` -> [(">=", 0), ("<", 1)]."""
    interval = re.search(rf"in ([\[(])({NUMBER}), ({NUMBER})([\])])", message)
    if interval:
        low, high = _number(interval[2]), _number(interval[3])
        return [(">=" if interval[1] == "[" else ">", low),
                ("<=" if interval[4] == "]" else "<", high)]
    between = re.search(rf"between ({NUMBER}) and ({NUMBER})", message)
    if between:
        return [(">=", _number(between[1])), ("<=", _number(between[2]))]
    return [(op, _number(n)) for op, n in re.findall(rf"(>=|<=|>|<)\D*?({NUMBER})", message)]


def _bound_errors(probe: Probe, value: Any) -> list[ConfigError]:
    errors: list[ConfigError] = []
    try:
        parse_experiment(probe.build(value), errors=errors)
    except ConfigError as exc:
        errors.append(exc)
    return [e for e in errors
            if tuple(e.path[:len(probe.path)]) == probe.path and BOUND_WORDS.search(e.message)]


def _bare(message: str) -> str:
    return re.sub(r", got .*$", "", message)


def test_the_bound_probes_cover_every_registry():
    names = {str(p).split(".")[0] for p in _all_probes()}
    assert {"optimizer", "schedule", "function", "method", "distribution", "render"} <= names
    assert "optimizer.sgd.lr" in {str(p) for p in _all_probes()}


@pytest.mark.parametrize("probe", _all_probes(), ids=str)
def test_a_bound_message_states_the_true_bound(probe):
    """A value far outside gets a message stating a bound; then the bound itself and the
    values just either side of it are accepted or refused exactly as the message said, and a
    refused one gets the same message (``lr: -1`` and ``lr: 0`` both: must be > 0)."""
    far = 10**12 if probe.integer else 1e12
    for side, value in (("low", -far), ("high", far)):
        refused = _bound_errors(probe, value)
        if not refused or "must satisfy" in refused[0].message:
            continue  # no bound on this side, or a relation between list items
        message = _bare(refused[0].message)
        bounds = [(op, b) for op, b in stated_bounds(message)
                  if (op[0] == ">") == (side == "low")]
        assert bounds, f"{value!r} refused by {message!r}, which states no {side} bound"
        for op, bound in bounds:
            if probe.integer and not float(bound).is_integer():
                continue
            step = 1 if probe.integer else max(abs(bound), 1.0) * 1e-9
            outward = -step if side == "low" else step
            edge = int(bound) if probe.integer else bound
            outside = edge if op in (">", "<") else edge + outward
            inside = edge - outward if op in (">", "<") else edge
            refused_outside = _bound_errors(probe, outside)
            assert refused_outside, f"{outside!r} is outside {message!r} but accepted"
            assert _bare(refused_outside[0].message) == message, (
                f"{value!r} said {message!r} but {outside!r} says {refused_outside[0].message!r}")
            refused_inside = _bound_errors(probe, inside)
            assert not refused_inside, (
                f"{value!r} said {message!r} but {inside!r} is refused: "
                f"{refused_inside[0].message!r}")


@pytest.mark.parametrize("value", ["-1", "0"])
def test_lr_says_the_same_bound_for_every_bad_value(tmp_path, value):
    path = write(tmp_path, OPTIMIZER_CONFIG.format(name="adam").replace("0.01", value))
    result = invoke("run", str(path), "--no-render")
    assert result.exit_code == 2
    got = "-1.0" if value == "-1" else "0.0"
    assert result.output == f"error: {path}:5: optimizers[0].lr: must be > 0, got {got}\n"


def test_onecycle_total_steps_states_its_whole_bound_and_null_means_the_default(tmp_path):
    for value, status in (("-1", 2), ("0", 2), ("2", 2), ("3", 0), ("null", 0)):
        schedule = f"{{name: onecycle, max_lr: 0.1, total_steps: {value}}}"
        path = write(tmp_path, OPTIMIZER_CONFIG.format(name="adam").replace(
            "lr: 0.01", f"lr: 0.01, schedule: {schedule}"))
        result = invoke("validate", str(path))
        assert result.exit_code == status, result.output
        if status:
            assert result.output == (
                f"error: {path}:5: optimizers[0].schedule.total_steps: total_steps must be >= "
                "steps (3); torch raises past it\n")


# Help texts and exit codes ------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "batch", "validate"])
def test_help_documents_the_exit_codes(command):
    text = invoke(command, "--help", width=80).output
    assert "Exit status:" in text
    codes = re.findall(r"^\s+(\d+)\s{2,}\S", text.split("Exit status:")[1], re.M)
    assert codes == ["0", "1", "2", "130", "143"]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_readme_documents_the_exit_codes():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Exit status")[1].split("\n#")[0]
    for code in ("0", "1", "2", "130", "143"):
        assert re.search(rf"^\| {code} \|", section, re.M), code


def test_the_documented_exit_codes_are_the_real_ones(tmp_path):
    bad = write(tmp_path, OPTIMIZER_CONFIG.format(name="adma"), "bad.yaml")
    assert invoke("run", str(bad)).exit_code == 2
    assert invoke("validate", str(bad)).exit_code == 2
    batch = invoke("batch", str(bad), "--out-dir", str(tmp_path / "out"), "-j", "1")
    assert batch.exit_code == 1, batch.output
    assert invoke("batch", str(tmp_path / "none*.yaml")).exit_code == 2


def test_group_help_lists_each_command_in_a_whole_sentence():
    text = invoke("--help", width=80).output
    commands = text.split("Commands:")[1]
    assert "..." not in commands
    assert "COMMAND --help" in " ".join(text.split())


def test_readme_activates_the_venv_once_before_bare_optiviz_commands():
    readme = (ROOT / "README.md").read_text()
    activate = readme.index(". .venv/bin/activate")
    first_bare = re.search(r"^optiviz ", readme, re.M)
    assert first_bare and activate < first_bare.start()
    assert activate < len("\n".join(readme.splitlines()[:25]))  # on the first screen


def test_make_demo_prints_how_to_activate_the_venv():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndemo:")[1].split("\n\n")[0]
    assert re.search(r"@echo .*\. \$\(BIN\)/activate", recipe)


# init: comparable learning rates ------------------------------------------------------------------

MOMENTUM_FORMS = ("sgd", "momentum", "nag")


@pytest.mark.parametrize("function", ["rosenbrock", "beale", "himmelblau", "booth", "quadratic"])
def test_init_gives_momentum_forms_one_effective_step_size(tmp_path, function):
    result = invoke("init", "--function", function, "--optimizers", "sgd,momentum,nag,adam")
    assert result.exit_code == 0, result.output
    config = write(tmp_path, result.output)
    entries = yaml.safe_load(result.output)["optimizers"]
    effective, momenta = {}, {}
    for entry in entries:
        if entry["name"] in MOMENTUM_FORMS:
            defaults = {p.name: p.default for p in OPTIMIZERS.get(entry["name"]).params}
            hyper = {**defaults, **entry}
            effective[entry["name"]] = hyper["lr"] * templates.step_factor(entry["name"], hyper)
            momenta[entry["name"]] = hyper["momentum"]
    # sgd here is plain gradient descent; each momentum form steps as torch SGD(lr, momentum).
    assert momenta == {"sgd": 0.0, "momentum": 0.9, "nag": 0.9}
    wanted = effective["sgd"] / (1 - 0.9)
    for name in ("momentum", "nag"):
        assert 1 / 1.5 <= effective[name] / wanted <= 1.5, effective

    data = tmp_path / "d.npz"
    ran = invoke("run", str(config), "--no-render", "--data", str(data), "--set", "steps=40")
    assert ran.exit_code == 0, ran.output
    with np.load(data) as npz:
        assert not npz["diverged"].any()
        assert np.isfinite(npz["loss"]).all()

    # The steps themselves, under a steady gradient (a plane): they settle to the effective
    # step size × the gradient, the same for EMA momentum and Sutskever NAG.
    plane = tmp_path / "plane.npz"
    ran = invoke("run", str(config), "--no-render", "--data", str(plane), "--set", "steps=80",
                 "--set", 'function={expr: "x + 2*y", domain: [[-5, 5], [-5, 5]]}')
    assert ran.exit_code == 0, ran.output
    with np.load(plane) as npz:
        names = list(npz["optimizer"])
        last = np.linalg.norm(npz["positions"][:, -1] - npz["positions"][:, -2], axis=1)
        settled = {name: last[names.index(name)] / math.hypot(1, 2) for name in MOMENTUM_FORMS}
    for name in MOMENTUM_FORMS:
        assert 1 / 1.5 <= settled[name] / effective[name] <= 1.5, settled
    assert 1 / 1.5 <= settled["nag"] / settled["momentum"] <= 1.5, settled


def test_step_factor_is_one_over_one_minus_momentum_for_summing_forms():
    assert templates.step_factor("momentum", {"momentum": 0.9}) == 1.0
    assert templates.step_factor("gd", {}) == 1.0
    assert math.isclose(templates.step_factor("nag", {"momentum": 0.9}), 10.0)
    assert math.isclose(templates.step_factor("sgd", {"momentum": 0.9, "dampening": 0.0}), 10.0)
    assert math.isclose(templates.step_factor("sgd", {"momentum": 0.9, "dampening": 0.9}), 1.0)
    assert templates.step_factor("sgd", {"momentum": 0.0, "dampening": 0.0}) == 1.0


def test_init_states_the_rule_next_to_each_momentum_form():
    text = invoke("init", "--optimizers", "gd,momentum,nag").output
    assert text.count("effective step size 0.0045 = gd's lr/(1 - momentum)") == 2
    lrs = [o["lr"] for o in yaml.safe_load(text)["optimizers"]]
    assert lrs == [0.00045, 0.0045, 0.00045]  # Rosenbrock: gd, EMA momentum, Sutskever NAG


def test_init_momentum_forms_outrun_gradient_descent_on_rosenbrock(tmp_path):
    config = write(tmp_path, invoke("init", "--optimizers", "gd,momentum,nag").output)
    data = tmp_path / "d.npz"
    assert invoke("run", str(config), "--no-render", "--data", str(data)).exit_code == 0
    with np.load(data) as npz:
        gd, momentum, nag = npz["loss"][:, -1]
    assert momentum < 0.7 * gd and nag < 0.7 * gd


# --data: every key written is documented ---------------------------------------------------------

CONFIG_MD = (ROOT / "docs" / "CONFIG.md").read_text()


def documented_keys(heading: str) -> set[str]:
    """The keys in the table after ``heading`` (a line of CONFIG.md), up to the next heading."""
    lines = CONFIG_MD.split("## Output files")[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    keys: set[str] = set()
    for line in lines[start + 1:]:
        if keys and not line.startswith("|") and line.strip():
            break
        match = re.match(r"\| `(\w+)` \|", line)
        if match:
            keys.add(match[1])
    return keys


DATA_CASES = {
    "### `--data` of an optimizer experiment": [
        OPTIMIZER_CONFIG.format(name="adam"),
        "function: rosenbrock\nstart: [0, 0]\nsteps: 5\noptimizers: [{name: adam, lr: auto}]\n"
        "tune: {budget: 3, range: [1.0e-3, 0.1]}",
        OPTIMIZER_CONFIG.format(name="adam")
        + "render: {overlay: [gradient, velocity, step], panels: [landscape, state]}",
    ],
    "`method: direct`": [
        "sampling: {distribution: normal, method: direct, samples: 40, estimate: 'x**2'}",
        "sampling: {distribution: {name: binom, n: 5, p: 0.3}, samples: 40}",
        "sampling: {distribution: {name: multivariate_normal, mean: [0, 0], "
        "cov: [[1, 0], [0, 1]]}, samples: 40}",
    ],
    "`method: stratified`": [
        "sampling: {distribution: normal, method: stratified, samples: 40}",
    ],
    "`method: importance`": [
        "sampling: {distribution: normal, method: importance, samples: 40, "
        "proposal: {name: normal, scale: 2}}",
    ],
    "`method: metropolis`": [
        "sampling: {distribution: banana, method: metropolis, samples: 30, chains: 2}",
        "sampling: {distribution: normal, method: metropolis, samples: 30, scales: [0.5, 2]}",
        "sampling: {distribution: normal, method: metropolis, samples: 30, independent: true, "
        "hastings: [true, false]}",
    ],
}


@pytest.mark.parametrize("heading", list(DATA_CASES))
def test_every_key_data_writes_is_documented(tmp_path, heading):
    documented = documented_keys(heading)
    assert documented
    written: set[str] = set()
    for i, text in enumerate(DATA_CASES[heading]):
        config = write(tmp_path, text + "\n", f"case{i}.yaml")
        data = tmp_path / f"case{i}.npz"
        result = invoke("run", str(config), "--no-render", "--data", str(data))
        assert result.exit_code == 0, result.output
        with np.load(data) as npz:
            keys = set(npz.files)
        assert keys <= documented, f"{config.name}: undocumented {sorted(keys - documented)}"
        written |= keys
    assert written == documented, f"documented but never written: {sorted(documented - written)}"


def test_every_sampling_method_has_a_data_table():
    for name in METHODS.names():
        assert f"`method: {name}`" in DATA_CASES
