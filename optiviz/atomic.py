"""Atomic file output: readers see the previous file or the complete new one, never a half.

Everything optiviz writes (animations, stills, ``--data`` arrays, batch manifests) goes through
:func:`atomic_output`: a hidden temporary file in the target's folder, named
``.<stem>.optiviz-tmp-<pid><suffix>``, renamed over the target only when complete. Ctrl-C,
SIGTERM (a CI timeout) or an error remove the temporary file and leave the previous output
intact. SIGKILL can leave the temporary file behind but never a half-written target; the next
write of that target removes temporary files whose process is gone.

A replaced file keeps its permission bits (a 0600 output stays 0600); a new file gets the
usual ``0666`` minus the umask. The helpers here also decide what "the same file" means for
outputs and inputs (:func:`same_file`), and check names before any computing
(:func:`check_names`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TEMPORARY_MARK = ".optiviz-tmp-"
# The widest process id a temporary name may carry (Linux pid_max is at most 2**22; other
# systems stay below 10 digits): names are checked with it, so any writer's name fits.
WIDEST_PID = 9_999_999_999


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` while the block runs, so that cleanup handlers run
    (a CI timeout then behaves like Ctrl-C). The previous handler is restored afterwards.
    Outside the main thread signals cannot be handled and the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []

    def raise_exit(signum: int, frame: Any) -> None:
        received.append(signum)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    except SystemExit:
        raise
    except BaseException as error:
        # C++ code that called back into Python (Agg asking a transform for its matrix) can
        # turn our SystemExit into an error of its own ("Invalid affine transformation
        # matrix"): the signal still decides how the command ends
        if received:
            raise SystemExit(128 + received[0]) from error
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if received:  # swallowed on the way out by code that ignores exceptions
        raise SystemExit(128 + received[0])


def probe_folder(target: Path) -> None:
    """Fail before any computing if ``target`` could not be written: write a scratch file in
    its folder, or in the nearest existing parent when the folder is still to be created
    (nothing is created). Tried for real: permission bits alone miss read-only mounts and
    root's special file systems (a folder under /proc)."""
    from optiviz.errors import OptivizError

    target = Path(target)
    existing = _existing_folder(target)
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "not a folder", str(existing))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OptivizError(f"{target}: cannot write to {existing} ({reason})") from None


def _existing_folder(target: Path) -> Path:
    """``target``'s folder, or its nearest existing parent when the folder is still to be made."""
    folder = target.parent if str(target.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


# Names -----------------------------------------------------------------------------------------


def temporary_path(target: Path, pid: int | None = None) -> Path:
    """The hidden name next to ``target`` that process ``pid`` (default: this one) writes it
    under: ``.<stem>.optiviz-tmp-<pid><suffix>``, keeping the extension (viewers and ffmpeg
    go by it)."""
    target = Path(target)
    pid = os.getpid() if pid is None else pid
    return target.with_name(f".{target.stem}{TEMPORARY_MARK}{pid}{target.suffix}")


def target_of(temporary: Path) -> Path:
    """The target a temporary name stands for (``temporary`` itself if it is not one)."""
    temporary = Path(temporary)
    match = re.fullmatch(r"\.(.*)" + re.escape(TEMPORARY_MARK) + r"\d+(.*)", temporary.name)
    return temporary.with_name(match[1] + match[2]) if match else temporary


def check_names(target: Path) -> None:
    """Fail before any computing if ``target``'s name, or the temporary name it is written
    under, is too long for its file system (or cannot be encoded as a file name)."""
    from optiviz.errors import OptivizError

    target = Path(target)
    widest = temporary_path(target, WIDEST_PID)
    try:
        name_bytes = len(os.fsencode(target.name))
        extra = len(os.fsencode(widest.name)) - name_bytes
        path_bytes = len(os.fsencode(os.path.abspath(widest)))
    except UnicodeError:
        raise OptivizError(f"{target!s:.200}: not a valid file name (undecodable characters)") \
            from None
    folder = _existing_folder(target)
    name_max = _pathconf(folder, "PC_NAME_MAX", 255)
    path_max = _pathconf(folder, "PC_PATH_MAX", 4096)
    if name_bytes + extra > name_max:
        raise OptivizError(
            f"{_shorten(target)}: file name too long ({name_bytes} bytes; at most "
            f"{name_max - extra} here, leaving room for the temporary name)"
        )
    if path_bytes >= path_max:
        raise OptivizError(
            f"{_shorten(target)}: path too long ({path_bytes} bytes with the temporary name; "
            f"at most {path_max - 1})"
        )


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):
        return default
    return value if value and value > 0 else default


def _shorten(path: Path, keep: int = 60) -> str:
    text = str(path)
    return text if len(text) <= 2 * keep else f"{text[:keep]}...{text[-keep:]}"


def file_keys(path: Path) -> list[tuple]:
    """What identifies the file ``path`` names: its path once every symbolic link is followed
    and, when it exists, its device and inode (hard links, bind mounts, case-insensitive file
    systems). Two paths are one file when they share a key."""
    keys: list[tuple] = [("path", os.path.realpath(path))]
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return keys
    return keys + [("inode", status.st_dev, status.st_ino)]


def same_file(first: Path, second: Path) -> bool:
    """Whether writing ``first`` could replace or change ``second`` (see :func:`file_keys`)."""
    return bool(set(file_keys(first)) & set(file_keys(second)))


# Leftovers of killed writers -------------------------------------------------------------------


def stale_temporaries(target: Path) -> list[Path]:
    """Temporary files of ``target`` left by processes that no longer exist (SIGKILL, a
    power cut): their writer will never rename or remove them."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    pattern = re.compile(
        re.escape(f".{target.stem}{TEMPORARY_MARK}") + r"(\d+)" + re.escape(target.suffix)
    )
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    stale = []
    for name in names:
        match = pattern.fullmatch(name)
        if match and _abandoned(folder / name, int(match[1])):
            stale.append(folder / name)
    return sorted(stale)


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove :func:`stale_temporaries` of ``target``; returns what was removed."""
    removed = []
    for path in stale_temporaries(target):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _abandoned(path: Path, pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours: written right now by another thread, or by this very call
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # alive under another user, or not a pid we can ask about
    # Alive: a different process that got the same pid later, or the writer itself?
    started = _process_start_time(pid)
    try:
        written = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return started is not None and started > written + 2.0  # the clock tick is 1/100 s


def _process_start_time(pid: int) -> float | None:
    """When ``pid`` started (epoch seconds), where /proc tells (Linux); else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, counted after the command name
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


# Child processes --------------------------------------------------------------------------------


def exit_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A function that makes the calling (child) process receive ``signum`` when its parent
    dies, for ``subprocess.Popen(preexec_fn=...)`` or a forked worker's first line; None where
    the system has no such request (only Linux has PR_SET_PDEATHSIG).

    This is what keeps an ffmpeg or a batch worker from outliving a killed optiviz."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def request() -> None:
        prctl(pr_set_pdeathsig, int(signum), 0, 0, 0)

    return request


# Writing ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    The folder is created if needed, and temporary files of ``target`` left by killed
    processes are removed first. On any exception (KeyboardInterrupt and SystemExit included)
    the temporary file is removed and ``target`` is left as it was; an OSError that names no
    file (a full disk) or the temporary file is raised naming ``target``. A replaced target
    keeps its permission bits.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    temporary = temporary_path(target)
    try:
        with sigterm_as_exit():
            try:
                yield temporary
                _keep_mode(target, temporary)
                os.replace(temporary, target)
            except OSError as error:
                named = error.filename
                if named is not None and os.fspath(named) != os.fspath(temporary):
                    raise
                raise type(error)(error.errno, error.strerror or str(error), str(target)) \
                    from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _keep_mode(target: Path, temporary: Path) -> None:
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return
    os.chmod(temporary, mode)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (flushed to disk before the rename)."""
    with atomic_output(Path(target)) as temporary, open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))

