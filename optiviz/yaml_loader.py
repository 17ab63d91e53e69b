"""Config text -> Python values that remember their lines, within bounds.

Reading (:func:`read_config`): a regular file, a pipe, or standard input (``-``), at most
:data:`MAX_CONFIG_BYTES`; devices such as ``/dev/zero`` are refused before reading.

Parsing (:func:`compose`): PyYAML's safe loader with three changes:

- numbers follow YAML 1.2 as well as 1.1: ``1e-3``, ``5E-2``, ``-.5`` and ``1e308`` are floats
  (PyYAML alone reads them as strings); ``.inf`` and ``.nan`` stay floats, which the
  validators refuse where a finite number is needed;
- size and shape are bounded while composing, before anything is built: nesting deeper than
  :data:`MAX_DEPTH` levels, aliases that expand the document past :data:`MAX_VALUES` values
  ("billion laughs"), an alias inside its own anchor (a loop) and integers too large to be a
  float are refused;
- every problem is a :class:`ConfigError` with file, line and column; a syntax error quotes the
  offending line with a caret under the column.

Only ``yaml`` and the standard library are imported here.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from typing import Any, BinaryIO

import yaml

from optiviz.errors import ConfigError, KeyPath

MAX_CONFIG_BYTES = 1_000_000  # a config is a page of text; this is a thousand pages
MAX_DEPTH = 100  # real configs nest fewer than ten levels
MAX_VALUES = 100_000  # values after alias expansion (a 10,000-point start list is 30,000)
STDIN = "-"
STDIN_LABEL = "<stdin>"

_FLOAT_TAG = "tag:yaml.org,2002:float"
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# YAML 1.1 floats (PyYAML's own pattern: underscores, sexagesimal, .inf, .nan) plus the YAML 1.2
# core schema's: an exponent without a dot or without a sign (1e-3, 5E2), a signed leading dot
# (-.5). Plain integers never match: the added forms need an exponent or a leading dot.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _resolvers_with_yaml12_floats() -> dict:
    table: dict = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        table[first] = [(tag, _FLOAT if tag == _FLOAT_TAG else regexp) for tag, regexp in entries]
    for first in "-+0123456789.":
        entries = table.setdefault(first, [])
        if not any(tag == _FLOAT_TAG for tag, _ in entries):
            entries.insert(0, (_FLOAT_TAG, _FLOAT))
    return table


class _TooBig(yaml.MarkedYAMLError):
    """A bound of this module was exceeded (a clean error, not a syntax error)."""


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, YAML 1.2 numbers, bounded depth and alias expansion."""

    yaml_implicit_resolvers = _resolvers_with_yaml12_floats()

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0
        self._composed = 0  # nodes composed from the text
        self._aliased = 0  # values added by aliases (each alias counts its whole subtree)
        self._size: dict[int, int] = {}  # id(node) -> values in its expanded subtree
        self._height: dict[int, int] = {}  # id(node) -> levels in its expanded subtree

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                if id(node) not in self._size:
                    raise _TooBig(None, None, f"the alias *{event.anchor} refers to a "
                                  "collection that contains it (a loop)", event.start_mark)
                if self._depth + self._height[id(node)] > MAX_DEPTH:
                    raise _TooBig(None, None, f"YAML nested deeper than {MAX_DEPTH} levels "
                                  f"(through the alias *{event.anchor})", event.start_mark)
                self._aliased += self._size[id(node)]
                if self._composed + self._aliased > MAX_VALUES:
                    raise _TooBig(None, None, f"YAML aliases expand to more than {MAX_VALUES:,} "
                                  "values", event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _TooBig(None, None, f"YAML nested deeper than {MAX_DEPTH} levels",
                          self.peek_event().start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._composed += 1
        children = _children(node)
        self._size[id(node)] = 1 + sum(self._size[id(c)] for c in children)
        self._height[id(node)] = 1 + max((self._height[id(c)] for c in children), default=0)
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        # Python refuses to convert more than 4,300 digits (a ValueError); no config needs an
        # integer that is not also a float (about 309 digits).
        if len(node.value) > 1100:
            raise _TooBig(None, None, f"integer too large ({len(node.value):,} characters)",
                          node.start_mark)
        value = super().construct_yaml_int(node)
        if abs(value) > sys.float_info.max:
            raise _TooBig(None, None, f"integer too large ({len(str(abs(value))):,} digits)",
                          node.start_mark)
        return value


Loader.add_constructor(_INT_TAG, Loader.construct_yaml_int)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


# Reading ---------------------------------------------------------------------------------------


def read_config(path: str | os.PathLike) -> tuple[str, str]:
    """``(text, label)`` of a config file, or of standard input for ``-``. ``label`` is what
    error messages call it (``<stdin>`` for standard input)."""
    if str(path) == STDIN:
        return _decode(_read_bounded(sys.stdin.buffer, STDIN_LABEL), STDIN_LABEL), STDIN_LABEL
    label = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError("no such file", file=label) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=label) from None
    problem = not_a_config_file(info.st_mode)
    if problem:
        raise ConfigError(problem, file=label)
    if stat.S_ISREG(info.st_mode) and info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(_too_large(info.st_size), file=label)
    try:
        with open(path, "rb") as stream:
            data = _read_bounded(stream, label)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=label) from None
    return _decode(data, label), label


def not_a_config_file(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be read as a config, or None. Regular files and
    pipes (``optiviz run <(...)``) can; folders and devices (``/dev/zero``) cannot."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a config file"
    kind = {
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    for test, name in kind.items():
        if test(mode):
            return f"not a regular file ({name})"
    return "not a regular file"


def _too_large(size: int | None) -> str:
    shown = f"{size:,} bytes" if size is not None else "more"
    return f"config too large ({shown}; at most {MAX_CONFIG_BYTES:,} bytes)"


def _read_bounded(stream: BinaryIO, label: str) -> bytes:
    data = stream.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(_too_large(None), file=label)
    return data


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=label, line=line, column=column
        ) from None


# Parsing ---------------------------------------------------------------------------------------


class Located:
    """A parsed YAML document plus the line of every key path in it."""

    def __init__(self, data: Any, lines: dict[KeyPath, int]):
        self.data = data
        self.lines = lines

    def line_of(self, path: KeyPath) -> int | None:
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def compose(text: str, file: str, *, path: KeyPath = ()) -> Located:
    """Parse one YAML document into plain values (dicts, lists, scalars) and their lines.
    ``path`` prefixes every key path (a ``--set`` value sits at its key)."""
    try:
        loader = Loader(text)
    except yaml.YAMLError as exc:  # the reader checks every character up front
        raise _syntax_error(exc, text, file) from None
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    finally:
        loader.dispose()
    lines: dict[KeyPath, int] = {}
    if node is None:
        return Located(None, lines)

    def construct(n: yaml.Node, where: KeyPath) -> Any:
        try:
            value = loader.construct_object(n, deep=True)
        except _TooBig as exc:
            raise ConfigError(exc.problem, where, file=file, line=n.start_mark.line + 1) from None
        except yaml.YAMLError as exc:
            raise _syntax_error(exc, text, file) from None
        if isinstance(value, str):
            _check_text(value, where, file, n)
        return value

    def build(n: yaml.Node, where: KeyPath) -> Any:
        lines.setdefault(where, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    raise ConfigError("YAML merge keys ('<<') are not supported; write the "
                                      "keys out", where, file=file, line=line)
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError("a key must be a name", where, file=file, line=line)
                key = construct(key_node, where)
                if key in out:
                    raise ConfigError("duplicate key", where + (key,), file=file, line=line)
                lines[where + (key,)] = line
                out[key] = build(value_node, where + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, where + (i,)) for i, item in enumerate(n.value)]
        return construct(n, where)

    return Located(build(node, path), lines)


def _check_text(value: str, where: KeyPath, file: str, node: yaml.Node) -> None:
    """Text must be text: a lone surrogate (from a ``"\\ud800"`` escape) cannot be drawn,
    printed or written to a file."""
    for i, char in enumerate(value):
        if "\ud800" <= char <= "\udfff":
            raise ConfigError(
                f"contains a lone surrogate U+{ord(char):04X} at character {i + 1}, which is not "
                "text", where, file=file, line=node.start_mark.line + 1,
            )


# Syntax errors ---------------------------------------------------------------------------------

_OPENERS = {"while parsing a flow sequence": "'['", "while parsing a flow mapping": "'{'",
            "while scanning a quoted scalar": "quote"}
_TOKEN_NAMES = {"'?'": "a key", "'-'": "a list item ('-')", "'<block end>'": "the end of a block"}


def _syntax_error(exc: yaml.YAMLError, text: str, file: str) -> ConfigError:
    """A PyYAML error as one self-contained line ``file:line:col: invalid YAML: ...`` followed
    by the offending line and a caret under the column."""
    if isinstance(exc, _TooBig):
        mark = exc.problem_mark
        return ConfigError(exc.problem, file=file, line=mark.line + 1, column=mark.column + 1)
    if isinstance(exc, yaml.reader.ReaderError):
        position = exc.position
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = exc.character if isinstance(exc.character, int) else ord(text[position])
        name = {0: "NUL", 0x1B: "ESC", 0x7F: "DEL"}.get(character, "")
        return ConfigError(
            f"invalid YAML: control character U+{character:04X}{' (' + name + ')' if name else ''}"
            " is not allowed in YAML text",
            file=file, line=line, column=column, excerpt=_excerpt(text, line, column),
        )
    problem = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None) or ""
    context_mark = getattr(exc, "context_mark", None)
    for token, words in _TOKEN_NAMES.items():
        problem = problem.replace(f"found {token}", f"found {words}")
    opener = _OPENERS.get(context)
    later = context_mark is not None and mark is not None and context_mark.line < mark.line
    if opener and later:
        # An unclosed bracket or quote is found only lines later: point at the opener.
        where = ("the file ends first" if "end of stream" in problem or "<stream end>" in problem
                 else f"{problem} on line {mark.line + 1}")
        mark, problem = context_mark, f"this {opener} is never closed ({where})"
    elif context == "while scanning a simple key" and later:
        mark, problem = context_mark, "this key has no ':' after it"
    elif problem.startswith("expected <block end>"):
        problem = ("this line is not indented like the lines of its block above "
                   f"({problem.split(', but ')[-1]})")
    elif "'\\t' that cannot start any token" in problem:
        problem = "a tab character; YAML is indented with spaces"
    elif problem == "mapping values are not allowed here" and mark is not None:
        start = _plain_scalar_start(text, mark)
        if start is not None and start.line < mark.line and start.is_key:
            # "function rosenbrock\nstart: 1": the text that should have been a key runs on
            # into the next line; the missing ':' is on the line where it starts.
            problem = (f"'{start.line_text}' runs on into line {mark.line + 1}, where ':' is not "
                       "allowed (a missing ':' after a key?)")
            mark = start.mark
        elif start is not None and start.line < mark.line:
            problem = (f"this line continues the value on line {start.line + 1}, so ':' is not "
                       "allowed here (indented too far?)")
        else:
            problem += " (a value that contains ': ' must be quoted)"
    if mark is None:
        return ConfigError(f"invalid YAML: {problem}", file=file)
    line, column = mark.line + 1, mark.column + 1
    return ConfigError(f"invalid YAML: {problem}", file=file, line=line, column=column,
                       excerpt=_excerpt(text, line, column))


class _Start:
    """Where a plain scalar starts; ``is_key`` when nothing but indentation precedes it."""

    def __init__(self, mark: Any, row: str):
        self.mark = mark
        self.line = mark.line
        self.line_text = row.strip()[:40]
        self.is_key = not row[: mark.column].strip(" -")


def _plain_scalar_start(text: str, mark: Any) -> _Start | None:
    """Where the plain scalar before ``mark`` started (scanning the text up to the error)."""
    last = None
    try:
        for token in yaml.scan(text, Loader=Loader):
            if token.start_mark.index >= mark.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if not isinstance(last, yaml.ScalarToken) or last.plain is False:
        return None
    return _Start(last.start_mark, text.split("\n")[last.start_mark.line])


def _excerpt(text: str, line: int, column: int) -> str:
    """The offending line (tabs shown as spaces, other control characters as '?') and a caret
    under ``column`` (1-based)."""
    rows = text.split("\n")
    if not 1 <= line <= len(rows):
        return ""
    row = rows[line - 1].rstrip("\r")
    shown = "".join(
        " " if c == "\t" else "?" if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0
                                      or "\ud800" <= c <= "\udfff") else c
        for c in row
    )
    if len(shown) > 100:  # keep the caret in view on a long line
        start = max(0, min(column - 50, len(shown) - 100))
        shown, column = ("..." if start else "") + shown[start:start + 100], column - start + (
            3 if start else 0)
    return f"  {shown}\n  {' ' * (max(column, 1) - 1)}^"


def parse_value(text: str, what: str, path: KeyPath) -> Any:
    """One YAML value given on the command line (``--set key=VALUE``), under the same rules
    as a file; errors name ``what``."""
    return compose(text, what, path=path).data


__all__ = ["Located", "Loader", "compose", "parse_value", "read_config"]

