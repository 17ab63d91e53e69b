"""A progress line on a terminal: what is being done, how far, time elapsed and time left.

``Progress`` writes one line to ``stream`` (stderr) that rewrites itself with a carriage return
and is erased when the work ends, so that a finished run leaves only its summary behind. It is
shown only when the stream is a terminal (never in a CI log, a pipe or a file) and only once the
work has taken ``delay`` seconds (quick steps stay silent); redrawn at most every ``interval``
seconds, so that reporting costs nothing measurable however often it is called.

The engine and the samplers report through a plain callable ``progress(done, total)`` and know
nothing of terminals; a disabled ``Progress`` is never handed to them (``callback`` is None).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

ProgressCallback = Callable[[int, int], None]

BAR_WIDTH = 20
DELAY = 1.0  # seconds of work before a line appears
INTERVAL = 0.1  # seconds between two redraws


class Progress:
    """``rendering  45% [#########...........] 135/300 frames  2.1 s  ETA 2.6 s``."""

    current: Progress | None = None  # the one whose line is on the screen

    def __init__(self, total: int, *, stream: IO[str] | None = None, enabled: bool = True,
                 delay: float | None = None, label: str = "rendering", unit: str = "frames",
                 interval: float | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and is_terminal(self.stream)
        self.total = max(int(total), 1)
        self.delay = DELAY if delay is None else delay
        self.interval = INTERVAL if interval is None else interval
        self.label = label
        self.unit = unit
        self.started = time.monotonic()
        self.last_drawn = -float("inf")
        self.width = 0  # characters of the line on screen
        self.shown = False

    @property
    def callback(self) -> ProgressCallback | None:
        """What to hand the engine or a sampler: ``advance``, or None when nothing is shown
        (not a terminal, or quiet), so that the work does not even count its steps."""
        return self.advance if self.enabled else None

    def advance(self, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        if total is not None:
            self.total = max(int(total), 1)
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < self.delay or (now - self.last_drawn < self.interval and done < self.total):
            return
        self.last_drawn = now
        self._draw(self.line(min(done, self.total), elapsed, terminal_columns(self.stream)))

    def line(self, done: int, elapsed: float, columns: int = 80) -> str:
        """The line, fitted to ``columns - 1`` characters (a line that wraps cannot be
        rewritten by a carriage return): the bar goes first, then the end is cut."""
        fraction = done / self.total
        filled = int(BAR_WIDTH * fraction)
        bar = f" [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
        eta = f"  ETA {duration(elapsed * (self.total - done) / done)}" \
            if 0 < done < self.total else ""
        rest = f" {done}/{self.total} {self.unit}  {duration(elapsed)}{eta}"
        head = f"{self.label} {int(100 * fraction):3d}%"
        text = head + bar + rest
        if len(text) > columns - 1:
            text = head + rest
        return text[: max(columns - 1, 1)]

    def _draw(self, text: str) -> None:
        padding = " " * max(self.width - len(text), 0)
        self.stream.write(f"\r{text}{padding}")
        self.stream.flush()
        self.width = len(text)
        self.shown = True
        Progress.current = self

    def close(self) -> None:
        """Erase the line (if one was drawn) and leave the cursor at the start of it."""
        if self.shown:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.shown = False
            self.width = 0
        if Progress.current is self:
            Progress.current = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def clear_line() -> None:
    """Erase the progress line on the screen, if any, so that a message can be printed; the
    line comes back at the next report."""
    if Progress.current is not None:
        Progress.current.close()


def duration(seconds: float) -> str:
    """``4.2 s``, ``1 min 05 s``, ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, whole = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {whole:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def terminal_columns(stream: Any, fallback: int = 80) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or fallback
    except (AttributeError, ValueError, OSError):  # a fake or redirected stream
        return fallback
