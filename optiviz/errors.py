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
            part = str(part)
            # a key with control characters or spaces is shown quoted, escapes visible, so
            # the message stays one line and says exactly which key
            if not part.isprintable() or not part.strip() or part != part.strip():
                part = repr(part)
            text += ("." if text else "") + part
    return text


def edit_distance(a: str, b: str) -> int:
    """Damerau–Levenshtein distance in its optimal-string-alignment form: insertions, deletions,
    substitutions and swaps of two neighbouring letters each cost 1 (``adma`` -> ``adam`` is 1)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def closest(name: object, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The nearest valid names to a misspelled one, nearest first (may be empty).

    Case is ignored. Names are ranked by :func:`edit_distance`; a name is offered when it is at
    most ``max(1, 2·len/5)`` edits away, or when what was typed (three letters or more) starts
    it (``rosen`` -> ``rosenbrock``). Ties go to the name sharing more of the typed letters in
    order (difflib's ratio: ``adamx`` -> ``adamax`` over ``adamw``), then the shorter name, then
    alphabetical order, so the answer never depends on registration order."""
    if not isinstance(name, str):
        return []
    typed = name.casefold()
    allowed = max(1, 2 * len(typed) // 5)
    ranked = []
    for candidate in dict.fromkeys(candidates):
        folded = candidate.casefold()
        distance = edit_distance(typed, folded)
        if distance <= allowed or (len(typed) >= 3 and folded.startswith(typed)):
            ratio = difflib.SequenceMatcher(None, typed, folded).ratio()
            ranked.append((distance, -ratio, len(candidate), candidate))
    return [candidate for *_, candidate in sorted(ranked)[:n]]


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


def refuse_unknown_keys(mapping: dict, valid: Iterable[str], path: KeyPath,
                        what: str = "key") -> None:
    """Raise ``unknown <what> (valid: ...)`` at the first key of ``mapping`` not in ``valid``,
    with the nearest valid name as the suggestion."""
    valid = list(valid)
    for key in mapping:
        if key not in valid:
            guess = closest(str(key), valid)
            raise ConfigError(f"unknown {what} (valid: {', '.join(valid)})", tuple(path) + (key,),
                              suggestion=guess[0] if guess else None)
