"""The Python API behind the CLI: load, compute, export, render.

from optiviz import api
report = api.run_file("configs/rosenbrock.yaml", output=Path("out.gif"))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optiviz import config as config_module
from optiviz.atomic import probe_folder
from optiviz.errors import ConfigError, OptivizError
from optiviz.experiment import Experiment
from optiviz.progress import Progress
from optiviz.report import RunSummary, summarize


@dataclass(frozen=True)
class RunReport:
    """What one config produced. ``summary`` holds the final numbers (per optimizer entry: the
    final loss over its starts, diverged runs, runs that left the view; or the sampling
    estimates) and ``summary.lines()`` says them as the CLI does; ``final`` is the same numbers
    as the batch manifest records them (``RunSummary.final()``)."""

    config: Path
    outputs: list[Path]
    seconds: float
    final: dict[str, Any] = field(default_factory=dict)
    summary: RunSummary | None = None
    experiment: Experiment | None = None  # as run: lr: auto entries carry their tuned lr


def load(path: str | Path, overrides: Sequence[str] = (), *, render: bool = True) -> Experiment:
    """Read and validate a config; ``render=False`` skips the checks only drawing needs."""
    return config_module.load(path, overrides, render=render)


def tune(experiment: Experiment, progress: Callable[[int, int], None] | None = None
         ) -> Experiment:
    """``experiment`` with every ``lr: auto`` tuned (optiviz/tuning.py): the chosen lr, the
    label that says it and the tuning's record on each such entry; itself when it has none."""
    if experiment.kind != "optimizers":  # only optimizer experiments tune (variational
        return experiment                 # configs refuse lr: auto at load)
    from optiviz import tuning

    try:
        return tuning.tune(experiment, progress=progress)
    except ConfigError as exc:
        raise config_module.locate_in_source(exc, experiment.source) from None


def compute_optimizers(experiment: Experiment,
                       progress: Callable[[int, int], None] | None = None, *,
                       plan: Any = None, still: bool = False, dask: Any = None) -> Any:
    """The optimizer kind's computing (:mod:`optiviz.kinds`): a basins view's streaming maps
    (``still``: the final map only, for a PNG; ``dask``: a ``distributed.Client`` to compute
    the blocks of starts on); else ``lr: auto`` tuned, then every run simulated, the tuning's
    record attached to the Trajectories. ``plan``: what to record
    (:func:`optiviz.reductions.plan`); None records every step."""
    from optiviz.views import is_streaming

    if is_streaming(experiment):
        from optiviz.streaming import run_basins

        return run_basins(experiment, still=still, progress=progress, client=dask)
    from optiviz import tuning
    from optiviz.engine import simulate

    tuned = tuning.tune(experiment)
    if plan is None or plan.wanted is None:
        result = simulate(tuned, progress=progress)
    else:
        result = simulate(tuned, progress=progress, record_steps=plan.steps,
                          reduce=plan.wanted)
    return result if tuned is experiment else tuning.attach(result, tuned)


def compute(experiment: Experiment, progress: Callable[[int, int], None] | None = None,
            *, plan: Any = None, still: bool = False, dask: Any = None) -> Any:
    """Trajectories for optimizer experiments (BasinMaps for a basins view), a SamplingResult
    for sampling ones, a VariationalResult for variational ones (:mod:`optiviz.kinds`).
    ``progress(done, total)``, when given, hears now and then how far the work is. A config
    problem only computing can find (an estimate that is NaN at a sample) is a ConfigError
    naming the config file and the key. Entries with ``lr: auto`` are tuned first (see
    :func:`tune`, which also returns the experiment with the chosen lrs, for rendering).
    ``plan``: what to record (:func:`optiviz.reductions.plan`, for the outputs a run writes;
    only optimizer experiments record less than everything); None records every step.
    ``still`` and ``dask``: see :func:`compute_optimizers` (basin maps only)."""
    from optiviz.kinds import KINDS
    from optiviz.views import is_streaming

    options: dict[str, Any] = {}
    if plan is not None and plan.wanted is not None:
        options["plan"] = plan
    if is_streaming(experiment):
        options.update(still=still, dask=dask)
    elif dask is not None:
        check_dask([experiment])
    try:
        return KINDS[experiment.kind].call("compute", experiment, progress=progress,
                                           **options)
    except ConfigError as exc:
        if experiment.source is None and experiment.name == "stdin" and exc.file is None:
            exc.file = "<stdin>"
        raise config_module.locate_in_source(exc, experiment.source) from None


def output_path(
    experiment: Experiment, *, output: Path | None = None, out_dir: Path | None = None
) -> Path:
    """Where the animation goes: ``-o``, else ``render.output``, else ``<config name>.gif``.

    With ``out_dir`` (``--out-dir``, batches) only the file name of ``render.output`` counts,
    absolute or relative: every output of a batch lands inside its out-dir, next to the
    manifest that records it."""
    if output is not None:
        return Path(output)
    chosen = Path(experiment.render.output or f"{experiment.name}.gif")
    if out_dir is not None:
        return Path(out_dir) / chosen.name
    return chosen


def output_origin(experiment: Experiment, *, output: Path | None = None) -> str:
    """Where :func:`output_path` took the path from, as messages name it."""
    if output is not None:
        return "-o/--output"
    return "render.output" if experiment.render.output else "the default output"


@dataclass(frozen=True)
class PlannedOutput:
    """A file a command is about to write: where, for which config, named by what."""

    path: Path
    config: Path | None
    origin: str  # "-o/--output", "render.output", "the default output", "--data"

    def describe(self) -> str:
        return f"{shown(self.config)} ({self.origin})" if self.config is not None \
            else self.origin


def shown(path: Path | str) -> str:
    """``path`` as messages show it: relative to the working folder when inside it."""
    absolute = os.path.abspath(path)
    here = os.getcwd()
    inside = absolute.startswith(here.rstrip(os.sep) + os.sep)
    return os.path.relpath(absolute, here) if inside else str(path)


def check_outputs(
    outputs: Sequence[PlannedOutput],
    inputs: Sequence[Path] = (),
    claimed: Sequence[PlannedOutput] = (),
) -> None:
    """Refuse, before computing, a set of outputs that would lose data: an output that is an
    input (a config), two outputs that are one file, or an output ``claimed`` by another
    config (a batch manifest's record). Paths are compared after following symbolic links,
    and by inode where the files exist."""
    from optiviz.atomic import file_keys

    sources: dict[tuple, Path] = {}
    for path in inputs:
        for key in file_keys(path):
            sources.setdefault(key, Path(path))
    writers: dict[tuple, PlannedOutput] = {}
    for planned in outputs:
        keys = file_keys(planned.path)
        replaced = next((sources[k] for k in keys if k in sources), None)
        if replaced is not None:
            whose = ("the config itself" if planned.config is not None
                     and any(k in file_keys(planned.config) for k in keys)
                     else f"the config {shown(replaced)}")
            where = f"{shown(planned.config)}: " if planned.config is not None else ""
            raise OptivizError(
                f"{where}{planned.origin} {shown(planned.path)} would replace {whose}; "
                "write the output under another name"
            )
        other = next((writers[k] for k in keys if k in writers), None)
        if other is not None:
            raise OptivizError(
                f"{shown(planned.path)} would be written twice, by {other.describe()} and by "
                f"{planned.describe()}; give each its own output name"
            )
        for key in keys:
            writers[key] = planned
    owners = {key: owner for owner in claimed for key in file_keys(owner.path)}
    for planned in outputs:
        owner = next((owners[k] for k in file_keys(planned.path) if k in owners), None)
        if owner is not None:
            raise OptivizError(
                f"{shown(planned.path)} already holds the output of {owner.describe()}; "
                f"{planned.describe()} would replace it: give one of them another output name "
                "or use another --out-dir"
            )


def final_numbers(experiment: Experiment, result: Any) -> dict[str, Any]:
    """The batch manifest's ``final``: per optimizer label ``{median, q1, q3, diverged,
    left_view, runs}``, or the sampling summary; null (None) for anything not finite."""
    return summarize(experiment, result).final()


def data_arrays(experiment: Experiment, result: Any,
                summary: RunSummary | None = None) -> dict[str, np.ndarray]:
    """Everything ``--data`` writes: the result's arrays, and for optimizer experiments the
    summary table (``summary_*``, ``success_step``) and the tuning's (``tuned_lr``,
    ``tuning_*``) when an lr was tuned."""
    arrays = dict(result.arrays())
    if experiment.kind == "optimizers":
        from optiviz.tuning import data_arrays as tuning_arrays

        arrays.update((summary or summarize(experiment, result, statistics=True)).arrays())
        arrays.update(tuning_arrays(experiment, result))
    return arrays


def write_data(result: Any, path: Path, experiment: Experiment | None = None,
               summary: RunSummary | None = None) -> Path:
    """Write the ``--data`` NPZ atomically (with ``experiment``: :func:`data_arrays`)."""
    from optiviz.atomic import atomic_output

    arrays = result.arrays() if experiment is None else data_arrays(experiment, result, summary)
    with atomic_output(Path(path)) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    return path


def check_writable(path: Path, origin: str = "render.output") -> None:
    """Fail before computing if the output cannot be written (unknown format, a name too
    long, a folder in the way, a folder that cannot be created or written). ``origin`` names
    where the path came from in messages."""
    from optiviz.render import check_output

    check_output(Path(path), origin)


def check_data_path(path: Path) -> None:
    from optiviz.atomic import check_names

    if Path(path).suffix.lower() != ".npz":
        raise OptivizError(f"--data {str(path)!r}: writes NumPy .npz files; use a name ending "
                           "in .npz")
    check_names(Path(path))
    if Path(path).is_dir():
        raise OptivizError(f"--data {str(path)!r} is a folder, not a file")
    probe_folder(Path(path))


def planned_outputs(
    experiment: Experiment,
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
    config_path: Path | None = None,
) -> list[PlannedOutput]:
    """Every file :func:`run_experiment` would write with these arguments, checked to be
    writable (before any computing)."""
    config = config_path or experiment.source
    planned: list[PlannedOutput] = []
    if render:
        origin = output_origin(experiment, output=output)
        target = output_path(experiment, output=output, out_dir=out_dir)
        check_writable(target, origin)
        planned.append(PlannedOutput(target, config, origin))
    if data is not None:
        check_data_path(Path(data))
        planned.append(PlannedOutput(Path(data), config, "--data"))
    return planned


def config_inputs(configs: Sequence[Path | None]) -> list[Path]:
    """The files among ``configs`` (a config read from stdin has none)."""
    return [Path(c) for c in configs if c is not None and Path(c).is_file()]


def check_runs(
    runs: Sequence[tuple[Path | None, Experiment]],
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
) -> None:
    """Before computing any of ``runs`` (config path, experiment): every file they would write
    is writable, none is one of the configs, no two are the same file, and none is an output
    that ``out_dir``'s batch manifest records for another config."""
    planned = [
        item
        for config, experiment in runs
        for item in planned_outputs(experiment, output=output, out_dir=out_dir, data=data,
                                    render=render, config_path=config)
    ]
    configs = config_inputs([config or experiment.source for config, experiment in runs])
    claims: list[PlannedOutput] = []
    if out_dir is not None:
        from optiviz.batch import MANIFEST_NAME, manifest_claims, read_manifest

        previous = read_manifest(Path(out_dir) / MANIFEST_NAME)
        claims = manifest_claims(previous, Path(out_dir), configs)
    check_outputs(planned, configs, claims)


def run_experiment(
    experiment: Experiment,
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
    quiet: bool = True,
    config_path: Path | None = None,
    dask: Any = None,
    statistics: bool = False,
) -> RunReport:
    """Tune, compute and write one experiment. ``statistics``: measure success over the starts
    (``run --summary``); it is measured anyway with ``data`` or a ``tolerance:`` key.
    ``dask``: a ``distributed.Client`` (:func:`dask_client`) to compute a basin map's blocks of
    starts on; the output is the same bytes as without."""
    started = time.perf_counter()
    planned = planned_outputs(experiment, output=output, out_dir=out_dir, data=data,
                              render=render, config_path=config_path)
    check_outputs(planned, config_inputs([config_path or experiment.source]))
    target = planned[0].path if render else None
    still = target is not None and _is_still(target)
    from optiviz.tuning import pending

    if experiment.kind == "optimizers" and pending(experiment):
        with Progress(1, label="tuning lr", unit="steps", enabled=not quiet) as progress:
            experiment = tune(experiment, progress=progress.callback)
    from optiviz.reductions import plan

    # only what the outputs read: every step for --data and paths, else the frames and the
    # reductions (optiviz/reductions.py)
    kept = plan(experiment, render=render, data=data is not None, statistics=statistics)
    with Progress(1, label="computing", unit="steps", enabled=not quiet) as progress:
        result = compute(experiment, progress=progress.callback, plan=kept, still=still,
                         dask=dask)
    summary = summarize(experiment, result,
                        statistics=True if statistics or data is not None else None)
    outputs: list[Path] = []
    if data is not None:
        outputs.append(write_data(result, Path(data), experiment, summary))
    if target is not None:
        from optiviz.render import render as render_animation

        try:
            outputs.append(render_animation(experiment, result, target, quiet=quiet))
        except ConfigError as exc:  # a render key refused by the scene: say where it is
            raise config_module.locate_in_source(exc, experiment.source) from None
    return RunReport(
        config=Path(config_path or experiment.source or experiment.name),
        outputs=outputs,
        seconds=time.perf_counter() - started,
        final=summary.final(),
        summary=summary,
        experiment=experiment,
    )


def dask_client(address: str, timeout: float | None = None) -> Any:
    """A context manager giving a ``distributed.Client`` for ``address`` (``"local"``: a
    cluster of worker processes on this machine, closed afterwards); one line of
    :class:`OptivizError` when the scheduler cannot be reached within ``timeout`` seconds."""
    from optiviz.streaming import dask_client as client_for

    return client_for(address, timeout)


def check_dask(experiments: Sequence[Experiment]) -> None:
    """``--dask`` computes basin maps only: refuse it, before connecting, for anything else."""
    from optiviz.views import is_streaming

    for experiment in experiments:
        if not is_streaming(experiment):
            raise OptivizError(
                f"{experiment.name}: --dask splits the starts of a basin map (render: "
                "{view: basins}); to spread many configs over a cluster use optiviz batch "
                "--dask")


def _is_still(target: Path) -> bool:
    """Whether ``target``'s format is a still (PNG, SVG, PDF): only the final frame is drawn."""
    from optiviz.render.writers import output_format

    return not output_format(Path(target)).animated


def out_dir_lock(out_dir: str | Path) -> Any:
    """The out-dir's lock (:class:`optiviz.batch.OutDirLock`), as a context manager, the
    folder created first: ``optiviz run --out-dir`` holds it while it checks and writes."""
    from optiviz.batch import OutDirLock

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return OutDirLock(Path(out_dir))


def run_file(
    path: str | Path,
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
    quiet: bool = True,
    overrides: Sequence[str] = (),
    dask: Any = None,
    statistics: bool = False,
) -> RunReport:
    """Load, compute and write one config (``statistics``, ``dask``: see
    :func:`run_experiment`)."""
    experiment = load(path, overrides)
    return run_experiment(
        experiment,
        dask=dask,
        output=output,
        out_dir=out_dir,
        data=data,
        render=render,
        quiet=quiet,
        config_path=Path(path),
        statistics=statistics,
    )
