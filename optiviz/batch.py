"""Render many configs at once: parallel processes (or a Dask cluster), a manifest, a cache.

A batch is planned in the calling process and executed elsewhere:

1. ``expand_paths`` turns folders and globs into a sorted list of config files.
2. The out-dir is locked (``out_dir/.optiviz.lock``): a second batch on it stops at once with
   "in use by pid N", exit status 2.
3. Planning loads each config (cheap: no simulation), resolves its output path (always inside
   the out-dir: only the file name of ``render.output`` counts) and its content hash
   ``sha256(config text, optiviz version, resolved output path)``. A config whose hash
   equals the one in the previous manifest, and whose recorded outputs are still on disk with
   the recorded sha256, is skipped unless ``force``. A config that fails to load fails here,
   without costing a process. Outputs that would collide (two configs, cached or not; an
   output that is a config; an output the manifest records for another config) stop the
   whole batch before anything is computed.
4. The remaining jobs run ``optiviz.api.run_file`` each in a worker process (or on a Dask
   worker). A worker catches every exception of its job and returns it as a one-line error,
   so one broken config never stops the others; renderers write atomically, so a failed job
   never leaves a half-written output. A worker that dies fails only its job; a job over its
   ``timeout`` is stopped and fails.
5. SIGINT, SIGTERM or SIGHUP cancel the queue, stop the running workers (their temporary
   files removed) and the manifest is still written ("cancelled" for what did not finish).
   No worker outlives the batch process.
6. ``out_dir/manifest.json`` is written atomically (temporary file, then rename).

Only the standard library is imported at module level: workers import the heavy modules
when their first job needs them, and ``distributed`` is imported only for ``dask=``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optiviz
from optiviz.atomic import atomic_write_text, exit_with_parent, remove_stale_temporaries
from optiviz.errors import OptivizError

MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".optiviz.lock"
DEFAULT_TIMEOUT = 3600.0  # seconds one job may run (--timeout)
DEFAULT_DASK_TIMEOUT = 10.0  # seconds to reach a Dask scheduler (--dask-timeout)
STOP_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL when a worker is stopped
MANIFEST_FORMAT = 1
CONFIG_SUFFIXES = (".yaml", ".yml")

# Statuses a config can end a batch with. "cancelled": not finished when --fail-fast or a
# signal (SIGINT, SIGTERM, SIGHUP) stopped the batch.
OK, SKIPPED, FAILED, CANCELLED = "ok", "skipped", "failed", "cancelled"
_PROGRESS_WORD = {OK: "ok  ", SKIPPED: "skip", FAILED: "FAIL", CANCELLED: "STOP"}

# "fork" starts a worker in milliseconds with the parent's imports already done; "spawn" pays
# a fresh interpreter plus numpy/matplotlib imports per worker. The parent holds no threads or
# locks at fork time (Dask runs on its own path), which is what makes forking safe here.
POOL_START_METHOD = "fork"


@dataclass(frozen=True)
class OutputFile:
    """One file a job wrote, as recorded in the manifest."""

    path: Path
    bytes: int
    sha256: str


@dataclass(frozen=True)
class JobResult:
    """How one config ended: ``status`` is ok, skipped, failed or cancelled."""

    config: Path
    status: str
    outputs: tuple[OutputFile, ...] = ()
    seconds: float = 0.0
    final: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    content_hash: str | None = None
    warnings: tuple[str, ...] = ()  # ``warning: <config>: ...`` lines, one per warning


@dataclass(frozen=True)
class BatchReport:
    """Every config's result, in input order, and where the manifest went."""

    results: tuple[JobResult, ...]
    manifest: Path
    seconds: float
    stopped_by: int | None = None  # the signal that stopped the batch, if one did

    @property
    def ok(self) -> bool:
        """True when every config was rendered or skipped as up to date."""
        return all(r.status in (OK, SKIPPED) for r in self.results)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


@dataclass(frozen=True)
class Job:
    """What a worker needs to run one config: plain, picklable, absolute paths (a Dask worker
    may have another working directory)."""

    config: Path
    out_dir: Path
    output: Path
    content_hash: str


# Paths ----------------------------------------------------------------------------------------

def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Config files named by ``paths``: folders (searched recursively for ``*.yaml``/``*.yml``,
    hidden entries skipped), glob patterns (``**`` recursive) and files; sorted, each file once.

    A path that matches no config file raises :class:`OptivizError` naming it and saying why:
    no such file, not a regular file (``/dev/zero``), or no configs in the folder or glob.
    """
    found: dict[Path, Path] = {}
    for text in paths:
        matches = _expand_one(text)
        if not matches:
            raise OptivizError(f"{text}: {_why_nothing(text)}")
        for match in matches:
            found.setdefault(match.resolve(), match)
    return sorted(found.values(), key=lambda p: str(p))


def _why_nothing(text: str) -> str:
    from optiviz.yaml_loader import not_a_config_file

    if not glob.has_magic(text):
        try:
            mode = os.stat(text).st_mode
        except FileNotFoundError:
            return "no such file"
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        if not stat.S_ISDIR(mode):
            return not_a_config_file(mode) or "not a regular file (a pipe)"
        return "no config files (*.yaml, *.yml) in this folder"
    return "no config files (*.yaml, *.yml) match"


def _expand_one(text: str) -> list[Path]:
    path = Path(text)
    if path.is_dir():
        return _configs_under(path)
    if path.is_file():
        return [path]
    if glob.has_magic(text):
        matches: list[Path] = []
        for name in glob.glob(text, recursive=True):
            hit = Path(name)
            matches += _configs_under(hit) if hit.is_dir() else _config_files([hit])
        return matches
    return []


def _configs_under(folder: Path) -> list[Path]:
    files = (p for p in folder.rglob("*") if p.is_file())
    visible = (
        p for p in files if not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    return _config_files(visible)


def _config_files(paths: Iterable[Path]) -> list[Path]:
    return [p for p in paths if p.suffix.lower() in CONFIG_SUFFIXES and p.is_file()]


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


# Hashing --------------------------------------------------------------------------------------

def content_hash(config_text: bytes, output: Path, version: str = optiviz.__version__) -> str:
    """sha256 over the config text, the optiviz version and the resolved output path: what
    decides whether an existing output is still the output this config would produce."""
    digest = hashlib.sha256()
    for part in (config_text, version.encode(), str(output.resolve()).encode()):
        digest.update(len(part).to_bytes(8, "little"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_outputs(paths: Iterable[Path]) -> tuple[OutputFile, ...]:
    return tuple(
        OutputFile(Path(os.path.abspath(p)), os.path.getsize(p), file_sha256(Path(p)))
        for p in paths
    )


def one_line(error: BaseException) -> str:
    """An error as one line: our errors as their message, anything else with its type name."""
    text = str(error) if isinstance(error, OptivizError) else f"{type(error).__name__}: {error}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


# The job a worker runs ------------------------------------------------------------------------

def run_job(job: Job) -> JobResult:
    """Run one config in this process and describe its outputs; never raises for a bad config.

    Must stay a module-level function of plain arguments: process pools and Dask pickle it.
    """
    from optiviz.notices import one_line_warnings

    start = time.perf_counter()
    # the batch prints them, one line each under the job's line (none with -q)
    lines: list[str] = []
    try:
        from optiviz.api import run_file

        with one_line_warnings(lines.append, prefix=f"{display_path(job.config)}: "):
            report = run_file(job.config, out_dir=job.out_dir, render=True, quiet=True)
        outputs = describe_outputs(report.outputs)
    except Exception as error:  # noqa: BLE001 - any failure is this config's, not the batch's
        return JobResult(
            job.config, FAILED, seconds=time.perf_counter() - start, error=one_line(error),
            warnings=tuple(lines),
        )
    return JobResult(
        job.config,
        OK,
        outputs=outputs,
        seconds=time.perf_counter() - start,
        final=_final_numbers(report.final),
        content_hash=job.content_hash,
        warnings=tuple(lines),
    )


def _final_numbers(final: dict[str, Any]) -> dict[str, Any]:
    """A run's final numbers as a batch carries them (``RunSummary.final()``: per optimizer
    label ``{median, q1, q3, diverged, left_view, runs}``, or the sampling estimates by name),
    with None (JSON's null, for what is not finite) as NaN; a malformed value is left out."""
    from optiviz.report import final_from_json

    return final_from_json(final)


# Planning -------------------------------------------------------------------------------------

def plan(
    paths: Sequence[Path],
    *,
    out_dir: Path,
    previous: dict[str, dict[str, Any]],
    force: bool,
    stopped: Callable[[], str | None] = lambda: None,
) -> list[Job | JobResult]:
    """For each config, in order: a :class:`Job` to run, or its final :class:`JobResult`
    (skipped as up to date, failed to load, cancelled by a signal during planning).

    Raises :class:`OptivizError` (nothing computed, nothing written) when outputs collide:
    two configs of the batch that would write one file, cached or not; an output that is a
    config of the batch; an output that the manifest records for another config."""
    from optiviz import config as config_module
    from optiviz.api import (
        PlannedOutput,
        check_outputs,
        check_writable,
        output_origin,
        output_path,
    )

    planned: list[Job | JobResult] = []
    writes: list[PlannedOutput] = []
    for path in paths:
        reason = stopped()
        if reason is not None:
            planned.append(JobResult(Path(path), CANCELLED, error=f"cancelled by {reason}"))
            continue
        try:
            text = Path(path).read_bytes()
            experiment = config_module.load(Path(path))
            origin = output_origin(experiment)
            output = Path(os.path.abspath(output_path(experiment, out_dir=out_dir)))
            check_writable(output, origin)
        except Exception as error:  # noqa: BLE001 - reported per config
            planned.append(JobResult(Path(path), FAILED, error=one_line(error)))
            continue
        writes.append(PlannedOutput(output, Path(path), origin))
        digest = content_hash(text, output)
        job = Job(Path(os.path.abspath(path)), Path(os.path.abspath(out_dir)), output, digest)
        cached = previous.get(display_path(path))
        if not force and cached is not None and _up_to_date(cached, digest, out_dir):
            planned.append(_skipped(job, cached, out_dir))
        else:
            planned.append(job)
    check_outputs(writes, inputs=list(paths), claimed=manifest_claims(previous, out_dir, paths))
    return planned


def manifest_claims(
    previous: dict[str, dict[str, Any]], out_dir: Path, configs: Sequence[Path]
) -> list[Any]:
    """Outputs the manifest records for configs other than ``configs`` that still exist (the
    config and the output both): files another batch made and will expect to find again."""
    from optiviz.api import PlannedOutput
    from optiviz.atomic import file_keys

    ours = {key for config in configs for key in file_keys(Path(config))}
    manifest = display_path(Path(out_dir) / MANIFEST_NAME)
    claims = []
    for key, entry in previous.items():
        config = Path(key)
        if entry.get("status") not in (OK, SKIPPED) or not config.is_file():
            continue
        if ours & set(file_keys(config)):
            continue
        for output in entry.get("outputs") or []:
            try:
                path = _manifest_to_path(output["path"], out_dir)
            except (KeyError, TypeError):
                continue
            if path.is_file():
                claims.append(PlannedOutput(path, config, f"recorded in {manifest}"))
    return claims


def _up_to_date(entry: dict[str, Any], digest: str, out_dir: Path) -> bool:
    if entry.get("status") not in (OK, SKIPPED) or entry.get("hash") != digest:
        return False
    outputs = entry.get("outputs") or []
    try:
        return bool(outputs) and all(
            _manifest_to_path(o["path"], out_dir).is_file()
            and os.path.getsize(_manifest_to_path(o["path"], out_dir)) == o["bytes"]
            and file_sha256(_manifest_to_path(o["path"], out_dir)) == o["sha256"]
            for o in outputs
        )
    except (KeyError, TypeError, OSError):
        return False  # a hand-edited or truncated entry is simply a cache miss


def _skipped(job: Job, entry: dict[str, Any], out_dir: Path) -> JobResult:
    outputs = tuple(
        OutputFile(_manifest_to_path(o["path"], out_dir), o["bytes"], o["sha256"])
        for o in entry["outputs"]
    )
    final = _final_numbers(entry.get("final") or {})
    return JobResult(job.config, SKIPPED, outputs, 0.0, final, None, job.content_hash)


# The out-dir lock -----------------------------------------------------------------------------

class OutDirLock:
    """``out_dir/.optiviz.lock``, held while a batch plans, runs and writes the manifest (and
    while ``optiviz run --out-dir`` checks and writes its outputs), so that two batches never
    share an out-dir (the last manifest would drop the other's entries,
    and both could write one output). An advisory ``flock``: the kernel releases it when its
    holder dies, so a lock file left by a killed batch is simply taken over. The file holds the
    holder's pid for the message; it is removed on release."""

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LOCK_NAME
        self.descriptor: int | None = None

    def __enter__(self) -> OutDirLock:
        import fcntl

        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(descriptor)
                os.close(descriptor)
                raise OptivizError(
                    f"{display_path(self.path.parent)} is in use by another optiviz batch "
                    f"or run (pid {holder}); wait for it to finish, or use another --out-dir "
                    f"(lock file: {display_path(self.path)})"
                ) from None
            # The holder we waited for may have removed the file after we opened it: then we
            # locked a name no other batch can see; start again with the current file.
            try:
                same = os.stat(self.path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self.descriptor = descriptor
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.descriptor is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # while still holding it: see __enter__
        os.close(self.descriptor)
        self.descriptor = None

    @staticmethod
    def _holder(descriptor: int) -> str:
        for _ in range(50):  # the holder writes its pid right after taking the lock
            text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
            if text:
                return text
            time.sleep(0.01)
        return "unknown"


# Signals --------------------------------------------------------------------------------------

class StopSignals:
    """While a batch runs: SIGINT, SIGTERM and SIGHUP stop it instead of killing it. The first
    signal is recorded (:attr:`signum`) and wakes the executor (:attr:`wakeup` is readable);
    a second one asks for an immediate stop (:attr:`count`). Handlers can only be installed
    from the main thread; elsewhere the batch runs with the process's handlers."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.wakeup, self._notify = os.pipe()
        os.set_blocking(self._notify, False)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        os.close(self.wakeup)
        os.close(self._notify)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        self.count += 1
        with contextlib.suppress(OSError):
            os.write(self._notify, b"\0")

    def reason(self) -> str | None:
        """``"SIGTERM"`` etc. once a signal arrived, else None."""
        return None if self.signum is None else signal.Signals(self.signum).name


# Execution ------------------------------------------------------------------------------------

def run_batch(
    paths: Sequence[Path],
    *,
    out_dir: Path,
    jobs: int | None = None,
    force: bool = False,
    fail_fast: bool = False,
    dask: str | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    dask_timeout: float = DEFAULT_DASK_TIMEOUT,
) -> BatchReport:
    """Render every config in ``paths`` into ``out_dir`` and write ``out_dir/manifest.json``.

    ``jobs`` worker processes (default ``os.cpu_count()``, never more than there are jobs);
    ``dask`` a scheduler address to run the jobs on that cluster instead (connecting must
    succeed within ``dask_timeout`` seconds), or ``"local"`` for a cluster on this machine.
    ``progress`` gets one line per finished config, e.g.
    ``[3/12] ok   configs/beale.yaml -> out/beale.gif (1.2 s)``. With ``fail_fast`` the first
    failure cancels the jobs not yet started ("cancelled"). A job running longer than
    ``timeout`` seconds is stopped and fails.

    SIGINT, SIGTERM or SIGHUP cancel the queued jobs, stop the running ones (their temporary
    files removed) and still write the manifest; :attr:`BatchReport.signal` says which came.
    Raises :class:`OptivizError` before computing anything when the out-dir is in use by
    another batch, outputs collide (see :func:`plan`) or the Dask scheduler cannot be reached.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    with contextlib.ExitStack() as stack:
        # "local": a LocalCluster on this machine for the batch's length, as `run --dask local`
        from optiviz.streaming import dask_client

        client = stack.enter_context(dask_client(dask, dask_timeout)) if dask else None
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            with OutDirLock(out_dir), StopSignals() as signals:
                return _run_locked(paths, out_dir, jobs=jobs, force=force,
                                   fail_fast=fail_fast, client=client, progress=progress,
                                   timeout=timeout, signals=signals, start=start)
        except OptivizError:
            if created:  # refused before computing: leave no trace, not even an empty out-dir
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            raise


def _run_locked(
    paths: Sequence[Path], out_dir: Path, *, jobs: int | None, force: bool, fail_fast: bool,
    client: Any, progress: Callable[[str], None] | None, timeout: float | None,
    signals: StopSignals, start: float,
) -> BatchReport:
    manifest_path = out_dir / MANIFEST_NAME
    previous = read_manifest(manifest_path)
    planned = plan(paths, out_dir=out_dir, previous=previous, force=force,
                   stopped=signals.reason)

    results: list[JobResult | None] = [None] * len(planned)
    finished = 0

    def record(index: int, result: JobResult) -> None:
        nonlocal finished
        finished += 1
        results[index] = result
        if progress is not None:
            progress(progress_line(finished, len(planned), result))
            for line in result.warnings:
                progress(line)

    for index, item in enumerate(planned):
        if isinstance(item, JobResult):
            record(index, item)
    pending = [(index, item) for index, item in enumerate(planned) if isinstance(item, Job)]
    pending = longest_first(pending, previous)
    stop_early = fail_fast and any(r is not None and r.status == FAILED for r in results)
    if stop_early or signals.signum is not None:
        why = "--fail-fast" if stop_early else signals.reason()
        for index, job in pending:
            record(index, _cancelled(job, f"cancelled by {why}"))
    elif pending:
        if client is not None:
            _execute_dask(pending, record, client=client, fail_fast=fail_fast,
                          timeout=timeout, signals=signals)
        else:
            _execute_pool(pending, record, jobs=jobs, fail_fast=fail_fast, timeout=timeout,
                          signals=signals)

    done = tuple(r for r in results if r is not None)
    write_manifest(manifest_path, done, previous, out_dir)
    return BatchReport(done, manifest_path, time.perf_counter() - start,
                       stopped_by=signals.signum)


Record = Callable[[int, JobResult], None]


def _cancelled(job: Job, why: str = "cancelled by --fail-fast") -> JobResult:
    return JobResult(job.config, CANCELLED, error=why)


def _worker_main(connection: Any, parent: int) -> None:
    """A worker process: run the jobs it receives until told to stop (None) or signalled.

    SIGTERM becomes SystemExit and SIGINT KeyboardInterrupt, so a running job's ``finally``
    blocks remove its temporary files; either ends the worker, never just its job. It also
    gets SIGTERM when the batch process dies (Linux), so no worker outlives the batch."""
    request = exit_with_parent(signal.SIGTERM)
    if request is not None:
        request()
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    code = 0
    try:
        if os.getppid() != parent:
            return  # the batch died before we could ask to follow it
        if request is None:
            _follow_parent(parent)
        while True:
            job = connection.recv()
            if job is None:
                break
            connection.send(run_job(job))
    except (EOFError, OSError):
        code = 0  # the batch closed the pipe: nothing more to do
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    sys.exit(code)


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _follow_parent(parent: int) -> None:
    """Where the system cannot signal a child when its parent dies: notice it by polling."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()


class _Worker:
    """One worker process, the pipe to it, and the job it is running (if any)."""

    def __init__(self, context: Any) -> None:
        self.connection, theirs = context.Pipe(duplex=True)
        self.process = context.Process(target=_worker_main, args=(theirs, os.getpid()),
                                       daemon=True, name="optiviz-batch-worker")
        self.process.start()
        theirs.close()
        self.index: int | None = None
        self.job: Job | None = None
        self.deadline = math.inf

    def give(self, index: int, job: Job, timeout: float | None) -> bool:
        try:
            self.connection.send(job)
        except OSError:
            return False
        self.index, self.job = index, job
        self.deadline = time.monotonic() + timeout if timeout else math.inf
        return True

    def take(self) -> JobResult | None:
        """The finished job's result, or None if the worker died without sending one."""
        try:
            if self.connection.poll():
                return self.connection.recv()
        except (EOFError, OSError):
            pass
        return None

    def release(self) -> tuple[int, Job]:
        assert self.index is not None and self.job is not None
        done = (self.index, self.job)
        self.index, self.job, self.deadline = None, None, math.inf
        return done

    def stop(self, grace: float) -> None:
        """SIGTERM (temporary files are removed on the way out), SIGKILL after ``grace``."""
        if self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            self.process.join(grace)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.join()
        self.connection.close()
        if self.job is not None:
            remove_stale_temporaries(self.job.output)

    def death(self) -> str:
        """Why the worker ended without a result, from its exit status."""
        code = self.process.exitcode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            hint = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"worker process killed by {name}{hint}"
        if code is not None and code - 128 in {int(s) for s in StopSignals.SIGNALS}:
            return f"worker process stopped by {signal.Signals(code - 128).name}"
        return f"worker process exited with status {code} before finishing"


def _execute_pool(
    pending: list[tuple[int, Job]], record: Record, *, jobs: int | None, fail_fast: bool,
    timeout: float | None, signals: StopSignals,
) -> None:
    """Run ``pending`` on up to ``jobs`` forked worker processes.

    A worker that dies (SIGKILL by the out-of-memory killer, a crash in C) fails only its own
    job and is replaced; one that exceeds ``timeout`` is stopped and its job fails. On a
    signal the queue is cancelled, running workers are stopped and their jobs cancelled."""
    import multiprocessing
    from collections import deque
    from multiprocessing.connection import wait

    context = multiprocessing.get_context(POOL_START_METHOD)
    limit = max(1, min(jobs or os.cpu_count() or 1, len(pending)))
    queue = deque(pending)
    workers: list[_Worker] = []

    def cancel_queue(why: str) -> None:
        while queue:
            index, job = queue.popleft()
            record(index, _cancelled(job, why))

    try:
        while queue or any(w.job is not None for w in workers):
            if signals.signum is not None:
                break
            while queue:
                idle = next((w for w in workers if w.job is None), None)
                if idle is None and len(workers) < limit:
                    idle = _Worker(context)
                    workers.append(idle)
                if idle is None:
                    break
                index, job = queue[0]
                if idle.give(index, job, timeout):
                    queue.popleft()
                else:  # died while idle: replace it
                    idle.kill()
                    workers.remove(idle)
            busy = [w for w in workers if w.job is not None]
            if not busy:
                continue
            wait_for = min(w.deadline for w in busy) - time.monotonic()
            ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]
                             + [signals.wakeup], timeout=max(0.0, min(wait_for, 3600.0))))
            if signals.wakeup in ready:
                _drain(signals.wakeup)
            if signals.signum is not None:
                break
            failed = False
            for worker in busy:
                result = None
                if worker.connection in ready or worker.process.sentinel in ready:
                    result = worker.take()
                    if result is None and worker.process.is_alive():
                        continue  # woken with nothing to read yet
                    if result is None and _stopped_with_us(worker, signals):
                        break  # the signal reached the worker first: stop everything below
                    if not worker.process.is_alive():
                        worker.process.join()
                        if result is None:
                            result = JobResult(worker.job.config, FAILED, error=worker.death())
                        worker.kill()
                        workers.remove(worker)
                elif time.monotonic() >= worker.deadline:
                    worker.stop(STOP_GRACE_SECONDS)
                    workers.remove(worker)
                    result = JobResult(worker.job.config, FAILED,
                                       seconds=timeout or 0.0,
                                       error=f"timed out after {timeout:g} s (--timeout); "
                                       "stopped")
                if result is None:
                    continue
                index, _ = worker.release()
                record(index, result)
                failed = failed or result.status == FAILED
            if failed and fail_fast:
                cancel_queue("cancelled by --fail-fast")
            if signals.signum is not None:
                break
    finally:
        reason = signals.reason() or "an error in the batch"
        cancel_queue(f"cancelled by {reason}")
        _stop_workers(workers, record, signals, f"stopped by {reason}")


def _stopped_with_us(worker: _Worker, signals: StopSignals) -> bool:
    """Whether a worker that exited on SIGINT, SIGTERM or SIGHUP went down with the whole
    batch (a signal to the process group: the batch's own handler may run a moment after the
    worker is gone) rather than alone."""
    from multiprocessing.connection import wait

    worker.process.join()
    if worker.process.exitcode not in {128 + s for s in StopSignals.SIGNALS}:
        return False
    if signals.signum is None:
        wait([signals.wakeup], timeout=0.5)
    return signals.signum is not None


def _stop_workers(workers: list[_Worker], record: Record, signals: StopSignals,
                  why: str) -> None:
    """End every worker. Idle ones are told to exit; running ones get SIGTERM, and whatever
    they finish within the grace period is kept; SIGKILL after it (or at a second signal)."""
    from multiprocessing.connection import wait

    busy = [w for w in workers if w.job is not None]
    for worker in workers:
        if worker.job is None:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    first_count = signals.count
    while busy and time.monotonic() < deadline and signals.count == first_count:
        ready = set(wait([w.process.sentinel for w in busy] + [signals.wakeup],
                         timeout=deadline - time.monotonic()))
        if signals.wakeup in ready:
            _drain(signals.wakeup)
        for worker in [w for w in busy if w.process.sentinel in ready]:
            result = worker.take()
            worker.kill()
            index, job = worker.release()
            record(index, result if result is not None else _cancelled(job, why))
            busy.remove(worker)
    for worker in busy:
        result = worker.take()
        worker.kill()
        index, job = worker.release()
        record(index, result if result is not None else _cancelled(job, why))
    for worker in workers:
        worker.process.join(STOP_GRACE_SECONDS)
        worker.kill()


def _drain(descriptor: int) -> None:
    with contextlib.suppress(BlockingIOError, OSError):
        os.set_blocking(descriptor, False)
        os.read(descriptor, 1024)


# Dask -----------------------------------------------------------------------------------------

def connect_dask(address: str, timeout: float = DEFAULT_DASK_TIMEOUT) -> Any:
    """A ``distributed.Client`` for the scheduler at ``address``, or a one-line
    :class:`OptivizError` within about ``timeout`` seconds: a malformed address, nothing
    listening, or a server that does not answer as a Dask scheduler."""
    try:
        from distributed import Client
    except ImportError as error:
        raise OptivizError(
            "--dask needs the distributed package: pip install 'optiviz[dask]'"
        ) from error
    try:
        identity = _scheduler_identity(address, timeout)
    except Exception as error:  # noqa: BLE001 - whatever the server did, one line
        detail = one_line(error) if str(error) else f"no answer within {timeout:g} s"
        raise OptivizError(f"--dask {address}: cannot reach a Dask scheduler ({detail})") \
            from None
    if not isinstance(identity, dict) or identity.get("type") != "Scheduler":
        raise OptivizError(f"--dask {address}: the server there is not a Dask scheduler")
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except Exception as error:  # noqa: BLE001
        raise OptivizError(f"--dask {address}: cannot connect ({one_line(error)})") from None


def _scheduler_identity(address: str, timeout: float) -> Any:
    """Ask ``address`` who it is, the whole exchange bounded by ``timeout`` (distributed's own
    connect timeout does not cover a server that accepts and then stays silent)."""
    import asyncio

    from distributed.comm import connect

    async def ask() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    return asyncio.run(asyncio.wait_for(ask(), timeout))


def _execute_dask(
    pending: list[tuple[int, Job]], record: Record, *, client: Any, fail_fast: bool,
    timeout: float | None, signals: StopSignals,
) -> None:
    """Run ``pending`` on a Dask cluster. A job's ``timeout`` counts from when the scheduler
    reports it processing; a timed-out or signal-cancelled job is cancelled on the cluster
    (a task already running there cannot be interrupted and finishes in the background, its
    output still written atomically)."""
    # pure=False: a config submitted again (e.g. --force) must run again, not be recalled.
    futures = {}
    changed = threading.Event()  # set by the client's thread whenever a job ends
    for index, job in pending:
        future = client.submit(run_job, job, pure=False)
        future.add_done_callback(lambda _: changed.set())
        futures[future.key] = (index, job, future)
    remaining = dict(futures)
    started: dict[Any, float] = {}
    last_poll = -math.inf
    try:
        while remaining and signals.signum is None:
            changed.wait(0.2)  # short: signals and deadlines are checked between waits
            changed.clear()
            now = time.monotonic()
            if timeout and now - last_poll >= 1.0:
                last_poll = now
                with contextlib.suppress(Exception):
                    running = {k for keys in client.processing().values() for k in keys}
                    for key in running & set(remaining):
                        started.setdefault(key, now)
            stop_others = False
            for key, (index, job, future) in list(remaining.items()):
                if future.done():
                    del remaining[key]
                    if future.cancelled():
                        record(index, _cancelled(job, "cancelled on the Dask cluster"))
                        continue
                    try:
                        result = future.result()
                    except Exception as error:  # noqa: BLE001 - a lost worker fails its job
                        result = JobResult(job.config, FAILED, error=f"dask: {one_line(error)}")
                elif timeout and now - started.get(key, math.inf) >= timeout:
                    del remaining[key]
                    future.cancel()
                    result = JobResult(job.config, FAILED, seconds=timeout,
                                       error=f"timed out after {timeout:g} s (--timeout); "
                                       "cancelled on the Dask cluster")
                else:
                    continue
                record(index, result)
                stop_others = stop_others or (fail_fast and result.status == FAILED)
            if stop_others:
                for index, job, future in remaining.values():
                    future.cancel()
                    record(index, _cancelled(job))
                remaining.clear()
    finally:
        reason = signals.reason() or "an error in the batch"
        for _, (index, job, future) in remaining.items():
            future.cancel()
            record(index, _cancelled(job, f"cancelled by {reason}"))


def progress_line(finished: int, total: int, result: JobResult) -> str:
    """``[3/12] ok   configs/beale.yaml -> out/beale.gif (1.2 s)`` and its skip/FAIL forms."""
    head = f"[{finished}/{total}] {_PROGRESS_WORD[result.status]} {display_path(result.config)}"
    if result.status in (FAILED, CANCELLED):
        return f"{head}: {result.error}"
    targets = ", ".join(display_path(o.path) for o in result.outputs)
    timing = f" ({result.seconds:.1f} s)" if result.status == OK else " (up to date)"
    return f"{head} -> {targets}{timing}"


# Manifest -------------------------------------------------------------------------------------

def longest_first(pending: list[tuple[int, Job]],
                  previous: dict[str, dict[str, Any]]) -> list[tuple[int, Job]]:
    """Submission order: the jobs that took longest last time first, jobs never timed before
    all of them (stable otherwise). A long job started last leaves the other workers idle."""

    def expected(item: tuple[int, Job]) -> float:
        seconds = previous.get(display_path(item[1].config), {}).get("seconds")
        known = isinstance(seconds, (int, float)) and seconds > 0
        return -seconds if known else -math.inf

    return sorted(pending, key=expected)


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Previous entries by config (display path); an unreadable manifest is an empty cache."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = document["configs"]
        return {str(e["config"]): e for e in entries if isinstance(e, dict) and "config" in e}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def manifest_entry(result: JobResult, out_dir: Path) -> dict[str, Any]:
    from optiviz.report import final_to_json

    return {
        "config": display_path(result.config),
        "status": result.status,
        "hash": result.content_hash,
        "outputs": [
            {"path": _path_to_manifest(o.path, out_dir), "bytes": o.bytes, "sha256": o.sha256}
            for o in result.outputs
        ],
        "bytes": sum(o.bytes for o in result.outputs),
        "seconds": round(result.seconds, 3),
        # JSON has no NaN: a loss that is not finite (every start diverged) is null.
        "final": final_to_json(result.final),
        "error": result.error,
    }


def write_manifest(
    path: Path, results: Sequence[JobResult], previous: dict[str, dict[str, Any]], out_dir: Path
) -> None:
    """Write the manifest atomically. Entries of configs outside this batch whose files still
    exist are kept, so rendering one config does not throw away the cache of the others."""
    entries = {display_path(r.config): manifest_entry(r, out_dir) for r in results}
    for key, entry in previous.items():
        if key not in entries and Path(key).is_file():
            entries[key] = entry
    statuses = [e["status"] for e in entries.values()]
    counts = {s: statuses.count(s) for s in (OK, SKIPPED, FAILED, CANCELLED)}
    document = {
        "format": MANIFEST_FORMAT,
        "optiviz": optiviz.__version__,
        "summary": counts,
        "configs": [entries[key] for key in sorted(entries)],
    }
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    atomic_write_text(Path(path), text)


def _path_to_manifest(path: Path, out_dir: Path) -> str:
    """Outputs inside ``out_dir`` are stored relative to it, so a cached gallery can move."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(out_dir))).as_posix()
    except ValueError:
        return str(absolute)


def _manifest_to_path(text: str, out_dir: Path) -> Path:
    path = Path(text)
    return path if path.is_absolute() else Path(os.path.abspath(out_dir)) / path


__all__ = [
    "BatchReport",
    "Job",
    "JobResult",
    "OutDirLock",
    "OutputFile",
    "StopSignals",
    "connect_dask",
    "content_hash",
    "expand_paths",
    "manifest_claims",
    "plan",
    "progress_line",
    "read_manifest",
    "run_batch",
    "run_job",
]
