"""The whole command line under generated hostile configs: every run ends with exit 0 or 2 and
no traceback, and ``validate`` agrees with ``run``.

A valid base config (an optimizer race and two sampling experiments) is mutated at any level:
values replaced by other types, huge or non-finite numbers, odd strings (unicode, mathtext,
expressions, YAML keywords), nested lists and mappings, the same object placed twice (PyYAML
writes an anchor and an alias), keys added or deleted; or the YAML text itself gets a stray
character. Sizes (steps, samples, pixels, ...) stay small: what a size costs is the budget
checks' business, and this test must stay fast.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optiviz.cli import cli

OPTIMIZER_BASE: dict[str, Any] = {
    "title": "Race",
    "function": {"expr": "x**2 + 3*sin(y)**2", "domain": [[-2, 2], [-2, 2]]},
    "start": [[-1.5, 1.0], [1.0, 1.5]],
    "steps": 4,
    "seed": 0,
    "optimizers": [
        {"name": "adam", "lr": 0.05, "label": "Adam"},
        {"name": "sgd", "lr": 0.01, "momentum": 0.9,
         "schedule": {"name": "cosine", "warmup_steps": 1}},
    ],
    "render": {"width": 160, "height": 120, "frames": 2, "hold": 0, "fps": 10},
}
DIRECT_BASE: dict[str, Any] = {
    "title": "Samples",
    "sampling": {"distribution": {"name": "gamma", "a": 2.0}, "method": "importance",
                 "proposal": {"name": "expon", "scale": 2.0}, "estimate": "x**2",
                 "samples": 30, "seed": 1},
    "render": {"width": 240, "height": 160, "frames": 2, "hold": 0},
}
CHAIN_BASE: dict[str, Any] = {
    "sampling": {"distribution": {"name": "banana", "a": 1.0, "b": 0.5}, "method": "metropolis",
                 "proposal": {"name": "normal", "scale": 0.5}, "chains": 2, "samples": 20,
                 "burn_in": 2, "start": [[0.0, 0.0], [1.0, 1.0]]},
    "render": {"width": 240, "height": 160, "frames": 2, "hold": 0},
}

SMALL = {"width": 240, "height": 160, "frames": 2, "hold": 0}
# Every other kind of experiment, one example drawn per test case.
OTHER_BASES: list[dict[str, Any]] = [
    {"function": "himmelblau", "start": [[1, 1]], "steps": 3,
     "render": {**SMALL, "view": "surface"},
     "optimizers": [{"name": "lookahead", "k": 2, "inner": {"name": "adam", "lr": 0.1}}]},
    {"function": {"name": "rosenbrock", "a": 1, "b": 100}, "steps": 3,
     "start": {"random": 12, "seed": 3, "box": [[-2, 2], [-1, 3]]},
     "optimizers": [{"name": "rmsprop", "lr": [0.001, 0.01]}, {"name": "newton"}],
     "render": {**SMALL, "width": 480, "height": 320, "panels": ["landscape", "loss", "lr"],
                "levels": 10}},
    {"function": {"name": "linear_regression", "samples": 20, "noise": 0.5}, "start": [0, 0],
     "steps": 3, "render": SMALL,
     "optimizers": [{"name": "sgd", "lr": 0.1, "batch_size": 4, "noise": 0.1},
                    {"name": "lbfgs", "lr": 1, "line_search_fn": "strong_wolfe"}]},
    {"sampling": {"distribution": {"name": "binomial", "n": 10, "p": 0.3}, "method": "stratified",
                  "strata": 4, "estimate": "x**3", "samples": 30}, "render": SMALL},
    {"sampling": {"distribution": {"name": "mixture", "components": [
        {"mean": [-1, 0], "std": 0.5, "weight": 1}, {"mean": [1, 0], "cov": [[1, 0.2], [0.2, 1]]}]},
        "method": "metropolis", "scales": [0.2, 2], "samples": 15}, "render": SMALL},
    {"sampling": {"distribution": {"expr": "exp(-x**2 - y**2)", "domain": [[-2, 2], [-2, 2]]},
                  "method": "metropolis", "samples": 15, "independent": True,
                  "proposal": {"name": "normal", "scale": 2}}, "render": SMALL},
    {"sampling": {"distribution": {"name": "multivariate_normal", "mean": [0, 1],
                                   "cov": [[1, 0.5], [0.5, 2]]}, "samples": 30}, "render": SMALL},
    {"sampling": {"distribution": {"name": "dirichlet", "alpha": [1, 2, 3]}, "samples": 30},
     "render": SMALL},
]

# Keys whose value is a size: kept small so that no example computes or allocates for long.
SIZES = {"steps", "samples", "chains", "bins", "strata", "frames", "width", "height", "random",
         "grid", "fps", "dpi", "levels", "hold", "n", "batch_size", "trail", "t_max",
         "total_steps", "total_iters", "step_size", "history_size", "max_iter", "max_eval", "k",
         "warmup_steps", "scales", "mean", "cov"}

NAMES = ["adam", "sgd", "lbfgs", "newton", "lookahead", "rosenbrock", "himmelblau", "normal",
         "banana", "donut", "mixture", "expr", "metropolis", "importance", "stratified", "direct",
         "cosine", "onecycle", "surface", "contour", "landscape", "loss", "lr", "dark",
         "levy_stable", "binomial", "dirichlet", "multivariate_normal", "linear_regression"]
TEXTS = ["", " ", "~", "null", "yes", "1e-3", ".inf", ".nan", "0x1F", "$\\frac{a}{b$", "$x^$",
         "$\\foo$", "$\\alpha_1$", "\u00e9\u4e2d\U0001F600", "\x00", "\x1b[31m", "\ud800",
         "a" * 300, "x**2", "log(-1)", "2+3", "1/0", "sin(" * 70 + "x" + ")" * 70,
         "__import__('os')", "x.__class__", "out.gif", "/dev/null", "../escape.gif", "noext",
         "sub/dir/out.png"]
SPECIAL_NUMBERS = [0, -1, -0.0, 1e-300, 5e-324, 1e308, -1e308, math.inf, -math.inf, math.nan,
                   2**63, -(2**63), 10**400, 0.5, 2.5, 1e-3]

small_numbers = st.one_of(st.integers(-3, 40), st.sampled_from([0.5, 2.5, -0.0, 1e-3, math.nan]))
numbers = st.one_of(st.integers(-1000, 1000), st.floats(-1e3, 1e3),
                    st.sampled_from(SPECIAL_NUMBERS))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.sampled_from(NAMES),
                    st.sampled_from(TEXTS), st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)), children,
                        max_size=3),
    ),
    max_leaves=10,
)
small_values = st.one_of(small_numbers, st.lists(small_numbers, min_size=1, max_size=3),
                         st.sampled_from([None, "full", "x", [[1, 0], [0, 1]]]))


def alike(current: Any) -> st.SearchStrategy:
    """Mostly a value of the same kind (a number for a number, a name for a name): such values
    pass the type checks and reach the deeper ones; sometimes anything at all."""
    if isinstance(current, bool) or current is None:
        same = scalars
    elif isinstance(current, (int, float)):
        same = numbers
    elif isinstance(current, str):
        same = st.one_of(st.sampled_from(NAMES), st.sampled_from(TEXTS))
    elif isinstance(current, list):
        same = st.lists(st.one_of(numbers, st.lists(numbers, min_size=2, max_size=2)),
                        max_size=3)
    else:
        same = values
    return st.one_of(same, same, values)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a document (the root included)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, prefix + (i,))
    return found


def reachable(node: Any) -> set[int]:
    """ids of every list and mapping under ``node`` (itself included)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, dict)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)
    return seen


def at(document: Any, path: tuple) -> Any:
    for part in path:
        document = document[part]
    return document


@st.composite
def hostile_documents(draw: st.DrawFn, base: dict) -> tuple[str, bool]:
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        # The root itself rarely: a document that is not a mapping stops at the first check.
        # Deepest first: hypothesis starts from the first choice, and a leaf replaced reaches
        # further checks than a whole section replaced.
        path = draw(st.sampled_from(sorted(paths(document)[1:], key=len, reverse=True) or [()]))
        if draw(st.integers(0, 30)) == 30:
            path = ()
        operation = draw(st.sampled_from(["replace", "replace", "add", "delete", "alias"]))
        sized = any(part in SIZES for part in path if isinstance(part, str))
        # A copy: sampled_from hands out the same list object to every example.
        value = copy.deepcopy(draw(small_values if sized else alike(at(document, path))
                                   if path else values))
        parent = at(document, path[:-1]) if path else None
        if operation == "delete" and path:
            del parent[path[-1]]
        elif operation == "add" and isinstance(at(document, path), dict):
            key = draw(st.one_of(st.sampled_from(sorted(SIZES - {"samples", "steps"})
                                                 + NAMES), st.text(max_size=6)))
            at(document, path)[key] = draw(small_numbers) if key in SIZES else value
        elif operation == "alias" and path:
            # The same object twice: PyYAML writes &id001 ... *id001.
            shared = at(document, path)
            other = draw(st.sampled_from(paths(document)))
            # Never inside itself: loops are test_loader_hostile's (and would hang paths()).
            loop = bool(other) and id(at(document, other[:-1])) in reachable(shared)
            if other and not loop and not sized and \
                    not any(isinstance(p, str) and p in SIZES for p in other):
                at(document, other[:-1])[other[-1]] = shared
        elif path:
            parent[path[-1]] = value
        else:
            document = value
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    if draw(st.integers(0, 5)) == 5:  # a stray character anywhere in the text
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.characters()) + text[position:]
    return text, draw(st.booleans())


def run_cli(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


def describe(result: Any) -> str:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        return "".join(traceback.format_exception(result.exception))
    return result.output


# Found only by computing (documented in docs/CONFIG.md): validate passes, run stops with exit 2.
COMPUTE_TIME = ("at the sample x =", "none of the")


def check(tmp_path: Path, text: str, render: bool) -> None:
    config = tmp_path / "hostile.yaml"
    config.write_text(text, encoding="utf-8", errors="surrogatepass")
    validated = run_cli("validate", config)
    assert validated.exit_code in (0, 2), describe(validated)
    assert "Traceback" not in validated.output
    ran = run_cli("run", config, "--no-render", "-q")
    assert ran.exit_code in (0, 2), describe(ran)
    assert "Traceback" not in ran.output
    if validated.exit_code == 0 and ran.exit_code == 2:
        assert any(words in ran.output for words in COMPUTE_TIME), (validated.output, ran.output)
    if render:
        output = tmp_path / "out.png"
        drawn = run_cli("run", config, "-o", output, "-q")
        assert drawn.exit_code in (0, 2), describe(drawn)
        assert "Traceback" not in drawn.output
        if validated.exit_code == 0:
            assert drawn.exit_code == 0 or any(w in drawn.output for w in COMPUTE_TIME), \
                (text, drawn.output)
        else:  # what validate refuses, a rendering run refuses too, writing nothing
            assert drawn.exit_code == 2, (text, validated.output)
            assert not output.exists()
        output.unlink(missing_ok=True)


PROPERTY = settings(max_examples=18, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@PROPERTY
@given(case=hostile_documents(OPTIMIZER_BASE))
def test_hostile_optimizer_configs(tmp_path, case):
    check(tmp_path, *case)


@PROPERTY
@given(case=hostile_documents(DIRECT_BASE))
def test_hostile_sampling_configs(tmp_path, case):
    check(tmp_path, *case)


@PROPERTY
@given(case=hostile_documents(CHAIN_BASE))
def test_hostile_mcmc_configs(tmp_path, case):
    check(tmp_path, *case)


@PROPERTY
@given(case=st.sampled_from(OTHER_BASES).flatmap(hostile_documents))
def test_hostile_configs_of_every_other_kind(tmp_path, case):
    check(tmp_path, *case)


def test_the_bases_are_valid(tmp_path):
    for base in (OPTIMIZER_BASE, DIRECT_BASE, CHAIN_BASE, *OTHER_BASES):
        check(tmp_path, yaml.safe_dump(base, sort_keys=False), render=True)
