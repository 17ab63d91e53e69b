"""The Python API behind the CLI: load, compute, export, render.

from optiviz import api
report = api.run_file("configs/rosenbrock.yaml", output=Path("out.gif"))
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optiviz import config as config_module
from optiviz.atomic import probe_folder
from optiviz.errors import ConfigError, OptivizError
from optiviz.experiment import Experiment


@dataclass(frozen=True)
class RunReport:
    """What one config produced."""

    config: Path
    outputs: list[Path]
    seconds: float
    final: dict[str, float] = field(default_factory=dict)


def load(path: str | Path, overrides: Sequence[str] = (), *, render: bool = True) -> Experiment:
    """Read and validate a config; ``render=False`` skips the checks only drawing needs."""
    return config_module.load(path, overrides, render=render)


def compute(experiment: Experiment) -> Any:
    """Trajectories for optimizer experiments, a SamplingResult for sampling ones. A config
    problem only computing can find (an estimate that is NaN at a sample) is a ConfigError
    naming the config file and the key."""
    try:
        if experiment.kind == "sampling":
            from optiviz import sampling

            return sampling.run(experiment.sampling)
        from optiviz.engine import simulate

        return simulate(experiment)
    except ConfigError as exc:
        if experiment.source is None and experiment.name == "stdin" and exc.file is None:
            exc.file = "<stdin>"
        raise config_module.locate_in_source(exc, experiment.source) from None


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


def final_numbers(experiment: Experiment, result: Any) -> dict[str, float]:
    """Final loss of each optimizer entry (first start; NaN if it diverged), or the sampling
    summary."""
    if experiment.kind == "sampling":
        return {k: float(v) for k, v in result.summary().items()}
    final = result.final_loss()
    out: dict[str, float] = {}
    n = len(experiment.starts)
    for i, opt in enumerate(experiment.optimizers):
        label = opt.label
        while label in out:
            label += "'"
        value = final[i * n]
        out[label] = None if result.diverged[i * n] else float(value)  # type: ignore[assignment]
    return out


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
    result = compute(experiment)
    outputs: list[Path] = []
    if data is not None:
        outputs.append(write_data(result, Path(data)))
    if target is not None:
        from optiviz.render import render as render_animation

        outputs.append(render_animation(experiment, result, target, quiet=quiet))
    return RunReport(
        config=Path(config_path or experiment.source or experiment.name),
        outputs=outputs,
        seconds=time.perf_counter() - started,
        final=final_numbers(experiment, result),
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
