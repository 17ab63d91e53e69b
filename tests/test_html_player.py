"""The HTML player (``-o race.html``): one page, the very MP4 inside, a readout that matches
``--data`` frame by frame, checked in headless Chromium (skipped only off CI without it)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from headless_chromium import Chromium, chromium_path
from PIL import Image

from optiviz import api
from optiviz.cli import cli
from optiviz.errors import ConfigError, OptivizError
from optiviz.render.html_player import (
    HtmlWriter,
    base85,
    decode_series,
    from_base85,
    pack,
    page_template,
    sig_code,
    sig_value,
    unpack,
)

ROOT = Path(__file__).resolve().parent.parent

RACE = """\
title: Tiny race
function: rosenbrock
start: [-1.5, 2.0]
steps: 12
optimizers:
  - {name: sgd, lr: 0.001, label: SGD}
  - {name: sgd, lr: 0.001, momentum: 0.9, label: Momentum}
  - {name: adam, lr: 0.25, label: Adam}
render: {width: 320, height: 240, dpi: 50, fps: 10, hold: 0.5, panels: [landscape]}
"""

CHAINS = """\
sampling:
  distribution: {name: normal, loc: 0, scale: 1}
  method: metropolis
  samples: 40
  burn_in: 5
  chains: 2
  proposal: {name: normal, scale: 1.5}
  seed: 3
render: {width: 320, height: 240, dpi: 50, fps: 10, hold: 0, frames: 10}
"""

needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="chromium is not installed (apt-get install chromium; in CI .ci/run installs it "
           "and this test runs)",
)


def page_parts(page: bytes) -> dict[str, str]:
    text = page.decode("utf-8")
    parts = {}
    for name in ("config", "readout", "video"):
        match = re.search(rf'id="optiviz-{name}">([^<]*)</script>', text)
        assert match, name
        parts[name] = match.group(1)
    return parts


def embedded_video(page: bytes) -> bytes:
    import json

    parts = page_parts(page)
    config = json.loads(parts["config"])
    return from_base85(parts["video"], config["bytes"])


@pytest.fixture(scope="module")
def race(tmp_path_factory):
    """The tiny race through the CLI: the page, the MP4 of the same config, the --data."""
    folder = tmp_path_factory.mktemp("race")
    config = folder / "race.yaml"
    config.write_text(RACE)
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(config), "-o", str(folder / "race.html"),
                                 "--data", str(folder / "race.npz"), "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["run", str(config), "-o", str(folder / "race.mp4"), "-q"])
    assert result.exit_code == 0, result.output
    return folder


# the file ----------------------------------------------------------------------------------------


def test_page_is_one_file_holding_the_very_mp4(race):
    assert sorted(os.listdir(race)) == ["race.html", "race.mp4", "race.npz", "race.yaml"]
    page = (race / "race.html").read_bytes()
    assert embedded_video(page) == (race / "race.mp4").read_bytes()


def test_page_fetches_nothing(race):
    text = (race / "race.html").read_text()
    without_video = text.replace(page_parts(race.joinpath("race.html").read_bytes())["video"], "")
    assert not re.search(r"(src|href)=\"(https?:)?//", without_video)
    assert "http://" not in without_video and "https://" not in without_video
    assert "@" + "TITLE@" not in text and "@VIDEO@" not in text


def test_same_config_same_bytes_through_the_api(race, tmp_path):
    report = api.run_file(race / "race.yaml", output=tmp_path / "again.html")
    assert report.outputs == [tmp_path / "again.html"]
    assert (tmp_path / "again.html").read_bytes() == (race / "race.html").read_bytes()


def test_page_weighs_little_more_than_the_video(race):
    page = (race / "race.html").read_bytes()
    video = (race / "race.mp4").read_bytes()
    parts = page_parts(page)
    rest = len(page) - len(parts["video"])
    assert len(parts["video"]) == math.ceil(len(video) / 4) * 5  # base85: 5/4 of the bytes
    assert rest <= len(page_template()) + len(parts["readout"]) + 400


def test_gallery_page_is_at_most_1_4_times_its_mp4():
    page = ROOT / "examples/gallery/rosenbrock_adaptive.html"
    video = ROOT / "examples/gallery/rosenbrock_adaptive.mp4"
    assert page.stat().st_size <= 1.4 * video.stat().st_size
    assert embedded_video(page.read_bytes()) == video.read_bytes()


# the readout -------------------------------------------------------------------------------------


def test_readout_holds_each_frames_numbers_from_data(race):
    data = unpack(page_parts((race / "race.html").read_bytes())["readout"])
    arrays = np.load(race / "race.npz")
    steps = np.array(decode_series(data["series"][data["marks"]]), dtype=int)
    assert steps.tolist() == list(range(13)) and data["mark"] == "step" and data["total"] == 12
    (table,) = data["tables"]
    assert table["columns"] == ["optimizer", "loss", "lr", "x", "y"]
    assert [row[0] for row in table["rows"]] == ["SGD", "Momentum", "Adam"]
    for r, row in enumerate(table["rows"]):
        loss, lr, x, y = (np.array(decode_series(data["series"][i])) for i in row[1:])
        expected = arrays["loss"][r, steps]
        assert np.allclose(loss, [float(f"{v:.4g}") for v in expected], rtol=1e-12)
        assert np.allclose(lr, arrays["lr"][r, np.maximum(steps - 1, 0)], rtol=1e-3)
        assert np.allclose(x, arrays["positions"][r, steps, 0], atol=5e-4 + 1e-12)
        assert np.allclose(y, arrays["positions"][r, steps, 1], atol=5e-4 + 1e-12)


def test_frames_map_to_the_steps_the_renderer_draws(tmp_path):
    from optiviz.render import build_scene

    experiment = api.load(write(tmp_path, RACE), ["render.frames=5"])
    trajectories = api.compute(experiment)
    from optiviz.render.html_player import readout

    scene = build_scene(experiment, trajectories)
    data = readout(experiment, trajectories, scene)
    assert decode_series(data["series"][data["marks"]]) == [0, 3, 6, 9, 12]
    assert list(scene.steps) == [0, 3, 6, 9, 12]


def test_diverged_runs_read_diverged(tmp_path):
    from optiviz.render import build_scene
    from optiviz.render.html_player import readout

    experiment = api.load(write(tmp_path, RACE), ["optimizers[0].lr=0.1"])
    trajectories = api.compute(experiment)
    data = readout(experiment, trajectories, build_scene(experiment, trajectories))
    assert trajectories.diverged[0]
    loss = data["series"][data["tables"][0]["rows"][0][1]]
    assert loss["m"] == "diverged" and loss["v"][-1] is None


def test_many_starts_read_per_optimizer_entry(tmp_path):
    from optiviz.render import build_scene
    from optiviz.render.html_player import readout

    config = RACE.replace("start: [-1.5, 2.0]", "start: {random: 12, seed: 1}")
    experiment = api.load(write(tmp_path, config))
    trajectories = api.compute(experiment)
    data = readout(experiment, trajectories, build_scene(experiment, trajectories))
    (table,) = data["tables"]
    assert table["columns"] == ["optimizer", "median loss (12 starts)", "lr", "diverged"]
    median = decode_series(data["series"][table["rows"][0][1]])
    expected = np.median(trajectories.loss[:12], axis=0)
    assert np.allclose(median, [float(f"{v:.4g}") for v in expected])


SAMPLERS = {
    "direct": "sampling: {distribution: {name: normal, loc: 1, scale: 2}, samples: 300, "
              "estimate: 'x**2'}",
    "stratified": "sampling: {distribution: {name: exponential}, method: stratified, "
                  "samples: 300, "
                  "strata: 5, estimate: x}",
    "importance": "sampling: {distribution: {name: normal}, method: importance, samples: 300, "
                  "proposal: {name: normal, loc: 1, scale: 2}, estimate: 'x**2'}",
    "metropolis": CHAINS,
}


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_sampling_readouts_read_the_result_at_each_frame(tmp_path, method):
    from optiviz.render import build_scene
    from optiviz.render.html_player import frame_marks, readout

    text = SAMPLERS[method] + ("" if "render" in SAMPLERS[method]
                               else "\nrender: {width: 320, height: 240, dpi: 50, frames: 6}\n")
    experiment = api.load(write(tmp_path, text))
    result = api.compute(experiment)
    scene = build_scene(experiment, result)
    data = readout(experiment, result, scene)
    mark, marks = frame_marks(scene, result)
    assert decode_series(data["series"][data["marks"]]) == marks.tolist()
    assert len(marks) == scene.n_frames
    cells = {row[0]: decode_series(data["series"][row[1]])
             for table in data["tables"] for row in table["rows"] if len(row) == 2}
    if method == "metropolis":
        assert mark == "step"
        assert cells["draws kept"] == (np.maximum(marks - result.burn_in, 0) * 2).tolist()
        rate = [result.accepted[0, :, :s].mean() * 100 if s else 0 for s in marks]
        assert np.allclose(cells["accepted"], rate, atol=0.051)
        chains = data["tables"][0]
        assert [row[0] for row in chains["rows"]] == ["chain 1", "chain 2"]
        x = decode_series(data["series"][chains["rows"][1][1]])
        assert np.allclose(x, result.positions[0, 1, marks, 0], atol=5e-4)
        return
    assert mark == "samples" and cells["samples"] == marks.tolist()
    k = np.asarray(scene.indices)
    if method == "direct":
        assert np.allclose(cells["mean"], [float(f"{v:.4g}") for v in result.mean[k]])
        assert np.allclose(cells["E[x**2]"], [float(f"{v:.4g}") for v in result.estimate[k]])
        assert "KL(empirical \u2016 true)" in cells
    elif method == "stratified":
        assert np.allclose(cells["stratified E[x]"],
                           [float(f"{v:.4g}") for v in result.stratified_estimate[k]])
        assert np.allclose(cells["plain \u00b12 SE"],
                           [float(f"{v:.4g}") for v in 2 * result.plain_se[k]])
    else:
        assert np.allclose(cells["effective sample size"],
                           [float(f"{v:.4g}") for v in result.ess[k]])


# codes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 1.0, -1.0, 5.4296, 9.99951, 1e-300, -3.3e-7, 123456.7,
                                   2.5e300, 0.001])
def test_significant_digit_codes_round_trip_as_format_g(value):
    assert f"{sig_value(sig_code(value)):.4g}" == f"{value:.4g}"


def test_codes_survive_packing_with_missing_values():
    from optiviz.render.html_player import Tables

    tables = Tables("step", np.arange(4), 3)
    first = tables.add([1.5, np.nan, -2.25, 1e9], "fixed", decimals=2)
    second = tables.add([3, 3, 3, 2**60], "int")
    data = unpack(pack(tables.data()))
    assert decode_series(data["series"][first])[0] == 1.5
    assert math.isnan(decode_series(data["series"][first])[1])
    assert decode_series(data["series"][first])[2:] == [-2.25, 1e9]
    # beyond 2**50 (JavaScript's exact integers end at 2**53) whole numbers go by 4 digits
    assert data["series"][second]["k"] == "sig"
    assert decode_series(data["series"][second]) == [3, 3, 3, float(f"{2**60:.4g}")]


def test_base85_round_trips_every_length():
    rng = np.random.default_rng(0)
    for length in range(9):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        assert from_base85(base85(data), length) == data
    assert not set(base85(bytes(range(256)))) & set("<>&\"'\\")


# errors ------------------------------------------------------------------------------------------


def test_unknown_extension_names_html_among_the_formats(tmp_path):
    result = CliRunner().invoke(cli, ["run", write(tmp_path, RACE), "-o",
                                      str(tmp_path / "x.htm")])
    assert result.exit_code == 2
    assert ".html" in result.output and "did you mean '.html'" in result.output


def test_writer_without_the_run_refuses_to_write_a_page(tmp_path):
    writer = HtmlWriter(tmp_path / "x.html", 64, 64, fps=10)
    writer.append(np.zeros((64, 64, 4), np.uint8))
    with pytest.raises(OptivizError, match="needs the run"):
        writer.finish()
    assert os.listdir(tmp_path) == []


def test_a_killed_runs_hidden_video_is_removed_by_the_next_page(tmp_path):
    from optiviz.atomic import temporary_path

    leftover = temporary_path(tmp_path / "race.mp4", pid=2**22 + 1)  # no such process
    leftover.write_bytes(b"half a video")
    writer = HtmlWriter(temporary_path(tmp_path / "race.html"), 64, 64, fps=10)
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_an_interrupted_page_leaves_no_file_behind(tmp_path, monkeypatch):
    from optiviz.render import writers

    appended = []

    def interrupt(self, frame, repeat=1):
        appended.append(1)
        if len(appended) == 5:
            raise KeyboardInterrupt
        original(self, frame, repeat)

    original = writers.Mp4Writer.append
    monkeypatch.setattr(writers.Mp4Writer, "append", interrupt)
    (tmp_path / "race.html").write_bytes(b"the previous page")
    with pytest.raises(KeyboardInterrupt):
        api.run_file(write(tmp_path, RACE), output=tmp_path / "race.html")
    assert sorted(os.listdir(tmp_path)) == ["config.yaml", "race.html"]
    assert (tmp_path / "race.html").read_bytes() == b"the previous page"


def test_render_output_html_in_the_config_is_honoured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, RACE.replace("render: {", "render: {output: page.html, "))
    result = CliRunner().invoke(cli, ["run", config, "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (Path(config).parent / "page.html").read_bytes().startswith(b"<!doctype html>")


def test_a_bad_render_value_still_fails_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="render.fps"):
        api.run_file(write(tmp_path, RACE), output=tmp_path / "x.html",
                     overrides=["render.fps=0"])
    assert sorted(os.listdir(tmp_path)) == ["config.yaml"]


def write(folder: Path, text: str) -> str:
    path = folder / "config.yaml"
    path.write_text(text)
    return str(path)


# in a browser ------------------------------------------------------------------------------------


def rendered_frames(config: Path, frames: list[int]) -> dict[int, np.ndarray]:
    """The frames the renderer draws (a full redraw: what blitting must equal)."""
    import matplotlib

    from optiviz.render import build_scene
    from optiviz.render.animate import full_redraw

    experiment = api.load(config)
    with matplotlib.rc_context({"path.simplify": False}):
        scene = build_scene(experiment, api.compute(experiment))
        return {i: full_redraw(scene, i)[..., :3].astype(float) for i in frames}


def video_pixels(browser: Chromium, shot: Path, size: tuple[int, int]) -> np.ndarray:
    box = browser.evaluate("(function (r) { return [r.left, r.top, r.right, r.bottom]; })"
                           "(document.getElementById('video').getBoundingClientRect())")
    image = Image.open(shot).convert("RGB").crop(tuple(int(round(v)) for v in box))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=float)


READ_TABLE = ("Array.from(document.querySelectorAll('#readout-{t} tbody tr'))"
              ".map(r => Array.from(r.cells).map(c => c.textContent))")


@needs_chromium
def test_player_in_chromium_seeks_reads_out_and_shows_the_frame(race, tmp_path):
    arrays = np.load(race / "race.npz")
    wanted = 7
    reference = rendered_frames(race / "race.yaml", [wanted - 1, wanted, wanted + 1])
    with Chromium(900, 600) as browser:
        browser.open((race / "race.html").as_uri() + f"#frame={wanted}")
        assert browser.evaluate("optiviz.ready") == wanted
        assert browser.evaluate("document.getElementById('where').textContent") == \
            f"step {wanted} / 12"
        rows = browser.evaluate(READ_TABLE.format(t=0))
        assert [row[0] for row in rows] == ["SGD", "Momentum", "Adam"]
        for r, (_, loss, lr, x, y) in enumerate(rows):
            assert loss == f"{arrays['loss'][r, wanted]:.4g}"
            assert lr == f"{arrays['lr'][r, wanted - 1]:.4g}"
            assert abs(float(x) - arrays["positions"][r, wanted, 0]) <= 5e-4 + 1e-12
            assert abs(float(y) - arrays["positions"][r, wanted, 1]) <= 5e-4 + 1e-12
        shot = browser.screenshot(tmp_path / "player.png")
        pixels = video_pixels(browser, shot, (320, 240))
        assert pixels.std() > 20, pixels.std()  # a picture, not a blank box
        assert np.abs(pixels - reference[wanted]).mean() < 6, \
            {i: float(np.abs(pixels - frame).mean()) for i, frame in reference.items()}
        # where the neighbouring frames differ (the heads, the step counter), it is this one
        moving = (np.abs(reference[wanted - 1] - reference[wanted]).max(axis=2) > 40) | \
            (np.abs(reference[wanted + 1] - reference[wanted]).max(axis=2) > 40)
        errors = {i: float(np.abs(pixels - frame)[moving].mean())
                  for i, frame in reference.items()}
        assert errors[wanted] < 0.6 * min(errors[wanted - 1], errors[wanted + 1]), errors

        # keys: → steps forward, ← back, space plays and pauses
        for key, code in (("ArrowRight", 39), ("ArrowRight", 39), ("ArrowLeft", 37)):
            for kind in ("rawKeyDown", "keyUp"):
                browser.call("Input.dispatchKeyEvent", session=True, type=kind, key=key,
                             code=key, windowsVirtualKeyCode=code)
        assert browser.evaluate("optiviz.frame()") == wanted + 1
        rows = browser.evaluate(READ_TABLE.format(t=0))
        assert rows[2][1] == f"{arrays['loss'][2, wanted + 1]:.4g}"
        browser.evaluate("optiviz.toggle()")
        assert browser.evaluate("document.getElementById('video').paused") is False
        browser.evaluate("optiviz.toggle()")
        assert browser.evaluate("document.getElementById('video').paused") is True

        # a small iframe (a slide): the video still shows, inside the frame
        browser.resize(480, 300)
        assert browser.evaluate("optiviz.seek(3)") == 3
        shot = browser.screenshot(tmp_path / "small.png")
        box = browser.evaluate("(function (r) { return [r.left, r.right, r.bottom]; })"
                               "(document.getElementById('video').getBoundingClientRect())")
        assert box[0] >= 0 and box[1] <= 480 and box[2] <= 300
        assert video_pixels(browser, shot, (320, 240)).std() > 20


@needs_chromium
def test_sampling_player_in_chromium_reads_the_chains(tmp_path):
    config = Path(write(tmp_path, CHAINS))
    page, data = tmp_path / "chains.html", tmp_path / "chains.npz"
    api.run_file(config, output=page, data=data)
    parts = unpack(page_parts(page.read_bytes())["readout"])
    steps = decode_series(parts["series"][parts["marks"]])
    experiment = api.load(config)
    result = api.compute(experiment)
    with Chromium(900, 600) as browser:
        browser.open(page.as_uri() + "#step=20")
        frame = browser.evaluate("optiviz.ready")
        step = int(steps[frame])
        assert step >= 20 and (frame == 0 or steps[frame - 1] < 20)
        chains = browser.evaluate(READ_TABLE.format(t=0))
        for c, row in enumerate(chains):
            assert row[0] == f"chain {c + 1}"
            assert abs(float(row[1]) - result.positions[0, c, step, 0]) <= 5e-4 + 1e-12
        diagnostics = dict(browser.evaluate(READ_TABLE.format(t=1)))
        assert diagnostics["draws kept"] == f"{max(step - result.burn_in, 0) * 2:,}"

        # the scrubber seeks
        browser.evaluate("(function (s) { s.value = 4; s.dispatchEvent(new Event('input')); })"
                         "(document.getElementById('scrub'))")
        assert browser.evaluate("optiviz.frame()") == 4
        assert browser.evaluate("document.getElementById('where').textContent") == \
            f"step {int(steps[4]):,} / 40"

        # in a reveal.js slide: #play plays, leaving the slide (slide:stop) pauses
        browser.open("about:blank")  # a new fragment alone would not load the page again
        browser.open(page.as_uri() + "#play")
        browser.evaluate("optiviz.ready")
        assert browser.evaluate("document.getElementById('video').paused") is False
        assert browser.evaluate("new Promise(function (done) { window.postMessage('slide:stop', "
                                "'*'); setTimeout(function () { done(document.getElementById("
                                "'video').paused); }, 100); })") is True
