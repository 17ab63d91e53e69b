"""Atomic file output: readers see the previous file or the complete new one, never a half.

Everything optiviz writes (animations, stills, ``--data`` arrays, batch manifests) goes through
:func:`atomic_output`: a hidden temporary file in the target's folder, renamed over the target
only when complete. Ctrl-C, SIGTERM (a CI timeout) or an error remove the temporary file and
leave the previous output intact; SIGKILL can leave a hidden ``.*.tmp`` file behind but never a
half-written target.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` while the block runs, so that cleanup handlers run
    (a CI timeout then behaves like Ctrl-C). The previous handler is restored afterwards.
    Outside the main thread signals cannot be handled and the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def probe_folder(target: Path) -> None:
    """Fail before any computing if ``target`` could not be written: write a scratch file in
    its folder, or in the nearest existing parent when the folder is still to be created
    (nothing is created). Tried for real: permission bits alone miss read-only mounts and
    root's special file systems (a folder under /proc)."""
    from optiviz.errors import OptivizError

    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "not a folder", str(existing))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OptivizError(f"{target}: cannot write to {existing} ({reason})") from None


def temporary_path(target: Path) -> Path:
    """A hidden name next to ``target`` with the same extension (ffmpeg picks the muxer by it)."""
    return target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temporary path in ``target``'s folder; rename it onto ``target`` on success.

    The folder is created if needed. On any exception (KeyboardInterrupt and SystemExit
    included) the temporary file is removed and ``target`` is left as it was. The file gets the
    usual permissions (0666 minus the umask), as if written directly.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(target)
    try:
        with sigterm_as_exit():
            yield temporary
            os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (flushed to disk before the rename)."""
    with atomic_output(Path(target)) as temporary, open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
