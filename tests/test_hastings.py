"""The chapter's MCMC mistake, shown (issue 8): ``hastings: [true, false]`` runs an independence
sampler with and without the Hastings correction; the corrected chains sample the target, the
uncorrected ones π·q (tests/test_sampling_mcmc.py proves the kernel; here the whole path, CLI
and API), the frame says which row is wrong, ``--data`` marks the uncorrected chains, and a lone
uncorrected sampler is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner

from optiviz import api
from optiviz.cli import cli
from optiviz.sampling import HASTINGS_LABELS

# π = N(0, 1), q = N(1.5, 1.5²): without the correction the chains sample ∝ π·q = N(m, s²) with
# 1/s² = 1 + 1/2.25 and m = s²·1.5/2.25.
WRONG_VAR = 1 / (1 + 1 / 2.25)
WRONG_MEAN = WRONG_VAR * 1.5 / 2.25

CONFIG = """\
title: no Hastings
sampling:
  distribution: {name: normal, loc: 0, scale: 1}
  method: metropolis
  independent: true
  hastings: [true, false]
  proposal: {name: normal, loc: 1.5, scale: 1.5}
  chains: 4
  samples: 3000
  seed: 2
render: {width: 320, height: 200, dpi: 50, frames: 4, fps: 5, hold: 0}
"""


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="optiviz")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hastings")
    config = folder / "mh.yaml"
    config.write_text(CONFIG)
    result = invoke("run", str(config), "-o", str(folder / "mh.gif"), "--data",
                    str(folder / "mh.npz"), "-q")
    assert result.exit_code == 0, result.output
    with np.load(folder / "mh.npz") as npz:
        data = {key: npz[key] for key in npz.files}
    return folder, config, data


def kept(data, corrected: bool, burn_in: int = 300) -> np.ndarray:
    rows = (data["hastings"] == corrected) & (data["step"] > burn_in)
    return data["samples"][rows]


def test_data_marks_the_uncorrected_chains(run):
    _, _, data = run
    np.testing.assert_array_equal(data["chain_hastings"], [[True] * 4, [False] * 4])
    assert data["hastings"].shape == data["samples"].shape == (2 * 4 * 3000,)
    assert data["hastings"][: 4 * 3000].all() and not data["hastings"][4 * 3000:].any()
    assert "scale" not in data  # one proposal scale: the settings differ only in the ratio


def test_corrected_chains_sample_the_target_and_uncorrected_ones_do_not(run):
    _, _, data = run
    right, wrong = kept(data, True), kept(data, False)
    # moments, with room for the chains' autocorrelation (ESS is about a third of the draws)
    assert right.mean() == pytest.approx(0.0, abs=0.08)
    assert right.var() == pytest.approx(1.0, rel=0.1)
    assert wrong.mean() == pytest.approx(WRONG_MEAN, abs=0.08)
    assert wrong.var() == pytest.approx(WRONG_VAR, rel=0.1)
    # a KS test on thinned draws (every 10th: nearly independent) against the target
    assert scipy.stats.kstest(right[::10], "norm").pvalue > 0.01
    assert scipy.stats.kstest(wrong[::10], "norm").pvalue < 1e-6
    assert scipy.stats.kstest(wrong[::10], "norm", args=(WRONG_MEAN, WRONG_VAR**0.5)).pvalue \
        > 0.01


def test_the_api_computes_what_the_cli_wrote_and_says_which_is_wrong(run, tmp_path):
    folder, config, data = run
    experiment = api.load(config)
    result = api.compute(experiment)
    assert result.compares_hastings and list(result.corrected) == [True, False]
    np.testing.assert_array_equal(result.arrays()["samples"], data["samples"])
    summary = result.summary()
    assert summary["mean_0"] == pytest.approx(0.0, abs=0.08)
    assert summary["mean_0@no_hastings"] == pytest.approx(WRONG_MEAN, abs=0.08)
    report = api.run_file(config, output=tmp_path / "again.gif")
    assert report.outputs == [tmp_path / "again.gif"]
    # byte-identical re-render
    assert (tmp_path / "again.gif").read_bytes() == (folder / "mh.gif").read_bytes()


def test_the_frame_labels_the_uncorrected_row(run):
    from matplotlib.colors import to_hex
    from matplotlib.text import Text

    from optiviz.render.hastings import HastingsScene
    from optiviz.render.sampling import build_scene

    _, config, _ = run
    experiment = api.load(config)
    scene = build_scene(experiment, api.compute(experiment))
    assert isinstance(scene, HastingsScene)
    texts = [t.get_text() for t in scene.figure.findobj(Text)]
    assert "no Hastings correction — wrong target" in texts
    assert "with the Hastings correction" in texts
    assert [label.get_text() for label in scene.labels] == [HASTINGS_LABELS[True],
                                                            HASTINGS_LABELS[False]]
    assert to_hex(scene.labels[1].get_color()) != to_hex(scene.labels[0].get_color())
    scene.update(scene.n_frames - 1)
    captions = [row["caption"].get_text() for row in scene.rows]
    assert "(true 0.000)" in captions[1] and f"mean {WRONG_MEAN:.2f}"[:8] in captions[1]


@pytest.mark.parametrize("hastings, extra, message", [
    ("false", "independent: true", "false alone samples the wrong distribution"),
    ("[false]", "independent: true", "false alone samples the wrong distribution"),
    ("[true, false]", "independent: false", "this random walk has no such factor"),
    ("[true, false]", "{independent: true, scales: [1, 2]}", "remove scales or keep one"),
    ("[true, true]", "independent: true", "lists each setting once"),
    ("maybe", "independent: true", "must be true, false or a list [true, false]"),
])
def test_an_uncorrected_sampler_alone_is_refused_in_one_line(tmp_path, hastings, extra, message):
    extra = extra.strip("{}")
    text = ("sampling: {distribution: normal, method: metropolis, samples: 50, "
            f"{extra}, hastings: {hastings}}}\n")
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    for args in (("validate", str(config)), ("run", str(config), "-o", str(tmp_path / "x.gif"))):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert "\n" not in line and "sampling.hastings" in line and message in line, line
    assert not (tmp_path / "x.gif").exists()
