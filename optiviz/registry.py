"""Registries and parameter specifications.

One registry per kind (optimizers, functions, schedules, distributions, writers) is the single
source of truth read by config validation, ``optiviz list`` and the docs. A lookup of an unknown
name raises :class:`UnknownNameError` naming the closest match; it never falls back silently.
"""

from __future__ import annotations

import json
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
    ``check`` returns an error message for a bad value, or None; the message states the whole
    constraint (``must be > 0``), so a second value never meets a stricter one.
    ``default_text`` says what a default computed when the experiment loads is (``steps after
    warm-up``): listings and templates show it instead of the placeholder stored in ``default``.
    """

    name: str
    default: Any = _REQUIRED
    kind: str = "float"
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    choices: tuple = ()
    length: int | None = None
    nullable: bool = False
    default_text: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def describe_default(self) -> str:
        """The default as a user would write it in YAML (``[0.9, 0.999]``, ``true``, ``cos``),
        or in parentheses what it is when no single value is (``(required)``, ``(steps)``)."""
        if self.default_text:
            return f"({self.default_text})"
        if self.required:
            return "(required)"
        if self.default is None:
            return "(none)"
        return yaml_flow(self.default)

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
            value = _choice_spelling(value, self.choices)
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


def _choice_spelling(value: Any, choices: tuple) -> Any:
    """The choice ``value`` names, ignoring case (``Dark`` -> ``dark``); else ``value`` as given."""
    if isinstance(value, str) and value not in choices:
        for choice in choices:
            if isinstance(choice, str) and choice.casefold() == value.casefold():
                return choice
    return value


def yaml_flow(value: Any) -> str:
    """A plain value as one line of YAML flow style that reads back as the same value:
    ``{name: norm, loc: 0.0}``, ``[0.9, 0.999]``, ``true``, ``1.0e-08`` (YAML 1.1 reads ``1e-08``
    as a string)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        text = repr(value) if len(repr(value)) <= 8 else f"{value:.6g}"
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
        elif not e and "." not in text and math.isfinite(value):
            text += ".0"
        return text
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = (
        text
        and (text[0].isalpha() or text[0] == "_")
        and not any(c in text for c in ":#{}[],&*!|>'\"%@`")
        and text.casefold() not in _YAML_WORDS
    )
    return text if plain and text.strip() == text else json.dumps(text, ensure_ascii=False)


# Plain words YAML 1.1 reads as booleans or null: a string spelled so must be quoted.
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


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
    """Name -> entry. ``register`` is a decorator-friendly adder; lookups never guess silently.

    Lookups ignore case (``Adam`` is ``adam``); two names that differ only in case cannot both
    be registered."""

    kind: str
    _entries: dict[str, T] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)
    _folded: dict[str, str] = field(default_factory=dict)  # casefolded -> registered spelling

    def add(self, name: str, entry: T, aliases: Iterable[str] = ()) -> T:
        for spelling in (name, *aliases):
            if spelling.casefold() in self._folded:
                raise ValueError(f"{self.kind} {spelling!r} registered twice")
        self._entries[name] = entry
        self._folded[name.casefold()] = name
        for alias in aliases:
            self._aliases[alias] = name
            self._folded[alias.casefold()] = alias
        return entry

    def register(self, name: str, aliases: Iterable[str] = ()) -> Callable[[T], T]:
        def decorator(entry: T) -> T:
            return self.add(name, entry, aliases)

        return decorator

    def spelling(self, name: str, path: KeyPath = ()) -> str:
        """The name or alias ``name`` is, as registered (``Normal`` -> ``normal``)."""
        from optiviz.errors import UnknownNameError

        if isinstance(name, str):
            found = self._folded.get(name.casefold())
            if found is not None:
                return found
        raise UnknownNameError(self.kind, name, list(self._entries) + list(self._aliases), path)

    def canonical(self, name: str, path: KeyPath = ()) -> str:
        """The registered name for ``name``, an alias of it, or either in another case."""
        found = self.spelling(name, path)
        return self._aliases.get(found, found)

    def get(self, name: str, path: KeyPath = ()) -> T:
        return self._entries[self.canonical(name, path)]

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._folded

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self):
        return self._entries.items()

    def aliases(self) -> dict[str, str]:
        return dict(self._aliases)
