"""What each optimizer feels (issue 11 §3): the engine records gradients, state vectors and steps
only when ``render.overlay`` or the ``state`` panel asks; ``--data`` carries them; the arrows and
the state panel draw exactly those numbers; an overlay frame differs from a plain one only near
the heads; configs asking for what a view cannot draw are refused in one line."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from optiviz import api, engine
from optiviz.cli import cli
from optiviz.config import parse_experiment
from optiviz.errors import ConfigError
from optiviz.recording import OVERLAYS, state_norms
from optiviz.render.animate import frame_pixels
from optiviz.render.landscape import build_scene
from optiviz.render.overlays import ARROW_SHARE, CAP, drawn_length, map_share

VALLEY = """\
function: {name: quadratic, condition: 20, angle: 30}
start: [-3.0, -1.5]
steps: 12
seed: 3
optimizers:
  - {name: sgd, lr: 0.05, momentum: 0.6, label: heavy ball}
  - {name: nag, lr: 0.03, momentum: 0.8, label: Nesterov}
  - {name: adam, lr: 0.2, label: Adam}
  - {name: gd, lr: 0.04, label: GD}
render: {width: 400, height: 240, dpi: 50, fps: 5, hold: 0, levels: 6,
         overlay: [gradient, velocity, step], panels: [landscape, state]}
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="optiviz")


def load_text(text: str):
    import yaml

    return parse_experiment(yaml.safe_load(text))


@pytest.fixture(scope="module")
def valley(tmp_path_factory):
    """The VALLEY config run through the CLI (GIF and --data) and through the API."""
    folder = tmp_path_factory.mktemp("valley")
    config = folder / "valley.yaml"
    config.write_text(VALLEY)
    result = invoke("run", str(config), "-o", str(folder / "valley.gif"), "--data",
                    str(folder / "valley.npz"), "-q")
    assert result.exit_code == 0, result.output
    with np.load(folder / "valley.npz") as npz:
        data = {key: npz[key] for key in npz.files}
    experiment = api.load(config)
    return experiment, engine.simulate(experiment), data, folder


def test_data_carries_the_recorded_arrays_and_equals_the_api(valley):
    experiment, trajectories, data, _ = valley
    runs, steps = trajectories.runs, experiment.steps
    for name in ("gradient", "velocity", "step", "sqrt_v", "effective_step"):
        assert data[name].shape == (runs, steps, 2)
        np.testing.assert_array_equal(data[name], trajectories.recorded[name])
    np.testing.assert_array_equal(data["step"], np.diff(data["positions"], axis=1))


def test_recorded_gradient_is_what_each_optimizer_saw(valley):
    experiment, _, data, _ = valley
    function = experiment.function
    positions = data["positions"]
    for run in (0, 2, 3):  # sgd, adam, gd: the gradient at the current point
        x, y = positions[run, :-1, 0], positions[run, :-1, 1]
        np.testing.assert_allclose(data["gradient"][run], np.stack(function.grad(x, y), -1),
                                   rtol=1e-12, atol=1e-12)
    # NAG evaluates at its look-ahead point θ − μ·v (v after the previous step, 0 at first)
    mu = 0.8
    before = np.concatenate([np.zeros((1, 2)), data["velocity"][1, :-1]])
    ahead = positions[1, :-1] - mu * before
    np.testing.assert_allclose(data["gradient"][1],
                               np.stack(function.grad(ahead[:, 0], ahead[:, 1]), -1),
                               rtol=1e-12, atol=1e-12)
    # gd has no velocity nor state: NaN, never zeros
    for name in ("velocity", "sqrt_v", "effective_step"):
        assert np.isnan(data[name][3]).all()


def torch_buffers(cls, kwargs, start, function, steps, keys):
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = cls([p], **kwargs)
    out = {key: [] for key in keys}
    for _ in range(steps):
        x, y = p.detach().numpy()
        p.grad = torch.tensor(np.array(function.grad(x, y), dtype=np.float64))
        optimizer.step()
        for key in keys:
            out[key].append(optimizer.state[p][key].numpy().copy())
    return {key: np.array(value) for key, value in out.items()}


@pytest.mark.parametrize("entry, cls, kwargs, key", [
    ("{name: sgd, lr: 0.05, momentum: 0.6}", torch.optim.SGD, {"lr": 0.05, "momentum": 0.6},
     "momentum_buffer"),
    ("{name: sgd, lr: 0.05, momentum: 0.6, nesterov: true}", torch.optim.SGD,
     {"lr": 0.05, "momentum": 0.6, "nesterov": True}, "momentum_buffer"),
    ("{name: adam, lr: 0.2}", torch.optim.Adam, {"lr": 0.2}, "exp_avg"),
    ("{name: rmsprop, lr: 0.01, momentum: 0.5}", torch.optim.RMSprop,
     {"lr": 0.01, "momentum": 0.5}, "momentum_buffer"),
])
def test_velocity_equals_torchs_buffer(entry, cls, kwargs, key):
    experiment = load_text(VALLEY.split("optimizers:")[0] + f"optimizers: [{entry}]\n"
                           "render: {overlay: [velocity]}\n")
    trajectories = engine.simulate(experiment)
    assert set(trajectories.recorded) == {"velocity"}
    expected = torch_buffers(cls, kwargs, [-3.0, -1.5], experiment.function, 12, [key])[key]
    np.testing.assert_allclose(trajectories.recorded["velocity"][0], expected, rtol=1e-12,
                               atol=1e-14)


def test_a_torch_class_shows_the_buffer_torch_keeps():
    experiment = load_text(VALLEY.split("optimizers:")[0] + """optimizers:
  - {torch: torch.optim.SGD, lr: 0.05, momentum: 0.6}
  - {torch: torch.optim.Adam, lr: 0.2, batched: true}
  - {name: sgd, lr: 0.05, momentum: 0.6}
  - {name: adam, lr: 0.2}
  - {torch: torch.optim.Adagrad, lr: 0.1}
render: {overlay: [velocity]}
""")
    velocity = engine.simulate(experiment).recorded["velocity"]
    np.testing.assert_allclose(velocity[0], velocity[2], rtol=1e-12, atol=1e-15)  # momentum_buffer
    np.testing.assert_allclose(velocity[1], velocity[3], rtol=1e-12, atol=1e-15)  # exp_avg
    assert np.isnan(velocity[4]).all()  # Adagrad keeps no buffer


def test_adam_state_equals_torch_and_its_effective_step_is_its_step():
    experiment = load_text(VALLEY.split("optimizers:")[0]
                           + "optimizers: [{name: adam, lr: 0.2}]\n"
                           "render: {panels: [landscape, state]}\n")
    trajectories = engine.simulate(experiment)
    assert set(trajectories.recorded) == {"velocity", "sqrt_v", "effective_step"}
    state = torch_buffers(torch.optim.Adam, {"lr": 0.2}, [-3.0, -1.5], experiment.function, 12,
                          ["exp_avg", "exp_avg_sq"])
    bias2 = 1 - 0.999 ** np.arange(1, 13)
    np.testing.assert_allclose(trajectories.recorded["sqrt_v"][0],
                               np.sqrt(state["exp_avg_sq"] / bias2[:, None]), rtol=1e-12)
    step = np.diff(trajectories.positions[0], axis=0)
    np.testing.assert_allclose(trajectories.recorded["effective_step"][0], -step, rtol=1e-9)


def test_nothing_is_recorded_unless_asked_and_recording_changes_no_path(tmp_path):
    noisy = VALLEY.replace("{name: gd, lr: 0.04, label: GD}",
                           "{name: gd, lr: 0.04, label: GD, noise: 0.5}")
    asked = load_text(noisy)
    plain = replace(asked, render=replace(asked.render, overlay=(), panels=None))
    recorded, bare = engine.simulate(asked), engine.simulate(plain)
    assert bare.recorded == {}
    assert not set(bare.arrays()) & {"gradient", "velocity", "step", "sqrt_v"}
    np.testing.assert_array_equal(recorded.positions, bare.positions)
    np.testing.assert_array_equal(recorded.loss, bare.loss)
    # the noisy run's recorded gradient is the noisy one it stepped with: g = −Δθ/lr
    step = np.diff(recorded.positions[3], axis=0)
    np.testing.assert_allclose(recorded.recorded["gradient"][3], -step / 0.04, rtol=1e-9)


def test_arrows_are_the_recorded_vectors(valley):
    experiment, trajectories, data, _ = valley
    scene = build_scene(experiment, trajectories)
    arrows = scene.arrows
    assert arrows.names == OVERLAYS
    for frame in (0, scene.n_frames // 2, scene.n_frames - 1):
        step = int(scene.steps[frame])
        t = min(step, experiment.steps - 1)
        scene.update(frame)
        for name in OVERLAYS:
            vectors = data[name][:, t] * (1 if name == "step" else -1)
            tails, drawn = arrows.arrows(name, step)
            np.testing.assert_array_equal(tails, data["positions"][:, t])
            # the same direction...
            has = np.isfinite(vectors).all(axis=1) & (np.abs(vectors).sum(axis=1) > 0)
            cross = drawn[has, 0] * vectors[has, 1] - drawn[has, 1] * vectors[has, 0]
            np.testing.assert_allclose(cross, 0, atol=1e-12)
            assert (np.sum(drawn[has] * vectors[has], axis=1) > 0).all()
            # ...at the documented length
            share = map_share(vectors[has], scene.domain)
            np.testing.assert_allclose(map_share(drawn[has], scene.domain),
                                       drawn_length(share, arrows.reference[name][has]))
            assert (map_share(drawn[has], scene.domain) <= CAP * ARROW_SHARE + 1e-12).all()
            assert np.isnan(drawn[~has]).all()
            # and that is what the quiver holds
            quiver = arrows.quivers[name]
            np.testing.assert_allclose(np.ma.getdata(quiver.U)[has], drawn[has, 0])
            np.testing.assert_allclose(np.ma.getdata(quiver.V)[has], drawn[has, 1])
            hidden = np.ma.getmaskarray(np.ma.array(np.ma.getdata(quiver.U), mask=quiver.Umask))
            assert hidden[~has].all() and not hidden[has].any()
    # gd keeps no velocity: no reference, no arrow; the key says what the lengths mean
    assert np.isnan(arrows.reference["velocity"][3])
    labels = [handle.get_label() for handle in arrows.key_handles(scene_theme(experiment))]
    assert labels[0].startswith("−∇f, length ∝ √‖∇f‖")
    assert "per optimizer" in labels[1]


def scene_theme(experiment):
    from optiviz.render.theme import get_theme

    return get_theme(experiment.render.theme)


def test_state_panel_draws_the_recorded_norms(valley):
    experiment, trajectories, _, _ = valley
    scene = build_scene(experiment, trajectories)
    (panel,) = scene.side
    norms = state_norms(trajectories.recorded)
    drawn = [np.asarray(line.y) for line in panel.lines]
    expected = [norms[name][run] for run in (0, 1, 2)
                for name in ("velocity", "sqrt_v", "effective_step")
                if np.isfinite(norms[name][run]).any()]
    assert len(drawn) == len(expected) == 5  # sgd: m; nag: v; adam: m, √v̂, step
    for got, want in zip(drawn, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    labels = [h.get_label() for h in panel.key_handles(scene_theme(experiment))]
    assert labels == ["‖m‖: momentum / velocity", "‖√v̂‖: adaptive scale",
                      "‖lr·m̂/(√v̂+ε)‖: effective step"]


def test_an_overlay_frame_differs_from_a_plain_one_only_near_the_heads(valley):
    experiment, trajectories, _, _ = valley
    experiment = replace(experiment, render=replace(experiment.render, panels=("landscape",)))
    plain = replace(experiment, render=replace(experiment.render, overlay=()))
    with_arrows, without = build_scene(experiment, trajectories), build_scene(plain, trajectories)
    # one layout: the key (longer with the arrows' entries) stays on the map in both
    assert np.allclose(with_arrows.ax.get_position().bounds, without.ax.get_position().bounds)
    frame = with_arrows.n_frames // 2
    step = int(with_arrows.steps[frame])
    a = np.array(frame_pixels(with_arrows, frame, None)[0])
    b = np.array(frame_pixels(without, frame, None)[0])
    changed = np.any(a != b, axis=-1)
    assert changed.any()
    height = a.shape[0]
    legends = [scene.overlays[0].get_window_extent() for scene in (with_arrows, without)]
    ax = with_arrows.ax
    box = ax.get_window_extent()
    reach = CAP * ARROW_SHARE * np.hypot(box.width, box.height) + 6  # longest arrow + head
    heads = ax.transData.transform(trajectories.positions[:, min(step, experiment.steps - 1)])
    rows, cols = np.nonzero(changed)
    x, y = cols + 0.5, height - rows - 0.5
    in_legend = np.zeros(x.shape, dtype=bool)
    for legend in legends:  # the keys differ: the overlay's lists the arrows
        in_legend |= ((x >= legend.x0 - 1) & (x <= legend.x1 + 1) & (y >= legend.y0 - 1)
                      & (y <= legend.y1 + 1))
    near = np.min(np.hypot(x[:, None] - heads[:, 0], y[:, None] - heads[:, 1]), axis=1) <= reach
    assert (in_legend | near).all(), f"{np.count_nonzero(~(in_legend | near))} pixels far off"
    assert np.count_nonzero(near & ~in_legend) > 20


@pytest.mark.parametrize("render, message", [
    ("{overlay: [gradient, velocty]}", "render.overlay[1]: unknown overlay 'velocty'"),
    ("{overlay: gradient, view: surface}", "overlays are drawn on the contour view only"),
    ("{panels: [landscape, state]}", "no optimizer here keeps a state vector"),
])
def test_refused_in_one_line(tmp_path, render, message):
    text = VALLEY.split("optimizers:")[0] + "optimizers: [{name: gd, lr: 0.01}]\n"
    config = tmp_path / "bad.yaml"
    config.write_text(text + f"render: {render}\n")
    for command in ("validate", "run"):
        result = invoke(command, str(config), "-o", str(tmp_path / "x.gif")) \
            if command == "run" else invoke(command, str(config))
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert "\n" not in line and message in line, line
        assert "Traceback" not in result.output
    assert "did you mean 'velocity'" in invoke("validate", str(config)).output \
        or "velocty" not in render
    assert not (tmp_path / "x.gif").exists()


def test_overlay_refused_on_clouds_and_in_sampling_configs():
    clouds = VALLEY.replace("start: [-3.0, -1.5]", "start: {random: 12}")
    with pytest.raises(ConfigError, match="particle clouds"):
        from optiviz.config import preflight

        preflight(load_text(clouds))
    with pytest.raises(ConfigError, match="not used by a sampling experiment"):
        load_text("sampling: {distribution: normal}\nrender: {overlay: [step]}\n")


def test_api_run_file_renders_overlays(valley, tmp_path):
    _, _, _, folder = valley
    report = api.run_file(folder / "valley.yaml", output=tmp_path / "v.gif",
                          data=tmp_path / "v.npz")
    assert (tmp_path / "v.gif").stat().st_size > 0
    with np.load(tmp_path / "v.npz") as npz:
        assert {"gradient", "velocity", "step", "sqrt_v", "effective_step"} <= set(npz.files)
    assert report.outputs
    # byte-identical re-render (same config, same seed)
    assert (tmp_path / "v.gif").read_bytes() == (folder / "valley.gif").read_bytes()


def test_blitted_overlay_frames_equal_full_redraws(valley):
    from optiviz.render.animate import full_redraw

    experiment, trajectories, _, _ = valley
    scene = build_scene(experiment, trajectories)
    layers = None
    for frame in range(scene.n_frames):
        pixels, layers = frame_pixels(scene, frame, layers)
        if frame in (1, scene.n_frames - 1):
            assert np.array_equal(np.array(pixels), full_redraw(scene, frame)), frame
