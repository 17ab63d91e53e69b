"""Readouts say "undefined" or "infinite" where a true moment does not exist, as a
statistician would, never "nan": the mean of a Cauchy is undefined, the variance of Student t
with 1 < df <= 2 infinite. scipy's own answers are checked, and corrected where wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz.sampling.moments import true_expectation, true_moments

NAN, INF = math.nan, math.inf

# family, parameters, what scipy's stats("mv") answers, what is true
FAMILIES = [
    ("norm", {}, (0.0, 1.0), (0.0, 1.0)),
    ("cauchy", {}, (NAN, NAN), (NAN, NAN)),  # both tails diverge: undefined, undefined
    ("t", {"df": 1}, (INF, NAN), (NAN, NAN)),  # t(1) is the Cauchy: scipy's inf mean is wrong
    ("t", {"df": 0.5}, (INF, NAN), (NAN, NAN)),
    ("t", {"df": 1.5}, (0.0, INF), (0.0, INF)),
    ("t", {"df": 2}, (0.0, INF), (0.0, INF)),
    ("t", {"df": 3}, (0.0, 3.0), (0.0, 3.0)),
    ("levy", {}, (INF, INF), (INF, INF)),  # support x > 0: the mean diverges to +inf
    ("levy_l", {}, (INF, INF), (-INF, INF)),  # the mirror image: −inf (scipy: +inf)
    ("pareto", {"b": 0.5}, (INF, INF), (INF, INF)),
    ("pareto", {"b": 1.5}, (3.0, INF), (3.0, INF)),
    ("halfcauchy", {}, (INF, INF), (INF, INF)),
    ("burr12", {"c": 1, "d": 0.5}, (NAN, NAN), (INF, INF)),  # bounded below: infinite
    ("crystalball", {"beta": 1, "m": 1.5}, (INF, INF), (-INF, INF)),  # heavy tail on the left
    ("lognorm", {"s": 1}, (math.exp(0.5), (math.e - 1) * math.e), (math.exp(0.5),
                                                                   (math.e - 1) * math.e)),
]


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


@pytest.mark.parametrize("name, params, scipy_says, truth", FAMILIES,
                         ids=[f"{f[0]}{f[1] or ''}" for f in FAMILIES])
def test_true_moments_correct_scipy_where_it_is_wrong(name, params, scipy_says, truth):
    import scipy.stats

    frozen = getattr(scipy.stats, name)(**params)
    with np.errstate(all="ignore"):
        said = tuple(float(v) for v in frozen.stats(moments="mv"))
    assert all(same(a, b) for a, b in zip(said, scipy_says, strict=True)), said
    got = true_moments(frozen)
    assert all(same(a, b) for a, b in zip(got, truth, strict=True)), got


def test_the_true_mean_of_x_is_not_a_quadrature_artefact():
    """scipy's expect(x) integrates the Cauchy to 0 and Lévy to −1; neither exists."""
    from optiviz.sampling.distributions import make_distribution

    assert math.isnan(true_expectation(make_distribution({"name": "cauchy"}), None, "x"))
    levy = make_distribution({"name": "levy"})
    assert true_expectation(levy, lambda x: x, " x ") == INF
    assert true_expectation(make_distribution({"name": "cauchy"}), None, "x**2") == INF
    t3 = make_distribution({"name": "t", "df": 3})
    assert true_expectation(t3, None, "x^2") == pytest.approx(3.0)
    assert true_expectation(t3, lambda x: np.abs(x), "abs(x)") == pytest.approx(2 * math.sqrt(3)
                                                                              / math.pi)


@pytest.fixture
def captured_scenes(monkeypatch):
    import optiviz.render as render_module

    scenes = []
    original = render_module.build_scene

    def keep(experiment, result):
        scenes.append(original(experiment, result))
        return scenes[-1]

    monkeypatch.setattr(render_module, "build_scene", keep)
    return scenes


def run_cli(tmp_path, sampling: str) -> None:
    from optiviz.cli import cli

    source = tmp_path / "c.yaml"
    source.write_text(f"sampling: {sampling}\nrender: {{width: 480, height: 270}}\n")
    result = CliRunner().invoke(cli, ["run", str(source), "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output


def all_text(scene) -> str:
    return "\n".join(t.get_text() for ax in scene.figure.axes for t in ax.texts)


@pytest.mark.parametrize("distribution, mean, var", [
    ("cauchy", "undefined", "undefined"),
    ("{name: t, df: 1}", "undefined", "undefined"),
    ("{name: t, df: 1.5}", "0.000", "infinite"),
    ("{name: pareto, b: 1.5}", "3.000", "infinite"),
    ("levy", "infinite", "infinite"),
])
def test_cli_histogram_readout_says_undefined_or_infinite(tmp_path, captured_scenes,
                                                          distribution, mean, var):
    run_cli(tmp_path, f"{{distribution: {distribution}, samples: 800}}")
    [scene] = captured_scenes
    rows = scene.caption.labels.get_text().split("\n")
    assert rows[1].split()[0] == "mean" and rows[1].endswith(f"(true {mean})")
    assert rows[2].split()[0] == "var" and rows[2].endswith(f"(true {var})")
    assert "nan" not in all_text(scene).lower()


def test_cli_stratified_cauchy_has_no_truth_to_converge_to(tmp_path, captured_scenes):
    run_cli(tmp_path, "{distribution: cauchy, method: stratified, samples: 800}")
    [scene] = captured_scenes
    assert "true E[x] undefined" in scene.caption.get_text()
    assert math.isnan(scene.result.summary()["true_value"])  # was 0.0 (quadrature)
    assert not any(line.get_ydata()[0] == 0.0 for line in scene.caption.axes.lines
                   if len(line.get_ydata()) == 2)  # no dashed "truth" line at 0


def test_cli_importance_levy_mean_is_infinite(tmp_path, captured_scenes):
    run_cli(tmp_path, "{distribution: levy, method: importance, "
                      "proposal: {name: lognorm, s: 2}, samples: 800}")
    [scene] = captured_scenes
    assert "true infinite" in scene.caption.get_text()
    assert "nan" not in all_text(scene).lower()
