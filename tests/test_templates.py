"""optiviz.templates: every config `optiviz init` prints loads and runs as printed."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from optiviz import api, templates
from optiviz.errors import ConfigError, UnknownNameError
from optiviz.functions import FUNCTIONS, make_function
from optiviz.optimizers import OPTIMIZERS
from optiviz.sampling.distributions import DISTRIBUTIONS


def run(tmp_path, text: str, name: str = "experiment"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    experiment = api.load(path)
    return experiment, api.compute(experiment)


def has_global_minimum(name: str) -> bool:
    function = make_function({"name": name, **FUNCTIONS.get(name).example})
    return any(p.kind == "global minimum" for p in function.points)


def test_default_template_is_commented_yaml_that_runs(tmp_path):
    text = templates.init_config()
    assert text.startswith("# optiviz experiment")
    document = yaml.safe_load(text)
    assert document["function"] == "rosenbrock"
    assert [o["name"] for o in document["optimizers"]] == list(templates.DEFAULT_OPTIMIZERS)
    _, trajectories = run(tmp_path, text)
    assert not trajectories.diverged.any()
    assert (trajectories.final_loss() < trajectories.loss[:, 0]).all()


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n != "expr"])
def test_every_function_template_runs(tmp_path, name):
    experiment, trajectories = run(tmp_path, templates.init_config(function=name))
    assert experiment.function.name == name
    if has_global_minimum(name):  # saddles unbounded below may rightly run off to -inf
        assert not trajectories.diverged.any()


def test_expr_template_gets_an_example_expression(tmp_path):
    experiment, trajectories = run(tmp_path, templates.init_config(function="expr"))
    assert not trajectories.diverged.any()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_template_runs_without_diverging(tmp_path, name):
    experiment, trajectories = run(tmp_path, templates.init_config(optimizers=[name]))
    assert [o.name for o in experiment.optimizers] == [name]
    assert not trajectories.diverged.any()
    assert np.isfinite(trajectories.final_loss()).all()


def test_template_lists_the_other_hyperparameters_as_comments():
    text = templates.init_config(optimizers=["adam"])
    assert "betas: [0.9, 0.999]" in text and "amsgrad: false" in text
    assert max(len(line) for line in text.splitlines() if line.lstrip().startswith("#")) <= 100


def test_gradient_descent_lr_respects_curvature():
    rosenbrock = make_function("rosenbrock")
    start = np.array([templates.start_point(rosenbrock)])
    lr = templates.suggested_lr("sgd", rosenbrock, start, 1e-3)
    fxx, fxy, fyy = rosenbrock.hessian(1.0, 1.0)
    assert lr * max(np.linalg.eigvalsh([[fxx, fxy], [fxy, fyy]])) < 2  # stable at the minimum


def test_the_default_template_renders(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(templates.init_config(function="booth", optimizers=["adam"]))
    overrides = ["render.width=160", "render.height=120", "render.frames=5", "steps=20"]
    report = api.run_file(path, out_dir=tmp_path, overrides=overrides)
    assert report.outputs[0].stat().st_size > 0


SAMPLING_NAMES = sorted(DISTRIBUTIONS.names() + list(DISTRIBUTIONS.aliases()))
VECTOR_PARAMETER = pytest.mark.xfail(
    strict=True, reason="registry types poisson_binom's vector p as a float"
)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=VECTOR_PARAMETER) if n == "poisson_binom" else n
             for n in SAMPLING_NAMES]
)
def test_every_distribution_template_loads(tmp_path, name):
    path = tmp_path / "s.yaml"
    path.write_text(templates.init_config(sampling=name))
    assert api.load(path).sampling is not None


@pytest.mark.parametrize(
    "name", ["normal", "binomial", "poisson", "multivariate_normal", "dirichlet", "banana", "expr"]
)
def test_sampling_templates_run(tmp_path, name):
    experiment, result = run(tmp_path, templates.init_config(sampling=name), name)
    assert all(np.isfinite(v) for v in result.summary().values())


def test_targets_get_metropolis_and_samplable_ones_direct():
    assert "method: metropolis" in templates.init_config(sampling="banana")
    assert "method: direct" in templates.init_config(sampling="normal")


@pytest.mark.parametrize(
    ("kwargs", "suggestion"),
    [
        ({"function": "rosenbrok"}, "rosenbrock"),
        ({"optimizers": ["sgd", "rmsprp"]}, "rmsprop"),
        ({"sampling": "normall"}, "normal"),
    ],
)
def test_unknown_names_suggest_the_nearest(kwargs, suggestion):
    with pytest.raises(UnknownNameError) as caught:
        templates.init_config(**kwargs)
    assert caught.value.suggestion == suggestion


def test_sampling_does_not_mix_with_optimizers():
    with pytest.raises(ConfigError, match="--sampling"):
        templates.init_config(sampling="normal", function="beale")
