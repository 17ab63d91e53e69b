"""The ``optiviz`` command line: run, batch, validate, list, init.

Commands only: numerics live in the engine and sampling modules, drawing in ``optiviz.render``.
Errors the user can fix print one line and exit with status 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from optiviz import __version__
from optiviz.catalog import kinds as list_kinds
from optiviz.errors import OptivizError


def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into one clean line on stderr and exit status 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OptivizError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except OSError as exc:  # the disk, not the config: full, vanished, read-only
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="optiviz")
def cli() -> None:
    """Animate optimizers racing over loss surfaces and samplers filling histograms.

    Start with `optiviz init > exp.yaml`, then `optiviz run exp.yaml`.
    """


@cli.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.gif .mp4 .webm .png .svg .pdf); overrides render.output.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the outputs of several configs.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the computed arrays to this .npz file.",
)
@click.option("--no-render", is_flag=True, help="Compute (and --data) only; draw nothing.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set steps=500 --set optimizers[0].lr=0.01.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_user_errors
def run(
    configs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    data: Path | None,
    no_render: bool,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run experiments and render their animations.

    CONFIGS are YAML files; - reads one from standard input (name its output with -o or
    render.output, or use --no-render).
    """
    from optiviz import api

    if len(configs) > 1 and (output is not None or data is not None):
        raise OptivizError("-o/--output and --data take one config; use --out-dir for several")
    if no_render and output is not None:
        raise OptivizError("-o/--output and --no-render contradict each other")
    _check_stdin(configs)
    # Validate every config before computing any, so a typo in the last fails fast.
    experiments = [api.load(path, overrides, render=not no_render) for path in configs]
    for path, experiment in zip(configs, experiments, strict=True):
        if str(path) == "-" and not no_render and output is None and not experiment.render.output:
            raise OptivizError("<stdin>: a config read from standard input has no file name to "
                               "name its output after; give -o FILE, render.output or --no-render")
    for path, experiment in zip(configs, experiments, strict=True):
        report = api.run_experiment(
            experiment,
            output=output,
            out_dir=out_dir,
            data=data,
            render=not no_render,
            quiet=quiet,
            config_path=path,
        )
        if not quiet:
            written = ", ".join(str(p) for p in report.outputs) or "nothing written"
            shown = "<stdin>" if str(path) == "-" else path
            click.echo(f"{shown}: {written} ({report.seconds:.1f} s)", err=True)


def _check_stdin(configs: tuple[Path, ...]) -> None:
    """``-`` reads the config from standard input, once."""
    if sum(str(path) == "-" for path in configs) > 1:
        raise OptivizError("-: standard input can be read only once")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel processes (default: all cores).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gallery"),
    show_default=True,
    help="Folder for outputs and manifest.json.",
)
@click.option("--force", is_flag=True, help="Render even configs whose output is up to date.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failing config.")
@click.option(
    "--dask",
    metavar="ADDRESS",
    default=None,
    help="Send the jobs to a Dask scheduler, e.g. tcp://scheduler:8786.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_user_errors
def batch(
    paths: tuple[str, ...],
    jobs: int | None,
    out_dir: Path,
    force: bool,
    fail_fast: bool,
    dask: str | None,
    quiet: bool,
) -> None:
    """Render every config under PATHS (folders and globs) in parallel, for CI."""
    from optiviz.batch import expand_paths, run_batch

    configs = expand_paths(paths)
    progress = None if quiet else (lambda line: click.echo(line, err=True))
    report = run_batch(
        configs,
        out_dir=out_dir,
        jobs=jobs,
        force=force,
        fail_fast=fail_fast,
        dask=dask,
        progress=progress,
    )
    if not quiet:
        counts = ", ".join(
            f"{report.count(status)} {status}"
            for status in ("ok", "skipped", "failed", "cancelled")
            if report.count(status)
        )
        click.echo(f"{counts or 'nothing to do'} in {report.seconds:.1f} s; "
                   f"manifest: {out_dir / 'manifest.json'}", err=True)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@_user_errors
def validate(paths: tuple[str, ...]) -> None:
    """Check configs without running them; report every error with file:line."""
    from optiviz.batch import expand_paths
    from optiviz.config import validate_files

    # "-": the config on standard input, as for run.
    files = [Path("-")][: "-" in paths] + expand_paths([p for p in paths if p != "-"])
    errors = validate_files(files)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        sys.exit(2)
    click.echo(f"{len(files)} config{'s' if len(files) != 1 else ''} OK", err=True)


@cli.command("list")
@click.argument("kind", required=False, type=click.Choice(list_kinds()))
@_user_errors
def list_(kind: str | None) -> None:
    """List optimizers, functions, schedules, distributions, sampling methods or output
    formats, with every parameter and default."""
    from optiviz.catalog import table

    kinds = [kind] if kind else list(list_kinds())
    click.echo("\n\n".join(table(k) for k in kinds))


@cli.command()
@click.option(
    "--function", "function", metavar="NAME", help="Test function (see optiviz list functions)."
)
@click.option(
    "--optimizers",
    metavar="A,B,C",
    default="",
    help="Comma-separated optimizers (see optiviz list optimizers).",
)
@click.option(
    "--sampling",
    metavar="DIST",
    default=None,
    help="Make a sampling experiment of this distribution instead.",
)
@_user_errors
def init(function: str | None, optimizers: str, sampling: str | None) -> None:
    """Print a commented, working config to start from: optiviz init > exp.yaml"""
    from optiviz.templates import init_config

    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    click.echo(init_config(function=function, optimizers=names, sampling=sampling), nl=False)


def main() -> None:
    cli(prog_name="optiviz")


if __name__ == "__main__":
    main()
