"""Memory and time are checked before they are spent: every size a config sets is estimated
(optiviz/budget.py) and refused, with the estimate and the limit, before anything is allocated;
the GIF writer streams its frames so that frame count does not cost memory.

The tests set tiny limits through OPTIVIZ_MEMORY_LIMIT / OPTIVIZ_TIME_LIMIT, so the configs they
refuse are modest and nothing large is ever allocated (were a check missing, the run would
allocate only megabytes and the test would fail on its exit status, not exhaust the machine).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from optiviz import budget
from optiviz.cli import cli
from optiviz.render.writers import GifWriter


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))

# The GIF writer streams ---------------------------------------------------------------------------

def changing_frames(count: int, width: int = 320, height: int = 240):
    """RGBA frames whose every pixel changes from one frame to the next (the worst case for a
    writer that keeps the changed rectangles), drawn from a few flat colours."""
    colours = np.array([[250, 250, 250], [0, 114, 178], [213, 94, 0], [0, 158, 115]], np.uint8)
    rows = np.arange(height)[:, None]
    columns = np.arange(width)[None, :]
    for i in range(count):
        frame = np.empty((height, width, 4), np.uint8)
        frame[..., :3] = colours[(rows // 8 + columns // 8 + i) % len(colours)]
        frame[..., 3] = 255
        yield frame


def gif_peak(path: Path, count: int) -> int:
    tracemalloc.start()
    try:
        writer = GifWriter(path, 320, 240, fps=30)
        for frame in changing_frames(count):
            writer.append(frame)
        writer.finish()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gif_memory_does_not_grow_with_the_frame_count(tmp_path):
    gif_peak(tmp_path / "warm.gif", 2)  # lazy imports (Pillow, colours) out of the way
    few = gif_peak(tmp_path / "few.gif", 5)
    many = gif_peak(tmp_path / "many.gif", 60)
    # holding the changed rectangles, 55 more whole frames would be 55 × 300 KiB = 16 MiB
    assert many < few + 2_000_000, (few, many)
    with Image.open(tmp_path / "many.gif") as image:
        assert image.n_frames == 60


def test_gif_spill_is_beside_the_output_and_gone_afterwards(tmp_path):
    writer = GifWriter(tmp_path / "a.gif", 320, 240)
    frames = changing_frames(3)
    for frame in frames:
        writer.append(frame)
    spill = Path(writer.spill.name) if isinstance(writer.spill.name, str) else None
    assert spill is None or spill.parent == tmp_path
    writer.finish()
    assert writer.spill is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]
    aborted = GifWriter(tmp_path / "b.gif", 320, 240)
    for frame in changing_frames(3):
        aborted.append(frame)
    aborted.abort()
    assert aborted.spill is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


def test_streamed_gif_frames_decode_to_what_was_appended(tmp_path):
    frames = [frame.copy() for frame in changing_frames(5, 64, 48)]
    writer = GifWriter(tmp_path / "a.gif", 64, 48)
    for frame in frames:
        writer.append(frame)
    writer.finish()
    with Image.open(tmp_path / "a.gif") as image:
        for i, frame in enumerate(frames):
            image.seek(i)
            np.testing.assert_array_equal(np.asarray(image.convert("RGB")), frame[..., :3])


# Limits ------------------------------------------------------------------------------------------

def test_sizes_and_durations_read_as_people_write_them():
    assert budget.parse_size("2GiB") == 2 * 2**30
    assert budget.parse_size("50 MiB") == 50 * 2**20
    assert budget.parse_size("1.5G") == 1.5 * 2**30
    assert budget.parse_size("500MB") == 500e6
    assert budget.parse_size("4096") == 4096
    assert budget.parse_size("2e9") == 2e9
    for bad in ("lots", "-1", "0", "2 XB", "1iB", ""):
        with pytest.raises(ValueError):
            budget.parse_size(bad)
    assert budget.parse_duration("90s") == 90
    assert budget.parse_duration("10min") == 600
    assert budget.parse_duration("2h") == 7200
    assert budget.parse_duration("1.5") == 1.5
    for bad in ("soon", "0", "5 fortnights"):
        with pytest.raises(ValueError):
            budget.parse_duration(bad)


def test_estimates_read_in_binary_units_and_human_times():
    assert budget.format_bytes(52_428_800) == "50 MiB"
    assert budget.format_bytes(1.9 * 2**40) == "1.9 TiB"
    assert budget.format_bytes(512) == "512 bytes"
    assert budget.format_seconds(90) == "1.5 min"
    assert budget.format_seconds(7200) == "2 h"
    assert budget.format_seconds(3e9) == "95 years"


OPTIMIZERS = """\
function: rosenbrock
start: {start}
steps: {steps}
optimizers:
  - {{name: sgd, lr: 0.001}}
render: {{width: 240, height: 180, frames: 5, hold: 0}}
"""


def write(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def assert_refused(result, folder: Path, where: str, *words: str) -> str:
    """Exit 2, one line naming file:line and the key, the estimate and the limit; nothing
    written beside the config."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert f"exp.yaml:{where}: " in output, output
    assert "need" in output or "take" in output, output
    assert "; the limit is " in output, output
    for word in words:
        assert word in output, output
    assert sorted(p.name for p in folder.iterdir()) == ["exp.yaml"]
    return output.strip()


def run_and_validate(folder: Path, config: Path, where: str, *words: str) -> str:
    """The same refusal from `run` and from `validate`."""
    message = assert_refused(invoke("run", str(config), "-o", str(folder / "out.gif")),
                             folder, where, *words)
    assert_refused(invoke("validate", str(config)), folder, where, *words)
    return message


@pytest.fixture
def small_memory(monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "50MiB")
    monkeypatch.delenv(budget.TIME_ENV, raising=False)


@pytest.fixture
def short_time(monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    monkeypatch.setenv(budget.TIME_ENV, "2s")


def test_a_limit_that_is_not_a_size_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(budget.MEMORY_ENV, "lots")
    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=10))
    result = invoke("run", str(config), "--no-render")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "OPTIVIZ_MEMORY_LIMIT='lots' is not a size; write e.g. 2GiB" in result.output
    monkeypatch.setenv(budget.MEMORY_ENV, "1GiB")
    monkeypatch.setenv(budget.TIME_ENV, "soon")
    result = invoke("validate", str(config))
    assert result.exit_code == 2 and "OPTIVIZ_TIME_LIMIT='soon' is not a duration" in result.output


def test_the_default_limit_is_half_the_available_memory(tmp_path, monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    monkeypatch.setattr(budget, "available_memory", lambda: 100 * 2**20)
    config = write(tmp_path, OPTIMIZERS.format(start="{grid: [150, 150]}", steps=100))
    message = run_and_validate(tmp_path, config, "2", "start.grid: 22,500 starts")
    assert message.endswith(
        "the limit is 50 MiB (half of the 100 MiB available; OPTIVIZ_MEMORY_LIMIT sets it)")


# Optimizer experiments ---------------------------------------------------------------------------

@pytest.mark.parametrize("start, key, starts", [
    ("{grid: [150, 150]}", "start.grid", "22,500 starts"),
    ("{random: 22500, seed: 1}", "start.random", "22,500 starts"),
])
def test_start_counts_are_refused_before_the_starts_exist(tmp_path, small_memory, monkeypatch,
                                                          start, key, starts):
    import optiviz.config

    def never(*args, **kwargs):
        raise AssertionError("the starts were made before the budget was checked")

    monkeypatch.setattr(optiviz.config.np, "meshgrid", never)
    monkeypatch.setattr(optiviz.config.np.random, "default_rng", never)
    config = write(tmp_path, OPTIMIZERS.format(start=start, steps=100))
    message = run_and_validate(tmp_path, config, "2", f"{key}: {starts} × 1 optimizer × "
                               "100 steps need about ")
    assert message.endswith("the limit is 50 MiB (OPTIVIZ_MEMORY_LIMIT)")


def test_many_steps_are_blamed_on_steps(tmp_path, small_memory):
    config = write(tmp_path, OPTIMIZERS.format(start="[[1, 1], [0, 0]]", steps=800_000))
    run_and_validate(tmp_path, config, "3", "steps: 2 starts × 1 optimizer × 800,000 steps")


def test_swept_optimizers_count_in_the_estimate(tmp_path, small_memory):
    config = write(tmp_path, OPTIMIZERS.format(start="{random: 2000}", steps=100).replace(
        "{name: sgd, lr: 0.001}", "{name: sgd, lr: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006,"
        " 0.007, 0.008, 0.009, 0.01]}"))
    run_and_validate(tmp_path, config, "2", "start.random: 2,000 starts × 10 optimizers")


def test_a_frame_too_large_for_the_limit_is_refused(tmp_path, small_memory):
    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=10).replace(
        "width: 240, height: 180", "width: 1280, height: 720"))
    run_and_validate(tmp_path, config, "6", "render.width: a 1,280×720 frame needs about ")


def test_frames_that_take_too_long_are_refused(tmp_path, short_time):
    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=3000).replace(
        "frames: 5", "frames: 3000"))
    message = run_and_validate(tmp_path, config, "6",
                               "render.frames: 3,000 frames of 240×180 pixels take about ")
    assert message.endswith("the limit is 2 s (OPTIVIZ_TIME_LIMIT)")


def test_steps_that_take_too_long_are_refused(tmp_path, short_time):
    # noisy entries step one by one (their noise has its own generator): no vectorizing helps
    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=100_000).replace(
        "{name: sgd, lr: 0.001}", "{name: sgd, lr: 0.001, noise: 0.1}\n"
        "  - {name: adam, lr: 0.01, noise: 0.1}"))
    assert_refused(invoke("run", str(config), "--no-render"), tmp_path, "3",
                   "steps: 1 start × 2 optimizers × 100,000 steps take about ")


def test_an_lbfgs_history_too_long_for_the_limit_is_refused(tmp_path, small_memory):
    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=10).replace(
        "{name: sgd, lr: 0.001}", "{name: lbfgs, history_size: 2000000}"))
    run_and_validate(tmp_path, config, "4", "optimizers: L-BFGS's history_size 2,000,000 (y, s)"
                     " pairs for each of 1 run need about ")


def test_dataset_objectives_cost_a_pass_over_the_data_per_step(tmp_path, short_time):
    config = write(tmp_path, OPTIMIZERS.format(start="{random: 1000}", steps=1000).replace(
        "function: rosenbrock", "function: {name: linear_regression, samples: 100000}"))
    assert_refused(invoke("run", str(config), "--no-render"), tmp_path, "2",
                   "start.random: 1,000 starts × 1 optimizer × 1,000 steps take about ")


def test_the_engine_checks_experiments_built_in_python(tmp_path, small_memory):
    from dataclasses import replace

    from optiviz import api
    from optiviz.errors import ConfigError

    config = write(tmp_path, OPTIMIZERS.format(start="[1, 1]", steps=10))
    experiment = api.load(config)
    with pytest.raises(ConfigError, match=r"1 start × 1 optimizer × 2,000,000 steps need about"):
        api.compute(replace(experiment, steps=2_000_000))


# Sampling experiments ----------------------------------------------------------------------------

SAMPLING = """\
sampling:
  distribution: {distribution}
  method: {method}
  samples: {samples}
{extra}render: {{width: 240, height: 180, frames: 5, hold: 0}}
"""


def sampling_config(distribution="normal", method="direct", samples=1000, **extra) -> str:
    lines = "".join(f"  {key}: {value}\n" for key, value in extra.items())
    return SAMPLING.format(distribution=distribution, method=method, samples=samples,
                           extra=lines)


@pytest.mark.parametrize("text, where, words", [
    (sampling_config(samples=1_000_000), "4", "sampling.samples: 1,000,000 samples need about"),
    (sampling_config(bins=20_000), "5", "sampling.bins: 20,000 bins × 240 checkpoints need"),
    (sampling_config(method="stratified", samples=10_000, strata=5000), "5",
     "sampling.strata: 5,000 strata × 240 checkpoints need about"),
    (sampling_config(method="importance", samples=500_000,
                     proposal="{name: normal, scale: 2}"), "4",
     "sampling.samples: 500,000 samples need about"),
    (sampling_config(distribution="banana", method="metropolis", samples=500, chains=2000), "5",
     "sampling.chains: 1 scale × 2,000 chains × 500 steps need about"),
    (sampling_config(method="metropolis", samples=300, scales="[" + ", ".join(
        f"{0.1 + i / 1000:g}" for i in range(3000)) + "]"), "5",
     "sampling.scales: 3,000 scales × 1 chain × 300 steps need about"),
    (sampling_config(distribution="{name: binomial, n: 10000000, p: 0.5}"), "2",
     "sampling.distribution.n: the entropy of binom(n=10,000,000), a sum over 10,000,001 "
     "outcomes, needs about"),
    (sampling_config(method="importance", distribution="{name: binomial, n: 100, p: 0.5}",
                     proposal="{name: binomial, n: 10000000, p: 0.5}"), "5",
     "sampling.proposal.n: the entropy of binom(n=10,000,000), a sum over 10,000,001 outcomes"),
    (sampling_config(distribution="{name: poisson, mu: 4000000}"), "2",
     "sampling.distribution: a histogram of 16,001 unit bins (the support of poisson) × 240 "
     "checkpoints need about"),
], ids=["samples", "bins", "strata", "importance", "chains", "scales", "binomial-n",
        "proposal-n", "discrete-support"])
def test_sampling_sizes_are_refused_before_sampling(tmp_path, small_memory, text, where, words):
    config = write(tmp_path, text)
    run_and_validate(tmp_path, config, where, words)


def test_mh_steps_that_take_too_long_are_refused(tmp_path, short_time):
    config = write(tmp_path, sampling_config(distribution="banana", method="metropolis",
                                             samples=200_000))
    assert_refused(invoke("run", str(config), "--no-render"), tmp_path, "4",
                   "sampling.samples: 1 scale × 1 chain × 200,000 steps take about")


def test_sampling_run_checks_configs_built_in_python(tmp_path, small_memory):
    from dataclasses import replace

    from optiviz import api, sampling
    from optiviz.errors import ConfigError

    experiment = api.load(write(tmp_path, sampling_config()))
    with pytest.raises(ConfigError, match=r"10,000,000 samples need about"):
        sampling.run(replace(experiment.sampling, samples=10_000_000))


# What the issue reported, at full size, under a hard address-space limit -------------------------

HUGE = {
    "grid": OPTIMIZERS.format(start="{grid: [20000, 20000]}", steps=200).replace(
        "  - {name: sgd, lr: 0.001}", "  - {name: sgd, lr: 0.001}\n  - {name: adam, lr: 0.01}\n"
        "  - {name: rmsprop, lr: 0.01}"),
    "random": OPTIMIZERS.format(start="{random: 300000000}", steps=200),
    "size": OPTIMIZERS.format(start="[1, 1]", steps=10).replace(
        "width: 240, height: 180", "width: 20000, height: 20000"),
    "frames": OPTIMIZERS.format(start="[1, 1]", steps=100000).replace(
        "width: 240, height: 180, frames: 5", "frames: 100000"),
    "binomial": sampling_config(distribution="{name: binomial, n: 1000000000000000000, p: 0.5}"),
    "samples": sampling_config(samples=10_000_000_000),
    "bins": sampling_config(bins=1_000_000_000),
    "strata": sampling_config(method="stratified", strata=1_000_000_000),
    "chains": sampling_config(method="metropolis", chains=100_000_000),
}


def test_the_reported_sizes_are_refused_without_allocating_them(tmp_path):
    """The issue's examples, as written, in one `validate` whose address space is capped at
    2 GiB: each is one line at its key with its estimate (none may allocate first)."""
    import os
    import resource
    import subprocess
    import sys

    for name, text in HUGE.items():
        write(tmp_path, text, f"{name}.yaml")
    cap = 2 << 30

    def limit_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "OPTIVIZ_MEMORY_LIMIT": "8GiB", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("OPTIVIZ_TIME_LIMIT", None)
    result = subprocess.run(
        [sys.executable, "-m", "optiviz", "validate", str(tmp_path)], capture_output=True,
        text=True, env=env, preexec_fn=limit_address_space, timeout=600)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == len(HUGE), result.stderr
    expected = {
        "grid": "grid.yaml:2: start.grid: 400,000,000 starts × 3 optimizers × 200 steps need "
                "about ",
        "random": "random.yaml:2: start.random: 300,000,000 starts × 1 optimizer × 200 steps",
        "size": "size.yaml:6: render.width: a 20,000×20,000 frame needs about 22.4 GiB",
        "frames": "frames.yaml:6: render.frames: 100,000 frames of 960×540 pixels take about",
        "binomial": "binomial.yaml:2: sampling.distribution.n: the entropy of binom(",
        "samples": "samples.yaml:4: sampling.samples: 10,000,000,000 samples need about",
        "bins": "bins.yaml:5: sampling.bins: 1,000,000,000 bins × 240 checkpoints need about",
        "strata": "strata.yaml:5: sampling.strata: 1,000,000,000 strata × 240 checkpoints",
        "chains": "chains.yaml:5: sampling.chains: 1 scale × 100,000,000 chains × 1,000 steps",
    }
    for name, words in expected.items():
        assert any(words in line for line in lines), (name, result.stderr)
    assert all(line.endswith("the limit is 8 GiB (OPTIVIZ_MEMORY_LIMIT)") for line in lines
               if "frames.yaml" not in line), result.stderr


def test_the_curated_configs_are_far_inside_the_limits(monkeypatch):
    """The estimates of every config in configs/ fit in 512 MiB and 3 minutes (they peak at
    under 200 MiB and render in seconds): the default limits never touch ordinary configs."""
    monkeypatch.setenv(budget.MEMORY_ENV, "512MiB")
    monkeypatch.setenv(budget.TIME_ENV, "3min")
    configs = Path(__file__).resolve().parent.parent / "configs"
    result = invoke("validate", str(configs))
    assert result.exit_code == 0, result.output


def test_the_budget_knows_the_scenes_frame_defaults():
    from optiviz.render.animate import DEFAULT_MAX_FRAMES
    from optiviz.render.sampling import DEFAULT_FRAMES
    from optiviz.sampling.methods import log_checkpoints

    assert budget.SAMPLING_FRAMES == DEFAULT_FRAMES
    assert budget.OPTIMIZER_FRAMES == DEFAULT_MAX_FRAMES
    assert len(log_checkpoints(10**9)) <= budget.CHECKPOINTS


def test_loading_a_config_imports_neither_matplotlib_nor_scipy():
    """Loading for computing only (``run --no-render``, batch planning of cached configs)
    stays light; loading for a render also runs the renderer's cheap checks, which need
    Matplotlib (config.preflight)."""
    import subprocess
    import sys

    configs = Path(__file__).resolve().parent.parent / "configs"
    code = ("import sys; from optiviz import config; config.load(sys.argv[1], render=False); "
            "print('matplotlib' in sys.modules, 'scipy.stats' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(configs / "beale.yaml")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
