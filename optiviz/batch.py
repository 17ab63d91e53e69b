"""Render many configs at once: parallel processes (or a Dask cluster), a manifest, a cache.

A batch is planned in the calling process and executed elsewhere:

1. ``expand_paths`` turns folders and globs into a sorted list of config files.
2. Planning loads each config (cheap: no simulation), resolves its output path and its content
   hash ``sha256(config text, optiviz version, resolved output path)``. A config whose hash
   equals the one in the previous manifest, and whose recorded outputs are still on disk with
   the recorded sha256, is skipped unless ``force``. A config that fails to load fails here,
   without costing a process.
3. The remaining jobs run ``optiviz.api.run_file`` each in a worker process (or on a Dask
   worker). A worker catches every exception of its job and returns it as a one-line error,
   so one broken config never stops the others; renderers write atomically, so a failed job
   never leaves a half-written output.
4. ``out_dir/manifest.json`` is written atomically (temporary file, then rename).

Only the standard library is imported at module level: workers import the heavy modules
when their first job needs them, and ``distributed`` is imported only for ``dask=``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optiviz
from optiviz.atomic import atomic_write_text
from optiviz.errors import OptivizError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
CONFIG_SUFFIXES = (".yaml", ".yml")

# Statuses a config can end a batch with. "cancelled": pending when --fail-fast stopped.
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


@dataclass(frozen=True)
class BatchReport:
    """Every config's result, in input order, and where the manifest went."""

    results: tuple[JobResult, ...]
    manifest: Path
    seconds: float

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
    start = time.perf_counter()
    try:
        from optiviz.api import run_file

        report = run_file(job.config, out_dir=job.out_dir, render=True, quiet=True)
        outputs = describe_outputs(report.outputs)
    except Exception as error:  # noqa: BLE001 - any failure is this config's, not the batch's
        return JobResult(
            job.config, FAILED, seconds=time.perf_counter() - start, error=one_line(error)
        )
    return JobResult(
        job.config,
        OK,
        outputs=outputs,
        seconds=time.perf_counter() - start,
        final=_final_numbers(report.final),
        content_hash=job.content_hash,
    )


def _final_numbers(final: dict[str, Any]) -> dict[str, float]:
    """Final losses as floats; a diverged run (None in reports and manifests) becomes NaN."""
    return {str(k): float("nan") if v is None else float(v) for k, v in final.items()}


# Planning -------------------------------------------------------------------------------------

def plan(
    paths: Sequence[Path], *, out_dir: Path, previous: dict[str, dict[str, Any]], force: bool
) -> list[Job | JobResult]:
    """For each config, in order: a :class:`Job` to run, or its final :class:`JobResult`
    (skipped as up to date, or failed to load). Two configs that would write the same output
    both fail: running them would overwrite one with the other."""
    from optiviz import config as config_module
    from optiviz.api import output_path

    planned: list[Job | JobResult] = []
    for path in paths:
        try:
            text = Path(path).read_bytes()
            experiment = config_module.load(Path(path))
            output = Path(os.path.abspath(output_path(experiment, out_dir=out_dir)))
        except Exception as error:  # noqa: BLE001 - reported per config
            planned.append(JobResult(Path(path), FAILED, error=one_line(error)))
            continue
        digest = content_hash(text, output)
        job = Job(Path(os.path.abspath(path)), Path(os.path.abspath(out_dir)), output, digest)
        cached = previous.get(display_path(path))
        if not force and cached is not None and _up_to_date(cached, digest, out_dir):
            planned.append(_skipped(job, cached, out_dir))
        else:
            planned.append(job)
    return _fail_collisions(planned)


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


def _fail_collisions(planned: list[Job | JobResult]) -> list[Job | JobResult]:
    writers: dict[Path, list[int]] = {}
    for index, item in enumerate(planned):
        if isinstance(item, Job):
            writers.setdefault(item.output, []).append(index)
    out = list(planned)
    for output, indices in writers.items():
        if len(indices) < 2:
            continue
        names = ", ".join(display_path(planned[i].config) for i in indices)
        for i in indices:
            out[i] = JobResult(
                planned[i].config,
                FAILED,
                error=f"{display_path(output)} would be written by several configs: {names}; "
                "set a distinct render.output in each",
            )
    return out


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
) -> BatchReport:
    """Render every config in ``paths`` into ``out_dir`` and write ``out_dir/manifest.json``.

    ``jobs`` worker processes (default ``os.cpu_count()``, never more than there are jobs);
    ``dask`` a scheduler address to run the jobs on that cluster instead. ``progress`` gets one
    line per finished config, e.g. ``[3/12] ok   configs/beale.yaml -> out/beale.gif (1.2 s)``.
    With ``fail_fast`` the first failure cancels the jobs not yet started ("cancelled").
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    previous = read_manifest(manifest_path)
    planned = plan(paths, out_dir=out_dir, previous=previous, force=force)

    results: list[JobResult | None] = [None] * len(planned)
    finished = 0

    def record(index: int, result: JobResult) -> None:
        nonlocal finished
        finished += 1
        results[index] = result
        if progress is not None:
            progress(progress_line(finished, len(planned), result))

    for index, item in enumerate(planned):
        if isinstance(item, JobResult):
            record(index, item)
    pending = [(index, item) for index, item in enumerate(planned) if isinstance(item, Job)]
    pending = longest_first(pending, previous)
    stop_early = fail_fast and any(r is not None and r.status == FAILED for r in results)
    if stop_early:
        for index, job in pending:
            record(index, _cancelled(job))
    elif pending:
        execute = _execute_dask if dask else _execute_pool
        execute(pending, record, jobs=jobs, fail_fast=fail_fast, address=dask)

    done = tuple(r for r in results if r is not None)
    write_manifest(manifest_path, done, previous, out_dir)
    return BatchReport(done, manifest_path, time.perf_counter() - start)


Record = Callable[[int, JobResult], None]


def _cancelled(job: Job) -> JobResult:
    return JobResult(job.config, CANCELLED, error="cancelled by --fail-fast")


def _execute_pool(
    pending: list[tuple[int, Job]], record: Record, *, jobs: int | None, fail_fast: bool,
    address: str | None = None,
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = max(1, min(jobs or os.cpu_count() or 1, len(pending)))
    context = multiprocessing.get_context(POOL_START_METHOD)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_job, job): (index, job) for index, job in pending}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            failed = False
            for future in sorted(done, key=lambda f: futures[f][0]):
                index, job = futures[future]
                if future.cancelled():
                    continue
                try:
                    result = future.result()
                except BrokenProcessPool as error:
                    # A worker died (killed, out of memory, crashed in C): the pool cannot
                    # say which job did it, so every job it still held fails with the reason.
                    result = JobResult(job.config, FAILED, error=f"worker process died: {error}")
                record(index, result)
                failed = failed or result.status == FAILED
            if failed and fail_fast:
                for future in waiting:
                    if future.cancel():
                        index, job = futures[future]
                        record(index, _cancelled(job))
                waiting = {f for f in waiting if not f.cancelled()}


def _execute_dask(
    pending: list[tuple[int, Job]], record: Record, *, jobs: int | None, fail_fast: bool,
    address: str | None = None,
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as error:
        raise OptivizError(
            "--dask needs the distributed package: pip install 'optiviz[dask]'"
        ) from error

    with Client(address) as client:
        # pure=False: a config submitted again (e.g. --force) must run again, not be recalled.
        futures = {}
        for index, job in pending:
            future = client.submit(run_job, job, pure=False)
            futures[future.key] = (index, job, future)
        stopped = False
        for future in as_completed([f for _, _, f in futures.values()]):
            index, job, _ = futures[future.key]
            if future.cancelled():
                continue
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - a lost worker fails only its job
                result = JobResult(job.config, FAILED, error=f"dask: {one_line(error)}")
            record(index, result)
            if fail_fast and result.status == FAILED and not stopped:
                stopped = True
                for other_index, other_job, other in futures.values():
                    if not other.done():
                        other.cancel()
                        record(other_index, _cancelled(other_job))


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
        # JSON has no NaN: a diverged run's final loss is recorded as null.
        "final": {k: (v if math.isfinite(v) else None) for k, v in result.final.items()},
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
    "OutputFile",
    "content_hash",
    "expand_paths",
    "progress_line",
    "read_manifest",
    "run_batch",
    "run_job",
]
