"""Optimizer scenes: paths racing over a contour map with the loss/lr side panels, and the
helpers the particle-cloud (``cloud.py``) and surface (``surface.py``) views share.
``build_scene(experiment, result)`` builds the scene of ``render.view`` (``optiviz.views``).

The renderer never recomputes numerics: paths, losses and learning rates come from the
:class:`~optiviz.trajectories.Trajectories`; only the background map evaluates
``function.value`` on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.errors import ConfigError
from optiviz.render.animate import select_frames
from optiviz.render.scene import (
    ANIMATED_Z,
    CachedGlyphText,
    GrowingLine,
    fit_title,
    freeze_layout,
    new_figure,
)
from optiviz.render.theme import (
    Theme,
    font_size,
    get_theme,
    rc_params,
    style_axes,
    sweep_colors,
)

MAX_RUNS_WITH_LOSS_PANEL = 12
SIDE_PANEL_LINES = 8  # a stacked side panel's least height, in lines of text
GRID_POINTS = 240  # background map resolution per axis, at most

POINT_MARKERS = {  # kind -> (marker, size) for known points of the function
    "global minimum": ("*", 15),
    "local minimum": ("*", 10),
    "saddle": ("D", 6),
    "maximum": ("^", 7),
}


def build_scene(experiment: Any, result: Any) -> Any:
    """The scene for an optimizer experiment: the builder ``render.view`` names in
    :data:`optiviz.views.VIEWS`, called as ``builder(experiment, result, theme, size)``."""
    import matplotlib

    from optiviz.recording import check_overlay_view
    from optiviz.views import view_of

    render = experiment.render
    view = view_of(experiment)
    if not view.streaming:  # a basin map refuses overlays when it loads
        check_overlay_view(experiment, len(np.unique(result.run_start)))
    theme = get_theme(render.theme)
    size = font_size(render.width, render.height, render.dpi)
    builder = view.scene_builder()
    with matplotlib.rc_context(rc_params(theme, size)):
        return builder(experiment, result, theme, size)


def contour_scene(experiment: Any, trajectories: Any, theme: Theme, size: float) -> Any:
    """The contour view: particle clouds for many starts, else paths over the contour map."""
    if is_cloud(experiment, trajectories):
        from optiviz.render.cloud import CloudScene

        return CloudScene(experiment, trajectories, theme, size)
    return LandscapeScene(experiment, trajectories, theme, size)


def is_cloud(experiment: Any, trajectories: Any) -> bool:
    """Many starts are drawn as particle clouds (see :func:`optiviz.view.is_cloud`)."""
    from optiviz.view import is_cloud as many_starts

    return many_starts(experiment, trajectories)


def chosen_panels(experiment: Any, runs: int, what: str = "contour view") -> tuple[str, ...]:
    """``render.panels`` checked against what a paths view draws (see
    :mod:`optiviz.render.panels`), or the default: the loss panel when there are few runs."""
    from optiviz.render.panels import view_panels

    panels = view_panels(experiment, "paths", what)
    if panels is None:
        return ("landscape", "loss") if runs <= MAX_RUNS_WITH_LOSS_PANEL else ("landscape",)
    # the panels stack in one column beside the map: beyond two, each needs its height
    render = experiment.render
    side = len(panels) - 1
    line = font_size(render.width, render.height, render.dpi) * render.dpi / 72
    if side > 2 and side * SIDE_PANEL_LINES * line > render.height:
        need = math.ceil(side * SIDE_PANEL_LINES * line / 2) * 2
        raise ConfigError(f"{side} panels stacked beside the {what}'s map need a frame about "
                          f"{need} pixels tall (this one is {render.height}); make it taller "
                          "or ask for fewer panels", ("render", "panels"))
    return panels


def domain_of(experiment: Any,
              trajectories: Any = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """The region the map shows (:func:`optiviz.view.view_domain`): ``render.domain`` when the
    user fixed it, else the function's domain, grown to where the runs go when their
    ``trajectories`` are given."""
    from optiviz.view import view_domain

    return view_domain(experiment, trajectories)


def title_of(experiment: Any) -> str:
    """The figure title: ``render.title``, the experiment's title, or the function's. A
    ``{expr: ...}`` function is titled by its typeset formula, not by its Python source."""
    function = experiment.function
    chosen = experiment.render.title or experiment.title
    if chosen:
        return chosen
    formula = getattr(function, "formula", "") or ""
    if getattr(function, "name", "") == "expr" and formula.startswith("$"):
        return f"$f(x, y) = {formula.strip('$')}$"
    return getattr(function, "title", "") or ""


def run_colors(experiment: Any, trajectories: Any, theme: Theme) -> list[str]:
    """One colour per optimizer entry, indexed by run_optimizer: the user's ``color`` wins;
    the entries of an ordered sweep (:func:`ordered_sweeps`) take a sequential ramp, light to
    dark in the order of their values; every other entry a categorical colour."""
    chosen = [getattr(o, "color", None) for o in experiment.optimizers]
    for number, entries in enumerate(ordered_sweeps(experiment)):
        for entry, color in zip(entries, sweep_colors(theme, len(entries), number),
                                strict=True):
            chosen[entry] = color
    count = max(len(chosen), int(np.max(trajectories.run_optimizer)) + 1)
    return theme.run_colors(count, chosen)


def ordered_sweeps(experiment: Any) -> list[list[int]]:
    """The ordered sweeps among the optimizer entries, each as its entry indices sorted by the
    swept value: entries one written entry expanded by sweeping a single numeric
    hyperparameter (``lr: [1e-4, 1e-3, 1e-2]``) over two or more values, none of them given a
    ``color``. Sweeps over several keys or over tuples (``betas``) have no one order: they keep
    categorical colours."""
    groups: dict[int, list[tuple[float, int]]] = {}
    for index, entry in enumerate(experiment.optimizers):
        sweep = getattr(entry, "sweep", None)
        if sweep is None:
            continue
        values = sweep.values
        numeric = (len(values) == 1 and isinstance(values[0][1], (int, float))
                   and not isinstance(values[0][1], bool))
        groups.setdefault(sweep.entry, []).append(
            (float(values[0][1]) if numeric else float("nan"), index))
    ordered = []
    for members in groups.values():
        values = [value for value, _ in members]
        if (len(set(values)) < 2 or not np.all(np.isfinite(values))
                or any(getattr(experiment.optimizers[i], "color", None) for _, i in members)):
            continue
        ordered.append([index for _, index in sorted(members)])
    return ordered


def entry_order(experiment: Any) -> list[int]:
    """The optimizer entries in legend order: as written, except that an ordered sweep lists
    its entries by value, where its first entry stands."""
    count = len(experiment.optimizers)
    order = list(range(count))
    for entries in ordered_sweeps(experiment):
        slots = sorted(entries)
        for slot, entry in zip(slots, entries, strict=True):
            order[slot] = entry
    return order


def landscape_grid(function: Any, domain: Any, points: int = GRID_POINTS):
    """``(X, Y, Z, shown)``: the function on a grid and what is coloured, ``log10(f - min + d)``
    when the function spans decades (``d`` keeps the minimum finite), ``f`` otherwise."""
    (x0, x1), (y0, y1) = domain
    x, y = np.meshgrid(np.linspace(x0, x1, points), np.linspace(y0, y1, points))
    with np.errstate(all="ignore"):
        z = np.asarray(function.value(x, y), dtype=float) * np.ones_like(x)
    finite = np.isfinite(z)
    if not finite.any():
        raise ConfigError("the function is not finite anywhere in the shown domain",
                          ("render", "domain"))
    z = np.where(finite, z, np.nanmax(np.where(finite, z, np.nan)))
    return x, y, z, shown_values(z, getattr(function, "log_scale", False), z.min(), z.max())


def grid_points(render: Any) -> int:
    """Map resolution: about one sample per 2.5 pixels (contours stay smooth), 80 to 240."""
    return int(np.clip(max(render.width, render.height) / 2.5, 80, GRID_POINTS))


def shown_values(z: np.ndarray, log_scale: bool, low: float, high: float, *,
                 floor: float = 1e-6) -> np.ndarray:
    """The colour/height coordinate of values ``z`` given the map's value range [low, high]:
    ``log10(z - low + ε)`` with ``ε = floor (high - low)`` when ``log_scale``, ``z`` otherwise."""
    if not log_scale:
        return z
    offset = max((high - low) * floor, 1e-12)
    with np.errstate(all="ignore"):
        return np.log10(np.maximum(z - low, 0.0) + offset)


def draw_map(ax: Any, experiment: Any, grid: Any, theme: Theme, *,
             point_scale: float = 1.0, hollow: bool = False, domain: Any = None) -> None:
    """Filled contours, thin contour lines and the known minima / saddles (all static);
    ``hollow`` markers let particles gathered on a minimum show through. ``domain``: the view
    (:func:`domain_of`; by default without the runs, so pass it when the grid was made for the
    view fitted to them)."""
    x, y, _, shown = grid
    levels = np.linspace(shown.min(), shown.max(), max(int(experiment.render.levels), 2) + 1)
    ax.contourf(x, y, shown, levels=levels, cmap=theme.colormap(), zorder=0, antialiased=True)
    ax.contour(x, y, shown, levels=levels[1:-1:2], colors=theme.contour_line,
               linewidths=0.45, alpha=0.55, zorder=1)
    (x0, x1), (y0, y1) = domain if domain is not None else domain_of(experiment)
    for point in getattr(experiment.function, "points", ()):
        if not (x0 <= point.x <= x1 and y0 <= point.y <= y1):
            continue
        marker, size = POINT_MARKERS.get(point.kind, ("o", 6))
        ax.plot([point.x], [point.y], marker=marker, markersize=size * point_scale,
                color="none" if hollow else theme.marker_face,
                markeredgecolor=theme.marker_edge, markeredgewidth=0.9, linestyle="none",
                zorder=3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_autoscale_on(False)


def clip_to(points: np.ndarray, domain: Any,
            inset: float | tuple[float, float] = 0.01) -> np.ndarray:
    """Points pulled inside the domain, ``inset`` (a share of its width and height) from the
    edges (a diverged run's ✕ sits where it left the frame)."""
    (x0, x1), (y0, y1) = domain
    inset_x, inset_y = (inset, inset) if np.isscalar(inset) else inset
    dx, dy = (x1 - x0) * inset_x, (y1 - y0) * inset_y
    return np.column_stack([np.clip(points[:, 0], x0 + dx, x1 - dx),
                            np.clip(points[:, 1], y0 + dy, y1 - dy)])


def last_finite(positions: np.ndarray, diverged_step: np.ndarray) -> np.ndarray:
    """Each run's last finite position (its final one if it never diverged)."""
    index = np.where(diverged_step >= 0, np.maximum(diverged_step - 1, 0), positions.shape[1] - 1)
    return positions[np.arange(positions.shape[0]), index]


def emptiest_corner(ax: Any, x: np.ndarray, y: np.ndarray,
                    avoid: tuple[str, ...] = ()) -> str:
    """The legend location whose quarter of ``ax`` holds the fewest of the points (x, y),
    leaving out the corners in ``avoid`` (where the step counter is)."""
    xy = np.column_stack([np.ravel(x), np.ravel(y)])
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    u, v = ax.transLimits.transform(ax.transScale.transform(xy)).T if xy.size else ([], [])
    u, v = np.asarray(u), np.asarray(v)
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    u, v = u[inside], v[inside]
    corners = {
        "upper right": (u > 0.5) & (v > 0.5),
        "upper left": (u < 0.5) & (v > 0.5),
        "lower right": (u > 0.5) & (v < 0.5),
        "lower left": (u < 0.5) & (v < 0.5),
    }
    allowed = [name for name in corners if name not in avoid]
    return min(allowed, key=lambda name: int(corners[name].sum()))


def legend_handles(trajectories: Any, colors: Sequence[str], theme: Theme) -> list[Any]:
    """One legend entry per distinct run label: a line with a head marker in the run's colour
    (``colors`` is indexed by run)."""
    from matplotlib.lines import Line2D

    handles, seen = [], set()
    for r in range(trajectories.runs):
        label = str(trajectories.label[r])
        if label in seen:
            continue
        seen.add(label)
        handles.append(Line2D([], [], color=colors[r], linewidth=2, marker="o", markersize=5,
                              markeredgecolor=theme.marker_edge_for(colors[r]), label=label))
    return handles


POINT_NAMES = {  # kind -> what the key calls it (both minima share one marker shape)
    "global minimum": "minimum",
    "local minimum": "minimum",
    "saddle": "saddle",
    "maximum": "maximum",
}


def mark_handles(experiment: Any, theme: Theme, *, diverged: bool = False,
                 hollow: bool = False, left: bool = False, domain: Any = None) -> list[Any]:
    """Key entries for the marks drawn on the map, in a fixed order: one per kind of known
    point the view shows (minimum, saddle, maximum), when some run diverged the ✕ that ends
    it, and when some run left the view the arrow at the edge where it left. Known points are
    drawn by :func:`draw_map` (``hollow`` and ``domain`` as there)."""
    from matplotlib.lines import Line2D

    (x0, x1), (y0, y1) = domain if domain is not None else domain_of(experiment)
    shown = {point.kind for point in getattr(experiment.function, "points", ())
             if x0 <= point.x <= x1 and y0 <= point.y <= y1}
    handles, named = [], set()
    for kind in POINT_MARKERS:
        name = POINT_NAMES[kind]
        if kind not in shown or name in named:
            continue
        named.add(name)
        marker, size = POINT_MARKERS[kind]
        handles.append(Line2D([], [], marker=marker, markersize=min(size, 10), linestyle="none",
                              color="none" if hollow else theme.marker_face,
                              markeredgecolor=theme.marker_edge, markeredgewidth=0.9,
                              label=name))
    if diverged:
        handles.append(Line2D([], [], marker="X", markersize=8, linestyle="none",
                              color=theme.muted, markeredgecolor=theme.background,
                              markeredgewidth=0.9, label="diverged"))
    if left:
        handles.append(left_view_handle(theme))
    return handles


def left_view_handle(theme: Theme) -> Any:
    """The key's entry for the arrow at the edge where a run left the view."""
    from matplotlib.lines import Line2D

    return Line2D([], [], marker=arrow_marker(0.0), markersize=ARROW_SIZE, linestyle="none",
                  color=theme.muted, markeredgecolor=theme.background, markeredgewidth=0.6,
                  label="left the view")


ARROW_SIZE = 11  # points: the arrow at the edge where a run left the view


def arrow_marker(degrees: float) -> Any:
    """A filled arrow marker pointing ``degrees`` anticlockwise from +x (screen angle)."""
    from matplotlib.markers import MarkerStyle
    from matplotlib.path import Path

    outline = [(-1.0, -0.3), (0.05, -0.3), (0.05, -0.75), (1.0, 0.0), (0.05, 0.75),
               (0.05, 0.3), (-1.0, 0.3), (-1.0, -0.3)]
    codes = [Path.MOVETO] + [Path.LINETO] * 6 + [Path.CLOSEPOLY]
    return MarkerStyle(Path(outline, codes)).rotated(deg=degrees)


# A second channel for the start: line style and marker shape, one pair per start (up to the
# cloud view's 10 starts). The shapes avoid those of the known points (★ ◆ ▲) and the ✕.
START_STYLES = (
    ("solid", "o"),
    ((0, (4.0, 1.6)), "s"),
    ((0, (1.0, 1.5)), "v"),
    ((0, (5.0, 1.5, 1.0, 1.5)), "p"),
    ((0, (9.0, 2.0)), "h"),
    ((0, (3.0, 1.3, 1.0, 1.3, 1.0, 1.3)), "<"),
    ((0, (1.0, 3.2)), ">"),
    ((0, (6.0, 1.5, 2.0, 1.5)), "P"),
    ((0, (2.0, 2.0)), "8"),
    ((0, (10.0, 2.0, 1.0, 2.0, 1.0, 2.0)), "H"),
)


def start_styles(trajectories: Any) -> list[tuple[Any, str]]:
    """``(linestyle, marker)`` of each run, by its start (solid and ``o`` when there is one)."""
    starts = np.unique(trajectories.run_start)
    rank = {int(start): i for i, start in enumerate(starts)}
    return [START_STYLES[rank[int(start)] % len(START_STYLES)]
            for start in trajectories.run_start]


def start_label(point: Sequence[float]) -> str:
    """``start (−1.5, 2)``: the start's coordinates, typeset minus signs."""
    x, y = (f"{float(v):.3g}".replace("-", "−") for v in point)
    return f"start ({x}, {y})"


def run_handles(experiment: Any, trajectories: Any, colors: Sequence[str], theme: Theme,
                styles: Sequence[tuple[Any, str]] | None = None) -> list[Any]:
    """Legend entries: one per optimizer entry (in :func:`entry_order`, so a sweep's values
    read in order) in its colour; with several starts, then one per start in a neutral colour
    with its line style and start marker (``colors`` and ``styles`` are indexed by run)."""
    from matplotlib.lines import Line2D

    several = len(np.unique(trajectories.run_start)) > 1
    first_run = {}
    for r in range(trajectories.runs):
        first_run.setdefault(int(trajectories.run_optimizer[r]), r)
    order = [i for i in entry_order(experiment) if i in first_run]
    order += [i for i in sorted(first_run) if i not in order]
    handles, seen = [], set()
    for entry in order:
        r = first_run[entry]
        label = str(trajectories.label[r])
        if label in seen:
            continue
        seen.add(label)
        marker = {} if several else {
            "marker": "o", "markersize": 5, "markeredgecolor": theme.marker_edge_for(colors[r])}
        handles.append(Line2D([], [], color=colors[r], linewidth=2, label=label, **marker))
    if several and styles is not None:
        starts = experiment.starts if experiment.starts is not None else None
        for start in np.unique(trajectories.run_start):
            r = int(np.flatnonzero(trajectories.run_start == start)[0])
            point = (starts[int(start)] if starts is not None and int(start) < len(starts)
                     else trajectories.positions[r, 0])
            linestyle, marker = styles[r]
            handles.append(Line2D([], [], color=theme.foreground, linewidth=1.4,
                                  linestyle=linestyle, marker=marker, markersize=6,
                                  markerfacecolor="none", markeredgewidth=1.2,
                                  label=start_label(point)))
    return handles


CROSS_SIZE = 11  # points: the ✕ that ends a diverged run
LEGEND_MAX_MAP_SHARE = 0.22  # a legend on the map covers at most this share of it


def legend_below(figure: Any, handles: list[Any], style: dict[str, Any]) -> Any:
    """A figure legend under the panels with the most columns (so the fewest rows) that fit
    the figure's width."""
    renderer = figure.canvas.get_renderer()
    for columns in range(len(handles), 0, -1):
        legend = figure.legend(handles=handles, loc="outside lower center", ncols=columns,
                               **style)
        if columns == 1 or legend.get_window_extent(renderer).width <= 0.98 * figure.bbox.width:
            return legend
        legend.remove()
    raise ValueError("a legend needs at least one entry")


def legend_crowds_map(figure: Any, ax: Any, legend: Any, counter: Any, longest: str, *,
                      note: Any = None, longest_note: str = "") -> bool:
    """Whether ``legend``, laid out on the map ``ax``, covers more than
    ``LEGEND_MAX_MAP_SHARE`` of it or touches the step ``counter`` (measured with its
    ``longest`` text) or the ``note`` under it (with ``longest_note``). Runs the figure's
    layout once to measure."""
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
    renderer = figure.canvas.get_renderer()
    legend_box = legend.get_window_extent(renderer)
    for text, longest_text in ((counter, longest), (note, longest_note)):
        if text is None or not longest_text:
            continue
        shown = text.get_text()
        text.set_text(longest_text)
        text_box = text.get_window_extent(renderer)
        text.set_text(shown)
        if legend_box.overlaps(text_box):
            return True
    map_box = ax.get_window_extent(renderer)
    share = legend_box.width * legend_box.height / (map_box.width * map_box.height)
    return share > LEGEND_MAX_MAP_SHARE


def loss_axis(loss: np.ndarray, function: Any) -> tuple[np.ndarray, str, str]:
    """What the loss panel plots: ``(values, label, scale)``. Positive losses on a log axis; when
    some loss is <= 0 and the minimum is known, the gap ``f - f*`` on a log axis; otherwise (no
    known minimum, perhaps unbounded below) the loss itself on a linear axis whose limits
    :func:`value_limits` takes from the part of the race the map shows."""
    finite = loss[np.isfinite(loss)]
    if finite.size and finite.min() > 0:
        return loss, "loss", "log"
    minimum = getattr(function, "minimum", None)
    if minimum is not None and finite.size and finite.min() >= minimum:
        gap = np.maximum(loss - minimum, 1e-16)
        return gap, "f − f*", "log"
    return loss, "loss", "linear"


def value_limits(values: np.ndarray, scale: str,
                 shown: np.ndarray | None = None) -> tuple[float, float]:
    """Axis limits ``(low, high)`` for per-run curves ``values`` (runs x steps).

    Every start is shown. Above, values are cut at 10x the worst start on a log axis (a
    diverging run's last huge values, or one early spike, would otherwise flatten the rest).
    ``shown`` (same shape, bool) marks the steps whose position lies on the map: a linear axis
    covers only those, so that a run sliding off an unbounded-below map (a saddle) leaves the
    panel through its floor instead of squashing every other curve into a line. What is cut
    off is marked on the panel's edge (see :class:`LossPanel`)."""
    finite = np.isfinite(values)
    if scale == "log":
        finite &= values > 0
    if shown is not None and scale == "linear" and (finite & shown).any():
        finite &= shown | (np.arange(values.shape[1]) == 0)
    kept = values[finite]
    if not kept.size:
        return (1e-3, 1.0) if scale == "log" else (-1.0, 1.0)
    start = values[:, 0][np.isfinite(values[:, 0])]
    high = kept.max()
    if start.size and scale == "log" and start.max() * 10 > kept.min():
        high = min(high, start.max() * 10)
    low = kept.min()
    if scale == "log":
        return low / 2, (high * 2 if high > low else low * 10)
    pad = (high - low) * 0.06 or 1.0
    return low - pad, high + pad


SHORT_LOG_RANGE = 100.0  # a log axis spanning fewer decades than this labels plain numbers


def plain_log_labels(axis: Any) -> None:
    """Label a log axis that spans a decade or two with plain numbers (0.6, 2, 3) where
    matplotlib's default labels its minor ticks 6×10⁻¹, 2×10⁰ (larger than its majors, and
    overlapping on a short axis): :func:`optiviz.render.theme.log_ticks`."""
    from optiviz.render.theme import log_ticks

    log_ticks(axis)


def first_exits(values: np.ndarray, low: float, high: float) -> list[tuple[int, int, bool]]:
    """``(run, step, above)`` for each run whose finite values leave ``[low, high]``: the first
    step outside, and whether it left through the top."""
    exits = []
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(values) & ((values > high) | (values < low))
    for run in np.flatnonzero(outside.any(axis=1)):
        step = int(np.argmax(outside[run]))
        exits.append((int(run), step, bool(values[run, step] > high)))
    return exits


class LandscapeScene:
    """Paths over a contour map, plus the optional loss and lr panels on the right.

    The map shows :func:`optiviz.view.view_domain`: the function's domain grown to where the
    runs go unless the user fixed ``render.domain``. A run outside it is marked by an arrow at
    the edge where it left, pointing its way, and a note under the step counter counts them.
    Each start has its own line style and marker shape (keyed in the legend, as are the known
    points, the ✕ of a diverged run and the exit arrow)."""

    def __init__(self, experiment: Any, trajectories: Any, theme: Theme, size: float):
        from matplotlib.transforms import ScaledTranslation

        from optiviz.view import exits

        render = experiment.render
        self.steps = select_frames(trajectories.steps, render.frames)
        self.n_frames = len(self.steps)
        self.total_steps = trajectories.steps
        self.panels = chosen_panels(experiment, trajectories.runs)
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        figure.set_layout_engine("constrained", h_pad=0.06, w_pad=0.06)
        side = [p for p in self.panels if p != "landscape"]
        if side:
            grid = figure.add_gridspec(len(side), 2, width_ratios=[1.45, 1])
            ax = figure.add_subplot(grid[:, 0])
            side_axes = [figure.add_subplot(grid[i, 1]) for i in range(len(side))]
        else:
            ax = figure.add_subplot()
            side_axes = []
        self.ax = ax
        for a in [ax, *side_axes]:
            style_axes(a, theme, size)

        self.domain = domain = domain_of(experiment, trajectories)
        function = experiment.function
        draw_map(ax, experiment, landscape_grid(function, domain, grid_points(render)), theme,
                 domain=domain)
        ax.set_xlabel(getattr(function, "xlabel", "x") or "x", labelpad=2)
        ax.set_ylabel(getattr(function, "ylabel", "y") or "y", labelpad=2)
        title = title_of(experiment)
        if title:
            fit_title(figure, title, color=theme.foreground, fontsize=size * 1.2,
                      fontweight="bold")

        colors = run_colors(experiment, trajectories, theme)
        positions = trajectories.positions
        self.color = [colors[int(o)] for o in trajectories.run_optimizer]
        self.key_colors = tuple(dict.fromkeys(self.color))
        self.styles = styles = start_styles(trajectories)
        self.diverged_step = trajectories.diverged_step
        self.paths, self.heads, self.crosses = [], [], []
        line_width = 1.6 if trajectories.runs <= MAX_RUNS_WITH_LOSS_PANEL else 1.0
        for r in range(trajectories.runs):
            color = self.color[r]
            linestyle, marker = styles[r]
            self.paths.append(GrowingLine(ax, positions[r, :, 0], positions[r, :, 1],
                                          trail=render.trail, color=color, linewidth=line_width,
                                          linestyle=linestyle, solid_capstyle="round",
                                          solid_joinstyle="round",
                                          path_effects=theme.halo(color, line_width)))
            ax.plot(positions[r, 0, 0], positions[r, 0, 1], marker=marker, markersize=6,
                    markerfacecolor="none", markeredgecolor=color, markeredgewidth=1.4,
                    linestyle="none", zorder=4)
            (head,) = ax.plot([], [], marker=marker, markersize=7, color=color,
                              markeredgecolor=theme.marker_edge_for(color), markeredgewidth=1.0,
                              linestyle="none", animated=True, zorder=ANIMATED_Z + 1)
            # above the step counter: a run that flew off the map by its corner stays marked
            (cross,) = ax.plot([], [], marker="X", markersize=CROSS_SIZE,
                               color=color, markeredgecolor=theme.background,
                               markeredgewidth=1.2, linestyle="none", animated=True,
                               zorder=ANIMATED_Z + 4, visible=False)
            self.heads.append(head)
            self.crosses.append(cross)
        # Glyphs rasterized once: a Text would re-layout every frame (a third of a frame's cost).
        self.counter = CachedGlyphText(ax, 0.02, 0.975, size=size * 0.9, color=theme.foreground,
                                       box_color=theme.panel, box_alpha=0.85,
                                       zorder=ANIMATED_Z + 3)
        below_counter = ax.transAxes + ScaledTranslation(0, -1.75 * size * 0.9 / 72,
                                                         figure.dpi_scale_trans)
        self.exits = ExitMarks(ax, exits(positions, domain), self.color, theme, trajectories.runs,
                               note=CachedGlyphText(ax, 0.02, 0.975, size=size * 0.8,
                                                    color=theme.foreground,
                                                    box_color=theme.panel, box_alpha=0.85,
                                                    transform=below_counter,
                                                    zorder=ANIMATED_Z + 3))

        self.side = side_panels(side, side_axes, experiment, trajectories, self.color, theme,
                                styles, domain)
        self.arrows = None  # render.overlay: what each optimizer feels, at its head
        if render.overlay:
            from optiviz.render.overlays import HeadArrows

            self.arrows = HeadArrows(ax, trajectories, render.overlay, self.steps, self.color,
                                     theme, size, render.dpi, domain)

        # one key: the runs, the starts, the marks; on the map, in the corner the paths visit
        # least, or under the panels when it would crowd the map
        handles = key_handles(experiment, trajectories, self.color, theme, styles, domain,
                              left=len(self.exits.exits) > 0, extra=[self.arrows, *self.side])
        # known minima and saddles, the ✕ of diverged runs and the exit arrows count as much as
        # a stretch of path: keep them visible
        crossed = clip_to(last_finite(positions, self.diverged_step)[trajectories.diverged],
                          domain)
        points = np.array([(p.x, p.y) for p in getattr(function, "points", ())], dtype=float)
        marks = np.concatenate([points.reshape(-1, 2), crossed, self.exits.exits.point])
        marks = np.repeat(marks, 20, axis=0)
        location = emptiest_corner(ax, np.concatenate([positions[..., 0].ravel(), marks[:, 0]]),
                                   np.concatenate([positions[..., 1].ravel(), marks[:, 1]]),
                                   avoid=("upper left",))
        several_starts = len(np.unique(trajectories.run_start)) > 1
        style = {"handlelength": 2.6 if several_starts else 1.4, "borderpad": 0.4,
                 "labelspacing": 0.3, "fancybox": False, "framealpha": 1.0}
        legend = ax.legend(handles=handles, loc=location, ncols=1 + len(handles) // 7, **style)
        if legend_crowds_map(figure, ax, legend, self.counter,
                             f"step {trajectories.steps}/{trajectories.steps}",
                             note=self.exits.note, longest_note=self.exits.longest_note()):
            # a big legend (many runs, a small frame) would hide the race or the step counter:
            # it goes under the panels instead, in as few rows as fit
            legend.remove()
            legend = legend_below(figure, handles, style)
        legend.set_zorder(ANIMATED_Z + 5)
        legend.get_frame().set_linewidth(0)  # borderless: snaps to whole pixels (see scene.py)
        self.overlays = [legend]
        freeze_layout(figure)
        # the ✕ of a run that left the map sits a whole marker inside its edge, never cut off
        box = ax.get_window_extent()
        radius = CROSS_SIZE * render.dpi / 72 / 2 + 2
        crosses = clip_to(last_finite(positions, self.diverged_step), domain,
                          (radius / box.width, radius / box.height))
        for cross, (x, y) in zip(self.crosses, crosses, strict=True):
            cross.set_data([x], [y])
        self.exits.place(domain)

    def restage(self, frame: int) -> bool:
        stop = int(self.steps[frame]) + 1
        folded = [path.fold(stop) for path in self.paths]
        for panel in self.side:
            folded.append(panel.restage(stop))
        return any(folded)

    def update(self, frame: int) -> Sequence[Any]:
        step = int(self.steps[frame])
        artists: list[Any] = []
        for path in self.paths:
            artists.append(path.show(step + 1))
        if self.arrows is not None:
            artists += self.arrows.update(step)
        for r, (head, cross) in enumerate(zip(self.heads, self.crosses, strict=True)):
            point = self.paths[r].x[step], self.paths[r].y[step]
            head.set_data([point[0]], [point[1]])
            head.set_visible(bool(np.isfinite(point).all()))
            cross.set_visible(bool(0 <= self.diverged_step[r] <= step))
        width = len(str(self.total_steps))
        self.counter.set_text(f"step {step:>{width}d}/{self.total_steps}")
        # in zorder, as a full redraw draws them
        exit_note, *arrows = self.exits.update(step)
        artists += [*self.heads, self.counter, exit_note, *self.crosses, *arrows]
        for panel in self.side:
            artists += panel.update(step)
        return artists


def runs_text(count: int, form: int = 0) -> str:
    """The note counting runs that left the view, in one of three lengths (0: longest)."""
    runs = f"{count} run{'s' if count != 1 else ''}"
    return (f"{runs} left the view", f"{count} left the view", f"{count} left")[form]


class ExitMarks:
    """Where runs left the view: one animated arrow per run, at the edge where it left and
    pointing its way, shown while the run is outside (a diverged run's ✕ takes over); and a
    note (``note``, a :class:`CachedGlyphText`; None: no note, for a map too small to hold one
    clear of the arrows) counting the runs that have left so far."""

    def __init__(self, ax: Any, exits: Any, colors: Sequence[str], theme: Theme, runs: int, *,
                 note: Any):
        self.ax = ax
        self.exits = exits
        self.note = note
        self.first = exits.first_step(runs)
        self.stretches = {int(r): np.flatnonzero(exits.run == r) for r in exits.runs()}
        self.arrows = {}
        for r in self.stretches:
            (arrow,) = ax.plot([], [], marker=arrow_marker(0.0), markersize=ARROW_SIZE,
                               color=colors[r], markeredgecolor=theme.background,
                               markeredgewidth=0.8, linestyle="none", clip_on=False,
                               animated=True, zorder=ANIMATED_Z + 4, visible=False)
            self.arrows[r] = arrow
        self.points = exits.point
        self.markers: list[Any] = []
        self.form = 0  # which length of note fits the map (see ``place``)

    def longest_note(self) -> str:
        return runs_text(len(self.stretches), self.form) if self.stretches else ""

    def place(self, domain: Any) -> None:
        """Put each arrow a whole marker inside the edge and turn it the way its run went on
        screen (after the layout is frozen: the map's pixel size sets both)."""
        if not len(self.exits):
            return
        ax = self.ax
        box = ax.get_window_extent()
        # the longest note that fits on the map (a small frame gets "2 left"; none: no note)
        self.form = 3
        for form in range(3 if self.note is not None else 0):
            self.note.set_text(runs_text(len(self.stretches), form))
            if self.note.get_window_extent().x1 <= box.x1 - 4:
                self.form = form
                break
        if self.note is not None:
            self.note.set_text("")
        radius = ARROW_SIZE * ax.figure.dpi / 72 / 2 + 1
        self.points = clip_to(self.exits.point, domain, (radius / box.width, radius / box.height))
        (x0, x1), (y0, y1) = domain
        dx = self.exits.direction[:, 0] * box.width / (x1 - x0)
        dy = self.exits.direction[:, 1] * box.height / (y1 - y0)
        self.markers = [arrow_marker(float(np.degrees(np.arctan2(v, u))))
                        for u, v in zip(dx, dy, strict=True)]

    def update(self, step: int) -> list[Any]:
        artists = []
        for r, arrow in self.arrows.items():
            stretches = self.stretches[r]
            i = int(np.searchsorted(self.exits.begin[stretches], step, side="right")) - 1
            shown = i >= 0 and step < self.exits.end[stretches[i]]
            if shown:
                index = stretches[i]
                arrow.set_data([self.points[index, 0]], [self.points[index, 1]])
                if self.markers:
                    arrow.set_marker(self.markers[index])
            arrow.set_visible(bool(shown))
            artists.append(arrow)
        if self.note is None:
            return artists
        left = int(np.count_nonzero((self.first >= 0) & (self.first <= step)))
        self.note.set_text(runs_text(left, self.form) if left and self.form < 3 else "")
        return [self.note, *artists]


def side_panels(side: Sequence[str], side_axes: Sequence[Any], experiment: Any,
                trajectories: Any, colors: list[str], theme: Theme, styles: Any,
                domain: Any) -> list[SidePanel]:
    """The panels named in ``side`` (:data:`optiviz.render.panels.PANELS`), one per axes of
    ``side_axes`` stacked in a column: a step axis shared with the panel below is labelled
    only there; any other x axis (an lr, a loss) is labelled on its own panel."""
    from optiviz.render.panels import PanelContext, build_panels, xlabel_of

    groups = [np.flatnonzero(trajectories.run_optimizer == g)
              for g in np.unique(trajectories.run_optimizer)]
    context = PanelContext(experiment, trajectories, theme, colors, groups,
                           [colors[int(runs[0])] for runs in groups], domain, styles=styles,
                           width=experiment.render.width)
    panels = build_panels(side, side_axes, "paths", context)
    for i, (side_ax, panel) in enumerate(zip(side_axes, panels, strict=True)):
        below = panels[i + 1] if i + 1 < len(panels) else None
        if below is not None and xlabel_of(panel) == "step" == xlabel_of(below):
            side_ax.tick_params(labelbottom=False)
        else:
            side_ax.set_xlabel(xlabel_of(panel), labelpad=1)
    return panels


def key_handles(experiment: Any, trajectories: Any, colors: list[str], theme: Theme,
                styles: Any, domain: Any, *, left: bool, extra: Sequence[Any] = ()) -> list[Any]:
    """One key for a paths view: the runs, the starts, then the marks on the map (``left``:
    some run left the view), then the marks of the side panels that have any, then the
    entries of ``extra`` objects that have ``key_handles`` (the overlay arrows, a panel's line
    styles)."""
    from optiviz.render.panels import panel_key

    panel_marks = []
    for handle, label in panel_key(experiment.render.panels or (), experiment, theme):
        handle.set_label(label.replace("|", " "))
        panel_marks.append(handle)
    return (run_handles(experiment, trajectories, colors, theme, styles)
            + mark_handles(experiment, theme, diverged=bool(trajectories.diverged.any()),
                           left=left, domain=domain) + panel_marks
            + [handle for part in extra if hasattr(part, "key_handles")
               for handle in part.key_handles(theme)])


class SidePanel:
    """A per-step panel to the right of the map, with a cursor at the current step."""

    def __init__(self, ax: Any, theme: Theme, steps: int):
        self.ax = ax
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.35)
        ax.set_xlim(0, max(steps, 1))
        self.cursor = ax.axvline(0, color=theme.muted, linewidth=0.9, animated=True,
                                 zorder=ANIMATED_Z - 1)

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        self.cursor.set_xdata([step, step])
        return [self.cursor]



class LossPanel(SidePanel):
    """Loss (or ``f - f*``) vs step, log y when positive, revealed step by step. A curve that
    leaves the panel gets a triangle on the edge it crossed, shown from the step it crosses."""

    def __init__(self, ax: Any, experiment: Any, trajectories: Any, colors: list[str],
                 theme: Theme, *, styles: Sequence[tuple[Any, str]] | None = None,
                 domain: Any = None):
        from optiviz.view import outside

        super().__init__(ax, theme, trajectories.steps)
        values, label, scale = loss_axis(trajectories.loss, experiment.function)
        ax.set_yscale(scale)
        domain = domain if domain is not None else domain_of(experiment, trajectories)
        positions = trajectories.positions
        on_map = np.isfinite(positions).all(axis=-1) & ~outside(positions, domain)
        low, high = value_limits(values, scale, on_map)
        ax.set_ylim(low, high)
        if scale == "log" and high / low < SHORT_LOG_RANGE:
            plain_log_labels(ax.yaxis)
        ax.set_ylabel(label, labelpad=1)
        steps = np.arange(trajectories.steps + 1, dtype=float)
        linestyles = [style for style, _ in styles] if styles else ["solid"] * trajectories.runs
        self.lines = [GrowingLine(ax, steps, values[r], color=colors[r], linewidth=1.3,
                                  linestyle=linestyles[r], path_effects=theme.halo(colors[r], 1.3))
                      for r in range(trajectories.runs)]
        exits = first_exits(values, low, high)
        self.exit_steps = np.array([step for _, step, _ in exits], dtype=np.int64)
        self.exits = [ax.plot([step], [high if above else low], marker="^" if above else "v",
                              markersize=6, color=colors[run], markeredgecolor=theme.background,
                              markeredgewidth=0.6, linestyle="none", clip_on=False,
                              animated=True, zorder=ANIMATED_Z + 1, visible=False)[0]
                      for run, step, above in exits]
        ax.set_autoscale_on(False)

    def restage(self, stop: int) -> bool:
        return any([line.fold(stop) for line in self.lines])

    def update(self, step: int) -> list[Any]:
        artists = super().update(step) + [line.show(step + 1) for line in self.lines]
        for marker, exit_step in zip(self.exits, self.exit_steps, strict=True):
            marker.set_visible(bool(exit_step <= step))
            artists.append(marker)
        return artists


class LrPanel(SidePanel):
    """Each run's learning-rate schedule (known in advance, so drawn whole) and the cursor."""

    def __init__(self, ax: Any, experiment: Any, trajectories: Any, colors: list[str],
                 theme: Theme, *, styles: Sequence[tuple[Any, str]] | None = None,
                 domain: Any = None):
        super().__init__(ax, theme, trajectories.steps)
        lr = trajectories.lr
        steps = np.arange(1, trajectories.steps + 1)
        finite = lr[np.isfinite(lr)]
        positive = finite[finite > 0]
        log = bool(positive.size and positive.max() / positive.min() > 100)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
        elif finite.size:
            low, high = min(finite.min(), 0.0), finite.max()
            ax.set_ylim(low, high * 1.1 if high > low else low + 1.0)
        linestyles = [style for style, _ in styles] if styles else ["solid"] * trajectories.runs
        for r in range(trajectories.runs):
            ax.plot(steps, lr[r], color=colors[r], linewidth=1.2, linestyle=linestyles[r],
                    zorder=2)
        ax.set_ylabel("lr", labelpad=1)
        ax.set_autoscale_on(False)
