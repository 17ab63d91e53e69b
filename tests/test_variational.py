"""Variational inference: KL both ways against closed forms and quadrature, unbiased gradient
estimators, torch parity, readouts, --data, re-renders and config errors (CLI and API)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api
from optiviz.cli import cli
from optiviz.variational.objective import FAMILIES_1D, ReverseKL, make_divergence
from optiviz.variational.targets import make_target, parse_target

MIXTURE = {"name": "mixture", "components": [{"mean": -2, "std": 0.6, "weight": 0.3},
                                             {"mean": 2, "std": 1.0, "weight": 0.7}]}
FAMILY = FAMILIES_1D["gaussian"]


def target(value):
    return make_target(parse_target(value, ("variational", "target")))


def config(tmp_path, body: str, name: str = "vi.yaml"):
    path = tmp_path / name
    path.write_text(body)
    return path


BASE = """\
title: test
variational:
  target: {name: normal, loc: -1, scale: 2}
  divergence: [reverse, forward]
  gradient: exact
  start: {mean: 1.0, log_std: -1.0}
steps: 60
optimizers:
  - {name: adam, lr: 0.1}
render: {width: 320, height: 240, frames: 4, fps: 5, hold: 0}
"""


def test_gaussian_kl_both_ways_matches_the_closed_form():
    p = target({"name": "normal", "loc": -1, "scale": 2})
    params = np.array([[0.5, -0.3], [-1.0, math.log(2)], [2.0, 1.0]])
    mu, sigma = params[:, 0], np.exp(params[:, 1])

    def kl(m1, s1, m2, s2):
        return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5

    reverse = make_divergence("reverse", p, FAMILY)
    forward = make_divergence("forward", p, FAMILY)
    np.testing.assert_allclose(reverse.value(params), kl(mu, sigma, -1, 2), atol=1e-10)
    np.testing.assert_allclose(forward.value(params), kl(-1, 2, mu, sigma), atol=1e-10)
    assert abs(reverse.value(params)[1]) < 1e-10 and abs(forward.value(params)[1]) < 1e-10
    np.testing.assert_allclose(reverse.grad(params[1:2]), 0, atol=1e-9)


def test_runs_end_at_p_and_moment_matching_through_the_api(tmp_path):
    experiment = api.load(config(tmp_path, BASE.replace("steps: 60", "steps: 600")),
                          render=False)
    result = api.compute(experiment)
    np.testing.assert_allclose(result.positions[:, -1], [[-1, math.log(2)]] * 2, atol=2e-3)
    mixture = BASE.replace("{name: normal, loc: -1, scale: 2}", str(MIXTURE).replace("'", ""))
    result = api.compute(api.load(config(tmp_path, mixture.replace("steps: 60", "steps: 800")
                                         .replace("[reverse, forward]", "forward")),
                                  render=False))
    np.testing.assert_allclose(result.positions[0, -1], [0.8, 0.71372], atol=2e-3)


def test_reverse_kl_on_two_modes_takes_the_nearest_mode():
    p = target(MIXTURE)
    reverse = ReverseKL(p, FAMILY)
    from scipy.integrate import quad

    def by_quad(mu, s):
        sigma = math.exp(s)
        def integrand(z):
            density = math.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
            return -density * float(p.logp(np.array([z])))

        cross = quad(integrand, -30, 30, points=[mu, -2, 2], limit=200)[0]
        return cross - (0.5 * math.log(2 * math.pi * math.e) + s)

    for start, (mu, s, value) in (((-1.5, -0.5), (-1.9145, -0.3646, 1.1667)),
                                  ((1.0, 0.0), (1.8911, 0.1272, 0.3334))):
        params = np.array([start], dtype=float)
        for _ in range(3000):  # plain gradient descent on the exact gradient
            params = params - 0.05 * reverse.grad(params)
        np.testing.assert_allclose(params[0], [mu, s], atol=2e-3)
        assert reverse.value(params)[0] == pytest.approx(value, abs=1e-3)
        assert reverse.value(params)[0] == pytest.approx(by_quad(*params[0]), abs=1e-6)


def test_estimators_are_unbiased_and_score_varies_more():
    p = target({"name": "normal", "loc": -1, "scale": 2})
    reverse = ReverseKL(p, FAMILY)
    params = np.repeat(np.array([[1.0, -1.0]]), 20000, axis=0)
    exact = reverse.grad(params[:1])[0]
    rng = np.random.default_rng(0)
    variances = {}
    for estimator in ("reparam", "score"):
        estimates = reverse.estimate(params, reverse.draw(rng, 20000, 16), estimator)
        error = estimates.std(axis=0) / math.sqrt(len(estimates))
        assert np.all(np.abs(estimates.mean(axis=0) - exact) < 4 * error)
        variances[estimator] = estimates.var(axis=0).sum()
    assert variances["score"] > variances["reparam"]
    forward = make_divergence("forward", p, FAMILY)
    estimates = forward.estimate(params, forward.draw(rng, 20000, 16), "reparam")
    error = estimates.std(axis=0) / math.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - forward.grad(params[:1])[0]) < 4 * error)


@pytest.mark.parametrize("name", ["reverse", "forward"])
def test_exact_gradients_match_finite_differences(name):
    divergence = make_divergence(name, target(MIXTURE), FAMILY)
    params = np.array([[0.3, 0.2], [-1.5, -0.4]])
    step = 1e-6
    differences = np.stack([(divergence.value(params + step * e)
                             - divergence.value(params - step * e)) / (2 * step)
                            for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(divergence.grad(params), differences, atol=1e-7)


def test_exact_trajectory_equals_a_torch_loop(tmp_path):
    torch = pytest.importorskip("torch")
    body = BASE.replace("[reverse, forward]", "reverse").replace(
        "{name: normal, loc: -1, scale: 2}", str(MIXTURE).replace("'", ""))
    result = api.compute(api.load(config(tmp_path, body), render=False))
    eps, weights = (torch.tensor(a) for a in
                    np.polynomial.hermite.hermgauss(200))
    eps, weights = math.sqrt(2) * eps, weights / math.sqrt(math.pi)
    theta = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([theta], lr=0.1)
    means, stds, w = (torch.tensor(v, dtype=torch.float64) for v in
                      ([-2.0, 2.0], [0.6, 1.0], [0.3, 0.7]))
    path = [theta.detach().clone()]
    for _ in range(60):
        optimizer.zero_grad()
        z = theta[0] + torch.exp(theta[1]) * eps
        parts = (torch.log(w) - torch.log(stds) - 0.5 * math.log(2 * math.pi)
                 - 0.5 * ((z[:, None] - means) / stds) ** 2)
        cross = -(torch.logsumexp(parts, dim=1) * weights).sum()
        loss = cross - (0.5 * math.log(2 * math.pi * math.e) + theta[1])
        loss.backward()
        optimizer.step()
        path.append(theta.detach().clone())
    np.testing.assert_allclose(result.positions[0], torch.stack(path).numpy(), rtol=1e-8,
                               atol=1e-12)


def test_readouts_match_scipy():
    import scipy.stats

    p = target(MIXTURE)
    z = np.linspace(-12, 12, 200001)
    density = np.exp(p.logp(z[:, None]))
    probabilities = density / density.sum()
    assert p.entropy == pytest.approx(scipy.stats.entropy(probabilities)
                                      + math.log(z[1] - z[0]), abs=1e-6)
    reverse = ReverseKL(p, FAMILY)
    params = np.array([[0.5, 0.1]])
    kl, cross, entropy = (v[0] for v in reverse.parts(params))
    q = scipy.stats.norm(0.5, math.exp(0.1)).pdf(z)
    q_probabilities = q / q.sum()
    assert entropy == pytest.approx(scipy.stats.norm(0.5, math.exp(0.1)).entropy(), abs=1e-12)
    assert kl == pytest.approx(scipy.stats.entropy(q_probabilities, probabilities), abs=1e-6)
    assert cross == pytest.approx(kl + entropy, abs=1e-12)


def test_cli_data_and_byte_identical_renders(tmp_path):
    path = config(tmp_path, BASE.replace("gradient: exact", "gradient: reparam"))
    runner = CliRunner()
    outputs = []
    for i in range(2):
        out = tmp_path / f"vi{i}.gif"
        result = runner.invoke(cli, ["run", str(path), "-o", str(out), "-q",
                                     "--data", str(tmp_path / "vi.npz")])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    data = np.load(tmp_path / "vi.npz")
    assert data["positions"].shape == (2, 61, 2)
    assert list(data["param_names"]) == ["mu", "log_sigma"]
    for key in ("objective", "entropy", "cross_entropy", "band_low", "band_high"):
        assert data[key].shape == (2, 61)
    np.testing.assert_allclose(data["objective"], data["cross_entropy"] - data["entropy"],
                               atol=1e-9)
    assert np.all(data["band_high"] >= data["objective"])


def test_2d_banana_and_gradients_panel_render(tmp_path):
    body = BASE.replace("{name: normal, loc: -1, scale: 2}", "{name: banana, a: 1, b: 0.8}")
    body = body.replace("[reverse, forward]", "reverse").replace(
        "{mean: 1.0, log_std: -1.0}", "{mean: [1, 2], log_std: [-0.5, -0.5]}")
    report = api.run_file(config(tmp_path, body), output=tmp_path / "b.png")
    assert report.outputs[0].exists()
    assert set(report.final["Adam lr=0.1"]["params"]) == {"mu1", "mu2", "log_l11", "l21",
                                                         "log_l22"}
    body = BASE.replace("[reverse, forward]", "reverse").replace(
        "gradient: exact", "gradient: score").replace(
        "render: {width: 320, height: 240,",
        "render: {panels: [landscape, loss, gradients], width: 640, height: 360,")
    report = api.run_file(config(tmp_path, body), output=tmp_path / "g.png")
    assert report.outputs[0].exists()


@pytest.mark.parametrize("change, where, message", [
    (("divergence: [reverse, forward]", "divergnce: reverse"), "variational.divergnce",
     "did you mean 'divergence'"),
    (("gradient: exact", "gradient: exact\n  family: diagonal"), "variational.family",
     "2-D family"),
    (("{name: normal, loc: -1, scale: 2}", "{name: gamma, a: 2}"), "variational.divergence[0]",
     "reverse KL(q‖p) is infinite"),
    (("{name: normal, loc: -1, scale: 2}", "{name: cauchy}"), "variational.divergence[1]",
     "no finite mean"),
    (("{name: normal, loc: -1, scale: 2}", "{name: donut}"), "variational.family",
     ""),
    (("{name: adam, lr: 0.1}", "{name: adam, lr: auto}"), "optimizers[0].lr",
     "optimizer experiments only"),
    (("steps: 60", "steps: 60\ntolerance: {distance: 0.01}"), "tolerance",
     "not used by a variational experiment"),
])
def test_bad_configs_are_one_line_exit_2_nothing_written(tmp_path, change, where, message):
    body = BASE.replace(*change)
    if "donut" in change[1]:  # donut: forward KL with MC gradients cannot sample p
        body = body.replace("gradient: exact", "gradient: reparam").replace(
            "{mean: 1.0, log_std: -1.0}", "{mean: [1, 1], log_std: [0, 0]}")
        where, message = "variational.gradient", "cannot be sampled"
    path = config(tmp_path, body)
    out = tmp_path / "never.gif"
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(out)])
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]
    assert f"{path.name}:" in line and where in line and message in line, line
    assert not out.exists()
    validate = CliRunner().invoke(cli, ["validate", str(path)])
    assert validate.exit_code == 2


def test_frame_steps_mirror_the_renderer():
    from optiviz.render.animate import select_frames
    from optiviz.variational import frame_steps

    for steps, frames in ((10, None), (400, None), (400, 7), (5, 1)):
        np.testing.assert_array_equal(frame_steps(steps, frames), select_frames(steps, frames))


@pytest.mark.parametrize("value", [{"name": "t", "df": 3}, {"name": "laplace", "scale": 1.5},
                                   {"name": "gamma", "a": 2}, {"name": "logistic"},
                                   {"name": "cauchy"}])
def test_target_entropies_match_scipy(value):
    import scipy.stats

    built = target(value)
    params = {k: v for k, v in built.spec.items() if k not in ("name", "dim")}
    expected = float(getattr(scipy.stats, built.name)(**params).entropy())
    assert built.entropy == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("family", ["gaussian", "diagonal"])
@pytest.mark.parametrize("name", ["reverse", "forward"])
@pytest.mark.parametrize("value", [{"name": "banana", "a": 1, "b": 0.8},
                                   {"name": "mixture", "components": [
                                       {"mean": [-1.5, 0], "std": 0.6, "weight": 0.4},
                                       {"mean": [1.5, 0.5], "cov": [[0.8, 0.3], [0.3, 0.5]]}]}])
def test_2d_exact_gradients_match_finite_differences(family, name, value):
    from optiviz.variational.objective import FAMILIES_2D

    q = FAMILIES_2D[family]
    divergence = make_divergence(name, target(value), q)
    rng = np.random.default_rng(1)
    params = np.column_stack([rng.normal(0, 0.5, (3, 2)), rng.normal(-0.3, 0.2, (3, q.d - 2))])
    step = 1e-6
    differences = np.stack([(divergence.value(params + step * e)
                             - divergence.value(params - step * e)) / (2 * step)
                            for e in np.eye(q.d)], axis=-1)
    np.testing.assert_allclose(divergence.grad(params), differences, atol=2e-6)


def test_2d_estimators_are_unbiased():
    from optiviz.variational.objective import FAMILIES_2D

    q = FAMILIES_2D["gaussian"]
    reverse = make_divergence("reverse", target({"name": "banana", "a": 1, "b": 0.8}), q)
    params = np.repeat(np.array([[0.5, 1.0, -0.3, 0.2, -0.5]]), 20000, axis=0)
    exact = reverse.grad(params[:1])[0]
    rng = np.random.default_rng(2)
    for estimator in ("reparam", "score"):
        estimates = reverse.estimate(params, reverse.draw(rng, 20000, 8), estimator)
        error = estimates.std(axis=0) / math.sqrt(len(estimates))
        assert np.all(np.abs(estimates.mean(axis=0) - exact) < 4.5 * error), estimator


def test_list_and_init_through_the_cli(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(cli, ["list", "variational"])
    assert listed.exit_code == 0
    for name in ("reverse", "forward", "reparam", "score", "exact", "gaussian", "diagonal"):
        assert f"\n{name} " in listed.output
    for target_name in ("mixture", "gamma", "banana"):
        printed = runner.invoke(cli, ["init", "--variational", target_name])
        assert printed.exit_code == 0, printed.output
        path = config(tmp_path, printed.output, f"{target_name}.yaml")
        assert runner.invoke(cli, ["validate", str(path)]).exit_code == 0
        ran = runner.invoke(cli, ["run", str(path), "--no-render", "-q", "--set", "steps=20"])
        assert ran.exit_code == 0, ran.output


def test_newton_and_schedules_run_on_the_objective(tmp_path):
    body = BASE.replace("[reverse, forward]", "reverse").replace(
        "  - {name: adam, lr: 0.1}",
        "  - {name: newton}\n  - {name: adam, lr: 0.1, schedule: {name: cosine}}")
    result = api.compute(api.load(config(tmp_path, body), render=False))
    np.testing.assert_allclose(result.positions[0, -1], [-1, math.log(2)], atol=1e-8)
    assert result.lr[1, 0] == pytest.approx(0.1) and result.lr[1, -1] < 0.01


def test_2d_exact_trajectory_equals_a_torch_loop(tmp_path):
    torch = pytest.importorskip("torch")
    body = BASE.replace("{name: normal, loc: -1, scale: 2}", "{name: banana, a: 1, b: 0.8}")
    body = body.replace("[reverse, forward]", "reverse").replace(
        "{mean: 1.0, log_std: -1.0}", "{mean: [1, 2], log_std: [-0.5, -0.5]}").replace(
        "steps: 60", "steps: 30").replace("{name: adam, lr: 0.1}",
                                          "{name: sgd, lr: 0.05, momentum: 0.9}")
    result = api.compute(api.load(config(tmp_path, body), render=False))
    x, w = np.polynomial.hermite.hermgauss(48)
    e1, e2 = np.meshgrid(math.sqrt(2) * x, math.sqrt(2) * x, indexing="ij")
    eps = torch.tensor(np.stack([e1.ravel(), e2.ravel()], -1))
    weights = torch.tensor(np.outer(w, w).ravel() / math.pi)
    theta = torch.tensor([1.0, 2.0, -0.5, 0.0, -0.5], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.05, momentum=0.9)
    path = [theta.detach().clone()]
    for _ in range(30):
        optimizer.zero_grad()
        z1 = theta[0] + torch.exp(theta[2]) * eps[:, 0]
        z2 = theta[1] + theta[3] * eps[:, 0] + torch.exp(theta[4]) * eps[:, 1]
        log_p = -0.5 * z1**2 - 0.5 * (z2 - 0.8 * z1**2) ** 2 - math.log(2 * math.pi)
        entropy = math.log(2 * math.pi * math.e) + theta[2] + theta[4]
        loss = -(log_p * weights).sum() - entropy
        loss.backward()
        optimizer.step()
        path.append(theta.detach().clone())
    np.testing.assert_allclose(result.positions[0], torch.stack(path).numpy(), rtol=1e-8,
                               atol=1e-12)


def test_2d_entropy_readout_matches_scipy():
    import scipy.stats

    from optiviz.variational.objective import FAMILIES_2D

    q = FAMILIES_2D["gaussian"]
    params = np.array([[0.3, -0.2, -0.4, 0.5, 0.2]])
    _, scale = q.unpack(params)
    covariance = scale[0] @ scale[0].T
    assert q.entropy(params)[0] == pytest.approx(
        scipy.stats.multivariate_normal([0.3, -0.2], covariance).entropy(), abs=1e-12)
    p = target({"name": "mixture", "components": [
        {"mean": [-1.5, 0], "std": 0.6, "weight": 0.4}, {"mean": [1.5, 0.5], "std": 0.9}]})
    forward = make_divergence("forward", p, q)
    kl, cross, entropy = (v[0] for v in forward.parts(params))
    # H(p) of the mixture and KL(p‖q) by a fine grid, against scipy's discrete entropies
    x, y = np.meshgrid(np.linspace(-7, 7, 701), np.linspace(-6, 6, 601))
    grid = np.stack([x, y], -1)
    p_mass = np.exp(p.logp(grid)).ravel()
    q_mass = scipy.stats.multivariate_normal([0.3, -0.2], covariance).pdf(grid).ravel()
    cell = (x[0, 1] - x[0, 0]) * (y[1, 0] - y[0, 0])
    assert entropy == pytest.approx(scipy.stats.entropy(p_mass) + math.log(cell), abs=1e-3)
    assert kl == pytest.approx(scipy.stats.entropy(p_mass, q_mass), abs=1e-3)
    assert cross == pytest.approx(kl + entropy, abs=1e-12)


def test_html_page_reads_out_each_frames_divergence_and_q(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    import re

    from optiviz.render.html_player import decode_series, unpack

    path = config(tmp_path, BASE.replace("gradient: exact", "gradient: reparam"))
    out = tmp_path / "vi.html"
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(out), "-q",
                                      "--data", str(tmp_path / "vi.npz")])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    data = unpack(re.search(r'id="optiviz-readout">([^<]*)</script>', text).group(1))
    steps = np.array(decode_series(data["series"][data["marks"]]), dtype=int)
    table = data["tables"][0]
    assert table["columns"] == ["q by", "KL", "cross-entropy", "entropy", "lr", "mu",
                                "log_sigma"]
    arrays = np.load(tmp_path / "vi.npz")
    for r, row in enumerate(table["rows"]):
        kl, _, _, _, mu, _ = (np.array(decode_series(data["series"][i])) for i in row[1:])
        np.testing.assert_allclose(kl, arrays["objective"][r, steps], rtol=1e-3)
        np.testing.assert_allclose(mu, arrays["positions"][r, steps, 0], rtol=1e-3, atol=1e-3)


def test_budget_refuses_before_running(tmp_path, monkeypatch):
    from optiviz.errors import ConfigError

    monkeypatch.setenv("OPTIVIZ_TIME_LIMIT", "2s")
    path = config(tmp_path, BASE.replace("steps: 60", "steps: 100000"))
    with pytest.raises(ConfigError, match=r"runs × 100,000 steps .* take about") as error:
        api.load(path)
    assert error.value.path == ("steps",) and error.value.line is not None
    heavy = BASE.replace("gradient: exact", "gradient: reparam\n  samples: 100000").replace(
        "steps: 60", "steps: 2000")
    with pytest.raises(ConfigError) as error:
        api.load(config(tmp_path, heavy))
    assert error.value.path == ("variational", "samples")


def test_two_starts_take_their_nearest_modes_and_render(tmp_path):
    body = BASE.replace("{name: normal, loc: -1, scale: 2}", str(MIXTURE).replace("'", "")) \
        .replace("[reverse, forward]", "reverse").replace(
            "{mean: 1.0, log_std: -1.0}",
            "[{mean: -1.5, log_std: -0.5}, {mean: 1.0, log_std: 0.0}]").replace(
            "steps: 60", "steps: 400")
    report = api.run_file(config(tmp_path, body), output=tmp_path / "two.png")
    assert report.outputs[0].exists()
    result = api.compute(api.load(config(tmp_path, body), render=False))
    np.testing.assert_allclose(result.positions[:, -1, 0], [-1.9145, 1.8911], atol=0.02)
