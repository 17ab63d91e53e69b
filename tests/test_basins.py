"""Basin maps (render.view: basins): the streaming reductions against runs classified by hand
from engine.simulate's trajectories, independence of the block split (chunked == unchunked,
forked workers, Dask), the colouring, the config checks and the budget, through the CLI and the
Python API."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optiviz import api, budget, streaming
from optiviz.cli import cli
from optiviz.config import load
from optiviz.engine import simulate
from optiviz.experiment import Experiment

CONFIG = """\
title: Basins
tolerance: {distance: 0.05}
function: himmelblau
start: {grid: [20, 20]}
steps: 40
optimizers:
  - {name: adam, lr: 0.3}
  - {name: sgd, lr: 0.02}
  - {name: sgd, lr: 0.01, momentum: 0.5}
  - {name: sgd, lr: 0.03}
render: {view: basins, width: 320, height: 180, frames: 5, hold: 0, fps: 5}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "basins.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def experiment(config: Path) -> Experiment:
    return load(config)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def by_hand(experiment: Experiment, frame_steps: np.ndarray) -> dict[str, np.ndarray]:
    """Every run's reductions from its whole trajectory (engine.simulate), one run at a time."""
    runs = simulate(experiment)
    minima = np.array([(p.x, p.y) for p in experiment.function.points
                       if p.kind.endswith("minimum")])
    tolerance = experiment.tolerance.distance
    n = len(experiment.starts)
    entries = len(experiment.optimizers)

    def code(point: np.ndarray) -> int:
        if not np.isfinite(point).all():
            return streaming.DIVERGED
        near = [k for k, m in enumerate(minima) if np.hypot(*(point - m)) <= tolerance]
        return near[0] if near else streaming.NONE

    out = {name: np.empty((entries, n), dtype) for name, dtype in
           (("basin", np.int8), ("reached_step", np.int32), ("diverged_step", np.int32),
            ("final_loss", float))}
    out["frames"] = np.empty((len(frame_steps), entries, n), np.int8)
    final = runs.final_loss()
    for r in range(runs.runs):
        e, s = divmod(r, n)
        path = runs.positions[r]
        codes = [code(p) for p in path]
        out["basin"][e, s] = codes[-1]
        reached = [t for t, c in enumerate(codes) if c >= 0]
        out["reached_step"][e, s] = reached[0] if reached else -1
        out["diverged_step"][e, s] = runs.diverged_step[r]
        out["final_loss"][e, s] = final[r]
        for f, step in enumerate(frame_steps):
            out["frames"][f, e, s] = codes[step]
    return out


def assert_same(maps: streaming.BasinMaps, other: dict | streaming.BasinMaps) -> None:
    get = (lambda name: other[name]) if isinstance(other, dict) else \
        (lambda name: getattr(other, name))
    for name in ("basin", "reached_step", "diverged_step", "frames"):
        np.testing.assert_array_equal(getattr(maps, name), get(name), err_msg=name)
    np.testing.assert_array_equal(maps.final_loss, get("final_loss"))


def test_every_outcome_occurs_and_matches_runs_classified_by_hand(experiment):
    maps = streaming.run_basins(experiment, workers=1, block=57)
    hand = by_hand(experiment, maps.frame_steps)
    assert_same(maps, hand)
    # the grid shows every kind of pixel: each minimum, near none, diverged
    assert set(np.unique(maps.basin)) == {-2, -1, 0, 1, 2, 3}
    assert maps.frame_steps.tolist() == [0, 10, 20, 30, 40]


EVERY_KIND = """\
function: himmelblau
start: {grid: [12, 12]}
steps: 25
tolerance: {distance: 0.05}
optimizers:
  - {name: lbfgs, lr: 1, max_iter: 1, history_size: 10, line_search_fn: strong_wolfe}
  - {name: newton, damping: levenberg}
  - {name: lookahead, inner: {name: adam, lr: 0.1}}
  - {name: lion, lr: 0.1}
  - {name: sgd, lr: [0.001, 0.01]}
  - {name: sgd, lr: 0.01, momentum: 0.9, schedule: cosine}
render: {view: basins, frames: 4}
"""


def test_second_order_wrapped_swept_and_scheduled_entries_match_their_paths(tmp_path):
    path = tmp_path / "kinds.yaml"
    path.write_text(EVERY_KIND)
    experiment = load(path)
    maps = streaming.run_basins(experiment, workers=1, block=13)
    assert_same(maps, by_hand(experiment, maps.frame_steps))
    assert_same(streaming.run_basins(experiment, workers=2, block=50), maps)


def test_blocks_workers_and_stills_do_not_change_the_maps(experiment):
    whole = streaming.run_basins(experiment, workers=1, block=400)  # one block: unchunked
    assert_same(streaming.run_basins(experiment, workers=1, block=7), whole)
    assert_same(streaming.run_basins(experiment, workers=2, block=33), whole)  # forked
    still = streaming.run_basins(experiment, workers=2, block=33, still=True)
    assert still.frame_steps.tolist() == [40]
    np.testing.assert_array_equal(still.frames[0], whole.frames[-1])
    np.testing.assert_array_equal(still.basin, whole.basin)


def test_noisy_entries_do_not_depend_on_the_workers(tmp_path):
    path = tmp_path / "noisy.yaml"
    path.write_text(CONFIG.replace("{name: adam, lr: 0.3}", "{name: adam, lr: 0.3, noise: 1}"))
    experiment = load(path)
    one = streaming.run_basins(experiment, workers=1, block=64)
    assert_same(streaming.run_basins(experiment, workers=2, block=64), one)


def test_the_colours_are_the_classes(experiment):
    from optiviz.render import basins as scene_module
    from optiviz.render.landscape import build_scene

    maps = streaming.run_basins(experiment, workers=1)
    scene = build_scene(experiment, maps)
    assert isinstance(scene, scene_module.BasinScene)
    colours = scene_module.palette(len(maps.minima))
    last = scene.n_frames - 1
    for e in range(maps.entries):
        image = scene.frame_image(e, last).reshape(-1, 4)  # row j, column i -> start j*nx + i
        for s in range(maps.starts):
            basin, reached = int(maps.basin[e, s]), int(maps.reached_step[e, s])
            if basin == streaming.DIVERGED:
                expected = (0, 0, 0, 255)
            elif basin == streaming.NONE:
                expected = tuple(colours[len(maps.minima) * scene_module.LEVELS])
            else:
                level = round((scene_module.LEVELS - 1) * reached / maps.steps)
                expected = tuple(colours[basin * scene_module.LEVELS + level])
            assert tuple(image[s]) == expected, (e, s)
    # deep for a run there at once, pale for one that arrived at the last step
    hue = colours[:scene_module.LEVELS]
    assert hue[0].astype(int).sum() < hue[-1].astype(int).sum()


def test_cli_png_is_the_same_bytes_every_time_and_data_holds_the_maps(config, tmp_path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    data = tmp_path / "maps.npz"
    result = invoke("run", str(config), "-o", str(first), "--data", str(data))
    assert result.exit_code == 0, result.output
    assert "reached a minimum" in result.output and "diverged" in result.output
    assert invoke("run", str(config), "-o", str(second), "-q").exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    with np.load(data) as npz:
        assert npz["basin"].shape == (4, 400)
        assert npz["frames"].shape == (1, 4, 400)  # a PNG keeps the final map only
        assert list(npz["label"]) == ["Adam lr=0.3", "SGD lr=0.02", "SGD momentum=0.5 lr=0.01",
                                      "SGD lr=0.03"]


def test_api_animation_and_manifest_numbers(config, tmp_path):
    from PIL import Image

    report = api.run_file(config, output=tmp_path / "map.gif")
    with Image.open(report.outputs[0]) as gif:
        assert gif.n_frames == 5
    adam = report.final["Adam lr=0.3"]
    assert adam["runs"] == 400
    assert sum(adam["reached"].values()) + adam["none"] + adam["diverged"] == 400


def test_dask_gives_the_same_bytes(config, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = tmp_path / "local.png"
    api.run_file(config, output=local)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        remote = tmp_path / "dask.png"
        api.run_file(config, output=remote, dask=client)
        experiment = load(config)
        assert_same(streaming.run_basins(experiment, client=client, block=50),
                    streaming.run_basins(experiment, workers=1))
    assert remote.read_bytes() == local.read_bytes()


def test_dask_is_refused_for_other_views_and_unreachable_schedulers(tmp_path, config):
    other = tmp_path / "paths.yaml"
    other.write_text(CONFIG.replace("view: basins", "view: contour"))
    result = CliRunner().invoke(cli, ["run", str(other), "--dask", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "--dask splits the starts of a basin map" in result.output
    result = CliRunner().invoke(cli, ["run", str(config), "--dask", "tcp://127.0.0.1:9",
                                      "--dask-timeout", "1", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "cannot reach a Dask scheduler" in result.output
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(("change", "message"), [
    (("tolerance: {distance: 0.05}\nfunction: himmelblau", "function: saddle"),
     "saddle lists none"),
    (("start: {grid: [20, 20]}", "start: {random: 50}"), "needs a grid of starts"),
    (("distance: 0.05", "distance: 3"), "less than half the distance"),
    (("distance: 0.05", "distance: -1"), "must be > 0"),
    (("distance: 0.05", "loss: 0.1"), "reads tolerance.distance only"),
    (("{name: adam, lr: 0.3}", "{name: adam, lr: auto}"), "tune lr: auto on a cloud"),
    (("view: basins,", "view: basins, levels: 10,"), "not used by the basins view"),
    (("view: basins,", "view: basin,"), "did you mean 'basins'"),
])
def test_config_errors_are_one_line_at_the_key(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace(*change))
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert lines[0].startswith(f"error: {path}:")
    assert not (tmp_path / "x.png").exists()


def test_a_function_without_minima_is_refused_by_validate(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.replace("tolerance: {distance: 0.05}\nfunction: himmelblau",
                                   "function: monkey_saddle"))
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2 and "lists none" in result.output


def test_the_budget_counts_a_block_and_the_map_not_starts_times_steps(tmp_path, monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "1GiB")
    path = tmp_path / "million.yaml"
    path.write_text(textwrap.dedent("""\
        function: himmelblau
        start: {grid: [1000, 1000]}
        steps: 500
        optimizers: [{name: adam, lr: 0.05}]
        render: {view: basins}
        """))
    experiment = load(path, render=False)  # fits: the million starts' maps, not their paths
    estimates = budget.basin_estimates(1_000_000, experiment.optimizers, 500, 60)
    assert sum(e.bytes for e in estimates) < 200e6
    contour = tmp_path / "paths.yaml"
    contour.write_text(path.read_text().replace("view: basins", "view: contour"))
    result = CliRunner().invoke(cli, ["validate", str(contour)])
    assert result.exit_code == 2 and "the limit is 1 GiB" in result.output


def test_views_come_from_one_registry():
    from optiviz.config import RENDER_PARAMS
    from optiviz.views import VIEWS

    view = next(p for p in RENDER_PARAMS if p.name == "view")
    assert view.choices == tuple(VIEWS.names()) and "basins" in VIEWS
    for spec in dataclasses.replace(VIEWS.get("basins")), VIEWS.get("contour"):
        assert callable(spec.scene_builder())
    assert "basins" in invoke("list", "views").output


def test_html_page_reads_out_each_frames_shares(experiment):
    from optiviz.render import build_scene
    from optiviz.render.html_player import decode_series, readout

    maps = streaming.run_basins(experiment, workers=1)
    data = readout(experiment, maps, build_scene(experiment, maps))
    (table,) = data["tables"]
    assert table["columns"][-2:] == ["near none", "diverged"]
    for e, row in enumerate(table["rows"]):
        for column, code in ((1, 0), (-2, streaming.NONE), (-1, streaming.DIVERGED)):
            shares = decode_series(data["series"][row[column]])
            expected = 100 * (maps.frames[:, e] == code).mean(axis=1)
            np.testing.assert_allclose(shares, expected, atol=0.051)  # one decimal
