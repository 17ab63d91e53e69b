"""The many-starts view: one map per optimizer with its runs as a particle cloud, the share of
particles gathered at each known minimum, and (``render.panels``) a loss panel of each
optimizer's median and inter-quartile band and an lr panel of its schedule.

Layout: the maps keep the domain's aspect (equal axes: a square domain gives square maps) and
are made as large as the frame allows; :func:`plan_layout` picks the grid for the number of
optimizers and puts the panels and the key in a free cell of it, in a column beside it or in a
band below it, whichever leaves the maps largest.

Loss statistics: at every step the median and the 25th/75th percentiles are taken over all of
an optimizer's starts, diverged ones included. A diverged run has no loss from its diverging
step on; it counts as +inf (as −inf when the function has no known minimum and the run was
falling, i.e. it slid off a surface unbounded below). So the median leaves the panel once half
of the starts have diverged, and the band's top edge once a quarter have: the picture never
shows the survivors alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optiviz.errors import ConfigError
from optiviz.reductions import QUANTILES, band_rows, lost_values
from optiviz.render.animate import select_frames
from optiviz.render.landscape import (
    SidePanel,
    domain_of,
    draw_map,
    grid_points,
    landscape_grid,
    loss_axis,
    mark_handles,
    plain_log_labels,
    run_colors,
    title_of,
    value_limits,
)
from optiviz.render.panels import PanelContext, build_panels, panel_key, xlabel_of
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, freeze_layout, new_figure
from optiviz.render.theme import Theme, style_axes
from optiviz.view import outside, view_domain

CATCH_RADIUS = 0.025  # particles this close to a minimum (times the map's diagonal) count as in it
DEFAULT_LOSS_KEEPS = 0.66  # by default the loss panel comes when the maps keep this share of size
MIN_MAP_PIXELS = 40  # requested panels that leave the maps smaller than this are refused
MAX_ASPECT = 4.0  # a map is at most this many times taller than wide (or wider than tall)

# The layout model, in units of the font's size in pixels (calibrated on the constrained layout).
SUPTITLE = 2.3  # the figure title's row
TITLE_ROW = 1.9  # a map's title and its pad
X_TICKS = 1.7  # tick labels under a map
Y_TICKS = 2.9  # tick labels left of a map
GAP = 0.7  # between neighbouring cells
PANEL_WIDTH = 13.5  # the narrowest loss/lr panel, its tick labels and y label included
PANEL_HEIGHT = 7.0  # the lowest one, its tick labels and "step" included
PANEL_INNER_WIDTH = 9.0  # the narrowest plot area of a panel
PANEL_INNER_HEIGHT = 4.0  # the lowest one


def cloud_panels(experiment: Any) -> tuple[str, ...] | None:
    """``render.panels`` checked against what this view draws (see
    :mod:`optiviz.render.panels`), or None when unset (then the view adds the loss panel where
    the maps keep ``DEFAULT_LOSS_KEEPS`` of their size). A panel it cannot draw is refused,
    never dropped."""
    from optiviz.render.panels import view_panels

    return view_panels(experiment, "cloud", "particle-cloud view")


@dataclass(frozen=True)
class Layout:
    """Where the maps, the side panels and the key go.

    ``kind``: ``cells`` (one grid; panels and key take its free cells), ``side`` (the maps'
    grid, and a column on the right for the panels and the key) or ``below`` (the maps' grid
    above a band holding the panels and the key). ``key``: ``cell``, ``side``, ``band`` or
    ``below`` (a row under everything). ``side``: each map's width in pixels as the model
    expects it; ``share``: the column's share of the width (``side``) or the band's share of the
    height (``below``); ``panel_area``: pixels per side panel (the tie-break); ``key_box``: the
    key's size in pixels as one column."""

    kind: str
    rows: int
    columns: int
    maps: int
    panels: tuple[str, ...]
    key: str
    side: float
    share: float = 0.0
    panel_area: float = 0.0
    key_box: tuple[float, float] = (0.0, 0.0)


def plan_layout(maps: int, aspect: float, panels: Sequence[str], width: float, height: float,
                font: float, key_box: tuple[float, float], key_row: tuple[float, float]
                ) -> Layout:
    """The layout giving ``maps`` maps of height/width ``aspect`` the largest size in a
    ``width`` x ``height`` pixel frame, with ``panels`` (loss, lr) at least ``PANEL_WIDTH`` x
    ``PANEL_HEIGHT`` font sizes each, and the key (``key_box``: its size as one column,
    ``key_row``: as rows under the figure) where it covers no map. Among layouts whose maps are
    within 3 % of the largest, the one with the largest panels wins."""
    panels = tuple(panels)
    count = len(panels)
    pad = GAP * font
    frame_w = width - pad
    frame_h = height - pad - SUPTITLE * font  # the title row (it holds the step counter)
    key_w, key_h = key_box
    row_h = key_row[1] + pad

    def map_side(region_w: float, region_h: float, rows: int, columns: int) -> float:
        cell_w = (region_w - Y_TICKS * font - (columns - 1) * pad) / columns
        cell_h = (region_h - X_TICKS * font - rows * TITLE_ROW * font - (rows - 1) * pad) / rows
        return max(0.0, min(cell_w, cell_h / aspect))

    def maps_height(rows: int, side: float) -> float:
        return rows * (TITLE_ROW * font + side * aspect) + X_TICKS * font + (rows - 1) * pad

    def maps_width(columns: int, side: float) -> float:
        return Y_TICKS * font + columns * side + (columns - 1) * pad

    candidates: list[Layout] = []
    for columns in range(1, maps + count + 2):
        rows = math.ceil((maps + count) / columns)
        if rows * columns - maps - count >= columns and rows > 1:
            continue  # a whole empty row
        free = rows * columns - maps - count
        # a cell, its share of the tick labels included (what a panel or the key may fill)
        cell_w = (frame_w - (columns - 1) * pad) / columns
        cell_h = (frame_h - (rows - 1) * pad) / rows
        key = "cell" if free and key_w <= cell_w and key_h <= cell_h else "below"
        side = map_side(frame_w, frame_h - (row_h if key == "below" else 0.0), rows, columns)
        if count and (cell_w < PANEL_WIDTH * font or cell_h < PANEL_HEIGHT * font):
            continue
        candidates.append(Layout("cells", rows, columns, maps, panels, key, side,
                                 panel_area=cell_w * cell_h, key_box=key_box))
    for columns in range(1, maps + 1):
        rows = math.ceil(maps / columns)
        if rows * columns - maps >= columns:
            continue
        # a column on the right: the panels stacked, the key under them
        need = max(PANEL_WIDTH * font if count else 0.0, key_w + pad)
        if (count or key_w) and count * PANEL_HEIGHT * font + key_h <= frame_h:
            side = map_side(frame_w - need - pad, frame_h, rows, columns)
            column_w = frame_w - maps_width(columns, side) - pad
            candidates.append(Layout("side", rows, columns, maps, panels, "side", side,
                                     share=column_w / width, key_box=key_box,
                                     panel_area=column_w * (frame_h - key_h) / max(count, 1)))
        if not count:
            continue
        # a band below: the panels side by side, the key at its right end (or under all)
        key = "band" if count * PANEL_WIDTH * font + key_w + pad <= frame_w else "below"
        region_h = frame_h - (row_h if key == "below" else 0.0)
        band_min = max(PANEL_HEIGHT * font, key_h if key == "band" else 0.0)
        side = map_side(frame_w, region_h - band_min - pad, rows, columns)
        band_h = region_h - maps_height(rows, side) - pad
        band_w = frame_w - (key_w + pad if key == "band" else 0.0)
        candidates.append(Layout("below", rows, columns, maps, panels, key, side,
                                 share=band_h / height, key_box=key_box,
                                 panel_area=band_w / count * band_h))
    best = max(layout.side for layout in candidates)
    near = [layout for layout in candidates if layout.side >= 0.97 * best]
    return max(near, key=lambda layout: (layout.panel_area, layout.side))


def map_aspect(domain: Any) -> float:
    """A map's height / width: the domain's (equal axes), kept within ``MAX_ASPECT``."""
    (x0, x1), (y0, y1) = domain
    return float(np.clip((y1 - y0) / (x1 - x0), 1 / MAX_ASPECT, MAX_ASPECT))


def median_band(loss: np.ndarray, function: Any,
                chunk_values: int = 4_000_000) -> np.ndarray:
    """``(3, steps + 1)``: the 25th, 50th and 75th percentiles over the runs of ``loss``
    (``runs x steps+1``) at every step, interpolating linearly between order statistics (as
    ``numpy.quantile``; :func:`optiviz.reductions.band_rows`, which the engine also runs step
    by step when it reduces instead of recording every step).

    A diverged run (NaN) counts as +inf, or as −inf when ``function`` has no known minimum and
    the run's last finite loss was below its first (it fell off an unbounded surface). A
    percentile between a finite value and an infinite one is infinite."""
    runs, steps = loss.shape
    lost = np.full(runs, np.inf)
    if getattr(function, "minimum", None) is None:
        finite = np.isfinite(loss)
        last = steps - 1 - np.argmax(finite[:, ::-1], axis=1)
        lost = lost_values(loss[:, 0], loss[np.arange(runs), last], function)
    out = np.empty((len(QUANTILES), steps))
    width = max(1, chunk_values // max(runs, 1))
    for start in range(0, steps, width):
        block = np.ascontiguousarray(loss[:, start: start + width].T)  # steps x runs
        block = np.where(np.isnan(block), lost, block)
        out[:, start: start + width] = band_rows(block)
    return out


def thin_curves(curves: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, curves)`` with at most about ``points`` columns: each bucket of steps keeps the
    median's lowest and highest values (in step order) and the band's outer edges over the
    bucket, so that thinning never hides an oscillation or narrows the band."""
    lower, middle, upper = curves
    count = middle.size
    if count <= points:
        return np.arange(count), curves
    size = math.ceil(count / max(points // 2, 1))
    buckets = math.ceil(count / size)
    padded = buckets * size

    def blocks(values: np.ndarray) -> np.ndarray:
        return np.pad(values, (0, padded - count), mode="edge").reshape(buckets, size)

    middle_blocks = blocks(middle)
    with np.errstate(invalid="ignore"):
        low_at = np.argmin(middle_blocks, axis=1)
        high_at = np.argmax(middle_blocks, axis=1)
    first = np.minimum(low_at, high_at)
    second = np.maximum(low_at, high_at)
    base = np.arange(buckets) * size
    steps = np.minimum(np.column_stack([base + first, base + second]).ravel(), count - 1)
    rows = np.arange(buckets)
    kept_middle = np.column_stack([middle_blocks[rows, first],
                                   middle_blocks[rows, second]]).ravel()
    kept_lower = np.repeat(blocks(lower).min(axis=1), 2)
    kept_upper = np.repeat(blocks(upper).max(axis=1), 2)
    return steps, np.vstack([kept_lower, kept_middle, kept_upper])



@dataclass(frozen=True)
class LossSummary:
    """What the loss panel draws: per optimizer ``(3, steps+1)`` percentile curves on the
    ``scale`` axis labelled ``label`` within ``[low, high]``, and where each median leaves it:
    ``(step, above)`` or None."""

    curves: list[np.ndarray]
    label: str
    scale: str
    low: float
    high: float
    exits: list[tuple[int, bool] | None]


def loss_summary(experiment: Any, trajectories: Any, groups: Sequence[np.ndarray],
                 domain: Any) -> LossSummary:
    """Each optimizer's median and quartiles over its starts (:func:`median_band`), on the
    axis :func:`~optiviz.render.landscape.loss_axis` picks for these curves. A linear axis (a
    function unbounded below) covers the steps where at least three quarters of the starts
    are on the map, so a cloud sliding off it leaves the panel through its floor."""
    function = experiment.function
    reduced = trajectories.reduced  # only some steps recorded: the engine reduced every step
    entries = [int(trajectories.run_optimizer[runs[0]]) for runs in groups]
    if reduced is not None:
        if reduced.bands is None or reduced.share is None or reduced.domain != domain:
            raise ValueError("the loss panel's percentiles were not reduced for this view")
        raw = [reduced.bands[entry] for entry in entries]
    else:
        raw = [median_band(rows_of(trajectories.loss, runs), function) for runs in groups]
    stacked, label, scale = loss_axis(np.vstack(raw), function)
    curves = list(stacked.reshape(len(groups), len(QUANTILES), -1))
    shown = None
    if scale == "linear":
        if reduced is not None:
            share = np.vstack([reduced.share[entry] for entry in entries])
        else:
            share = np.vstack([view_share(trajectories.positions, runs, domain)
                               for runs in groups])
        shown = np.repeat(share >= 0.75, len(QUANTILES), axis=0)
    with np.errstate(invalid="ignore"):
        low, high = value_limits(np.where(np.isfinite(stacked), stacked, np.nan), scale, shown)
    exits: list[tuple[int, bool] | None] = []
    for curve in curves:
        middle = curve[1]
        with np.errstate(invalid="ignore"):
            out = (middle > high) | (middle < low)
        step = int(np.argmax(out))
        exits.append((step, bool(middle[step] > high)) if out.any() else None)
    return LossSummary(curves, label, scale, low, high, exits)


def rows_of(values: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """``values[runs]``, as a view (no copy of a long run's steps) when the runs are
    consecutive, as an optimizer's runs are."""
    if len(runs) and np.array_equal(runs, np.arange(runs[0], runs[0] + len(runs))):
        return values[runs[0]: runs[0] + len(runs)]
    return values[runs]


def view_share(positions: np.ndarray, runs: np.ndarray, domain: Any,
               chunk_values: int = 4_000_000) -> np.ndarray:
    """``(steps+1,)``: the share of ``runs`` at a finite point inside ``domain`` at each step."""
    (x0, x1), (y0, y1) = domain
    steps = positions.shape[1]
    share = np.empty(steps)
    width = max(1, chunk_values // max(len(runs), 1))
    for start in range(0, steps, width):
        block = rows_of(positions, runs)[:, start: start + width]
        x, y = block[..., 0], block[..., 1]
        with np.errstate(invalid="ignore"):
            inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        share[start: start + width] = inside.mean(axis=0)
    return share


class CloudLossPanel(SidePanel):
    """Each optimizer's median loss (or ``f - f*``) over its starts, with the band between the
    25th and 75th percentiles, revealed step by step. A median that leaves the panel (its
    starts diverged, or it rose above the axis) gets a triangle on the edge it crossed."""

    def __init__(self, ax: Any, summary: LossSummary, steps: int, colors: Sequence[str],
                 theme: Theme, points: int):
        super().__init__(ax, theme, steps)
        low, high = summary.low, summary.high
        ax.set_yscale(summary.scale)
        ax.set_ylim(low, high)
        if summary.scale == "log" and high / low < 100:
            plain_log_labels(ax.yaxis)
        ax.set_ylabel(summary.label, labelpad=1)
        # what lies beyond the panel is drawn far beyond it: a curve leaves through the edge
        if summary.scale == "log":
            above, below = high * 1e6, low / 1e6
        else:
            above, below = high + 10 * (high - low), low - 10 * (high - low)
        self.x: list[np.ndarray] = []
        self.y: list[np.ndarray] = []
        self.bands, self.lines, self.exits = [], [], []
        for curves, color, exit_at in zip(summary.curves, colors, summary.exits, strict=True):
            steps_shown, thinned = thin_curves(curves, points)
            thinned = np.clip(np.nan_to_num(thinned, nan=above, posinf=above, neginf=below),
                              below, above)
            self.x.append(steps_shown.astype(float))
            self.y.append(thinned)
            self.bands.append(ax.fill_between([0.0], [low], [low], color=color, alpha=0.22,
                                              linewidth=0, animated=True, zorder=ANIMATED_Z))
            self.lines.append(ax.plot([], [], color=color, linewidth=1.5, animated=True,
                                      zorder=ANIMATED_Z + 0.5,
                                      path_effects=theme.halo(color, 1.5))[0])
            if exit_at is not None:
                step, up = exit_at
                (marker,) = ax.plot([step], [high if up else low], marker="^" if up else "v",
                                    markersize=6, color=color, markeredgecolor=theme.background,
                                    markeredgewidth=0.6, linestyle="none", clip_on=False,
                                    animated=True, zorder=ANIMATED_Z + 1, visible=False)
                self.exits.append((step, marker))
        ax.set_autoscale_on(False)

    def update(self, step: int) -> list[Any]:
        artists = super().update(step)
        for x, y, band, line in zip(self.x, self.y, self.bands, self.lines, strict=True):
            shown = int(np.searchsorted(x, step, side="right"))
            lower, middle, upper = y[:, :shown]
            band.set_verts([np.concatenate([np.column_stack([x[:shown], lower]),
                                            np.column_stack([x[:shown], upper])[::-1]])])
            line.set_data(x[:shown], middle)
        # in z-order, as a full redraw draws them: every band under every line
        artists += self.bands + self.lines
        for exit_step, marker in self.exits:
            marker.set_visible(exit_step <= step)
            artists.append(marker)
        return artists


class CloudLrPanel(SidePanel):
    """Each optimizer's learning-rate schedule (all its starts share it) and the cursor."""

    def __init__(self, ax: Any, trajectories: Any, groups: Sequence[np.ndarray],
                 colors: Sequence[str], theme: Theme):
        super().__init__(ax, theme, trajectories.steps)
        lr = trajectories.lr[[runs[0] for runs in groups]]
        finite = lr[np.isfinite(lr)]
        positive = finite[finite > 0]
        if positive.size and positive.max() / positive.min() > 100:
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 1.5, positive.max() * 1.5)
        elif finite.size:
            low, high = min(finite.min(), 0.0), finite.max()
            ax.set_ylim(low, high * 1.1 if high > low else low + 1.0)
        steps = np.arange(1, trajectories.steps + 1)
        for values, color in zip(lr, colors, strict=True):
            ax.plot(steps, values, color=color, linewidth=1.3, zorder=2)
        ax.set_ylabel("lr", labelpad=1)
        ax.set_autoscale_on(False)


KEY_STYLE = {"handlelength": 1.5, "borderpad": 0.3, "labelspacing": 0.35, "handletextpad": 0.5,
             "columnspacing": 1.2, "frameon": False}


class CloudScene:
    """Many starts: one map per optimizer, each run a particle (no lines); the loss and lr
    panels and a key of the marks where the layout has room (see the module docstring)."""

    def __init__(self, experiment: Any, trajectories: Any, theme: Theme, size: float):
        render = experiment.render
        requested = cloud_panels(experiment)
        self.steps = select_frames(trajectories.steps, render.frames)
        self.columns = trajectories.columns(self.steps)  # where the frames' steps are recorded
        self.n_frames = len(self.steps)
        self.total_steps = trajectories.steps
        self.positions = trajectories.positions
        self.diverged_step = trajectories.diverged_step
        self.domain = domain = view_domain(experiment, trajectories)
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        figure.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04, hspace=0.0,
                                 wspace=0.0)
        group_ids = np.unique(trajectories.run_optimizer)
        groups = [np.flatnonzero(trajectories.run_optimizer == g) for g in group_ids]
        colors = run_colors(experiment, trajectories, theme)
        group_colors = [colors[int(g)] for g in group_ids]
        self.key_colors = tuple(dict.fromkeys(group_colors))
        (x0, x1), (y0, y1) = domain
        self.catch_radius = CATCH_RADIUS * math.hypot(x1 - x0, y1 - y0)
        # the figure title's row also holds the step counter: it is kept even without a title
        self.suptitle = figure.suptitle(title_of(experiment) or " ", color=theme.foreground,
                                        fontsize=size * 1.2, fontweight="bold")
        font = size * render.dpi / 72

        side = ("loss",) if requested is None else tuple(p for p in requested
                                                          if p != "landscape")
        context = PanelContext(experiment, trajectories, theme, colors, groups, group_colors,
                               domain, size=size, width=render.width)
        summary = context.loss_summary if "loss" in side else None
        aspect = map_aspect(domain)
        style = {**KEY_STYLE, "fontsize": size * 0.75}

        def plan(panels: tuple[str, ...]) -> tuple[Layout, list[tuple[Any, str]]]:
            entries = self.key_entries(experiment, theme, panels, summary)
            box, row = key_sizes(figure, entries, style)
            return plan_layout(len(groups), aspect, panels, render.width, render.height,
                               font, box, row), entries

        layout, entries = plan(side)
        if requested is None and side:
            bare, bare_entries = plan(())
            if layout.side < DEFAULT_LOSS_KEEPS * bare.side:
                layout, entries = bare, bare_entries
        elif side and layout.side < MIN_MAP_PIXELS:
            raise ConfigError(f"{' and '.join(side)} beside {len(groups)} maps leave no room "
                              f"for the maps in a {render.width}x{render.height} frame; "
                              "make the frame larger or ask for fewer panels",
                              ("render", "panels"))
        self.layout = layout
        self.panels = ("landscape", *layout.panels)
        map_axes, panel_axes, key_ax = build_layout(figure, layout)

        self.groups: list[tuple[np.ndarray, Any, Any]] = []
        self.tallies: list[list[tuple[np.ndarray, Any]]] = []
        marker_size = 3.5 if trajectories.runs / len(groups) <= 200 else 2.5
        for i, (ax, runs) in enumerate(zip(map_axes, groups, strict=True)):
            style_axes(ax, theme, size * 0.9)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_title(str(trajectories.label[runs[0]]), fontsize=size, pad=3,
                         color=theme.foreground)
            if i % layout.columns:
                ax.tick_params(labelleft=False)
            if i + layout.columns < len(groups):
                ax.tick_params(labelbottom=False)
            (cloud,) = ax.plot([], [], marker="o", markersize=marker_size, linestyle="none",
                               color=group_colors[i], markeredgecolor=theme.foreground,
                               markeredgewidth=0.25, animated=True, zorder=ANIMATED_Z)
            status = ax.text(0.03, 0.03, "", transform=ax.transAxes, ha="left", va="bottom",
                             fontsize=size * 0.8, color=theme.foreground, animated=True,
                             zorder=ANIMATED_Z + 2, linespacing=1.15, clip_on=True,
                             bbox={"boxstyle": "round,pad=0.2", "facecolor": theme.panel,
                                   "alpha": 0.85, "edgecolor": "none"})
            self.groups.append((runs, cloud, status))
            self.tallies.append(minimum_tallies(ax, experiment, theme, size, domain))

        for _, ax in panel_axes:
            style_axes(ax, theme, size * 0.9)
        self.side: list[SidePanel] = build_panels([name for name, _ in panel_axes],
                                                  [ax for _, ax in panel_axes], "cloud", context)
        for i, ((_, ax), panel) in enumerate(zip(panel_axes, self.side, strict=True)):
            below = self.side[i + 1] if i + 1 < len(self.side) else None
            stacked_above = layout.kind == "side" and below is not None
            if stacked_above and xlabel_of(panel) == "step" == xlabel_of(below):
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(xlabel_of(panel), labelpad=1)
        self.key = place_key(figure, key_ax, entries, style)
        fit_ticks(map_axes, figure.canvas.get_renderer(), layout.side, layout.side * aspect)
        freeze_layout(figure)
        compact_layout(figure, layout, map_axes,
                       [ax for _, ax in panel_axes] + ([key_ax] if key_ax else []), key_ax,
                       self.key, aspect, font)
        for ax in map_axes:  # equal axes, set only now: the layout fills cells with axes
            ax.set_box_aspect(aspect)

        renderer = figure.canvas.get_renderer()
        for ax, color in zip(map_axes, group_colors, strict=True):
            ax.apply_aspect()
            fit_title(ax, renderer)
            title_swatch(ax, color, theme, size)
        spare_edge_labels(map_axes, layout.columns, font)
        # the step counter sits in the figure's top-right corner, level with the title, off
        # every map (a child of the first map, so that stills draw it too)
        self.counter = CachedGlyphText(map_axes[0], 0.995, 0.995, size=size * 0.85,
                                       color=theme.foreground, align="right",
                                       transform=figure.transFigure, zorder=ANIMATED_Z + 3)
        self.counter.set_text(f"step {self.total_steps}/{self.total_steps}")
        clear_of(self.suptitle, self.counter.get_window_extent(renderer), renderer)
        self.counter.set_text("")
        frames = self.positions[:, self.columns]
        self.short: list[bool] = []
        self.widest_status: list[str] = []  # what each map's status box was placed for
        for (runs, _, status), tallies in zip(self.groups, self.tallies, strict=True):
            taken = place_tallies(status.axes, tallies, renderer)
            diverge, leave, total = self.longest_status(runs, frames[runs])
            short = place_status(status, (diverge, leave, total),
                                 taken + marks_on(status.axes, experiment, domain),
                                 frames[runs], renderer)
            self.short.append(short)
            self.widest_status.append(status_text(int(diverge) * total, int(leave) * total,
                                                  total, short))

        # the contours last: the layout never measures them
        grid = landscape_grid(experiment.function, domain, grid_points(render) // 2 + 40)
        for ax in map_axes:
            draw_map(ax, experiment, grid, theme, point_scale=0.8, hollow=True, domain=domain)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)

    def key_entries(self, experiment: Any, theme: Theme, panels: Sequence[str],
                    summary: LossSummary | None) -> list[tuple[Any, str]]:
        """The key: the known points' marks, what a tally's percentage means, and the loss
        panel's line, band and edge triangles."""
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        # no ✕ on the maps: a map's status says in words how many of its runs diverged
        entries = [(h, h.get_label())
                   for h in mark_handles(experiment, theme, diverged=False, hollow=True,
                                         domain=self.domain)]
        if any("minimum" in p.kind and in_domain(p, self.domain)
               for p in getattr(experiment.function, "points", ())):
            entries.append((Line2D([], [], marker=r"$\%$", markersize=7, linestyle="none",
                                   color=theme.foreground),
                            f"starts within {self.catch_radius:.2g}|of a minimum"))
        if "loss" in panels and summary is not None:
            entries.append(((Patch(facecolor=theme.muted, alpha=0.35, linewidth=0),
                             Line2D([], [], color=theme.foreground, linewidth=1.5)),
                            "median loss,|25–75 % of starts"))
            for up in (True, False):
                if any(e is not None and e[1] == up for e in summary.exits):
                    entries.append((Line2D([], [], marker="^" if up else "v", markersize=6,
                                           linestyle="none", color=theme.foreground),
                                    f"median {'above' if up else 'below'} the panel"))
        return entries + panel_key(panels, experiment, theme)

    def longest_status(self, runs: np.ndarray, positions: np.ndarray) -> tuple[bool, bool, int]:
        """Whether these runs ever diverge, ever leave the view, and how many there are."""
        return (bool(np.any(self.diverged_step[runs] >= 0)),
                bool(outside(positions, self.domain).any()), len(runs))

    def update(self, frame: int) -> Sequence[Any]:
        step = int(self.steps[frame])
        column = int(self.columns[frame])
        artists: list[Any] = []
        for (runs, cloud, status), tallies, short in zip(self.groups, self.tallies, self.short,
                                                         strict=True):
            points = self.positions[runs, column]
            away_from_view = outside(points, self.domain)
            # a particle outside the view is counted in the status, not drawn: half a marker
            # on the edge would read as a particle there
            shown = np.where(away_from_view[:, None], np.nan, points)
            cloud.set_data(shown[:, 0], shown[:, 1])
            artists.append(cloud)
            for where, label in tallies:
                near = np.hypot(points[:, 0] - where[0], points[:, 1] - where[1])
                caught = int(np.count_nonzero(near <= self.catch_radius))
                label.set_text(share_text(caught, len(runs)))
                label.set_visible(caught > 0)
                artists.append(label)
            lost = int(np.count_nonzero((self.diverged_step[runs] >= 0)
                                        & (self.diverged_step[runs] <= step)))
            away = int(np.count_nonzero(away_from_view))
            status.set_text(status_text(lost, away, len(runs), short))
            status.set_visible(bool(lost or away))
            artists.append(status)
        width = len(str(self.total_steps))
        self.counter.set_text(f"step {step:>{width}d}/{self.total_steps}")
        artists.append(self.counter)
        for panel in self.side:
            artists += panel.update(step)
        return artists


def in_domain(point: Any, domain: Any) -> bool:
    (x0, x1), (y0, y1) = domain
    return bool(x0 <= point.x <= x1 and y0 <= point.y <= y1)


def key_sizes(figure: Any, entries: list[tuple[Any, str]],
              style: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The key's size in pixels as one column, and as the fewest rows that fit the width."""
    if not entries:
        return (0.0, 0.0), (0.0, 0.0)
    renderer = figure.canvas.get_renderer()
    column = key_legend(figure, None, entries, style, 1)
    box = column.get_window_extent(renderer)
    column.remove()
    rows = key_legend(figure, None, entries, style, None)
    row = rows.get_window_extent(renderer)
    rows.remove()
    return (box.width, box.height), (row.width, row.height)


def key_legend(figure: Any, key_ax: Any, entries: list[tuple[Any, str]],
               style: dict[str, Any], columns: int | None) -> Any:
    """The key as a legend: in ``key_ax`` (one column, long labels broken at ``|``), or under
    the figure (``columns`` None: in the fewest rows that fit its width, filled evenly)."""
    handles = [handle for handle, _ in entries]
    if columns == 1:
        labels = [label.replace("|", "\n") for _, label in entries]
        if key_ax is not None:
            # hung from the top of its cell: beside the panels' tick labels, never below the
            # frame
            return key_ax.legend(handles, labels, loc="upper center", ncols=1, **style)
        return figure.legend(handles, labels, ncols=1, **style)
    # column by column, longest first: the long labels share a column, so more columns fit
    entries = sorted(entries, key=lambda entry: -len(entry[1]))
    handles = [handle for handle, _ in entries]
    labels = [label.replace("|", " ") for _, label in entries]
    renderer = figure.canvas.get_renderer()
    for rows in range(1, len(entries) + 1):
        columns = math.ceil(len(entries) / rows)
        legend = figure.legend(handles, labels, loc="outside lower center", ncols=columns,
                               **style)
        if columns == 1 or legend.get_window_extent(renderer).width <= 0.98 * figure.bbox.width:
            return legend
        legend.remove()
    raise ValueError("a key needs at least one entry")


def build_layout(figure: Any, layout: Layout) -> tuple[list[Any], list[tuple[str, Any]], Any]:
    """The axes of ``layout``: the maps (row-major), the side panels by name, and the axes that
    holds the key (None when the key goes in a row under everything)."""
    rows, columns, maps = layout.rows, layout.columns, layout.maps
    key_w, key_h = layout.key_box
    panel_specs: list[Any] = []
    key_spec = None
    if layout.kind == "cells":
        grid = figure.add_gridspec(rows, columns)
        cells = [grid[i // columns, i % columns] for i in range(rows * columns)]
        map_specs = cells[:maps]
        panel_specs = cells[maps: maps + len(layout.panels)]
        if layout.key == "cell":
            key_spec = cells[maps + len(layout.panels)]
    elif layout.kind == "side":
        grid = figure.add_gridspec(1, 2, width_ratios=[1 - layout.share, layout.share])
        left = grid[0, 0].subgridspec(rows, columns)
        map_specs = [left[i // columns, i % columns] for i in range(maps)]
        count = len(layout.panels)
        frame_h = figure.bbox.height
        ratios = [max(frame_h - key_h, 1.0) / max(count, 1)] * count + [key_h]
        right = grid[0, 1].subgridspec(count + 1, 1, height_ratios=ratios)
        panel_specs = [right[i, 0] for i in range(count)]
        key_spec = right[count, 0]
    else:
        grid = figure.add_gridspec(2, 1, height_ratios=[1 - layout.share, layout.share])
        top = grid[0, 0].subgridspec(rows, columns)
        map_specs = [top[i // columns, i % columns] for i in range(maps)]
        count = len(layout.panels)
        in_band = layout.key == "band"
        frame_w = figure.bbox.width
        ratios = [max(frame_w - (key_w if in_band else 0.0), 1.0) / count] * count
        bottom = grid[1, 0].subgridspec(1, count + in_band,
                                        width_ratios=ratios + ([key_w] if in_band else []))
        panel_specs = [bottom[0, i] for i in range(count)]
        key_spec = bottom[0, count] if in_band else None
    map_axes = [figure.add_subplot(spec) for spec in map_specs]
    panel_axes = [(name, figure.add_subplot(spec))
                  for name, spec in zip(layout.panels, panel_specs, strict=True)]
    key_ax = None
    if key_spec is not None:
        key_ax = figure.add_subplot(key_spec)
        key_ax.axis("off")
    return map_axes, panel_axes, key_ax


def place_key(figure: Any, key_ax: Any, entries: list[tuple[Any, str]],
              style: dict[str, Any]) -> Any:
    """The key in its axes, or under everything; None if it has no entries."""
    if not entries:
        return None
    return key_legend(figure, key_ax, entries, style, 1 if key_ax is not None else None)


def compact_layout(figure: Any, layout: Layout, map_axes: list[Any], region_axes: list[Any],
                   key_ax: Any, key: Any, aspect: float, font: float) -> None:
    """After the constrained layout (whose map axes fill their cells): move the border between
    the maps and the panels' band (``below``) or column (``side``) so that the maps' cells
    take the maps' aspect, what equal axes would leave empty going to the panels, and what the
    maps lack coming from them, as long as each panel keeps its smallest plot area and the key
    (``key``, hung from the top of ``key_ax``) stays whole in the frame; where the panels lack
    room the maps give it up. Moves axes only: titles and tick labels move with them."""
    if layout.kind == "cells" or not map_axes:
        return
    width, height = figure.bbox.width, figure.bbox.height
    boxes = [ax.get_position(original=True) for ax in map_axes]
    others = [ax.get_position(original=True) for ax in region_axes]
    cell_w, cell_h = boxes[0].width * width, boxes[0].height * height
    hang = key_hang(key, figure)
    if layout.kind == "below":
        spare = cell_h - cell_w * aspect  # per row: > 0 the maps cannot use it, < 0 they lack
        # how far the band's top must rise (< 0: may sink) for each panel and the key
        needs = [PANEL_INNER_HEIGHT * font - b.height * height if ax is not key_ax
                 else layout.key_box[1] + hang + 2 - b.y1 * height
                 for ax, b in zip(region_axes, others, strict=True)]
        shift = max(spare, max(needs, default=-np.inf) / layout.rows)
        for i, (ax, box) in enumerate(zip(map_axes, boxes, strict=True)):
            top = box.y1 + (i // layout.columns) * shift / height
            ax.set_position([box.x0, top - (cell_h - shift) / height, box.width,
                             (cell_h - shift) / height])
        for ax, box in zip(region_axes, others, strict=True):
            ax.set_position([box.x0, box.y0, box.width,
                             box.height + layout.rows * shift / height])
    else:
        spare = cell_w - cell_h / aspect
        needs = [(PANEL_INNER_WIDTH * font if ax is not key_ax else layout.key_box[0])
                 - b.width * width for ax, b in zip(region_axes, others, strict=True)]
        shift = max(spare, max(needs, default=-np.inf) / layout.columns)
        for i, (ax, box) in enumerate(zip(map_axes, boxes, strict=True)):
            left = box.x0 - (i % layout.columns) * shift / width
            ax.set_position([left, box.y0, (cell_w - shift) / width, box.height])
        for ax, box in zip(region_axes, others, strict=True):
            ax.set_position([box.x0 - layout.columns * shift / width, box.y0,
                             box.width + layout.columns * shift / width, box.height])
        if key_ax is not None and region_axes[:-1]:
            # the key hangs from the top of the column's last cell: lift it, and shorten the
            # panel above, until it ends inside the frame
            lift = layout.key_box[1] + hang + 2 - key_ax.get_position().y1 * height
            if lift > 0:
                above = region_axes[-2]
                box = above.get_position()
                above.set_position([box.x0, box.y0 + lift / height, box.width,
                                    box.height - lift / height])
                box = key_ax.get_position()
                key_ax.set_position([box.x0, box.y0, box.width, box.height + lift / height])
    pack_maps(figure, layout, map_axes, aspect)


def key_hang(key: Any, figure: Any) -> float:
    """Pixels between the top of the key's cell and the top of the key (its pad)."""
    if key is None:
        return 0.0
    return key.borderaxespad * key._fontsize * figure.dpi / 72


def pack_maps(figure: Any, layout: Layout, map_axes: list[Any], aspect: float) -> None:
    """Where the maps' cells are still longer than the maps in the direction the panels
    cannot take (rows in a ``side`` layout, columns in a ``below`` one), close the rows (or
    columns) up around the middle, keeping the layout's gaps, instead of leaving a strip of
    nothing between each pair."""
    width, height = figure.bbox.width, figure.bbox.height
    boxes = [ax.get_position(original=True) for ax in map_axes]
    cell_w, cell_h = boxes[0].width * width, boxes[0].height * height
    map_w = min(cell_w, cell_h / aspect)
    map_h = map_w * aspect
    if layout.kind == "side" and cell_h - map_h > 0.5:
        extra = cell_h - map_h
        for i, (ax, box) in enumerate(zip(map_axes, boxes, strict=True)):
            top = box.y1 - (layout.rows * extra / 2 - (i // layout.columns) * extra) / height
            ax.set_position([box.x0, top - map_h / height, box.width, map_h / height])
    elif layout.kind == "below" and cell_w - map_w > 0.5:
        extra = cell_w - map_w
        for i, (ax, box) in enumerate(zip(map_axes, boxes, strict=True)):
            left = box.x0 + (layout.columns * extra / 2 - (i % layout.columns) * extra) / width
            ax.set_position([left, box.y0, map_w / width, box.height])


def spare_edge_labels(map_axes: list[Any], columns: int, font: float) -> None:
    """Where two maps of a row stand closer than their edge tick labels need (``-2`` of the
    right map would touch ``2`` of the left one), the right map leaves out its tick label at
    its left edge."""
    from matplotlib.ticker import ScalarFormatter

    class EdgeFreeFormatter(ScalarFormatter):
        def __init__(self, edge: float, tolerance: float):
            super().__init__()
            self.edge, self.tolerance = edge, tolerance

        def __call__(self, x: float, pos: int | None = None) -> str:
            return "" if abs(x - self.edge) <= self.tolerance else super().__call__(x, pos)

    for i, ax in enumerate(map_axes):
        if i % columns == 0 or not ax.xaxis.get_tick_params()["labelbottom"]:
            continue
        left, box = map_axes[i - 1].get_position(), ax.get_position()
        gap = (box.x0 - left.x1) * ax.figure.bbox.width
        if gap >= 2.5 * font:
            continue
        x0, x1 = ax.get_xlim()
        per_pixel = (x1 - x0) / (box.width * ax.figure.bbox.width)
        ax.xaxis.set_major_formatter(EdgeFreeFormatter(x0, 1.5 * font * per_pixel))


def fit_title(ax: Any, renderer: Any, smallest: float = 0.7) -> None:
    """Shrink a map's title (to ``smallest`` of its size), then cut it with an ellipsis, until
    it is no wider than the map, so that neighbouring titles never touch."""
    title = ax.title
    room = ax.get_window_extent(renderer).width - 4
    size = title.get_fontsize()
    while title.get_window_extent(renderer).width > room and title.get_fontsize() > size * smallest:
        title.set_fontsize(title.get_fontsize() * 0.93)
    text = title.get_text()
    while title.get_window_extent(renderer).width > room and len(text) > 2:
        text = text[:-1]
        title.set_text(text.rstrip() + "…")


def title_swatch(ax: Any, color: str, theme: Theme, size: float) -> None:
    """A dot in the optimizer's colour left of its map's title: the key from colour to
    optimizer for the loss and lr panels."""
    from matplotlib.transforms import offset_copy

    renderer = ax.figure.canvas.get_renderer()
    title = ax.title
    half = title.get_window_extent(renderer).width / 2
    dpi = ax.figure.dpi
    font = title.get_fontsize() * dpi / 72
    place = offset_copy(ax.transAxes, fig=ax.figure, x=-(half + 0.55 * font),
                        y=3 * dpi / 72 + 0.36 * font, units="dots")
    ax.plot([0.5], [1.0], transform=place, marker="o", markersize=size * 0.6, color=color,
            markeredgecolor=theme.marker_edge_for(color), markeredgewidth=0.6,
            linestyle="none", clip_on=False, zorder=3)


def clear_of(title: Any, counter: Any, renderer: Any, gap: float = 8.0) -> None:
    """Move the figure title left (then shrink it) until it clears the step counter's box."""
    width = title.figure.bbox.width
    room = counter.x0 - gap
    box = title.get_window_extent(renderer)
    if box.x1 <= room:
        return
    if box.width <= room - gap:
        title.set_x((room / 2) / width)
        return
    title.set_horizontalalignment("left")
    title.set_x(gap / width)
    while title.get_window_extent(renderer).x1 > room and title.get_fontsize() > 6:
        title.set_fontsize(title.get_fontsize() * 0.93)


def minimum_tallies(ax: Any, experiment: Any, theme: Theme, size: float,
                    domain: Any = None) -> list[tuple[np.ndarray, Any]]:
    """One animated label per known minimum on the map, beside its marker: the share of the
    panel's particles gathered there (hundreds of particles on one spot look like one).
    :func:`place_tallies` turns a label to the side of its minimum that keeps it on the map."""
    from matplotlib.transforms import offset_copy

    domain = domain or domain_of(experiment)
    beside = offset_copy(ax.transData, fig=ax.figure, x=6, y=5, units="points")
    tallies = []
    for point in getattr(experiment.function, "points", ()):
        if "minimum" not in point.kind or not in_domain(point, domain):
            continue
        label = ax.text(point.x, point.y, "", transform=beside, ha="left", va="bottom",
                        fontsize=size * 0.72, fontweight="bold", color=theme.foreground,
                        animated=True, zorder=ANIMATED_Z + 1, clip_on=True,
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": theme.panel,
                              "alpha": 0.8, "edgecolor": "none"})
        tallies.append((np.array([point.x, point.y]), label))
    return tallies


def share_text(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage that never rounds to a lie: "<1%" for a
    few, ">99%" for all but a few; "0%" and "100%" only when exact."""
    share = 100 * part / whole if whole else 0.0
    text = f"{share:.0f}%"
    if part and text == "0%":
        return "<1%"
    if part < whole and text == "100%":
        return ">99%"
    return text


def fit_ticks(map_axes: list[Any], renderer: Any, width: float, height: float) -> None:
    """As many ticks on the maps' axes as their labels leave room for on a map of ``width`` x
    ``height`` pixels (a small map of a wide domain would otherwise print ``-15.0-12.5-10.0``
    as one word). Runs before the layout, which then makes room for the chosen labels."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import MaxNLocator

    if not map_axes:
        return
    ax = map_axes[0]
    size = ax.xaxis.get_tick_params().get("labelsize", ax.title.get_fontsize() * 0.85)
    font = FontProperties(size=size)

    def label_size(value: float) -> tuple[float, float]:
        text = f"{value:g}".replace("-", "\u2212")
        width, height, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
        return width, height

    for axis, (low, high), length in (("x", ax.get_xlim(), width),
                                      ("y", ax.get_ylim(), height)):
        for bins in range(9, 1, -1):
            locator = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10])
            ticks = [t for t in locator.tick_values(low, high) if low <= t <= high]
            if len(ticks) < 2:
                break
            spacing = (ticks[1] - ticks[0]) / (high - low) * length
            sizes = [label_size(t) for t in ticks]
            needed = (max(w for w, _ in sizes) if axis == "x" else 2 * max(h for _, h in sizes))
            if spacing >= needed + size * renderer.dpi / 72 * 0.8:
                break
        for each in map_axes:
            getattr(each, f"{axis}axis").set_major_locator(
                MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]))


def place_tallies(ax: Any, tallies: list[tuple[np.ndarray, Any]], renderer: Any) -> list[Any]:
    """Put each tally label right of and above its minimum, or left of / below it where the
    map's edge would cut it; returns the boxes (display pixels) the widest labels cover."""
    from matplotlib.transforms import Bbox, offset_copy

    area = ax.get_window_extent(renderer)
    boxes = []
    for where, label in tallies:
        label.set_text("100%")
        text = label.get_window_extent(renderer)
        pad = 0.15 * label.get_fontsize() * ax.figure.dpi / 72
        w, h = text.width + 2 * pad, text.height + 2 * pad
        x, y = ax.transData.transform(where)
        dx, dy = 6 * ax.figure.dpi / 72, 5 * ax.figure.dpi / 72
        right = x + dx + w <= area.x1 - 1
        up = y + dy + h <= area.y1 - 1
        label.set_transform(offset_copy(ax.transData, fig=ax.figure, x=dx if right else -dx,
                                        y=dy if up else -dy, units="dots"))
        label.set_horizontalalignment("left" if right else "right")
        label.set_verticalalignment("bottom" if up else "top")
        # the text's anchor is offset; its backing box reaches ``pad`` beyond the text
        x0 = x + dx - pad if right else x - dx - w + pad
        y0 = y + dy - pad if up else y - dy - h + pad
        boxes.append(Bbox.from_bounds(x0, y0, w, h))
        label.set_text("")
    return boxes


def marks_on(ax: Any, experiment: Any, domain: Any) -> list[Any]:
    """Boxes (display pixels) around the known points drawn on map ``ax``."""
    from matplotlib.transforms import Bbox

    radius = 8 * ax.figure.dpi / 72
    boxes = []
    for point in getattr(experiment.function, "points", ()):
        if in_domain(point, domain):
            x, y = ax.transData.transform((point.x, point.y))
            boxes.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    return boxes


CORNERS = {  # name -> (x, y, ha, va) in axes fractions, in order of preference
    "lower left": (0.0, 0.0, "left", "bottom"),
    "lower right": (1.0, 0.0, "right", "bottom"),
    "upper left": (0.0, 1.0, "left", "top"),
    "upper right": (1.0, 1.0, "right", "top"),
}


def status_text(lost: int, away: int, total: int, short: bool = False) -> str:
    """A map's status: how many of its ``total`` runs have diverged and how many are at a
    finite point outside the view (``short``: without the totals, for narrow maps)."""
    lines = []
    if lost:
        lines.append(f"{lost} diverged" if short else f"{lost}/{total} diverged")
    if away:
        lines.append(f"{away} outside" if short else f"{away}/{total} outside the view")
    return "\n".join(lines)


def place_status(status: Any, longest: tuple[bool, bool, int], obstacles: list[Any],
                 positions: np.ndarray, renderer: Any) -> bool:
    """Put a map's status box in the corner where it covers no known point or tally and the
    fewest particles over the shown frames (``positions``: runs x frames x 2), in its long
    form if that fits there, else in its short form. ``longest``: (whether runs diverge,
    whether runs leave the view, the number of runs). Returns whether the short form is
    used."""
    from matplotlib.transforms import Bbox

    diverge, leave, total = longest
    if not (diverge or leave):
        return False
    ax = status.axes
    area = ax.get_window_extent(renderer)
    pad = 0.2 * status.get_fontsize() * ax.figure.dpi / 72
    inset = pad + 3
    points = positions.reshape(-1, 2)
    points = points[np.all(np.isfinite(points), axis=1)]
    pixels = ax.transData.transform(points) if points.size else np.empty((0, 2))
    scores = {}
    for short in (False, True):
        status.set_text(status_text(int(diverge) * total, int(leave) * total, total, short))
        if status.get_window_extent(renderer).width + 2 * inset > area.width and not short:
            continue  # the long form is wider than the map
        for name, (x, y, ha, va) in CORNERS.items():
            place_corner(status, x, y, ha, va, inset)
            text = status.get_window_extent(renderer)
            box = Bbox.from_extents(text.x0 - pad, text.y0 - pad, text.x1 + pad, text.y1 + pad)
            hidden = sum(box.overlaps(obstacle) for obstacle in obstacles)
            covered = int(np.count_nonzero(
                (pixels[:, 0] >= box.x0) & (pixels[:, 0] <= box.x1)
                & (pixels[:, 1] >= box.y0) & (pixels[:, 1] <= box.y1)))
            scores[short, name] = (hidden, short, covered)
    short, name = min(scores, key=lambda choice: scores[choice])
    place_corner(status, *CORNERS[name], inset)
    status.set_text("")
    return short


def place_corner(status: Any, x: float, y: float, ha: str, va: str, inset: float) -> None:
    from matplotlib.transforms import offset_copy

    ax = status.axes
    status.set_transform(offset_copy(ax.transAxes, fig=ax.figure,
                                     x=inset if x == 0 else -inset,
                                     y=inset if y == 0 else -inset, units="dots"))
    status.set_position((x, y))
    status.set_horizontalalignment(ha)
    status.set_verticalalignment(va)
