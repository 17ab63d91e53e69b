"""The ``optiviz`` command line: run, batch, validate, list, init.

Commands only: numerics live in the engine and sampling modules, drawing in ``optiviz.render``.
Errors the user can fix print one line and exit with status 2.
"""

from __future__ import annotations

import functools
import gc
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from optiviz import __version__
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


def _exit_status(*codes: tuple[int, str]) -> str:
    """The "Exit status" epilog of a command that reads configs (README.md says the same)."""
    rows = [(0, "success"), *codes, (130, "interrupted (Ctrl-C)"),
            (143, "terminated (SIGTERM, e.g. a CI timeout)")]
    import textwrap

    lines = [textwrap.fill(text, 76, initial_indent=f"  {code:<4} ",
                           subsequent_indent=" " * 7) for code, text in rows]
    return "\b\nExit status:\n" + "\n".join(lines)


RUN_EXIT_STATUS = _exit_status(
    (1, "a disk error (full, read-only, a folder gone)"),
    (2, "bad input: a config error, a bad option or argument"),
)
BATCH_EXIT_STATUS = _exit_status(
    (1, "a config failed, timed out or was cancelled (see manifest.json), or a disk error"),
    (2, "bad input, nothing computed: a bad option or argument, no config found, colliding "
        "outputs, the out-dir in use by another batch, Dask unreachable"),
)
VALIDATE_EXIT_STATUS = _exit_status(
    (1, "a disk error"),
    (2, "a config has errors, or a bad option or argument"),
)


def _sigterm_says_terminated(command: Callable[..., Any]) -> Callable[..., Any]:
    """SIGTERM (``kill``, a CI timeout) while the command runs: clean up as for Ctrl-C (the
    temporary file goes, the previous output stays), print ``terminated`` and exit 143."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from optiviz.atomic import sigterm_as_exit

        try:
            with sigterm_as_exit():  # SIGTERM -> SystemExit(143), as inside atomic writes
                return command(*args, **kwargs)
        except SystemExit as exc:
            if exc.code == 128 + signal.SIGTERM:
                click.echo("terminated", err=True)
            raise

    return wrapper


def _warning_line(line: str) -> None:
    from optiviz.progress import clear_line

    clear_line()
    click.echo(line, err=True)


# run (a basin map's starts) and batch (the jobs) reach a Dask scheduler alike
DASK_TIMEOUT = click.option(
    "--dask-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10,
    show_default=True,
    metavar="SECONDS",
    envvar="OPTIVIZ_DASK_TIMEOUT",
    help="Give up reaching the --dask scheduler after this long [env: OPTIVIZ_DASK_TIMEOUT].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="optiviz")
def cli() -> None:
    """Animate optimizers racing over loss surfaces and samplers filling histograms.

    Start with `optiviz init > exp.yaml`, then `optiviz run exp.yaml`. `optiviz COMMAND --help`
    gives a command's options and exit status.
    """


@cli.command(epilog=RUN_EXIT_STATUS)
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.gif .mp4 .webm .html .png .svg .pdf); overrides render.output.",
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
@click.option(
    "--dask",
    metavar="ADDRESS",
    default=None,
    help="Compute a basin map's starts on a Dask cluster (tcp://scheduler:8786, or local).",
)
@DASK_TIMEOUT
@click.option("--summary", "table", is_flag=True,
              help="Print a table per config on stdout: per optimizer the median and IQR of "
                   "the final loss, success rate and median steps to tolerance, diverged runs, "
                   "tuned lr.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_sigterm_says_terminated
@_user_errors
def run(
    configs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    data: Path | None,
    no_render: bool,
    overrides: tuple[str, ...],
    dask: str | None,
    dask_timeout: float,
    table: bool,
    quiet: bool,
) -> None:
    """Run experiments and render their animations.

    CONFIGS are YAML files; - reads one from standard input (name its output with -o or
    render.output, or use --no-render).

    On a terminal a progress line shows how far computing and rendering are; after each
    config, one line per optimizer gives its final loss (median and spread over the starts),
    how many runs diverged and how many left the view (for sampling: the estimates).
    Warnings are one line each; -q prints nothing unless the run fails.

    --dask splits the starts of a basin map (render: {view: basins}) into chunks computed
    on a Dask cluster's workers and renders here; the output is the same file as without.
    """
    import contextlib

    from optiviz import api
    from optiviz.notices import one_line_warnings

    if len(configs) > 1 and (output is not None or data is not None):
        raise OptivizError("-o/--output and --data take one config; use --out-dir for several")
    if no_render and output is not None:
        raise OptivizError("-o/--output and --no-render contradict each other")
    _check_stdin(configs)
    echo = None if quiet else _warning_line
    with one_line_warnings(echo):
        # Validate every config and every output before computing any, so a typo in the
        # last, or two configs writing one file, fails fast.
        experiments = [api.load(path, overrides, render=not no_render) for path in configs]
        for path, experiment in zip(configs, experiments, strict=True):
            if (str(path) == "-" and not no_render and output is None
                    and not experiment.render.output):
                raise OptivizError("<stdin>: a config read from standard input has no file "
                                   "name to name its output after; give -o FILE, "
                                   "render.output or --no-render")
        if out_dir is not None:  # no batch (or other run) writes there meanwhile
            click.get_current_context().with_resource(api.out_dir_lock(out_dir))
        api.check_runs(list(zip(configs, experiments, strict=True)), output=output,
                       out_dir=out_dir, data=data, render=not no_render)
        if dask is not None:
            api.check_dask(experiments)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(api.dask_client(dask, dask_timeout)) if dask else None
        for path, experiment in zip(configs, experiments, strict=True):
            with one_line_warnings(echo, prefix=f"{path}: "):
                report = api.run_experiment(
                    experiment,
                    output=output,
                    out_dir=out_dir,
                    data=data,
                    render=not no_render,
                    quiet=quiet,
                    config_path=path,
                    statistics=table,
                    dask=client,
                )
            _say_done(path, report, quiet, table)


def _say_done(path: Path, report: Any, quiet: bool, table: bool) -> None:
    """The lines after a config: what it wrote and its summary (stderr), and with --summary
    its table (stdout)."""
    shown = "<stdin>" if str(path) == "-" else path
    if not quiet:
        written = ", ".join(str(p) for p in report.outputs) or "nothing written"
        click.echo(f"{shown}: {written} ({report.seconds:.1f} s)", err=True)
        for line in report.summary.lines() if report.summary else ():
            click.echo(f"  {line}", err=True)
    if table and report.summary is not None:
        click.echo(f"{shown}:")
        for line in report.summary.table():
            click.echo(f"  {line}")


def _check_stdin(configs: tuple[Path, ...]) -> None:
    """``-`` reads the config from standard input, once."""
    if sum(str(path) == "-" for path in configs) > 1:
        raise OptivizError("-: standard input can be read only once")


@cli.command(epilog=BATCH_EXIT_STATUS)
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
    help="Send the jobs to a Dask scheduler (tcp://scheduler:8786, or local: a cluster on "
    "this machine for the batch).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3600,
    show_default=True,
    metavar="SECONDS",
    help="Stop a config that runs longer and count it as failed.",
)
@DASK_TIMEOUT
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@_user_errors
def batch(
    paths: tuple[str, ...],
    jobs: int | None,
    out_dir: Path,
    force: bool,
    fail_fast: bool,
    dask: str | None,
    timeout: float,
    dask_timeout: float,
    quiet: bool,
) -> None:
    """Render many configs in parallel, for CI.

    PATHS are config files, folders (searched recursively) and globs. Outputs and
    manifest.json go to --out-dir; configs whose output is up to date are skipped.
    On Ctrl-C or SIGTERM queued jobs are cancelled, running ones stopped, and the
    manifest records what finished.
    """
    import signal

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
        timeout=timeout,
        dask_timeout=dask_timeout,
    )
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in ("ok", "skipped", "failed", "cancelled")
        if report.count(status)
    )
    summary = (f"{counts or 'nothing to do'} in {report.seconds:.1f} s; "
               f"manifest: {out_dir / 'manifest.json'}")
    if report.stopped_by is not None:
        name = signal.Signals(report.stopped_by).name
        click.echo(f"interrupted by {name}: {summary}", err=True)
        sys.exit(128 + report.stopped_by)
    if not quiet:
        click.echo(summary, err=True)
    if not report.ok:
        sys.exit(1)


@cli.command(epilog=VALIDATE_EXIT_STATUS)
@click.argument("paths", nargs=-1, required=True)
@_user_errors
def validate(paths: tuple[str, ...]) -> None:
    """Check configs without running them.

    Every error of every file is reported, one line each, with file:line.
    """
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
@click.argument("kind", required=False, metavar="[KIND]")
@_user_errors
def list_(kind: str | None) -> None:
    """List the names a config can use, with their defaults.

    KIND is one of optimizers, functions, schedules, distributions, methods (sampling),
    writers (output formats), panels, views or variational; the singular works too. Without
    KIND, every table.
    """
    from optiviz.catalog import kinds, resolve_kind, table

    chosen = [resolve_kind(kind)] if kind is not None else list(kinds())
    click.echo("\n\n".join(table(k) for k in chosen))


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
@click.option(
    "--variational",
    metavar="TARGET",
    default=None,
    help="Make a variational experiment fitting q to this target instead (mixture: two modes).",
)
@_user_errors
def init(function: str | None, optimizers: str, sampling: str | None,
         variational: str | None) -> None:
    """Print a commented config to start from.

    The config runs as printed: optiviz init > exp.yaml && optiviz run exp.yaml
    """
    from optiviz.templates import init_config

    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    click.echo(init_config(function=function, optimizers=names, sampling=sampling,
                           variational=variational), nl=False)


def main() -> None:
    try:
        cli(prog_name="optiviz")
    finally:
        # The command is over (outputs written and closed, workers joined): only the
        # interpreter's shutdown is left, whose garbage collections would walk every object
        # Matplotlib and NumPy made (about 80 ms of every run). Frozen objects are not walked;
        # the operating system takes the memory back.
        gc.freeze()


if __name__ == "__main__":
    main()
