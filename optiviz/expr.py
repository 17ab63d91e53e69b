"""Safe arithmetic expressions with exact symbolic derivatives.

``parse("x**2 + 10*sin(y)")`` reads user text with Python's :mod:`ast` (``mode="eval"``) and
builds our own immutable tree; user text is never passed to ``eval``/``exec``/``compile``.
Allowed: numbers, the given variables, the constants ``pi`` and ``e``, unary ``+``/``-``,
``+ - * / **``, parentheses, and calls of the functions in :data:`FUNCTIONS_ALLOWED`. ``^`` is
accepted as a friendly alias of ``**`` (``x^2 + 1`` means ``x**2 + 1``, not Python's xor).
Everything else is refused with a :class:`ConfigError` naming the offending text.

``Expression.diff(var)`` applies the chain rule symbolically (with 0/1 and constant folding), so
second derivatives, and hence Hessians, are exact. A derivative shares the subtrees it repeats
(the derivative of ``u**v`` contains ``u**v`` itself), so expressions are DAGs: differentiation
visits each distinct node once, and evaluation runs the DAG as a straight-line program over NumPy
ufuncs on whole arrays, each distinct node once, freeing every intermediate after its last use.
Neither recurses, so no nesting the parser admits can exhaust Python's stack; a derivative that
would need more than :data:`MAX_OPERATIONS` operations is refused instead of evaluated slowly.
Domain errors give ``nan`` silently.
"""

from __future__ import annotations

import ast
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optiviz.errors import ConfigError, KeyPath, closest

MAX_LENGTH = 2000  # characters of user text
MAX_NODES = 400  # syntax-tree nodes
MAX_DEPTH = 60  # nesting depth of the syntax tree
MAX_EXPONENT = 1000.0  # |constant exponent|: x**1e10 is a bomb for derivatives and overflow
# Distinct operations in a first or second derivative. Real objectives need tens to hundreds;
# the bound keeps a Hessian evaluation within milliseconds on a grid of starts.
MAX_OPERATIONS = 5000
# Groups ({...}, \left...\right) nested in typeset mathtext: matplotlib's parser recurses per
# group and exhausts Python's stack from about 19 (fractions) to 27 (function calls); deeper
# formulas are titled by their plain text instead.
MAX_TYPESET_NESTING = 12

CONSTANTS = {"pi": math.pi, "e": math.e}

Env = dict[str, np.ndarray]


# Nodes -----------------------------------------------------------------------------------------

class Node(ABC):
    """A node of the expression tree. Subclasses are frozen dataclasses implementing the four
    abstract methods."""

    precedence = 5

    @abstractmethod
    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        """The exact symbolic derivative with respect to ``var``, given ``d(child)``, the
        derivative of each child (computed once per distinct child)."""

    @abstractmethod
    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        """The node's value from its children's values ``args`` (in ``children()`` order)."""

    @abstractmethod
    def text(self) -> str:
        """Source text that parses back to this node."""

    @abstractmethod
    def latex(self) -> str:
        """Matplotlib mathtext."""

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True)
class Const(Node):
    value: float
    name: str | None = None  # "pi" / "e": how to print it

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return 3 if self.value < 0 else 5

    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        return ZERO

    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        return np.float64(self.value)  # type: ignore[return-value]

    def text(self) -> str:
        if self.name:
            return self.name
        return _number_text(self.value)

    def latex(self) -> str:
        return {"pi": r"\pi", "e": "e"}.get(self.name or "", _number_text(self.value))


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e16 else repr(value)


ZERO, ONE = Const(0.0), Const(1.0)


@dataclass(frozen=True)
class Var(Node):
    name: str

    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        return ONE if var == self.name else ZERO

    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        return env[self.name]

    def text(self) -> str:
        return self.name

    def latex(self) -> str:
        return self.name if len(self.name) == 1 else rf"\mathrm{{{self.name}}}"


@dataclass(frozen=True)
class Neg(Node):
    arg: Node
    precedence = 3

    def children(self) -> tuple[Node, ...]:
        return (self.arg,)

    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        return neg(d(self.arg))

    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        return np.negative(args[0])

    def text(self) -> str:
        return "-" + _wrap(self.arg, self.arg.precedence < 3, "text")

    def latex(self) -> str:
        return "-" + _wrap(self.arg, self.arg.precedence < 3, "latex", r"\left(", r"\right)")


_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}


@dataclass(frozen=True)
class Binary(Node):
    op: str  # one of + - * / **
    left: Node
    right: Node

    @property
    def precedence(self) -> int:  # type: ignore[override]
        return _PRECEDENCE[self.op]

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        u, v = self.left, self.right
        du, dv = d(u), d(v)
        if self.op == "+":
            return add(du, dv)
        if self.op == "-":
            return sub(du, dv)
        if self.op == "*":
            return add(mul(du, v), mul(u, dv))
        if self.op == "/":  # (u/v)' = u'/v − u·v'/v²
            return sub(div(du, v), div(mul(u, dv), power(v, Const(2.0))))
        # u**v: constant exponent c -> c·u^(c−1)·u'; else u^v·(v'·ln u + v·u'/u)
        if isinstance(v, Const):
            return mul(mul(v, power(u, Const(v.value - 1))), du)
        if isinstance(u, Const):
            return mul(mul(self, Const(math.log(u.value)) if u.value > 0 else call("log", u)), dv)
        return mul(self, add(mul(dv, call("log", u)), div(mul(v, du), u)))

    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        if self.op == "**" and self.right == Const(2.0):
            return np.square(args[0])
        return _UFUNCS[self.op](args[0], args[1])

    def _parens(self) -> tuple[bool, bool]:
        p = self.precedence
        if self.op == "**":  # right-associative; a negative base needs parentheses
            return self.left.precedence <= p, self.right.precedence < p
        strict_right = self.op in "-/"
        return self.left.precedence < p, (
            self.right.precedence < p or (strict_right and self.right.precedence == p)
        )

    def text(self) -> str:
        wrap_left, wrap_right = self._parens()
        op = "**" if self.op == "**" else f" {self.op} "
        return (
            _wrap(self.left, wrap_left, "text") + op + _wrap(self.right, wrap_right, "text")
        )

    def latex(self) -> str:
        if self.op == "/":
            return rf"\frac{{{self.left.latex()}}}{{{self.right.latex()}}}"
        wrap_left, wrap_right = self._parens()
        left = _wrap(self.left, wrap_left, "latex", r"\left(", r"\right)")
        if self.op == "**":
            return f"{{{left}}}^{{{self.right.latex()}}}"
        right = _wrap(self.right, wrap_right, "latex", r"\left(", r"\right)")
        if self.op == "*":
            juxtapose = isinstance(self.left, Const) and not wrap_right and isinstance(
                self.right, (Var, Call, Binary)
            ) and not right[:1].isdigit()
            return left + (" " if juxtapose else r" \cdot ") + right
        return f"{left} {self.op} {right}"


@dataclass(frozen=True)
class Call(Node):
    func: str  # canonical name in FUNCTIONS_ALLOWED
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args

    def diff(self, var: str, d: Callable[[Node], Node]) -> Node:
        if self.func == "atan2":  # d atan2(a, b) = (b·a' − a·b') / (a² + b²)
            a, b = self.args
            numerator = sub(mul(b, d(a)), mul(a, d(b)))
            return div(numerator, add(power(a, Const(2.0)), power(b, Const(2.0))))
        (u,) = self.args
        du = d(u)
        if du == ZERO:
            return ZERO
        return mul(_DERIVATIVES[self.func](u), du)

    def apply(self, env: Env, args: list[np.ndarray]) -> np.ndarray:
        return _UFUNC_OF[self.func](*args)

    def text(self) -> str:
        return f"{self.func}({', '.join(arg.text() for arg in self.args)})"

    def latex(self) -> str:
        inner = ", ".join(arg.latex() for arg in self.args)
        if self.func == "sqrt":
            return rf"\sqrt{{{inner}}}"
        if self.func == "abs":
            return rf"\left|{inner}\right|"
        return rf"{_LATEX_NAME[self.func]}\left({inner}\right)"


def _wrap(node: Node, parens: bool, render: str, open_: str = "(", close: str = ")") -> str:
    text = getattr(node, render)()
    return f"{open_}{text}{close}" if parens else text


# Simplifying constructors (0/1 and constant folding) -----------------------------------------

def _fold(op: str, a: Node, b: Node) -> Node | None:
    """Const op Const -> Const when the result is finite (1/0 stays symbolic: evaluates to inf)."""
    if isinstance(a, Const) and isinstance(b, Const):
        with np.errstate(all="ignore"):
            value = float(_UFUNCS[op](np.float64(a.value), np.float64(b.value)))
        if math.isfinite(value):
            return Const(value)
    return None


def add(a: Node, b: Node) -> Node:
    if (folded := _fold("+", a, b)) is not None:
        return folded
    if a == ZERO:
        return b
    if b == ZERO:
        return a
    if isinstance(b, Neg):
        return sub(a, b.arg)
    return Binary("+", a, b)


def sub(a: Node, b: Node) -> Node:
    if (folded := _fold("-", a, b)) is not None:
        return folded
    if b == ZERO:
        return a
    if a == ZERO:
        return neg(b)
    if isinstance(b, Neg):
        return add(a, b.arg)
    return Binary("-", a, b)


def mul(a: Node, b: Node) -> Node:
    if (folded := _fold("*", a, b)) is not None:
        return folded
    if a == ZERO or b == ZERO:
        return ZERO
    if isinstance(b, Const) and not isinstance(a, Const):
        a, b = b, a  # constants first: 2*x, not x*2
    if a == ONE:
        return b
    if a == Const(-1.0):
        return neg(b)
    if isinstance(a, Const) and isinstance(b, Binary) and b.op == "*" and isinstance(b.left, Const):
        return mul(Const(a.value * b.left.value), b.right)
    if isinstance(a, Neg):
        return neg(mul(a.arg, b))
    if isinstance(b, Neg):
        return neg(mul(a, b.arg))
    return Binary("*", a, b)


def div(a: Node, b: Node) -> Node:
    if (folded := _fold("/", a, b)) is not None:
        return folded
    if a == ZERO:
        return ZERO
    if b == ONE:
        return a
    if isinstance(a, Neg):
        return neg(div(a.arg, b))
    return Binary("/", a, b)


def power(a: Node, b: Node) -> Node:
    if (folded := _fold("**", a, b)) is not None:
        return folded
    if b == ZERO or a == ONE:
        return ONE
    if b == ONE:
        return a
    return Binary("**", a, b)


def neg(a: Node) -> Node:
    if isinstance(a, Const):
        return Const(-a.value) if a.value != 0 else ZERO
    if isinstance(a, Neg):
        return a.arg
    return Neg(a)


def call(func: str, *args: Node) -> Node:
    if all(isinstance(arg, Const) for arg in args):
        with np.errstate(all="ignore"):
            value = float(_UFUNC_OF[func](*(np.float64(arg.value) for arg in args)))  # type: ignore
        if math.isfinite(value):
            return Const(value)
    return Call(func, tuple(args))


# Functions: NumPy ufunc, derivative f'(u), how it prints in mathtext -------------------------

def _const(v: float) -> Const:
    return Const(v)


_DERIVATIVES: dict[str, Callable[[Node], Node]] = {
    "sin": lambda u: call("cos", u),
    "cos": lambda u: neg(call("sin", u)),
    "tan": lambda u: add(ONE, power(call("tan", u), _const(2.0))),
    "arcsin": lambda u: div(ONE, call("sqrt", sub(ONE, power(u, _const(2.0))))),
    "arccos": lambda u: neg(div(ONE, call("sqrt", sub(ONE, power(u, _const(2.0)))))),
    "arctan": lambda u: div(ONE, add(ONE, power(u, _const(2.0)))),
    "sinh": lambda u: call("cosh", u),
    "cosh": lambda u: call("sinh", u),
    "tanh": lambda u: sub(ONE, power(call("tanh", u), _const(2.0))),
    "exp": lambda u: call("exp", u),
    "log": lambda u: div(ONE, u),
    "log10": lambda u: div(ONE, mul(_const(math.log(10.0)), u)),
    "log2": lambda u: div(ONE, mul(_const(math.log(2.0)), u)),
    "sqrt": lambda u: div(_const(0.5), call("sqrt", u)),
    "abs": lambda u: call("sign", u),
    "sign": lambda u: ZERO,  # almost everywhere
}

_UFUNC_OF: dict[str, np.ufunc] = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "exp": np.exp,
    "log": np.log, "log10": np.log10, "log2": np.log2, "sqrt": np.sqrt, "abs": np.abs,
    "sign": np.sign, "atan2": np.arctan2,
}

_LATEX_NAME = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "arcsin": r"\arcsin", "arccos": r"\arccos",
    "arctan": r"\arctan", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "exp": r"\exp",
    "log": r"\ln", "log10": r"\log_{10}", "log2": r"\log_{2}", "sign": r"\mathrm{sign}",
    "atan2": r"\mathrm{atan2}",
}

_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "ln": "log", "arctan2": "atan2"}

#: Every function name a user may call, with its canonical name.
FUNCTIONS_ALLOWED: dict[str, str] = {name: name for name in _UFUNC_OF} | _ALIASES

_ARITY = {"atan2": 2}


# The public expression -------------------------------------------------------------------------

Program = tuple[tuple[Node, tuple[int, ...]], ...]


def program(root: Node) -> Program:
    """The distinct nodes of the DAG under ``root``, children before parents, each with the
    positions of its children: evaluating them in order evaluates ``root`` (the last)."""
    position: dict[int, int] = {}
    order: list[tuple[Node, tuple[int, ...]]] = []
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in position:
            continue
        children = node.children()
        if children_done:
            order.append((node, tuple(position[id(child)] for child in children)))
            position[id(node)] = len(order) - 1
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children)
                         if id(child) not in position)
    return tuple(order)


def derivative(root: Node, var: str) -> Node:
    """∂root/∂var, each distinct node differentiated once, children first (no recursion)."""
    derivatives: dict[int, Node] = {}
    for node, _ in program(root):
        derivatives[id(node)] = node.diff(var, lambda child: derivatives[id(child)])
    return derivatives[id(root)]


class Expression:
    """An immutable expression in ``variables``; callable on NumPy arrays (broadcasting).

    ``path`` is the config key it was read from: a derivative too complex to evaluate is
    refused there."""

    __slots__ = ("variables", "path", "_root", "_program", "_last_use", "_used", "_derivatives")

    def __init__(self, root: Node, variables: tuple[str, ...], path: KeyPath = ()):
        self.variables = tuple(variables)
        self.path = tuple(path)
        self._root = root
        self._program = program(root)
        last_use = list(range(len(self._program)))
        for i, (_, children) in enumerate(self._program):
            for child in children:
                last_use[child] = i
        self._last_use = tuple(last_use)
        self._used = {node.name for node, _ in self._program if isinstance(node, Var)}
        self._derivatives: dict[str, Expression] = {}

    @property
    def root(self) -> Node:
        return self._root

    @property
    def operations(self) -> int:
        """Distinct nodes: what one evaluation costs, in ufunc calls."""
        return len(self._program)

    def __call__(self, **values) -> np.ndarray:
        """Evaluate at arrays of any broadcastable shapes; the result has the broadcast shape."""
        unknown = set(values) - set(self.variables)
        missing = self._used - set(values)
        if unknown or missing:
            raise TypeError(
                f"expression in {self.variables} called with {sorted(values)}"
                f" (unknown: {sorted(unknown)}, missing: {sorted(missing)})"
            )
        env = {name: np.asarray(value, dtype=float) for name, value in values.items()}
        shape = np.broadcast_shapes(*(value.shape for value in env.values()))
        results: list[np.ndarray | None] = [None] * len(self._program)
        with np.errstate(all="ignore"):
            for i, (node, children) in enumerate(self._program):
                results[i] = node.apply(env, [results[c] for c in children])  # type: ignore[misc]
                for child in children:
                    if self._last_use[child] == i:
                        results[child] = None  # peak memory: the DAG's width, not its size
            result = np.asarray(results[-1], dtype=float)
        if result.shape != shape:
            result = np.array(np.broadcast_to(result, shape))
        return result

    def diff(self, var: str) -> Expression:
        """The exact derivative ∂/∂var (chain rule, simplified); cached. A derivative needing
        more than :data:`MAX_OPERATIONS` operations raises :class:`ConfigError` at ``path``."""
        if var not in self.variables:
            raise ValueError(f"{var!r} is not one of the variables {self.variables}")
        if var not in self._derivatives:
            result = Expression(derivative(self._root, var), self.variables, self.path)
            if result.operations > MAX_OPERATIONS:
                raise ConfigError(
                    f"expression too complex to differentiate: ∂/∂{var} needs "
                    f"{result.operations:,} operations (at most {MAX_OPERATIONS:,})",
                    self.path,
                )
            self._derivatives[var] = result
        return self._derivatives[var]

    def latex(self) -> str:
        """Matplotlib mathtext (without the surrounding dollars)."""
        return self._root.latex()

    def typeset(self) -> str | None:
        """:meth:`latex` when matplotlib can typeset it (at most :data:`MAX_TYPESET_NESTING`
        nested groups), else None."""
        text = self.latex()
        return text if typeset_nesting(text) <= MAX_TYPESET_NESTING else None

    def __str__(self) -> str:
        return self._root.text()

    def __repr__(self) -> str:
        return f"Expression({str(self)!r}, variables={self.variables})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Expression)
            and self._root == other._root
            and self.variables == other.variables
        )

    def __hash__(self) -> int:
        # Hashing the tree would walk every path of a derivative's DAG (exponentially many);
        # equal expressions have equal variables and root types, which is all a hash needs.
        return hash((self.variables, type(self._root).__name__))


def typeset_nesting(latex: str) -> int:
    """How deeply ``{...}`` and ``\\left...\\right`` groups nest in mathtext."""
    depth = deepest = 0
    for token in re.findall(r"\\left|\\right|[{}]", latex):
        depth += 1 if token in ("{", "\\left") else -1
        deepest = max(deepest, depth)
    return deepest


def parse(text: str, variables: tuple[str, ...] = ("x", "y"), *, path: KeyPath = ()) -> Expression:
    """Parse user text into an :class:`Expression`; refuse anything but arithmetic with a
    :class:`ConfigError` at ``path`` that names the offending text."""
    if not isinstance(text, str):
        raise ConfigError(f"must be an expression string, got {text!r}", path)
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"expression too long ({len(text)} > {MAX_LENGTH} characters)", path)
    source = text.replace("^", "**").strip()
    if not source:
        raise ConfigError("expression is empty", path)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ConfigError(f"invalid expression syntax: {error.msg}", path) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError("expression too deeply nested", path) from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ConfigError(f"expression too large ({nodes} > {MAX_NODES} syntax nodes)", path)
    builder = _Builder(source, tuple(variables), path)
    root = builder.build(tree.body, depth=0)
    return Expression(root, tuple(variables), path)


_REFUSED_KINDS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generators",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred arguments",
    ast.JoinedStr: "strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Await: "await",
    ast.Yield: "yield",
}

_BINARY_OPS = {ast.Add: add, ast.Sub: sub, ast.Mult: mul, ast.Div: div, ast.Pow: power}
_BINARY_TEXT = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}


class _Builder:
    """Turns a whitelisted Python syntax tree into our nodes, refusing everything else."""

    def __init__(self, source: str, variables: tuple[str, ...], path: KeyPath):
        self.source = source
        self.variables = variables
        self.path = path

    def refuse(self, node: ast.AST, what: str, suggestion: str | None = None) -> ConfigError:
        segment = ast.get_source_segment(self.source, node) or type(node).__name__
        return ConfigError(f"{what} not allowed: '{segment}'", self.path, suggestion=suggestion)

    def build(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ConfigError(f"expression nested deeper than {MAX_DEPTH} levels", self.path)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, (ast.UAdd, ast.USub)):
                arg = self.build(node.operand, depth + 1)
                return neg(arg) if isinstance(node.op, ast.USub) else arg
            raise self.refuse(node, "operators '~' and 'not'")
        if isinstance(node, ast.BinOp):
            make = _BINARY_OPS.get(type(node.op))
            if make is None:
                raise self.refuse(node, f"operator '{_BINARY_TEXT.get(type(node.op), '?')}'")
            left = self.build(node.left, depth + 1)
            right = self.build(node.right, depth + 1)
            if make is power and isinstance(right, Const) and abs(right.value) > MAX_EXPONENT:
                raise ConfigError(
                    f"exponent too large (|{right.text()}| > {MAX_EXPONENT:g}): "
                    f"'{ast.get_source_segment(self.source, node)}'",
                    self.path,
                )
            return make(left, right)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        kind = _REFUSED_KINDS.get(type(node), type(node).__name__)
        raise self.refuse(node, kind)

    def number(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "strings" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
            raise self.refuse(node, kind)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.refuse(node, "non-finite or huge numbers")
        return Const(number)

    def name(self, node: ast.Name) -> Node:
        if node.id in self.variables:
            return Var(node.id)
        if node.id in CONSTANTS:
            return Const(CONSTANTS[node.id], node.id)
        if node.id in FUNCTIONS_ALLOWED:
            raise self.refuse(node, f"function '{node.id}' without a call, e.g. {node.id}(x), is")
        known = list(self.variables) + list(CONSTANTS)
        guess = closest(node.id, known + list(FUNCTIONS_ALLOWED))
        what = f"name '{node.id}' (variables: {', '.join(self.variables)}; constants: pi, e) is"
        raise self.refuse(node, what, guess[0] if guess else None)

    def call(self, node: ast.Call, depth: int) -> Node:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.refuse(func, "calling anything but a plain function name is")
        canonical = FUNCTIONS_ALLOWED.get(func.id)
        if canonical is None:
            guess = closest(func.id, list(FUNCTIONS_ALLOWED))
            raise self.refuse(func, f"function '{func.id}'", guess[0] if guess else None)
        if node.keywords:
            raise self.refuse(node, "keyword arguments")
        arity = _ARITY.get(canonical, 1)
        if len(node.args) != arity:
            raise ConfigError(
                f"{func.id}() takes {arity} argument{'s' if arity > 1 else ''}, got "
                f"{len(node.args)}: '{ast.get_source_segment(self.source, node)}'",
                self.path,
            )
        return call(canonical, *(self.build(arg, depth + 1) for arg in node.args))
