"""Memory and time budgets: what a config will cost, estimated from the config alone, and refused
before anything is allocated.

Every size a config sets (starts × optimizers × steps, frames × pixels, samples, bins, strata,
chains, scales, a discrete distribution's support) is turned into an :class:`Estimate` here, and
nowhere else: the config loader calls :func:`check_optimizers` (before it creates the starts) and
:func:`check_sampling`; :func:`optiviz.engine.simulate` and :func:`optiviz.sampling.run` call the
same estimators for experiments built in Python. An estimate over its limit is a
:class:`~optiviz.errors.ConfigError` at the key that asked for it, with the estimate and the limit:

    start.grid: 400,000,000 starts × 3 optimizers × 200 steps need about 9.15 TiB; the limit
    is 8 GiB (OPTIVIZ_MEMORY_LIMIT)

The limits: ``OPTIVIZ_MEMORY_LIMIT`` (e.g. ``2GiB``, ``500MB``; default half of the memory
available when the config is read) and ``OPTIVIZ_TIME_LIMIT`` (e.g. ``90s``, ``10min``, ``2h``;
default 30 minutes). The per-item costs below were measured on the renders and runs they
describe (peak resident memory, CPU seconds); they aim at the right order of magnitude, so the
limits refuse what could never fit or finish, not what is merely close.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from optiviz.errors import ConfigError, KeyPath, OptivizError

MEMORY_ENV = "OPTIVIZ_MEMORY_LIMIT"
TIME_ENV = "OPTIVIZ_TIME_LIMIT"
#: Without OPTIVIZ_MEMORY_LIMIT: this share of the memory available when the config is read.
MEMORY_SHARE = 0.5
#: What "available" is when neither /proc/meminfo nor sysconf can tell.
FALLBACK_AVAILABLE = 8 << 30
#: Without OPTIVIZ_TIME_LIMIT.
DEFAULT_SECONDS = 30 * 60.0

# Costs -------------------------------------------------------------------------------------------
# Measured on the project's 2-core machine under load (peak resident memory and CPU seconds of
# whole runs, less the interpreter's own), then rounded so that estimates err low on time:
# the time limit refuses runs of hours, not minutes.

# Optimizer runs. Recorded per run and step: position (2 floats) and loss; lr is kept once per
# optimizer entry (measured: 25.3 bytes of peak memory per run-step, bench/engine.py); the
# renderer's whole-array temporaries add a little (the view test, the loss panel).
RUN_STEP_BYTES = 32
#: Per run, whatever the steps: parameters, their last finite copy, gradient, optimizer state
#: and the step functions' temporaries (about 40 floats), the run's label and indices.
RUN_BYTES = 320
#: L-BFGS keeps history_size (y, s, rho) triples of 5 floats per run.
HISTORY_BYTES = 40
#: One start while the starts are made: the grid's coordinate planes, the stacked copy.
START_BYTES = 64
#: Seconds per step of one run group (Python overhead; measured 170-490 us) and per run and step
#: of a first-order optimizer (the vectorized update, two oracle calls, the recording; measured
#: 250 ns); an L-BFGS iteration costs LBFGS_WORK such steps.
GROUP_STEP_SECONDS = 50e-6
RUN_STEP_SECONDS = 60e-9
LBFGS_WORK = 10.0
#: Dataset objectives: seconds per run, step and data point (the batch's value and gradient,
#: and the full-batch loss that is recorded).
DATA_POINT_SECONDS = 3e-9

#: Frames of an animation when ``render.frames`` is not given: render/animate.py's
#: DEFAULT_MAX_FRAMES and render/sampling.py's DEFAULT_FRAMES (those modules import
#: Matplotlib, which loading a config should not; a test keeps the numbers equal).
OPTIMIZER_FRAMES = 300
SAMPLING_FRAMES = 120

# Frames. Bytes per pixel while a frame is drawn and written (measured 56 at 1920x1080, 62 at
# 3840x2160): the canvas, its cached background, the GIF writer's first and newest frames and
# its index planes, the rectangle being mapped to the palette and its temporaries.
PIXEL_BYTES = 60
#: Seconds per frame and per pixel and frame (measured 39-60 ns: restoring the background,
#: reading the buffer, comparing it with the last frame, mapping and encoding the change).
FRAME_SECONDS = 3e-3
PIXEL_SECONDS = 35e-9
#: Seconds per moving point (a particle of a cloud, a vertex of a chain's path or of a
#: histogram's outline) and frame.
POINT_SECONDS = 0.3e-6
#: Seconds per artist drawn every frame (a chain's line).
ARTIST_SECONDS = 150e-6

# Sampling. Bytes per sample and coordinate across the method's arrays, what --data and the
# renderer derive from them (measured: 62 direct, 128 importance with its scene).
SAMPLE_BYTES = 128
#: Seconds per sample and coordinate (drawing, weighting, running sums), and per sample for the
#: importance scene, which re-weighs every sample so far at each frame (measured 2 us).
DRAW_SECONDS = 60e-9
REWEIGH_SECONDS = 1e-6
#: Bytes and seconds per histogram bin or stratum and checkpoint (cumulative counts and sums,
#: frequencies, KL terms, standard errors; measured 19 bytes per bin, 65 per stratum).
BIN_BYTES = 24
STRATUM_BYTES = 72
BIN_SECONDS = 10e-9
#: Seconds per stratum: its allocation (a Python loop) and its boundary line in the scene
#: (made, laid out and drawn: measured 1.4 ms).
STRATUM_SECONDS = 0.7e-3
#: Metropolis–Hastings: bytes per chain, step and coordinate (positions, proposals, their stacked
#: copies), plus per chain and step (accepted, probability; measured 112 in all for 2-D).
CHAIN_BYTES = 40
CHAIN_STEP_BYTES = 40
#: Seconds per MH step (one kernel call over all chains), per chain, step and coordinate, and
#: per draw, coordinate and diagnostic checkpoint (ranks and FFTs of the draws so far;
#: measured 1 us).
MH_STEP_SECONDS = 25e-6
MH_CHAIN_STEP_SECONDS = 0.2e-6
DIAGNOSTIC_SECONDS = 0.5e-6
#: scipy's exact entropy of binom and hypergeom sums the PMF over every outcome: bytes and
#: seconds per outcome (measured: 0.7 us).
OUTCOME_BYTES = 48
OUTCOME_SECONDS = 0.5e-6


# Limits ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """A limit and where it came from (the environment variable, or the default's reason)."""

    amount: float
    source: str


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([kmgtpe]?)(i?)(b?)\s*$", re.I)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_size(text: str) -> float:
    """``2GiB`` -> 2·2³⁰ bytes. ``KiB MiB GiB TiB`` (and ``K M G T``) are powers of 1024,
    ``kB MB GB TB`` powers of 1000, a bare number is bytes. Raises ValueError."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(text)
    number, exponent, prefix, binary, byte = match.groups()
    if not prefix and binary:
        raise ValueError(text)
    value = float(number) * 10.0 ** int(exponent or 0)
    power = _POWERS[prefix.lower()]
    base = 1024 if binary or (prefix and not byte) else 1000
    value *= base**power
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.I)
_SECONDS = {
    "": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
}


def parse_duration(text: str) -> float:
    """``90s``, ``10min``, ``2h``, ``1d`` or a bare number of seconds. Raises ValueError."""
    match = _DURATION.match(text)
    if not match or match.group(2).lower() not in _SECONDS:
        raise ValueError(text)
    value = float(match.group(1)) * _SECONDS[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def available_memory() -> int:
    """Bytes of memory available now: MemAvailable from /proc/meminfo, else the free pages from
    sysconf, else :data:`FALLBACK_AVAILABLE`."""
    try:
        with open("/proc/meminfo") as fh:
            for row in fh:
                if row.startswith("MemAvailable:"):
                    return int(row.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return FALLBACK_AVAILABLE


def memory_limit() -> Limit:
    """``OPTIVIZ_MEMORY_LIMIT``, else :data:`MEMORY_SHARE` of the memory available now."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            return Limit(parse_size(text), MEMORY_ENV)
        except ValueError:
            raise OptivizError(
                f"{MEMORY_ENV}={text!r} is not a size; write e.g. 2GiB, 500MB or 4096 (bytes)"
            ) from None
    available = available_memory()
    return Limit(MEMORY_SHARE * available,
                 f"half of the {format_bytes(available)} available; {MEMORY_ENV} sets it")


def time_limit() -> Limit:
    """``OPTIVIZ_TIME_LIMIT``, else :data:`DEFAULT_SECONDS`."""
    text = os.environ.get(TIME_ENV, "").strip()
    if text:
        try:
            return Limit(parse_duration(text), TIME_ENV)
        except ValueError:
            raise OptivizError(
                f"{TIME_ENV}={text!r} is not a duration; write e.g. 90s, 10min or 2h"
            ) from None
    return Limit(DEFAULT_SECONDS, f"the default; {TIME_ENV} sets it")


def format_bytes(amount: float) -> str:
    """1.5·2³⁰ -> '1.5 GiB' (three significant digits at most)."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    power = 0
    while amount >= 1024 and power < len(units) - 1:
        amount /= 1024
        power += 1
    if power == 0:
        return f"{int(amount):,} bytes"
    text = f"{amount:.3g}" if amount < 1000 else f"{amount:,.0f}"
    return f"{text} {units[power]}"


def format_seconds(seconds: float) -> str:
    """90 -> '1.5 min'; very long times in days or years."""
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            text = f"{value:.2g}" if value < 100 else f"{value:,.0f}"
            return f"{text} {unit}"
    return f"{seconds:.2g} s"


def count(value: float, noun: str, plural: str | None = None) -> str:
    """(3, 'optimizer') -> '3 optimizers'; (1, ...) -> '1 optimizer'."""
    word = noun if value == 1 else (plural or noun + "s")
    return f"{value:,.0f} {word}"


# Estimates ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """What one part of a config costs: ``what`` names it the way the user wrote it, ``path`` is
    the key to blame. ``verb``: 'need' (plural subjects), or 'needs'."""

    what: str
    path: KeyPath
    bytes: float = 0.0
    seconds: float = 0.0
    verb: str = "need"


def refuse_over(estimates: Iterable[Estimate]) -> None:
    """Raise ConfigError when the estimates together exceed the memory or the time limit,
    blaming the largest part (and giving the total when the other parts add much to it)."""
    estimates = list(estimates)
    for amount, limit, show, verbs in (
        (lambda e: e.bytes, memory_limit, format_bytes, {"need": "need", "needs": "needs"}),
        (lambda e: e.seconds, time_limit, format_seconds, {"need": "take", "needs": "takes"}),
    ):
        total = sum(amount(e) for e in estimates)
        if total <= 0:
            continue
        chosen = limit()
        if total <= chosen.amount:
            continue
        worst = max(estimates, key=amount)
        part = amount(worst)
        message = f"{worst.what} {verbs[worst.verb]} about {show(part)}"
        if total > 1.1 * part:
            message += f" ({show(total)} with the rest)"
        message += f"; the limit is {show(chosen.amount)} ({chosen.source})"
        raise ConfigError(message, worst.path)


def _frame_estimates(width: int, height: int, frames: int, points: float,
                     path: KeyPath = ("render",)) -> list[Estimate]:
    """One frame's buffers, and the time to draw and write ``frames`` frames each showing
    ``points`` moving points."""
    pixels = width * height
    size = f"{width:,}×{height:,}"
    return [
        Estimate(f"a {size} frame", path + ("width",), bytes=pixels * PIXEL_BYTES, verb="needs"),
        Estimate(f"{count(frames, 'frame')} of {size} pixels", path + ("frames",),
                 seconds=frames * (FRAME_SECONDS + pixels * PIXEL_SECONDS + points * POINT_SECONDS),
                 verb="needs" if frames == 1 else "need"),
    ]


# Optimizer experiments ---------------------------------------------------------------------------

def optimizer_estimates(
    starts: int,
    optimizers: Sequence[Any],
    steps: int,
    function: Any = None,
    *,
    start_path: KeyPath = ("start",),
    recorded: int | None = None,
) -> list[Estimate]:
    """Memory and time of running ``optimizers`` (expanded OptimizerConfig entries; one is
    assumed while they are unknown) from ``starts`` starts for ``steps`` steps, the recorded
    paths included: every step, or ``recorded`` steps when only those are kept
    (optiviz/reductions.py). Blames the start count, or ``steps`` when the steps are the
    larger factor."""
    entries = max(1, len(optimizers))
    runs = starts * entries
    rows = steps + 1 if recorded is None else recorded
    memory = runs * (rows * RUN_STEP_BYTES + RUN_BYTES) + starts * START_BYTES
    data_points = getattr(function, "n_samples", None)
    groups = _groups(optimizers) or [[None]]
    seconds = 0.0
    for group in groups:
        work = sum(_work(entry, data_points) for entry in group) / len(group)
        seconds += steps * (GROUP_STEP_SECONDS + len(group) * starts * RUN_STEP_SECONDS * work)
    what = (f"{count(starts, 'start')} × {count(entries, 'optimizer')} × "
            f"{count(steps, 'step')}")
    path = start_path if starts >= steps else ("steps",)
    out = [Estimate(what, path, bytes=memory, seconds=seconds)]
    out += tuning_estimates(starts, optimizers, steps, function, memory)
    histories = [_hyper(o).get("history_size", 0) for o in optimizers]
    if any(histories):
        history = max(histories)
        holders = starts * sum(1 for h in histories if h)
        out.append(Estimate(
            f"L-BFGS's history_size {history:,} (y, s) pairs for each of {count(holders, 'run')}",
            ("optimizers",), bytes=holders * history * HISTORY_BYTES))
    return out


def tuning_estimates(starts: int, optimizers: Sequence[Any], steps: int, function: Any,
                     experiment_bytes: float) -> list[Estimate]:
    """What tuning the ``lr: auto`` entries adds (optiviz/tuning.py): each entry's ``budget``
    candidates run from every start for every step, ``seeds`` times when the entry is noisy,
    as one run group when the optimizer takes its lr per run (else one candidate at a time).
    The candidates' arrays are freed before the experiment runs, so memory counts only what
    the largest tuning group needs beyond the experiment's own arrays."""
    tuned = [o for o in optimizers if getattr(o, "tune", None) is not None]
    if not tuned:
        return []
    data_points = getattr(function, "n_samples", None)
    seconds, largest, candidates = 0.0, 0.0, 0
    for config in tuned:
        settings = config.tune
        noisy = bool(config.noise) or config.batch_size is not None
        repeats = settings.seeds if noisy else 1
        from optiviz.tuning import chunk_size

        grouped = "lr" in getattr(_spec(config), "per_run_hyper", ()) and config.spec is None
        width = min(settings.budget, chunk_size(starts, steps)) if grouped else 1
        groups = repeats * (math.ceil(settings.budget / width))
        work = _work(config, data_points)
        seconds += groups * steps * (GROUP_STEP_SECONDS + width * starts * RUN_STEP_SECONDS
                                     * work)
        # a candidate run keeps its last step (and a running sum), not every step
        largest = max(largest, width * starts * (2 * RUN_STEP_BYTES + RUN_BYTES))
        candidates += settings.budget * repeats
    what = (f"tuning lr: {count(candidates, 'candidate run')} × {count(starts, 'start')} × "
            f"{count(steps, 'step')}")
    return [Estimate(what, ("tune", "budget"), bytes=max(0.0, largest - experiment_bytes),
                     seconds=seconds)]


def _spec(config: Any) -> Any:
    from optiviz.engine import spec_of

    return spec_of(config)


def _hyper(config: Any) -> dict:
    """The hyperparameters that do the work (a lookahead's inner optimizer's)."""
    inner = getattr(config, "inner", None)
    return inner.hyper if inner is not None else config.hyper


def _work(config: Any, data_points: int | None) -> float:
    """A run step's cost in plain first-order run steps: an L-BFGS step is at least one
    iteration of its own; a dataset objective passes over the batch and the whole data set."""
    if config is None:
        return 1.0
    work = LBFGS_WORK if "history_size" in _hyper(config) else 1.0
    if data_points:
        batch = config.batch_size or data_points
        work += (2 * batch + data_points) * DATA_POINT_SECONDS / RUN_STEP_SECONDS
    return work


def _groups(optimizers: Sequence[Any]) -> list[list[Any]]:
    """The engine's run groups (each steps as one array operation), as lists of entries."""
    if not optimizers:
        return []
    from optiviz.engine import group_entries

    return [[optimizers[i] for i in group] for group in group_entries(optimizers)]


# Basin maps (render.view: basins): streaming reductions over blocks of starts. Per run kept:
# basin code, first step within tolerance, final loss, diverged step (17 bytes; 24 with the
# start itself) and one byte per frame; per worker, one block's working set.
BASIN_RUN_BYTES = 24
BASIN_FRAME_BYTES = 1
#: One block of starts while it runs (optimizer state, temporaries, the near-minimum test):
#: streaming.BLOCK starts × about 60 floats, with slack.
BASIN_BLOCK_BYTES = 4 << 20
#: Seconds per run and step of the streaming loop (the step, the loss, the divergence and
#: tolerance tests; measured 35 ns for Adam on Himmelblau, one core).
BASIN_RUN_STEP_SECONDS = 40e-9
#: Seconds to colour and draw one start's pixel per frame (a palette lookup, the image).
BASIN_PIXEL_SECONDS = 10e-9


def basin_estimates(starts: int, optimizers: Sequence[Any], steps: int, frames: int,
                    function: Any = None, *, start_path: KeyPath = ("start",),
                    workers: int = 1) -> list[Estimate]:
    """Memory and time of a basin map: the per-run reductions and per-frame maps, a block per
    worker, never starts × steps; time over ``workers`` processes."""
    entries = max(1, len(optimizers))
    runs = starts * entries
    data_points = getattr(function, "n_samples", None)
    work = max((_work(entry, data_points) for entry in optimizers), default=1.0)
    what = (f"a basin map of {count(starts, 'start')} × {count(entries, 'optimizer')} × "
            f"{count(steps, 'step')}")
    path = start_path if starts >= steps else ("steps",)
    return [
        Estimate(what, path,
                 bytes=runs * (BASIN_RUN_BYTES + frames * BASIN_FRAME_BYTES)
                 + starts * START_BYTES + max(1, workers) * BASIN_BLOCK_BYTES,
                 seconds=runs * steps * BASIN_RUN_STEP_SECONDS * work / max(1, workers)),
        Estimate(f"{count(frames, 'frame')} of {count(runs, 'pixel')}", ("render", "frames"),
                 seconds=frames * runs * BASIN_PIXEL_SECONDS,
                 verb="needs" if frames == 1 else "need"),
    ]


def _streaming(render: Any) -> bool:
    from optiviz.views import VIEWS

    return VIEWS.get(render.view).streaming


def _basin_frames(steps: int, render: Any) -> int:
    from optiviz.views import VIEWS

    return min(steps + 1, render.frames or VIEWS.get(render.view).default_frames)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_basins(experiment: Any) -> None:
    """:func:`optiviz.streaming.run_basins`' own check, for experiments built in Python."""
    refuse_over(basin_estimates(len(experiment.starts), experiment.optimizers,
                                experiment.steps, _basin_frames(experiment.steps,
                                                                experiment.render),
                                experiment.function, workers=_workers()))


def check_optimizers(
    starts: int,
    optimizers: Sequence[Any],
    steps: int,
    render: Any,
    function: Any = None,
    *,
    start_path: KeyPath = ("start",),
) -> None:
    """Refuse an optimizer experiment (before its starts exist) that would not fit or finish:
    the runs' arrays, one frame's buffers, the time to compute and to draw every frame."""
    if _streaming(render):
        frames = _basin_frames(steps, render)
        refuse_over(basin_estimates(starts, optimizers, steps, frames, function,
                                    start_path=start_path, workers=_workers())
                    + _frame_estimates(render.width, render.height, frames, 0))
        return
    frames = min(steps + 1, render.frames or OPTIMIZER_FRAMES)  # as select_frames picks them
    runs = starts * max(1, len(optimizers))
    refuse_over(optimizer_estimates(starts, optimizers, steps, function, start_path=start_path)
                + _frame_estimates(render.width, render.height, frames, runs)
                + recording_estimates(runs, steps, render))


def recording_estimates(runs: int, steps: int, render: Any) -> list[Estimate]:
    """What the overlays and the state panel make the engine record (optiviz/recording.py):
    one (runs, steps, 2) float64 array per quantity."""
    from optiviz.recording import requested_by

    names = requested_by(render)
    if not names:
        return []
    path = ("render", "overlay") if getattr(render, "overlay", ()) else ("render", "panels")
    return [Estimate(f"recording {', '.join(names)} for {count(runs, 'run')} × "
                     f"{count(steps, 'step')}", path, bytes=runs * steps * 16 * len(names))]


def check_simulation(experiment: Any, recorded: int | None = None) -> None:
    """The engine's own check, for experiments built in Python rather than loaded, and for
    what a run keeps: every step, or ``recorded`` steps (the loader, which cannot know the
    outputs yet, counts every step)."""
    refuse_over(optimizer_estimates(len(experiment.starts), experiment.optimizers,
                                    experiment.steps, experiment.function, recorded=recorded)
                + recording_estimates(len(experiment.starts) * len(experiment.optimizers),
                                      experiment.steps, experiment.render))


# Variational experiments -------------------------------------------------------------------------

#: Per run and step: q's d parameters and seven readouts (objective, cross-entropy, entropy, band
#: low and high, its spread, lr), float64.
VARIATIONAL_STEP_FLOATS = 7
#: One log-density evaluation at one point, with its share of the gradient (measured: about
#: 0.4 ms per step of a 1-D run with 200 nodes and 8 draws, readouts and landscape included).
VARIATIONAL_POINT_SECONDS = 1.5e-6


def variational_estimates(runs: int, steps: int, d: int, nodes: int, samples: int,
                          clouds: int = 0, frames: int = 0) -> list[Estimate]:
    """Memory and time of ``runs`` variational runs of ``steps`` steps over q's ``d``
    parameters, each step an exact expectation over ``nodes`` quadrature nodes and a gradient
    from ``samples`` draws; ``clouds`` single-draw gradients on each of ``frames`` frames
    (the gradients panel). Blames ``variational.samples`` when the draws are most of the work,
    else ``steps``."""
    per_step = nodes + samples
    what = f"{count(runs, 'run')} × {count(steps, 'step')} × {count(per_step, 'point')}"
    path = ("variational", "samples") if samples > nodes else ("steps",)
    out = [Estimate(what, path, bytes=runs * (steps + 1) * 8 * (d + VARIATIONAL_STEP_FLOATS)
                    + 8 * samples * runs * max(d, 2),
                    seconds=runs * steps * per_step * VARIATIONAL_POINT_SECONDS)]
    if clouds and frames:
        out.append(Estimate(
            f"the gradients panel's {count(clouds, 'draw')} on {count(frames, 'frame')}",
            ("render", "panels"), bytes=frames * clouds * 2 * d * 8,
            seconds=frames * clouds * nodes * VARIATIONAL_POINT_SECONDS / 10))
    return out


def check_variational(runs: int, steps: int, d: int, nodes: int, samples: int, render: Any,
                      clouds: int = 0) -> None:
    """Refuse a variational experiment that would not fit or finish: its runs, the gradients
    panel's draws, one frame's buffers, the time to draw every frame."""
    frames = min(steps + 1, render.frames or OPTIMIZER_FRAMES)
    refuse_over(variational_estimates(runs, steps, d, nodes, samples, clouds, frames)
                + _frame_estimates(render.width, render.height, frames, runs * 60))


# Sampling experiments ----------------------------------------------------------------------------

#: Checkpoints the direct, stratified and importance methods evaluate (log-spaced sample counts);
#: their scenes show at most one frame per checkpoint.
CHECKPOINTS = 240
#: Step counts at which the MH diagnostics are taken.
DIAGNOSTIC_CHECKPOINTS = 48
#: Width of a discrete distribution's histogram in standard deviations: its unit bins span the
#: 0.1% to 99.9% quantiles (±3.09 sd for a normal shape), widened to the extreme draws.
DISCRETE_SPAN_SDS = 8.0


def _dimension(distribution: dict) -> int:
    from optiviz.sampling.distributions import DISTRIBUTIONS

    family = DISTRIBUTIONS.get(distribution["name"]).family
    if family in ("continuous", "discrete"):
        return 1
    if distribution["name"] == "multivariate_normal":
        return max(1, len(distribution["mean"]))
    if distribution["name"] == "dirichlet":
        return len(distribution["alpha"])
    return 2


def discrete_bins(distribution: dict) -> float | None:
    """Unit bins of a discrete distribution's histogram (its plotted support), from its
    standard deviation and support; None when they cannot be told cheaply (infinite variance:
    scipy's quantiles are then a linear search, which the budget must not start)."""
    import numpy as np
    import scipy.stats

    params = {k: v for k, v in distribution.items() if k != "name"}
    # as the distribution's builder does: integer parameters given as 10.0 are integers
    params = {k: int(v) if float(v).is_integer() else v for k, v in params.items()}
    frozen = getattr(scipy.stats, distribution["name"])(**params)
    with np.errstate(all="ignore"):
        low, high = (float(v) for v in frozen.support())
        variance = float(frozen.stats(moments="v"))
    support = high - low + 1
    if not math.isfinite(variance) or variance < 0:
        return support if math.isfinite(support) else None
    return max(1.0, min(support, DISCRETE_SPAN_SDS * math.sqrt(variance) + 1))


def _entropy_outcomes(distribution: dict) -> tuple[float, str]:
    """Outcomes scipy enumerates for the exact entropy of binom and hypergeom (the
    distribution's builder asks for it), and the parameter that sets them."""
    name = distribution["name"]
    if name == "binom":
        return float(distribution["n"]) + 1, "n"
    if name == "hypergeom":
        total, good, drawn = (float(distribution[k]) for k in ("M", "n", "N"))
        low, high = max(0.0, drawn - (total - good)), min(good, drawn)
        return max(0.0, high - low + 1), "M"
    return 0.0, ""


def sampling_estimates(config: Any, path: KeyPath = ("sampling",)) -> list[Estimate]:
    """Memory and time of running a validated :class:`~optiviz.experiment.SamplingConfig`,
    with what its scene derives from the result (histograms per frame, re-weighed samples)."""
    from optiviz.sampling.distributions import DISTRIBUTIONS

    distribution, options, method = config.distribution, config.options, config.method
    name = distribution["name"]
    discrete = DISTRIBUTIONS.get(name).family == "discrete"
    out: list[Estimate] = []
    for role in ("distribution", "proposal"):  # both are built, entropy included
        built = distribution if role == "distribution" else options.get("proposal")
        if not built or DISTRIBUTIONS.get(built["name"]).family != "discrete":
            continue
        outcomes, key = _entropy_outcomes(built)
        if outcomes:
            out.append(Estimate(
                f"the entropy of {built['name']}({key}={float(built[key]):,.0f}), a sum over "
                f"{count(outcomes, 'outcome')},", path + (role, key),
                bytes=outcomes * OUTCOME_BYTES, seconds=outcomes * OUTCOME_SECONDS,
                verb="needs"))
    dim = _dimension(distribution)
    if method == "metropolis":
        return out + [_metropolis_estimate(config, dim, path)]
    n = config.samples
    checkpoints = min(n, CHECKPOINTS)
    schemes = 2 if method == "stratified" else 1
    what = count(n, "sample")
    if dim > 1:
        what += f" × {dim} coordinates"
    if schemes == 2:
        what += " × 2 schemes (stratified and plain)"
    seconds = n * dim * schemes * DRAW_SECONDS
    if method == "importance":
        seconds += n * REWEIGH_SECONDS
    out.append(Estimate(what, path + ("samples",), bytes=n * dim * schemes * SAMPLE_BYTES,
                        seconds=seconds))
    if method == "direct" and dim == 1:
        bins = discrete_bins(distribution) if discrete else float(options["bins"])
        if bins is not None:
            what = (f"a histogram of {count(bins, 'unit bin')} (the support of {name})"
                    if discrete else count(bins, "bin"))
            out.append(Estimate(
                f"{what} × {count(checkpoints, 'checkpoint')}",
                path + (("distribution",) if discrete else ("bins",)),
                bytes=bins * checkpoints * BIN_BYTES,
                seconds=bins * checkpoints * (BIN_SECONDS + POINT_SECONDS)))
    if method == "stratified":
        strata = float(options["strata"])
        out.append(Estimate(
            f"{count(strata, 'stratum', 'strata')} × {count(checkpoints, 'checkpoint')}",
            path + ("strata",), bytes=strata * checkpoints * STRATUM_BYTES,
            seconds=strata * (STRATUM_SECONDS + checkpoints * BIN_SECONDS)))
    return out


def _hastings_settings(options: dict) -> int:
    """How many settings ``hastings`` runs (2 for a comparison [true, false])."""
    value = options.get("hastings", True)
    return len(value) if isinstance(value, (list, tuple)) else 1


def _metropolis_estimate(config: Any, dim: int, path: KeyPath) -> Estimate:
    """Every chain's every step at every scale is kept (positions, proposals, acceptances) and
    the diagnostics rank the draws so far at each of their checkpoints. Blames the largest of
    samples, chains and scales."""
    options = config.options
    steps = config.samples
    chains = float(options["chains"])
    settings = _hastings_settings(options)
    scales = float(len(options["scales"] or (1.0,)) * settings)
    draws = scales * chains * (steps + 1)
    factors = {"samples": steps, "chains": chains, "scales": scales}
    key = max(factors, key=lambda k: factors[k])
    seconds = (scales * steps * (MH_STEP_SECONDS + chains * dim * MH_CHAIN_STEP_SECONDS)
               + draws * dim * DIAGNOSTIC_CHECKPOINTS / 2 * DIAGNOSTIC_SECONDS)
    what = f"{count(scales, 'setting' if settings > 1 else 'scale')} × " \
           f"{count(chains, 'chain')} × {count(steps, 'step')}"
    return Estimate(what, path + (key,), bytes=draws * (dim * CHAIN_BYTES + CHAIN_STEP_BYTES),
                    seconds=seconds)


def sampling_frames(config: Any, frames: int | None) -> tuple[int, float]:
    """At most how many frames a sampling scene draws, and its moving points per frame (the
    chains' paths so far, each also an artist; a 2-D cloud's samples so far)."""
    n = config.samples
    if config.method == "metropolis":
        options = config.options
        lines = (float(options["chains"]) * len(options["scales"] or (1.0,))
                 * _hastings_settings(options))
        shown = min(n, frames or SAMPLING_FRAMES)
        return shown, lines * (ARTIST_SECONDS / POINT_SECONDS + n / 2)
    shown = min(n, CHECKPOINTS, frames or SAMPLING_FRAMES)
    if _dimension(config.distribution) == 1 or shown < 2:
        return shown, 0.0
    # frame k shows the first n^(k/(F-1)) samples (log-spaced): n·((F-1)/ln n + 1/2) in all
    return shown, n * ((shown - 1) / math.log(max(n, 2)) + 0.5) / shown


def check_sampling(config: Any, render: Any, path: KeyPath = ("sampling",)) -> None:
    """Refuse a sampling experiment that would not fit or finish, its frames included."""
    frames, points = sampling_frames(config, render.frames)
    refuse_over(sampling_estimates(config, path)
                + _frame_estimates(render.width, render.height, frames, points))


def check_sampling_run(config: Any) -> None:
    """``optiviz.sampling.run``'s own check, for configs built in Python rather than loaded."""
    refuse_over(sampling_estimates(config))
