"""The Python API behind the CLI: load, compute, export, render.

from optiviz import api
report = api.run_file("configs/rosenbrock.yaml", output=Path("out.gif"))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optiviz import config as config_module
from optiviz.atomic import probe_folder
from optiviz.errors import OptivizError
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


def load(path: str | Path, overrides: Sequence[str] = ()) -> Experiment:
    return config_module.load(path, overrides)


def compute(experiment: Experiment, progress: Callable[[int, int], None] | None = None) -> Any:
    """Trajectories for optimizer experiments, a SamplingResult for sampling ones.
    ``progress(done, total)``, when given, hears now and then how far the work is."""
    if experiment.kind == "sampling":
        from optiviz import sampling

        return sampling.run(experiment.sampling, progress=progress)
    from optiviz.engine import simulate

    return simulate(experiment, progress=progress)


def output_path(
    experiment: Experiment, *, output: Path | None = None, out_dir: Path | None = None
) -> Path:
    """Where the animation goes: ``-o``, else ``render.output``, else ``<config name>.gif``;
    relative paths are taken inside ``out_dir`` (default: the current folder)."""
    if output is not None:
        return Path(output)
    chosen = Path(experiment.render.output or f"{experiment.name}.gif")
    if out_dir is not None and not chosen.is_absolute():
        # Keep only the file name: a batch collects everything in one folder.
        return Path(out_dir) / chosen.name
    return chosen


def final_numbers(experiment: Experiment, result: Any) -> dict[str, Any]:
    """The batch manifest's ``final``: per optimizer label ``{median, q1, q3, diverged,
    left_view, runs}``, or the sampling summary; null (None) for anything not finite."""
    return summarize(experiment, result).final()


def write_data(result: Any, path: Path) -> Path:
    """Write the ``--data`` NPZ atomically."""
    from optiviz.atomic import atomic_output

    arrays = result.arrays()
    with atomic_output(Path(path)) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    return path


def check_writable(path: Path) -> None:
    """Fail before computing if the output cannot be written (unknown format, a folder in the
    way, a folder that cannot be created or written)."""
    from optiviz.render import check_output

    check_output(Path(path))


def check_data_path(path: Path) -> None:
    if Path(path).suffix.lower() != ".npz":
        raise OptivizError(f"{path}: --data writes NumPy .npz files; use a name ending in .npz")
    probe_folder(Path(path))


def run_experiment(
    experiment: Experiment,
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
    quiet: bool = True,
    config_path: Path | None = None,
) -> RunReport:
    started = time.perf_counter()
    target = output_path(experiment, output=output, out_dir=out_dir) if render else None
    if target is not None:
        check_writable(target)
    if data is not None:
        check_data_path(Path(data))
    with Progress(1, label="computing", unit="steps", enabled=not quiet) as progress:
        result = compute(experiment, progress=progress.callback)
    outputs: list[Path] = []
    if data is not None:
        outputs.append(write_data(result, Path(data)))
    if target is not None:
        from optiviz.render import render as render_animation

        outputs.append(render_animation(experiment, result, target, quiet=quiet))
    summary = summarize(experiment, result)
    return RunReport(
        config=Path(config_path or experiment.source or experiment.name),
        outputs=outputs,
        seconds=time.perf_counter() - started,
        final=summary.final(),
        summary=summary,
    )


def run_file(
    path: str | Path,
    *,
    output: Path | None = None,
    out_dir: Path | None = None,
    data: Path | None = None,
    render: bool = True,
    quiet: bool = True,
    overrides: Sequence[str] = (),
) -> RunReport:
    """Load, compute and write one config."""
    experiment = load(path, overrides)
    return run_experiment(
        experiment,
        output=output,
        out_dir=out_dir,
        data=data,
        render=render,
        quiet=quiet,
        config_path=Path(path),
    )
