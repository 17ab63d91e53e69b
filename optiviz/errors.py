"""Errors that reach the user as one clear line (exit code 2 at the CLI edge)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

KeyPath = tuple  # ("optimizers", 2, "betaz")


def format_path(path: Iterable) -> str:
    """("optimizers", 2, "betaz") -> "optimizers[2].betaz"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def closest(name: object, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The nearest valid names to a misspelled one (may be empty)."""
    candidates = list(candidates)
    if not isinstance(name, str):
        return []
    lowered = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[f] for f in found]


class OptivizError(Exception):
    """Base class of every error we report to users without a traceback."""


class ConfigError(OptivizError):
    """Bad input. Carries where it is (file, line, key path) so the message can say so.

    Code below the config loader raises it with just ``path`` (the key path inside the
    experiment); the loader fills in ``file`` and ``line`` from the YAML node it came from.
    """

    def __init__(
        self,
        message: str,
        path: KeyPath = (),
        *,
        file: str | None = None,
        line: int | None = None,
        suggestion: str | None = None,
        column: int | None = None,
        excerpt: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.file = file
        self.line = line
        self.suggestion = suggestion
        self.column = column
        self.excerpt = excerpt  # the offending line and a caret under the column, if known

    def __str__(self) -> str:
        """``file:line[:column]: key.path: message; did you mean 'x'?`` on one line; a YAML
        syntax error adds the quoted line and a caret line below it."""
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}" + (f":{self.column}" if self.column else "")
            where += ": "
        key = format_path(self.path)
        text = f"{where}{key}: {self.message}" if key else f"{where}{self.message}"
        if self.suggestion:
            text += f"; did you mean '{self.suggestion}'?"
        if self.excerpt:
            text += "\n" + self.excerpt
        return text


class UnknownNameError(ConfigError):
    """A registry lookup of a name that is not registered."""

    def __init__(self, kind: str, name: object, valid: Iterable[str], path: KeyPath = ()):
        valid = sorted(valid)
        guess = closest(name, valid)
        message = f"unknown {kind} {name!r}"
        if not guess:
            message += f" (valid: {', '.join(valid)})"
        super().__init__(message, path, suggestion=guess[0] if guess else None)
        self.kind = kind
        self.name = name
        self.valid = valid
