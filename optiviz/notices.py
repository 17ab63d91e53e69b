"""Python warnings and library log records as one line each on the terminal, or nothing.

Inside :func:`one_line_warnings` every warning (Matplotlib's missing glyphs and collapsed
layouts, SciPy's integration warnings, NumPy's floating-point warnings ...) and every warning
logged by a library reaches ``echo`` as a single ``warning: ...`` line, once per distinct
message, instead of Python's multi-line ``file:line: Category: text`` block with a source line.
``echo`` None drops them all: ``--quiet`` means silent unless the run fails.
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from typing import Any

Echo = Callable[[str], None]

_GLYPH = re.compile(r"Glyph (\d+) \(.*?\) missing from font\(s\) (.+?)\.?$")


def describe(message: Any, category: type | None = None) -> tuple[str, tuple[str, ...]]:
    """A warning as ``(one line, keys)``; a line whose keys were all seen before is not
    repeated. Missing glyphs are keyed by character too, so Matplotlib's warning about a glyph
    that ``optiviz.render.glyphs`` has already reported (with the text it is in) is dropped."""
    glyphs = getattr(message, "glyphs", None)
    text = str(message)
    if glyphs:
        line = _one_line(text)
        return line, (line, *(f"glyph {g}" for g in glyphs))
    name = getattr(category, "__name__", "")
    match = _GLYPH.match(text.strip())
    if match:
        glyph = chr(int(match.group(1)))
        fonts = match.group(2)
        return (f"glyph '{glyph}' ({unicodedata.name(glyph, f'U+{ord(glyph):04X}').lower()}) "
                f"is missing from {fonts}; it is drawn as a box"), (f"glyph {glyph}",)
    if text.startswith("constrained_layout not applied"):
        line = ("the frame is too small for its panels and labels, so they may overlap; "
                "make render.width/height larger or show fewer panels")
        return line, (line,)
    if name == "IntegrationWarning":
        line = (f"an exact value computed by numerical integration may be inaccurate "
                f"(scipy: {_first_sentence(text)})")
        return line, (line,)
    line = _one_line(text)
    return line, (line,)


def _first_sentence(text: str) -> str:
    first = _one_line(text)
    end = first.find(". ")
    return (first[:end] if end > 0 else first).rstrip(".").strip()


def _one_line(text: str) -> str:
    """The first paragraph of ``text``, its lines joined with single spaces."""
    paragraph = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    return " ".join(paragraph.split())


@contextlib.contextmanager
def one_line_warnings(echo: Echo | None, prefix: str = "") -> Iterator[None]:
    """Route warnings and library log records of level WARNING and above to ``echo`` as one
    line each, ``warning: <prefix><text>``, once per distinct message; ``echo`` None drops
    them. The
    warning filters are not changed (what Python hides by default stays hidden), and the
    previous ``warnings.showwarning`` and log handlers come back afterwards."""
    seen: set[str] = set()

    def show(text: str, keys: tuple[str, ...]) -> None:
        if echo is None or all(key in seen for key in keys):
            return
        seen.update(keys)
        echo(f"warning: {prefix}{text}")

    def show_warning(message: Any, category: type, filename: str, lineno: int,
                     file: Any = None, line: str | None = None) -> None:
        show(*describe(message, category))

    handler = _EchoHandler(lambda record: show(*describe(record.getMessage())))
    root = logging.getLogger()
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)


class _EchoHandler(logging.Handler):
    """Log records of level WARNING and above go to a function (so that Python's last-resort
    handler does not print them as they are)."""

    def __init__(self, emit: Callable[[logging.LogRecord], None]):
        super().__init__(level=logging.WARNING)
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # noqa: BLE001 - a message must never break the run
            self.handleError(record)
