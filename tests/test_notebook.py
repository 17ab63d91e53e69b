"""``optiviz.animate`` for notebooks: inputs, errors, the MIME bundle and its size limit, save,
the numbers; and examples/notebooks/tour.ipynb executed in a kernel of this interpreter."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import optiviz
from optiviz.cli import cli
from optiviz.notebook import Animation, SummaryTable, override_text

ROOT = Path(__file__).resolve().parent.parent

RACE = {
    "title": "Tiny race",
    "function": "rosenbrock",
    "start": [-1.5, 2.0],
    "steps": 8,
    "optimizers": [{"name": "sgd", "lr": 0.001, "label": "SGD"},
                   {"name": "adam", "lr": 0.2, "label": "Adam"}],
    "render": {"width": 192, "height": 128, "dpi": 40, "fps": 10, "hold": 0,
               "panels": ["landscape"]},
}

RACE_YAML = """\
title: Tiny race
function: rosenbrock
start: [-1.5, 2.0]
steps: 8
optimizers:
  - {name: sgd, lr: 0.001, label: SGD}
  - {name: adam, lr: 0.2, label: Adam}
render: {width: 192, height: 128, dpi: 40, fps: 10, hold: 0, panels: [landscape]}
"""

SAMPLING = {
    "sampling": {"distribution": {"name": "normal"}, "samples": 200, "seed": 1},
    "render": {"width": 192, "height": 128, "dpi": 40, "frames": 6, "hold": 0},
}


@pytest.fixture(scope="module")
def race() -> Animation:
    return optiviz.animate(RACE)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """The same race through ``optiviz run``: its MP4, GIF, page and --data."""
    folder = tmp_path_factory.mktemp("cli")
    config = folder / "race.yaml"
    config.write_text(RACE_YAML)
    runner = CliRunner()
    for extension in ("mp4", "gif", "html"):
        extra = ["--data", str(folder / "race.npz")] if extension == "mp4" else []
        result = runner.invoke(cli, ["run", str(config), "-o", str(folder / f"race.{extension}"),
                                     "-q", *extra])
        assert result.exit_code == 0, result.output
    return folder


# inputs ------------------------------------------------------------------------------------------


def test_a_dict_yaml_text_and_a_path_are_the_same_experiment(race, tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text(RACE_YAML)
    from optiviz.notebook import load_config

    from_text = load_config(RACE_YAML)
    from_path = load_config(path)
    from_str_path = load_config(str(path))
    assert race.experiment.optimizers == from_text.optimizers == from_path.optimizers \
        == from_str_path.optimizers
    assert np.array_equal(race.experiment.starts, from_text.starts)
    assert np.array_equal(race.experiment.starts, from_path.starts)


def test_keyword_overrides_are_set_assignments():
    from optiviz.notebook import load_config

    experiment = load_config(RACE, {"steps": 5, "render__fps": 12,
                                    "optimizers[1].lr": np.float64(0.05),
                                    "start": (0.5, 1.5)})
    assert experiment.steps == 5 and experiment.render.fps == 12
    assert experiment.optimizers[1].hyper["lr"] == 0.05
    assert np.array_equal(experiment.starts, [[0.5, 1.5]])
    assert override_text("render__title", "a: b") == "render.title='a: b'"
    assert RACE["steps"] == 8  # the caller's dict is not changed


@pytest.mark.parametrize("config, message", [
    ({**RACE, "optimizers": [{"name": "adma", "lr": 0.1}]},
     "<dict>: optimizers[0].name: unknown optimizer 'adma'; did you mean 'adam'?"),
    (RACE_YAML.replace("name: sgd", "name: sgdd"),
     "<string>:6: optimizers[0].name: unknown optimizer 'sgdd'; did you mean 'sgd'?"),
    (RACE_YAML.replace("steps: 8", "stepz: 8"),
     "<string>:4: stepz: unknown key; did you mean 'steps'?"),
    ("configs/no-such.yaml", "configs/no-such.yaml: no such file"),
    ("function: [", "<string>:1:"),
    (42, "a config is a path, YAML text or a dict, not a int"),
])
def test_bad_configs_raise_the_one_line_config_error(config, message):
    with pytest.raises(optiviz.ConfigError) as error:
        optiviz.animate(config)
    assert str(error.value).splitlines()[0].startswith(message), str(error.value)


def test_a_bad_override_is_a_config_error_naming_the_key():
    with pytest.raises(optiviz.ConfigError, match=r"render\.fps"):
        optiviz.animate(RACE, render__fps=0)


def test_a_path_with_line_numbers(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(RACE_YAML.replace("lr: 0.2", "lr: -1"))
    with pytest.raises(optiviz.ConfigError) as error:
        optiviz.animate(path)
    assert str(error.value).startswith(f"{path}:7: optimizers[1].lr:")


# display -----------------------------------------------------------------------------------------


def test_mime_bundle_is_the_mp4_video_with_the_gif_fallback(race):
    bundle = race._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/gif", "text/plain"}
    match = re.fullmatch(r'<video controls autoplay muted playsinline loop width="192" '
                         r'style="[^"]*" src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"></video>',
                         bundle["text/html"])
    assert match, bundle["text/html"][:200]
    assert base64.b64decode(match[1]) == race.mp4
    assert base64.b64decode(bundle["image/gif"]) == race.gif
    assert race.gif.startswith(b"GIF89a") and race.mp4[4:8] == b"ftyp"
    assert bundle["text/plain"] == repr(race)
    assert "2 optimizers, 8 steps" in repr(race)


def test_include_and_exclude_pick_mime_types(race):
    assert set(race._repr_mimebundle_(include={"image/gif"})) == {"image/gif"}
    assert "image/gif" not in race._repr_mimebundle_(exclude={"image/gif"})


def test_over_the_size_limit_a_message_replaces_the_video(race):
    small = Animation(race.experiment, race.result, race.mp4, race.gif)
    small.inline_limit = 1000
    bundle = small._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert "<video" not in bundle["text/html"]
    assert "over the inline limit of 1 kB (Animation.inline_limit)" in bundle["text/html"]
    assert ".save(&#x27;name.mp4&#x27;)" in bundle["text/html"]
    assert "GIF" in bundle["text/plain"] and "left out" in bundle["text/plain"]


def test_the_gif_is_left_out_when_only_the_video_fits(race):
    video = len(base64.b64encode(race.mp4))
    tight = Animation(race.experiment, race.result, race.mp4, race.gif)
    tight.inline_limit = video + 10
    bundle = tight._repr_mimebundle_()
    assert "<video" in bundle["text/html"] and "image/gif" not in bundle
    assert "left out" in bundle["text/plain"]


def test_no_ipython_is_imported():
    code = ("import sys, optiviz; optiviz.animate; optiviz.Animation; "
            "assert 'IPython' not in sys.modules; assert 'matplotlib' not in sys.modules")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# the numbers -------------------------------------------------------------------------------------


def test_trajectories_and_summary(race):
    assert race.trajectories.positions.shape == (2, 9, 2)
    with pytest.raises(AttributeError, match="has .trajectories, not .samples"):
        _ = race.samples
    table = race.summary()
    assert isinstance(table, SummaryTable)
    assert [row["optimizer"] for row in table.rows] == ["SGD", "Adam"]
    assert table.rows[1]["median"] == race.trajectories.loss[1, -1]
    html = table._repr_html_()
    assert html.startswith('<table class="optiviz-summary">') and "<td>Adam</td>" in html
    assert str(table).splitlines()[0].startswith("SGD:")
    assert repr(table).splitlines()[0].split() == ["optimizer", "runs", "final", "loss",
                                                   "(median)", "q1", "q3", "diverged", "left",
                                                   "view"]


def test_sampling_has_samples_and_estimates():
    normal = optiviz.animate(SAMPLING)
    assert normal.samples.shape == (200,)
    assert np.array_equal(normal.samples, normal.result.samples)
    with pytest.raises(AttributeError, match="has .samples"):
        _ = normal.trajectories
    table = normal.summary()
    assert table.columns == ["quantity", "value"]
    assert {row["quantity"] for row in table.rows} >= {"samples", "mean", "var"}
    assert "<video" in normal._repr_mimebundle_()["text/html"]


# save --------------------------------------------------------------------------------------------


def test_save_writes_what_optiviz_run_writes(race, cli_files, tmp_path):
    for extension in ("mp4", "gif", "html"):
        saved = race.save(tmp_path / f"race.{extension}")
        assert saved == tmp_path / f"race.{extension}"
        assert saved.read_bytes() == (cli_files / f"race.{extension}").read_bytes(), extension
    race.save(tmp_path / "race.npz")
    ours, theirs = np.load(tmp_path / "race.npz"), np.load(cli_files / "race.npz")
    assert sorted(ours.files) == sorted(theirs.files)
    for name in ours.files:
        assert np.array_equal(ours[name], theirs[name], equal_nan=ours[name].dtype.kind == "f")
    race.save(tmp_path / "race.png")
    assert (tmp_path / "race.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(os.listdir(tmp_path)) == ["race.gif", "race.html", "race.mp4", "race.npz",
                                            "race.png"]


def test_save_refuses_an_unknown_format(race, tmp_path):
    with pytest.raises(optiviz.ConfigError, match=r"unknown format \.mov \(valid: .*\.html.*\.npz"):
        race.save(tmp_path / "race.mov")
    assert os.listdir(tmp_path) == []


# the tour ----------------------------------------------------------------------------------------


def test_tour_notebook_runs_and_shows_animations(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' installs it")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' installs it")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # a kernel of this very interpreter, whatever kernels are installed elsewhere
    spec = tmp_path / "kernels" / "optiviz-test"
    spec.mkdir(parents=True)
    python_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "optiviz test", "language": "python",
        "env": {"PYTHONPATH": python_path, "MPLBACKEND": "agg"},
    }))
    manager = KernelManager(kernel_name="optiviz-test",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path /
                                                                                  "kernels")]))
    notebook = nbformat.read(ROOT / "examples" / "notebooks" / "tour.ipynb", as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(notebook, km=manager, timeout=120,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o["data"] for o in outputs if o.output_type == "execute_result"]
    animations = [data for data in shown if "image/gif" in data]
    assert len(animations) == 2
    for data in animations:
        assert data["text/html"].startswith("<video controls")
        assert base64.b64decode(data["image/gif"]).startswith(b"GIF89a")
    tables = [data for data in shown if '<table class="optiviz-summary">' in
              data.get("text/html", "")]
    assert len(tables) == 2
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "unknown optimizer 'adma'; did you mean 'adam'?" in printed
    assert sorted(os.listdir(work)) == ["race.html", "race.npz"]
