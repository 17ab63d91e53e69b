"""Registries and parameter specifications.

One registry per kind (optimizers, functions, schedules, distributions, writers) is the single
source of truth read by config validation, ``optiviz list`` and the docs. A lookup of an unknown
name raises :class:`UnknownNameError` naming the closest match; it never falls back silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from optiviz.errors import ConfigError, KeyPath, closest

T = TypeVar("T")

_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One hyperparameter / parameter: its name, default, type and constraint.

    ``kind`` is one of ``float``, ``int``, ``bool``, ``str``, ``choice``, ``floats`` (a list of
    ``length`` floats, e.g. Adam's ``betas``) or ``any`` (validated by its owner).
    ``check`` returns an error message for a bad value, or None.
    """

    name: str
    default: Any = _REQUIRED
    kind: str = "float"
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    choices: tuple = ()
    length: int | None = None
    nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe_default(self) -> str:
        if self.required:
            return "required"
        return (
            repr(self.default) if not isinstance(self.default, tuple) else repr(list(self.default))
        )

    def coerce(self, value: Any, path: KeyPath = ()) -> Any:
        """Validate and normalize a user value; raise ConfigError naming ``path`` if wrong."""
        if value is None and self.nullable:
            return None
        kind = self.kind
        if kind == "float":
            value = as_float(value, path)
        elif kind == "int":
            value = as_int(value, path)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"must be true or false, got {value!r}", path)
        elif kind == "str":
            if not isinstance(value, str):
                raise ConfigError(f"must be a string, got {value!r}", path)
        elif kind == "choice":
            if value not in self.choices:
                guess = closest(str(value), [str(c) for c in self.choices])
                raise ConfigError(
                    f"must be one of {', '.join(map(str, self.choices))}, got {value!r}",
                    path,
                    suggestion=guess[0] if guess else None,
                )
        elif kind == "floats":
            if not isinstance(value, (list, tuple)) or (
                self.length is not None and len(value) != self.length
            ):
                n = f"{self.length} " if self.length else ""
                raise ConfigError(f"must be a list of {n}numbers, got {value!r}", path)
            value = tuple(as_float(v, path + (i,)) for i, v in enumerate(value))
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ConfigError(f"{problem}, got {value!r}", path)
        return value


def show_value(value: Any) -> str:
    """A user's value as an error message quotes it: its repr, cut short so the message stays
    one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_float(value: Any, path: KeyPath = ()) -> float:
    """A finite number (bools are not numbers here), as float; else ConfigError at ``path``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"must be a number, got {show_value(value)}", path)
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"must be finite, got {value!r}", path)
    return value


def as_int(value: Any, path: KeyPath = ()) -> int:
    """A whole number (2.0 is accepted, 2.5 and bools are not), as int."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise ConfigError(f"must be an integer, got {show_value(value)}", path)
    return int(value)


# Constraint helpers for Param.check ------------------------------------------------------------


def positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def nonnegative(v: Any) -> str | None:
    return None if v >= 0 else "must be >= 0"


def in_range(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """Check low <= v <= high (or open at either end)."""

    def check(v: Any) -> str | None:
        values = v if isinstance(v, tuple) else (v,)
        for x in values:
            if (x < low or (low_open and x == low)) or (x > high or (high_open and x == high)):
                lo = "(" if low_open else "["
                hi = ")" if high_open else "]"
                return f"must be in {lo}{low}, {high}{hi}"
        return None

    return check


def validate_params(
    params: Iterable[Param],
    given: Mapping[str, Any],
    path: KeyPath = (),
    *,
    ignore: Iterable[str] = (),
    what: str = "key",
) -> dict[str, Any]:
    """Check ``given`` against ``params``: unknown keys are errors (with the nearest valid name),
    missing required ones too; returns a dict with every parameter, defaults filled in."""
    params = list(params)
    by_name = {p.name: p for p in params}
    ignore = set(ignore)
    for key in given:
        if key in ignore:
            continue
        if key not in by_name:
            guess = closest(str(key), list(by_name) + sorted(ignore))
            valid = "" if guess else f" (valid: {', '.join(sorted(by_name)) or 'none'})"
            raise ConfigError(
                f"unknown {what}{valid}", path + (key,), suggestion=guess[0] if guess else None
            )
    out: dict[str, Any] = {}
    for p in params:
        if p.name in given:
            out[p.name] = p.coerce(given[p.name], path + (p.name,))
        elif p.required:
            raise ConfigError(f"missing required {what} '{p.name}'", path)
        else:
            out[p.name] = p.default
    return out


@dataclass
class Registry(Generic[T]):
    """Name -> entry. ``register`` is a decorator-friendly adder; lookups never guess silently."""

    kind: str
    _entries: dict[str, T] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, entry: T, aliases: Iterable[str] = ()) -> T:
        if name in self._entries or name in self._aliases:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._entries[name] = entry
        for alias in aliases:
            self._aliases[alias] = name
        return entry

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        def decorator(entry: T) -> T:
            return self.add(name, entry, aliases)

        return decorator

    def canonical(self, name: str, path: KeyPath = ()) -> str:
        from optiviz.errors import UnknownNameError

        if isinstance(name, str):
            if name in self._entries:
                return name
            if name in self._aliases:
                return self._aliases[name]
        raise UnknownNameError(self.kind, name, list(self._entries) + list(self._aliases), path)

    def get(self, name: str, path: KeyPath = ()) -> T:
        return self._entries[self.canonical(name, path)]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self):
        return self._entries.items()

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)
