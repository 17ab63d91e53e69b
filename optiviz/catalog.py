"""The tables ``optiviz list`` prints, read straight from the registries.

Each registry is the single source of truth: a newly registered optimizer, function, schedule,
distribution, sampling method or output format shows up here without touching this file.
Registries are imported inside :func:`table`, so ``optiviz list schedules`` never pays for
scipy.stats or the renderer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from optiviz.errors import UnknownNameError

PARAMS_WIDTH = 56  # characters of the wrapped "parameters: defaults" column
SUMMARY_WIDTH = 60


def kinds() -> tuple[str, ...]:
    """What ``optiviz list`` can show, in the order it shows them when given no kind."""
    return tuple(_TABLES)


def resolve_kind(text: str) -> str:
    """The kind ``text`` names: a kind in any case, singular or plural, or another word for it
    (``Optimizer``, ``method``, ``formats``). Else :class:`UnknownNameError`, one line naming
    the nearest kind: ``unknown kind 'optimisers'; did you mean 'optimizers'?``."""
    word = text.strip().casefold() if isinstance(text, str) else text
    for kind in _TABLES:
        if word in (kind, kind[:-1]) or word in _KIND_WORDS.get(kind, ()):
            return kind
    raise UnknownNameError("kind", text, _TABLES)


def table(kind: str) -> str:
    """The table of one kind: optimizers, functions, schedules, distributions, methods,
    writers (output formats), panels, views or variational (divergences, gradient estimators,
    q's families), named as :func:`resolve_kind` accepts."""
    return _TABLES[resolve_kind(kind)]()


def all_tables() -> str:
    """Every table, separated by a blank line (``optiviz list`` with no kind)."""
    return "\n\n".join(table(kind) for kind in kinds())


# Shared layout --------------------------------------------------------------------------------

def describe_params(params: Iterable[Any]) -> tuple[str, ...]:
    """``("lr: 0.001", "betas: [0.9, 0.999]", "t_max: (steps after warm-up)")`` from registry
    ``Param``: each default as a user writes it in YAML (see ``Param.describe_default``)."""
    return tuple(f"{p.name}: {p.describe_default()}" for p in params) or ("-",)


Cell = str | tuple[str, ...]  # text, or items joined by ", " that a line break never splits


def wrap_cell(cell: Cell, width: int | None) -> list[str]:
    """The lines of one cell. Text wraps between words; items between items, so that
    ``betas: [0.9, 0.999]`` stays on one line (an item longer than ``width`` gets a line alone,
    broken between words only)."""
    if isinstance(cell, str):
        if not width:
            return [cell]
        return textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False) or [""]
    if not width:
        return [", ".join(cell)]
    lines: list[str] = []
    current = ""
    for i, item in enumerate(cell):
        text = item + ("," if i < len(cell) - 1 else "")
        if current and len(current) + 1 + len(text) > width:
            lines.append(current)
            current = ""
        if not current and len(text) > width:
            pieces = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
            lines += pieces[:-1]
            current = pieces[-1]
        else:
            current = f"{current} {text}" if current else text
    lines.append(current)
    return lines


def render_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Cell]],
                 widths: Sequence[int | None], footer: str = "") -> str:
    """A plain-text table; a column with a width wraps its cells onto continuation lines."""
    wrapped = [
        [wrap_cell(cell, width) for cell, width in zip(row, widths, strict=True)] for row in rows
    ]
    columns = len(header)
    sizes = [
        max([len(header[c])] + [len(line) for row in wrapped for line in row[c]])
        for c in range(columns)
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(size) for cell, size in zip(cells, sizes, strict=True)).rstrip()

    lines = [f"{title} ({len(rows)})", line(header), line(["-" * s for s in sizes])]
    for row in wrapped:
        for i in range(max(len(cell) for cell in row)):
            lines.append(line([cell[i] if i < len(cell) else "" for cell in row]))
    if footer:
        lines.append(footer)
    return "\n".join(lines)


def _aliases_by_name(registry: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for alias, name in sorted(registry.aliases().items()):
        out.setdefault(name, []).append(alias)
    return out


def _summary(entry: Any) -> str:
    return (getattr(entry, "summary", "") or getattr(entry, "doc", "") or "").strip()


# One function per kind ------------------------------------------------------------------------

def _optimizers() -> str:
    from optiviz.optimizers import OPTIMIZERS

    aliases = _aliases_by_name(OPTIMIZERS)
    plugins = OPTIMIZERS.plugins()
    rows = []
    for name, spec in OPTIMIZERS.items():
        summary = _summary(spec)
        if spec.torch:
            summary += f" [{spec.torch}]"
        if name in plugins:
            summary += f" [plugin {plugins[name]}]"
        rows.append((name, ", ".join(aliases.get(name, [])), describe_params(spec.params), summary))
    footer = (
        "use: optimizers: [{name: adam, lr: 0.05}]; any optimizer also takes label, color, "
        "schedule, noise, batch_size\n"
        "any torch optimizer: {torch: torch.optim.Adam, lr: 0.01} (or 'pkg.module:Class', or a "
        "pytorch-optimizer name such as ranger21): one tensor and optimizer per run; "
        "batched: true steps all runs as one (N, 2) tensor, exact only for elementwise "
        "optimizers\n"
        "a NumPy plugin: {name: 'pkg.module:obj'}, or installed under the entry-point group "
        "optiviz.optimizers (docs/PLUGINS.md)"
    )
    for name, why in sorted(OPTIMIZERS.failed.items()):
        footer += f"\nplugin {name} not loaded: {why}"
    return render_table(
        "optimizers", ("name", "aliases", "parameters: defaults", "summary"), rows,
        (None, None, PARAMS_WIDTH, SUMMARY_WIDTH), footer,
    )


def _functions() -> str:
    from optiviz.functions import FUNCTIONS, make_function

    rows = []
    for name, spec in FUNCTIONS.items():
        if name == "expr":
            domain, points = "(given)", "(given)"
        else:
            function = make_function({"name": name, **spec.example})
            (x0, x1), (y0, y1) = function.domain
            domain = f"[{x0:g}, {x1:g}] x [{y0:g}, {y1:g}]"
            points = describe_points(function.points)
        params = describe_params(spec.params)
        rows.append((name, params, domain, points, _summary(spec)))
    return render_table(
        "functions", ("name", "parameters: defaults", "domain", "known points", "summary"), rows,
        (None, 28, None, 44, 40),
        'use: function: rosenbrock, or {name: rosenbrock, b: 10}, or {expr: "x**2 + 10*y**2"}',
    )


def describe_point(point: Any) -> str:
    """``global minimum (1, 1) = 0``."""
    return f"{point.kind} ({point.x:.4g}, {point.y:.4g}) = {point.value:.4g}"


def describe_points(points: Sequence[Any]) -> str:
    """Minima in full; saddles and maxima only counted, so the table stays readable."""
    minima = [describe_point(p) for p in points if "minimum" in p.kind]
    others: dict[str, int] = {}
    for point in points:
        if "minimum" not in point.kind:
            others[point.kind] = others.get(point.kind, 0) + 1
    counted = [f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in others.items()]
    return "; ".join(minima + counted) or "-"


def _schedules() -> str:
    from optiviz.schedules import SCHEDULES

    rows = [
        (name, describe_params(spec.params), _summary(spec)) for name, spec in SCHEDULES.items()
    ]
    return render_table(
        "schedules", ("name", "parameters: defaults", "summary"), rows,
        (None, PARAMS_WIDTH, SUMMARY_WIDTH),
        "use: {name: adam, lr: 0.05, schedule: {name: cosine, t_max: 300}}; any schedule also "
        "takes warmup_steps and warmup_start_factor",
    )


def _distributions() -> str:
    from optiviz.sampling.distributions import DISTRIBUTIONS

    aliases = _aliases_by_name(DISTRIBUTIONS)
    scipy_names = [n for n, s in DISTRIBUTIONS.items() if s.family in ("continuous", "discrete")]
    rows = []
    for name, spec in DISTRIBUTIONS.items():
        # The scipy families are many: list those with friendly aliases; the footer covers the rest.
        if spec.family in ("continuous", "discrete") and name not in aliases:
            continue
        rows.append((name, ", ".join(aliases.get(name, [])), spec.family,
                     describe_params(spec.params), _summary(spec) or _scipy_summary(name)))
    return render_table(
        "distributions", ("name", "aliases", "family", "parameters: defaults", "summary"), rows,
        (None, 24, None, 44, 40),
        f"and any scipy.stats distribution by name ({len(scipy_names)} in all, e.g. "
        f"{', '.join(scipy_names[:6])}, ...) with scipy's parameter names",
    )


def _scipy_summary(name: str) -> str:
    """The first line of scipy's docstring: "A normal continuous random variable."."""
    import scipy.stats

    doc = getattr(getattr(scipy.stats, name, None), "__doc__", None) or ""
    return next((line.strip() for line in doc.splitlines() if line.strip()), "")


def _methods() -> str:
    from optiviz.sampling import METHODS

    rows = [(name, describe_params(spec.params), _summary(spec)) for name, spec in METHODS.items()]
    return render_table(
        "methods", ("name", "options: defaults", "summary"), rows,
        (None, PARAMS_WIDTH, SUMMARY_WIDTH),
        "use: sampling: {distribution: normal, method: metropolis, samples: 5000}",
    )


def _writers() -> str:
    from optiviz.render.writers import WRITERS

    aliases = _aliases_by_name(WRITERS)
    rows = [
        ("." + name, ", ".join("." + a for a in aliases.get(name, [])),
         "animation" if getattr(spec, "animated", False) else "still", _summary(spec))
        for name, spec in WRITERS.items()
    ]
    return render_table(
        "writers", ("extension", "aliases", "kind", "summary"), rows,
        (None, None, None, SUMMARY_WIDTH),
        "the output's extension picks the writer: render: {output: race.mp4}",
    )


def _views() -> str:
    from optiviz.views import VIEWS

    rows = [(name, "basin codes per start" if spec.streaming else "every step of every run",
             spec.summary) for name, spec in VIEWS.items()]
    return render_table(
        "views", ("name", "computes", "summary"), rows, (None, None, SUMMARY_WIDTH),
        "use: render: {view: basins}",
    )


def _panels() -> str:
    from optiviz.render.panels import PANELS

    views = {"paths": "contour, surface", "cloud": "clouds", "variational": "variational"}
    rows = [(name, ", ".join(views.get(view, view) for view in spec.views) or "every view",
             spec.summary) for name, spec in PANELS.items()]
    return render_table(
        "panels", ("name", "drawn by", "summary"), rows, (None, 24, SUMMARY_WIDTH),
        "use: render: {panels: [landscape, loss, lr]}",
    )


def _variational() -> str:
    from optiviz.variational import DIVERGENCES, FAMILIES, GRADIENTS

    rows = []
    for key, registry in (("divergence", DIVERGENCES), ("gradient", GRADIENTS),
                          ("family", FAMILIES)):
        aliases = _aliases_by_name(registry)
        rows += [(name, key, ", ".join(aliases.get(name, [])), spec.summary)
                 for name, spec in registry.items()]
    return render_table(
        "variational", ("name", "key", "aliases", "summary"), rows,
        (None, None, 24, SUMMARY_WIDTH),
        "use: variational: {target: {name: normal, loc: 1, scale: 2}, divergence: reverse, "
        "gradient: reparam}; target: a 1-D continuous distribution, a 1-D mixture, or banana, "
        "donut, mixture, expr",
    )


# Other words users reach for (plurals and singulars of the kinds themselves always work).
_KIND_WORDS = {
    "functions": ("function", "landscape", "landscapes"),
    "distributions": ("dist", "dists"),
    "methods": ("sampling", "sampler", "samplers", "sampling_methods"),
    "variational": ("vi", "divergences", "gradients", "families", "estimators"),
    "writers": ("format", "formats", "output", "outputs", "extension", "extensions"),
    "views": ("render_view",),
}

_TABLES: dict[str, Callable[[], str]] = {
    "optimizers": _optimizers,
    "functions": _functions,
    "schedules": _schedules,
    "distributions": _distributions,
    "methods": _methods,
    "writers": _writers,
    "views": _views,
    "panels": _panels,
    "variational": _variational,
}
