"""Sampling scenes: histograms filling up, importance weights, MCMC chains walking.

Every scene follows :mod:`optiviz.render.scene`: static artists (true densities, contours,
strata) are drawn once; moving ones are ``animated=True`` and updated in place (a histogram is
one ``stairs`` artist and ``set_data``, a point cloud one scatter and ``set_offsets``, text
``set_text``). Axis limits are fixed up front from the final data. The numbers shown come from
the sampling result; binning for display is the only computation here.

Histograms are honest: a panel shows the range that holds the mass (the distribution's plotting
range, widened a little to take in the samples), a sample beyond it is counted in no bar (never
in an edge bar), densities are normalized over ALL samples so that the bars' area is the share
of samples inside the view, and the share beyond each side is written at that side
(:class:`OutsideNote`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.heads import CurveHeads, key_with
from optiviz.render.scene import ANIMATED_Z, fit_title, freeze_layout, new_figure
from optiviz.render.theme import Theme, font_size, get_theme, log_ticks, rc_params, style_axes

DEFAULT_FRAMES = 120
BOX = {"boxstyle": "round,pad=0.3", "alpha": 0.88, "edgecolor": "none"}
VIEW_REACH = 0.25  # a histogram's view widens by at most this share of its width per side


def build_scene(experiment: Any, result: Any) -> Any:
    """The scene for a sampling result, chosen by its method and dimension."""
    import matplotlib

    render = experiment.render
    theme = get_theme(render.theme)
    size = font_size(render.width, render.height)
    with matplotlib.rc_context(rc_params(theme, size)):
        if result.method == "metropolis":
            if getattr(result, "compares_hastings", False):
                from optiviz.render.hastings import HastingsScene

                return HastingsScene(experiment, result, theme, size)
            if len(result.scales) > 1:
                return ScaleComparisonScene(experiment, result, theme, size)
            return ChainScene(experiment, result, theme, size)
        if result.method == "importance":
            return ImportanceScene(experiment, result, theme, size)
        if result.method == "stratified":
            return StratifiedScene(experiment, result, theme, size)
        if result.distribution.dim == 1:
            return HistogramScene(experiment, result, theme, size)
        return CloudScene(experiment, result, theme, size)


# shared pieces ------------------------------------------------------------------------------------

def true_text(value: float, digits: int = 3) -> str:
    """A true moment as a statistician writes it: "undefined" where it does not exist (NaN:
    the mean of a Cauchy), "infinite" where it diverges (±inf: the variance of Student t with
    1 < df <= 2), else the number."""
    value = float(value)
    if np.isnan(value):
        return "undefined"
    if np.isinf(value):
        return "infinite"
    return f"{value:.{digits}f}"


def moment_value(value: float) -> str:
    """A running sample moment in at most ten characters: three decimals, or three significant
    digits and an exponent once it is large (the sample variance of a Cauchy runs to 10⁶)."""
    return f"{value: .3f}" if abs(value) < 1e5 else f"{value: .2e}"


def checkpoint_frames(count: int, frames: int | None) -> np.ndarray:
    """Indices into a result's (log-spaced) checkpoints, one per frame, always ending last."""
    wanted = min(count, frames or DEFAULT_FRAMES)
    return np.unique(np.round(np.linspace(0, count - 1, max(wanted, 1))).astype(int))


def title_of(experiment: Any, result: Any) -> str:
    return experiment.render.title or experiment.title or result.distribution.title


def setup_figure(experiment: Any, result: Any, theme: Theme, size: float) -> Any:
    render = experiment.render
    figure = new_figure(render.width, render.height, render.dpi, theme.background)
    figure.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04)
    fit_title(figure, title_of(experiment, result), color=theme.foreground,
              fontsize=size * 1.15, fontweight="bold")
    return figure


def readout(ax: Any, theme: Theme, size: float, *, x: float = 0.02, y: float = 0.97,
            ha: str = "left", va: str = "top") -> Any:
    """An animated monospace caption in a translucent box."""
    return ax.text(x, y, "", transform=ax.transAxes, ha=ha, va=va, family="monospace",
                   multialignment="left",
                   fontsize=size * 0.78, color=theme.foreground, animated=True,
                   zorder=ANIMATED_Z + 2, bbox={**BOX, "facecolor": theme.panel})


def _move_legend(legend: Any, corner: str) -> None:
    """``legend.set_loc(corner)`` (Matplotlib 3.8+), or its location code before that."""
    if hasattr(legend, "set_loc"):
        legend.set_loc(corner)
    else:  # pragma: no cover - Matplotlib 3.7
        legend._loc = legend.codes[corner]


def place_key_and_readout(ax: Any, caption: Any, text: str, n: np.ndarray,
                          curves: Sequence[np.ndarray]) -> None:
    """Put an estimate panel's key and its readout (``caption``, whose widest text is
    ``text``) in the two corners where they cover the least of the curves, judged on each
    curve resampled evenly across the (log n) axis, measured boxes that must not overlap; ties
    keep the key upper right and the readout lower right, where settled estimates leave room.
    A biased estimate can run anywhere, not at the truth the panel is centred on. Call once
    the layout is done (the boxes are measured in the axes' final size)."""
    renderer = ax.figure.canvas.get_renderer()
    to_axes = ax.transAxes.inverted()
    legend = ax.get_legend()
    n = np.asarray(n, dtype=float)
    even = np.geomspace(n[0], n[-1], 240)
    points = [np.zeros((0, 2))]
    for curve in curves:
        curve = np.asarray(curve, dtype=float)
        keep = np.isfinite(curve)
        if keep.sum() >= 2:
            y = np.interp(np.log(even), np.log(n[keep]), curve[keep])
            points.append(to_axes.transform(ax.transData.transform(np.column_stack([even, y]))))
    uv = np.concatenate(points)

    def box(extent: Any) -> np.ndarray:
        return to_axes.transform([(extent.x0, extent.y0), (extent.x1, extent.y1)]).ravel()

    def covered(rect: np.ndarray) -> int:
        u0, v0, u1, v1 = rect
        return int(np.count_nonzero((uv[:, 0] >= u0) & (uv[:, 0] <= u1)
                                    & (uv[:, 1] >= v0) & (uv[:, 1] <= v1)))

    def put_caption(corner: str) -> None:
        x, y, ha, va = CORNERS[corner]
        caption.set_position((x, y))
        caption.set_horizontalalignment(ha)
        caption.set_verticalalignment(va)

    key_boxes, caption_boxes = {}, {}
    caption.set_text(text)
    for corner in CORNERS:
        _move_legend(legend, corner)
        key_boxes[corner] = box(legend.get_window_extent(renderer))
        put_caption(corner)
        caption.update_bbox_position_size(renderer)
        caption_boxes[corner] = box(caption.get_bbox_patch().get_window_extent(renderer))
    caption.set_text("")
    best = (None, "upper right", "lower right")  # no two corners keep them apart: these
    for rank_key, key in enumerate(["upper right", "lower right", "upper left", "lower left"]):
        for rank_caption, corner in enumerate(["lower right", "upper right", "lower left",
                                               "upper left"]):
            rect, other = caption_boxes[corner], key_boxes[key]
            if corner == key or not (rect[2] <= other[0] or other[2] <= rect[0]
                                     or rect[3] <= other[1] or other[3] <= rect[1]):
                continue  # one corner, or boxes that would overlap
            score = (covered(rect) + covered(other), rank_key + rank_caption)
            if best[0] is None or score < best[0]:
                best = (score, key, corner)
    _, key, corner = best
    _move_legend(legend, key)
    put_caption(corner)


class Readout:
    """A table of live numbers: static labels and reference values drawn once, only the numbers
    animated (text is the most expensive thing a frame draws, so a frame draws as few glyphs as
    possible). ``side`` "left" or "right": the upper corner of ``ax`` it sits in."""

    def __init__(self, ax: Any, theme: Theme, size: float, labels: Sequence[str],
                 notes: Sequence[str], *, value_width: int = 11, side: str = "left"):
        from matplotlib.transforms import offset_copy

        font = {"family": "monospace", "fontsize": size * 0.78, "va": "top", "ha": "left"}
        label_width = max(len(label) for label in labels) + 1
        char = monospace_advance(ax.figure, font["fontsize"])
        rows = [label.ljust(label_width + value_width) + note
                for label, note in zip(labels, notes, strict=True)]
        # on the right, the table's left edge sits its own width left of the corner
        shift = 0.0 if side == "left" else -max(len(row) for row in rows) * char
        x = 0.02 if side == "left" else 0.98
        box = {**BOX, "facecolor": theme.panel, "alpha": 0.75}
        self.labels = ax.text(x, 0.97, "\n".join(rows), color=theme.muted, bbox=box,
                              transform=offset_copy(ax.transAxes, fig=ax.figure, x=shift, y=0,
                                                    units="points"),
                              zorder=ANIMATED_Z - 1, **font)
        where = offset_copy(ax.transAxes, fig=ax.figure, x=shift + label_width * char, y=0,
                            units="points")
        self.values = ax.text(x, 0.97, "", transform=where, color=theme.foreground,
                              animated=True, zorder=ANIMATED_Z + 2, **font)

    def set(self, values: Sequence[str]) -> Any:
        self.values.set_text("\n".join(values))
        return self.values

    def bottom(self) -> float:
        """The lowest point of the table's box, as a fraction of the axes height."""
        ax = self.labels.axes
        renderer = ax.figure.canvas.get_renderer()
        box = self.labels.get_bbox_patch()
        self.labels.update_bbox_position_size(renderer)
        lowest = box.get_window_extent(renderer).y0
        return float(ax.transAxes.inverted().transform((0, lowest))[1])

    def span(self) -> tuple[float, float]:
        """The table's horizontal extent, as fractions of the axes width."""
        ax = self.labels.axes
        renderer = ax.figure.canvas.get_renderer()
        self.labels.update_bbox_position_size(renderer)
        extent = self.labels.get_bbox_patch().get_window_extent(renderer)
        inverse = ax.transAxes.inverted()
        return (float(inverse.transform((extent.x0, 0))[0]),
                float(inverse.transform((extent.x1, 0))[0]))


def monospace_advance(figure: Any, fontsize: float) -> float:
    """The advance of one monospace character in points, as drawn: Agg rounds each glyph's
    advance to whole pixels, so 0.6 em (the font's own advance) can be a pixel short per glyph,
    and a table forty characters wide would run off its panel."""
    from matplotlib.text import Text

    probe = Text(0, 0, "0" * 40, family="monospace", fontsize=fontsize, figure=figure)
    width = probe.get_window_extent(figure.canvas.get_renderer()).width
    return width / 40 * 72 / figure.dpi


def room_under(ax: Any, caption_bottom: float, span: tuple[float, float], x: np.ndarray,
               heights: np.ndarray, top: float) -> float:
    """A y-axis top (from 0) at least ``top`` and high enough that ``heights`` at ``x`` under
    the caption's horizontal ``span`` (axes fractions) stay below its box."""
    scale = ax.xaxis.get_transform()  # identity, or log10 on a log axis
    x0, x1 = scale.transform(np.asarray(ax.get_xlim(), float))
    u = (scale.transform(np.asarray(x, float)) - x0) / (x1 - x0)
    under = (u >= span[0] - 0.02) & (u <= span[1] + 0.02)
    if not under.any():
        return top
    highest = float(np.nanmax(np.where(under, heights, 0.0)))
    return max(top, highest / max(caption_bottom - 0.03, 0.2))


# honest histograms --------------------------------------------------------------------------------

def view_range(low: float, high: float, values: np.ndarray,
               reach: float = VIEW_REACH) -> tuple[float, float]:
    """A histogram's range: ``[low, high]`` (the distribution's plotting range, which holds its
    mass), widened to take in samples beyond it, by at most ``reach`` of its width per side
    (a heavy tail's rare far draws would otherwise squeeze the bulk into one bar)."""
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    low, high = float(low), float(high)
    if values.size == 0:
        return low, high
    span = high - low
    return (max(min(low, float(values.min())), low - reach * span),
            min(max(high, float(values.max())), high + reach * span))


HEAVY_TAIL_WIDTH = 15.0  # a view wider than this many interquartile ranges squeezes the bulk
CENTRAL_MASSES = (0.99, 0.98, 0.95, 0.9)  # what a heavy-tailed view holds, at best


def plotting_range(dist: Any) -> tuple[float, float]:
    """The range a univariate histogram shows before samples widen it: the distribution's
    plotting domain (its central 99.8 %), or for a heavy tail, whose 99.8 % would squeeze the
    bulk into a bar or two (Cauchy: ±318 for an interquartile range of 2), the widest central
    range holding 99 %, 98 %, 95 % or 90 % that is at most ``HEAVY_TAIL_WIDTH`` interquartile
    ranges wide (Cauchy: 95 %, ±12.7). The share left outside is said on the panel."""
    low, high = (float(v) for v in dist.domain)
    if dist.discrete or dist.ppf is None:
        return low, high
    q1, q3 = (float(v) for v in dist.ppf(np.array([0.25, 0.75])))
    limit = HEAVY_TAIL_WIDTH * (q3 - q1)
    if not (q3 > q1) or high - low <= limit:
        return low, high
    for mass in CENTRAL_MASSES:
        a, b = (float(v) for v in dist.ppf(np.array([(1 - mass) / 2, (1 + mass) / 2])))
        pad = 0.04 * (b - a)
        a, b = max(low, a - pad), min(high, b + pad)  # a bounded support stays whole
        if b - a <= limit:
            break
    return a, b


def binned_frames(values: np.ndarray, edges: np.ndarray, stops: np.ndarray,
                  weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(inside, outside)`` for the prefixes ``values[:stop]``, one per stop: ``inside[f, b]``
    the count (or total weight) in bin b = [e_b, e_b+1) (the last bin closed), ``outside[f]``
    the count (weight) beyond the left and the right edge. A value outside the edges is in no
    bin: it is never added to an edge bin."""
    values = np.asarray(values, dtype=float)
    bins = len(edges) - 1
    label = np.searchsorted(edges, values, side="right") - 1
    label[values == edges[-1]] = bins - 1
    label[~(values >= edges[0])] = bins  # below (NaN counts as outside, on the left)
    label[values > edges[-1]] = bins + 1
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    sums = np.zeros((len(stops), bins + 2))
    running, previous = np.zeros(bins + 2), 0
    for f, stop in enumerate(np.asarray(stops, dtype=int)):
        if stop > previous:
            running = running + np.bincount(label[previous:stop], weights[previous:stop],
                                            minlength=bins + 2)
            previous = stop
        sums[f] = running
    return sums[:, :bins], sums[:, bins:]


def densities(inside: np.ndarray, totals: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Bar heights of a density histogram normalized over ALL ``totals`` samples (inside the
    view or not), so the bars' area is the share inside the view."""
    totals = np.maximum(np.asarray(totals, dtype=float), 1e-300)
    return inside / (totals[:, None] * widths[None, :])


def percent(share: float) -> str:
    """A share as a percentage that never rounds a nonzero share to 0 (0.04 %, <0.01 %)."""
    value = 100.0 * float(share)
    if value == 0:
        return "0 %"
    if value < 0.01:
        return "<0.01 %"
    if value < 1:
        return f"{value:.2g} %"
    return f"{value:.1f} %" if value < 10 else f"{value:.0f} %"


class OutsideNote:
    """The share of a histogram's samples beyond each side of its panel, written at that side
    ("← 0.3 % outside", "6.8 % outside →") and updated every frame. ``shares`` is
    ``(frames, 2)`` (left, right), or ``(series, frames, 2)`` with ``names`` for panels that
    hold several histograms. A side gets a note only if something is ever beyond it. Place it
    with :meth:`place` once the layout is done."""

    def __init__(self, ax: Any, theme: Theme, size: float, shares: np.ndarray,
                 names: Sequence[str] = ()):
        shares = np.asarray(shares, dtype=float)
        self.shares = shares[None] if shares.ndim == 2 else shares
        self.names = list(names)
        self.ax = ax
        self.texts: dict[int, Any] = {}
        for side, (x, ha) in enumerate(((0.02, "left"), (0.98, "right"))):
            if np.any(self.shares[:, :, side] > 0):
                self.texts[side] = ax.text(
                    x, 0.97, "", transform=ax.transAxes, ha=ha, va="top",
                    multialignment=ha, fontsize=size * 0.72, color=theme.foreground,
                    animated=True, zorder=ANIMATED_Z + 2,
                    bbox={**BOX, "facecolor": theme.panel, "alpha": 0.8})

    def text(self, frame: int, side: int) -> str:
        """The note on ``side`` (0 left, 1 right) at ``frame``; empty while nothing is beyond."""
        if not np.any(self.shares[:, frame, side] > 0):
            return ""
        values = [percent(share) for share in self.shares[:, frame, side]]
        if not self.names:
            return f"← {values[0]} outside" if side == 0 else f"{values[0]} outside →"
        rows = [f"{name} {value}" for name, value in zip(self.names, values, strict=True)]
        return "\n".join(["← outside" if side == 0 else "outside →", *rows])

    def update(self, frame: int) -> list[Any]:
        for side, artist in self.texts.items():
            artist.set_text(self.text(frame, side))
        return list(self.texts.values())

    def place(self, under: Sequence[Any] = (), x: np.ndarray | None = None,
              heights: np.ndarray | None = None, bottom: float = 0.0) -> None:
        """Put each note in its upper corner, below whatever of ``under`` (legends, captions)
        sits there, and raise the y axis (from ``bottom``) until the ``heights`` at ``x`` under
        a note clear it. Call after the figure's layout has run."""
        ax = self.ax
        renderer = ax.figure.canvas.get_renderer()
        inverse = ax.transAxes.inverted()
        for side, artist in self.texts.items():
            half = (0.0, 0.5) if side == 0 else (0.5, 1.0)
            top = 0.97
            for other in under:
                box = other.get_window_extent(renderer)
                (u0, v0), (u1, v1) = inverse.transform([(box.x0, box.y0), (box.x1, box.y1)])
                if u1 > half[0] and u0 < half[1] and v1 > 0.5:
                    top = min(top, v0 - 0.02)
            artist.set_y(top)
            # measure with the widest text it will show (the share of the last frame)
            artist.set_text(max((self.text(f, side) for f in range(self.shares.shape[1])),
                                key=len))
            artist.update_bbox_position_size(renderer)
            extent = artist.get_bbox_patch().get_window_extent(renderer)
            (u0, v0), (u1, _) = inverse.transform([(extent.x0, extent.y0), (extent.x1, 0)])
            artist.set_text("")
            if x is not None and heights is not None:
                low, high = ax.get_ylim()
                ax.set_ylim(bottom, room_under(ax, float(v0), (float(u0), float(u1)), x,
                                               heights, high))


class AboveTop:
    """Histogram bars taller than their panel: a ▲ on the top edge over each, so that a bar
    cut by the axis never passes for one of the axis's height. Panels are scaled to the
    settled histogram, so the first few samples' narrow spikes run above for a moment.
    ``heights``: (frames, bins) bar heights; the marks sit on the top edge in axes
    coordinates, whatever the final y limits."""

    LABEL = "bar above the panel"

    def __init__(self, ax: Any, edges: np.ndarray, heights: np.ndarray, color: str,
                 theme: Theme):
        self.centres = 0.5 * (edges[:-1] + edges[1:])
        self.heights = heights
        self.ax = ax
        (self.marks,) = ax.plot([], [], marker="^", markersize=7, linestyle="none",
                                color=theme.foreground, markeredgecolor=theme.background,
                                markeredgewidth=0.7, transform=ax.get_xaxis_transform(),
                                clip_on=False, animated=True, zorder=ANIMATED_Z + 1)
        self.marks.set_in_layout(False)

    @property
    def top(self) -> float:
        return float(self.ax.get_ylim()[1])

    @property
    def ever(self) -> bool:
        return bool(np.any(self.heights > self.top))

    def handle(self) -> Any:
        """The key's entry for the mark."""
        from matplotlib.lines import Line2D

        return Line2D([], [], marker="^", markersize=7, linestyle="none",
                      color=self.marks.get_color(), label=self.LABEL)

    def update(self, frame: int) -> Any:
        above = self.heights[frame] > self.top
        self.marks.set_data(self.centres[above], np.full(int(above.sum()), 0.985))
        return self.marks


def with_above_top(ax: Any, legend: Any, marks: Sequence[AboveTop], **style: Any) -> Any:
    """``legend`` again with the ▲ entry added when some bar of ``marks`` ever runs above."""
    extra = [m.handle() for m in marks if m.ever][:1]
    return key_with(ax, legend, extra[0], **style) if extra else legend


def box_span(ax: Any, artist: Any) -> tuple[float, tuple[float, float]]:
    """An artist's bottom and horizontal extent, as fractions of the axes (see
    :func:`room_under`)."""
    box = artist.get_window_extent(ax.figure.canvas.get_renderer())
    (u0, v0), (u1, _) = ax.transAxes.inverted().transform([(box.x0, box.y0), (box.x1, box.y1)])
    return float(v0), (float(u0), float(u1))


def density_stairs(ax: Any, edges: np.ndarray, color: str) -> Any:
    return ax.stairs(np.zeros(len(edges) - 1), edges, fill=True, color=color, alpha=0.55,
                     animated=True, zorder=ANIMATED_Z)


def show_axes(ax: Any, theme: Theme, size: float, xlabel: str = "", ylabel: str = "") -> None:
    style_axes(ax, theme, size * 0.9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# direct sampling, univariate ----------------------------------------------------------------------

class HistogramScene:
    """A density histogram filling up against the true PDF/PMF, and KL(empirical ‖ true) vs n."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        from matplotlib.ticker import MaxNLocator

        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        grid = figure.add_gridspec(1, 2, width_ratios=(3.2, 1))
        ax = figure.add_subplot(grid[0])
        kl_ax = figure.add_subplot(grid[1])
        show_axes(ax, theme, size, "x", "probability" if dist.discrete else "density")
        edges, counts, outside = display_bins(result, self.indices)
        self.widths = np.diff(edges)
        self.counts = counts
        sizes = result.checkpoints[self.indices]
        heights = densities(counts, sizes, self.widths)
        self.outside = outside.sum(axis=1) / sizes  # share of the samples beyond the view
        centres = 0.5 * (edges[:-1] + edges[1:])
        if dist.discrete:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            support = np.round(0.5 * (result.edges[:-1] + result.edges[1:]))
            shown = (support > edges[0]) & (support < edges[-1])
            support, truth = support[shown], result.true_probabilities[shown]
            ax.plot(support, truth, "o", color=theme.foreground, markersize=4,
                    label="true PMF", zorder=3)
            ax.vlines(support, 0, truth, color=theme.foreground, lw=1, zorder=3)
            curve_x, curve = support, truth
        else:
            curve_x = np.linspace(edges[0], edges[-1], 400)
            curve = dist.pdf(curve_x)
            curve = np.where(np.isfinite(curve), curve, 0.0)
            ax.plot(curve_x, curve, color=theme.foreground, lw=1.6, label="true PDF", zorder=3)
        # the first few dozen samples make tall, narrow spikes; scale to the settled histogram
        # (n >= a tenth of the total) and let the early spikes run off the top for a moment
        settled = heights[sizes >= sizes[-1] / 10]
        top = 1.12 * max(curve.max(), settled.max())
        ax.set_xlim(edges[0], edges[-1])
        self.bars = density_stairs(ax, edges, theme.runs[0])
        # the caption goes to the upper corner over the lower half of the distribution
        final = heights[-1]
        left = np.nanmax(np.where(centres <= np.median(centres), np.maximum(final, 0), 0))
        right = np.nanmax(np.where(centres >= np.median(centres), np.maximum(final, 0), 0))
        side = "left" if left <= right else "right"
        legend = ax.legend(loc="upper right" if side == "left" else "upper left",
                           fontsize=size * 0.75)
        truth_notes = [f"(true {true_text(dist.mean)})", f"(true {true_text(dist.cov)})", ""]
        labels = ["n", "mean", "var", "KL"]
        notes = ["", *truth_notes]
        self.shows_outside = bool(self.outside[-1] > 0)
        if self.shows_outside:  # samples beyond the view: say how many, never pile them up
            labels.append("outside view")
            notes.append("")
        if dist.discrete and dist.entropy is not None:
            labels.append("H(emp,p)")
            notes.append(f"(H(p) {dist.entropy:.3f})")
        if result.estimate is not None:
            labels.append(f"E[{result.estimate_text}]")
            notes.append("" if result.true_estimate is None
                         else f"(true {true_text(result.true_estimate)})")
        self.caption = Readout(ax, theme, size, labels, notes, side=side)
        show_axes(kl_ax, theme, size, "samples n", "")
        kl_ax.set_title("KL(empirical ‖ true)", fontsize=size * 0.85)
        # a KL of exactly 0 (the empirical frequencies equal p: Bernoulli(0.3) at n = 10) has
        # no place on a log axis: the curve breaks there and its head is a ▼ on the bottom edge
        kl = np.where(result.kl > 0, result.kl, np.nan)
        kl_ax.set_xscale("log")
        kl_ax.set_yscale("log")
        kl_ax.set_xlim(result.checkpoints[0] / 1.3, result.checkpoints[-1] * 1.3)
        positive = kl[np.isfinite(kl)]
        kl_ax.set_ylim(*((positive.min() / 2, positive.max() * 2) if positive.size
                         else (1e-6, 1.0)))
        log_ticks(kl_ax.xaxis)
        log_ticks(kl_ax.yaxis)
        kl_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        (self.kl_line,) = kl_ax.plot([], [], color=theme.runs[1], lw=1.6, animated=True,
                                     zorder=ANIMATED_Z)
        self.kl = kl
        self.kl_head = CurveHeads(kl_ax, [theme.runs[1]], theme, [result.kl[self.indices]],
                                  label="KL = 0")
        # lower left: small n, where the KL is still high
        self.kl_head.add_to_key(None, loc="lower left", fontsize=size * 0.7)
        ax.set_ylim(0, top)
        # the caption must not cover the late bars or the true curve under it; lay out once to
        # measure it, then again with the final limits (tick labels change width)
        figure.get_layout_engine().execute(figure)
        late = heights[sizes >= sizes[-1] / 3].max(axis=0)
        # a bar is under the caption if any of it is (wide PMF bars: Bernoulli's two halves)
        ax.set_ylim(0, room_under(ax, self.caption.bottom(), self.caption.span(),
                                  np.concatenate([edges[:-1], edges[1:], curve_x]),
                                  np.concatenate([late, late, curve]), top))
        self.above = AboveTop(ax, edges, heights, theme.runs[0], theme)
        legend = with_above_top(ax, legend, [self.above], fontsize=size * 0.75)
        # and the late bars and the true curve under the key as well
        ax.set_ylim(0, room_under(ax, *box_span(ax, legend),
                                  np.concatenate([edges[:-1], edges[1:], curve_x]),
                                  np.concatenate([late, late, curve]), ax.get_ylim()[1]))
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        frame = min(frame, self.n_frames - 1)
        r, k = self.result, self.indices[frame]
        n = r.checkpoints[k]
        self.bars.set_data(self.counts[frame] / (n * self.widths))
        above = self.above.update(frame)
        self.kl_line.set_data(r.checkpoints[: k + 1], self.kl[: k + 1])
        kl_head = self.kl_head.update([(n, r.kl[k])])
        dist = r.distribution
        values = [f"{n:,}", moment_value(r.mean[k]), moment_value(r.var[k]), f"{r.kl[k]:.4f}"]
        if self.shows_outside:
            values.append(percent(self.outside[frame]))
        if dist.discrete and dist.entropy is not None:
            values.append(f"{r.cross_entropy[k]:.3f}")
        if r.estimate is not None:
            values.append(f"{r.estimate[k]:.3f}")
        caption = self.caption.set(values)
        return [self.bars, above, self.kl_line, *kl_head, caption]


def display_bins(result: Any, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edges, inside, outside)``: the histogram to draw and, per frame, the counts in its
    bins and beyond its left and right edge (:func:`binned_frames`). The view is the plotting
    range widened to take in the samples (:func:`view_range`); a continuous distribution whose
    support ends inside it (uniform, beta, exponential) is binned inside its support: a bin
    straddling the end would smear density over values that never occur. Discrete
    distributions get unit bins centred on the integers."""
    dist, samples = result.distribution, result.samples
    stops = result.checkpoints[indices]
    low, high = view_range(*plotting_range(dist), samples)
    if dist.discrete:
        first, last = np.ceil(low + 0.5 - 1e-9), np.floor(high - 0.5 + 1e-9)
        edges = np.arange(first - 0.5, last + 1.0, 1.0)
    else:
        support = dist.support
        if support is None and dist.frozen is not None:  # scipy: already imported to sample
            support = dist.frozen.support()
        if support is not None:
            low, high = max(low, float(support[0])), min(high, float(support[1]))
        edges = np.linspace(low, high, len(result.edges))
    inside, outside = binned_frames(samples, edges, stops)
    return edges, inside, outside


# direct sampling, multivariate --------------------------------------------------------------------

def ellipse_points(mean: np.ndarray, cov: np.ndarray, radius: float, count: int = 120):
    """Points of {x : (x−μ)ᵀΣ⁻¹(x−μ) = r²}."""
    angle = np.linspace(0, 2 * np.pi, count)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return (mean[:, None] + radius * np.linalg.cholesky(cov) @ circle).T


SIMPLEX = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


class CloudScene:
    """Samples of a 2-D distribution arriving: MVN with its 1σ/2σ covariance ellipses (true:
    solid, empirical: dashed), Dirichlet(α₁, α₂, α₃) on the simplex triangle over its density."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        ax = figure.add_subplot(1, 1, 1)
        show_axes(ax, theme, size)
        self.simplex = dist.name == "dirichlet" and dist.dim == 3
        if self.simplex:
            self.points = result.samples @ SIMPLEX
            ax.set_aspect("equal")
            ax.axis("off")
            grid = np.linspace(0.005, 0.995, 160)
            a, b = np.meshgrid(grid, grid)
            c = 1 - a - b
            inside = c > 0.002
            parts = np.stack([a[inside], b[inside], c[inside]], axis=1)
            xy = parts @ SIMPLEX
            density = dist.pdf(parts)
            ax.tricontourf(xy[:, 0], xy[:, 1], density, levels=14, cmap=theme.colormap(),
                           zorder=1)
            ax.tricontour(xy[:, 0], xy[:, 1], density, levels=8, colors=theme.contour_line,
                          linewidths=0.6, zorder=ANIMATED_Z + 1)
            ax.fill(*SIMPLEX.T, fill=False, edgecolor=theme.foreground, lw=1.0, zorder=2)
            for corner, label in zip(SIMPLEX, ("x₁", "x₂", "x₃"), strict=True):
                ax.annotate(label, corner, textcoords="offset points",
                            xytext=(0, -12 if corner[1] == 0 else 6), ha="center",
                            color=theme.foreground)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.08, 0.93)
        else:
            self.points = result.samples[:, :2]
            mean, cov = np.asarray(dist.mean)[:2], np.asarray(dist.cov)[:2, :2]
            for radius in (1.0, 2.0):
                ring = ellipse_points(mean, cov, radius)
                ax.plot(ring[:, 0], ring[:, 1], color=theme.foreground, lw=1.3, zorder=3)
            (x0, x1), (y0, y1) = dist.domain[:2]
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_xlabel("x₁")
            ax.set_ylabel("x₂")
        self.empirical = [ax.plot([], [], color=theme.runs[1], lw=1.3, ls="--", animated=True,
                                  zorder=ANIMATED_Z + 1)[0] for _ in (1, 2)]
        n = len(self.points)
        marker = max(1.5, min(12.0, 1500.0 / np.sqrt(n)))
        self.cloud = ax.scatter([], [], s=marker, color=theme.runs[0], alpha=0.45, lw=0,
                                animated=True, zorder=ANIMATED_Z)
        self.caption = readout(ax, theme, size)
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r, k = self.result, self.indices[min(frame, self.n_frames - 1)]
        n = r.checkpoints[k]
        self.cloud.set_offsets(self.points[:n])
        artists = [self.cloud]
        mean = np.atleast_1d(r.mean[k])
        text = [f"n = {n:,}", "mean " + " ".join(f"{m:.3f}" for m in mean),
                "true " + " ".join(f"{m:.3f}" for m in np.atleast_1d(r.distribution.mean))]
        if not self.simplex and n > 3:
            cov = np.cov(self.points[:n].T)
            if np.all(np.linalg.eigvalsh(cov) > 0):
                for radius, line in zip((1.0, 2.0), self.empirical, strict=True):
                    ring = ellipse_points(mean[:2], cov, radius)
                    line.set_data(ring[:, 0], ring[:, 1])
                artists += self.empirical
        self.caption.set_text("\n".join(text))
        return artists + [self.caption]


# stratified vs plain ------------------------------------------------------------------------------

class StratifiedScene:
    """Left: both sample sets filling their histograms, strata boundaries marked. Right: the two
    running estimates with ±2 SE bands converging to the truth."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        hist_ax, est_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": (1.2, 1)})
        show_axes(hist_ax, theme, size, "x", "probability" if dist.discrete else "density")
        show_axes(est_ax, theme, size, "samples n", f"estimate of E[{result.estimate_text}]")
        lo, hi = view_range(*plotting_range(dist), np.concatenate([result.samples,
                                                          result.plain_samples]))
        if dist.discrete:  # unit bins centred on the integers, the PMF as stems
            from matplotlib.ticker import MaxNLocator

            edges = np.arange(np.ceil(lo) - 0.5, np.floor(hi) + 1.0, 1.0)
            x = 0.5 * (edges[:-1] + edges[1:])
            hist_ax.vlines(x, 0, dist.pdf(x), color=theme.foreground, lw=1, zorder=3)
            hist_ax.plot(x, dist.pdf(x), "o", color=theme.foreground, markersize=3.5, zorder=3)
            hist_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            lo, hi = edges[0], edges[-1]
        else:
            edges = np.linspace(lo, hi, 61)
            x = np.linspace(lo, hi, 400)
            hist_ax.plot(x, dist.pdf(x), color=theme.foreground, lw=1.5, zorder=3)
        for b in result.boundaries[1:-1]:
            if lo < b < hi:
                hist_ax.axvline(b, color=theme.muted, lw=0.7, ls=":", zorder=2)
        hist_ax.set_xlim(lo, hi)
        hist_ax.set_ylim(0, 1.35 * np.max(dist.pdf(x)))
        bins = len(edges) - 1
        checkpoints = result.checkpoints[self.indices]
        self.widths = np.diff(edges)
        self.plain_counts, plain_outside = binned_frames(result.plain_samples, edges, checkpoints)
        self.strat_counts, strat_outside = binned_frames(result.samples, edges, checkpoints)
        plain_color, strat_color = theme.runs[1], theme.runs[0]
        self.plain_bars = hist_ax.stairs(np.zeros(bins), edges, color=plain_color, lw=1.4,
                                         animated=True, zorder=ANIMATED_Z, label="plain")
        self.strat_bars = hist_ax.stairs(np.zeros(bins), edges, color=strat_color, lw=1.4,
                                         fill=True, alpha=0.45, animated=True,
                                         zorder=ANIMATED_Z, label=f"stratified ({result.strata})")
        self.above = [AboveTop(hist_ax, edges, densities(counts, checkpoints, self.widths),
                               color, theme)
                      for counts, color in ((self.plain_counts, plain_color),
                                            (self.strat_counts, strat_color))]
        legend = with_above_top(hist_ax, hist_ax.legend(loc="upper right", fontsize=size * 0.75),
                                self.above, fontsize=size * 0.75)
        self.outside_note = OutsideNote(
            hist_ax, theme, size, np.stack([plain_outside, strat_outside]) / checkpoints[:, None],
            names=("plain", "stratified"))
        est_ax.set_xscale("log")
        c = result.checkpoints
        est_ax.set_xlim(c[0] / 1.3, c[-1] * 1.2)
        start = len(c) // 10
        spread = 2.5 * max(result.plain_se[start:].max(), result.stratified_se[start:].max())
        if np.isfinite(result.true_value):
            est_ax.axhline(result.true_value, color=theme.foreground, lw=1.0, ls="--", zorder=2)
            centre = result.true_value
        else:  # no truth to converge to (the Cauchy's mean): frame what the estimates do
            late = np.concatenate([result.plain_estimate[start:],
                                   result.stratified_estimate[start:]])
            centre = float(np.median(late))
            spread = max(spread, 1.2 * float(np.max(np.abs(late - centre))))
        est_ax.set_ylim(centre - spread, centre + spread)
        est_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        self.curves = []
        for estimate, se, color, label in (
            (result.plain_estimate, result.plain_se, plain_color, "plain"),
            (result.stratified_estimate, result.stratified_se, strat_color, "stratified"),
        ):
            band = est_ax.fill_between(c[:1], estimate[:1], estimate[:1], color=color,
                                       alpha=0.25, lw=0, animated=True, zorder=ANIMATED_Z)
            (line,) = est_ax.plot([], [], color=color, lw=1.5, label=label, animated=True,
                                  zorder=ANIMATED_Z + 1)
            self.curves.append((estimate, se, band, line))
        self.heads = CurveHeads(est_ax, [plain_color, strat_color], theme,
                                [result.plain_estimate[self.indices],
                                 result.stratified_estimate[self.indices]],
                                label="newest estimate beyond the panel")
        self.heads.add_to_key(est_ax.legend(loc="upper right", fontsize=size * 0.75),
                              fontsize=size * 0.75)
        log_ticks(est_ax.xaxis)
        self.caption = readout(est_ax, theme, size, x=0.98, y=0.03, ha="right", va="bottom")
        figure.get_layout_engine().execute(figure)
        late = checkpoints >= checkpoints[-1] / 3
        tallest = np.concatenate([densities(c[late], checkpoints[late], self.widths).max(axis=0)
                                  for c in (self.plain_counts, self.strat_counts)])
        centres = 0.5 * (edges[:-1] + edges[1:])
        self.outside_note.place([legend], np.concatenate([centres, centres, x]),
                                np.concatenate([tallest, dist.pdf(x)]))
        place_key_and_readout(est_ax, self.caption, self.caption_text(self.n_frames - 1), c,
                              [result.plain_estimate, result.stratified_estimate])
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        frame = min(frame, self.n_frames - 1)
        k = self.indices[frame]
        n = r.checkpoints[k]
        self.plain_bars.set_data(self.plain_counts[frame] / (n * self.widths))
        self.strat_bars.set_data(self.strat_counts[frame] / (n * self.widths))
        artists: list[Any] = [self.plain_bars, self.strat_bars,
                              *[above.update(frame) for above in self.above],
                              *self.outside_note.update(frame)]
        c = r.checkpoints[: k + 1]
        for estimate, se, band, line in self.curves:
            upper, lower = estimate[: k + 1] + 2 * se[: k + 1], estimate[: k + 1] - 2 * se[: k + 1]
            band.set_verts([np.concatenate([np.column_stack([c, upper]),
                                            np.column_stack([c[::-1], lower[::-1]])])])
            line.set_data(c, estimate[: k + 1])
            artists += [band, line]
        artists += self.heads.update([(n, r.plain_estimate[k]), (n, r.stratified_estimate[k])])
        self.caption.set_text(self.caption_text(frame))
        return artists + [self.caption]

    def caption_text(self, frame: int) -> str:
        r = self.result
        k = self.indices[frame]
        n = r.checkpoints[k]
        truth = ("" if np.isfinite(r.true_value)
                 else f"\ntrue E[{r.estimate_text}] {true_text(r.true_value)}")
        return (f"n = {n:,}\nplain      {r.plain_estimate[k]: .4f} ± {2 * r.plain_se[k]:.4f}\n"
                f"stratified {r.stratified_estimate[k]: .4f} ± {2 * r.stratified_se[k]:.4f}"
                f"{truth}")


# importance sampling ------------------------------------------------------------------------------

class ImportanceScene:
    """Top left: p, q and the weighted histogram of the draws (→ p); draws as a rug coloured and
    sized by weight. Top right: the weight histogram. Bottom: plain and self-normalized
    estimates converging to the truth, with the effective sample size."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        import matplotlib

        target, proposal = result.distribution, result.proposal
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        grid = figure.add_gridspec(2, 2, width_ratios=(2.2, 1), height_ratios=(1.3, 1))
        ax = figure.add_subplot(grid[0, 0])
        weight_ax = figure.add_subplot(grid[0, 1])
        est_ax = figure.add_subplot(grid[1, :])
        show_axes(ax, theme, size, "", "density")
        show_axes(weight_ax, theme, size, "weight p/q", "")
        show_axes(est_ax, theme, size, "samples n", f"E_p[{result.estimate_text}]")
        (target_low, target_high), (proposal_low, proposal_high) = (
            plotting_range(target), plotting_range(proposal))
        lo, hi = view_range(min(target_low, proposal_low), max(target_high, proposal_high),
                            result.samples)
        x = np.linspace(lo, hi, 400)
        ax.plot(x, target.pdf(x), color=theme.foreground, lw=1.6, label="target p", zorder=3)
        ax.plot(x, proposal.pdf(x), color=theme.runs[1], lw=1.4, ls="--", label="proposal q",
                zorder=3)
        top = 1.3 * max(target.pdf(x).max(), proposal.pdf(x).max())
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.12 * top, top)
        ax.axhline(0, color=theme.muted, lw=0.6)
        checkpoints = result.checkpoints[self.indices]
        edges = np.linspace(lo, hi, 61)
        self.widths = np.diff(edges)
        inside = (result.samples >= lo) & (result.samples <= hi)
        order = np.arange(len(result.samples))
        # (1/n) Σ w over a bin estimates p's mass there; the weight beyond the view is counted
        # apart, normalized the same way (never added to an edge bar)
        weighted, weighted_outside = binned_frames(result.samples, edges, checkpoints,
                                                   result.weights)
        self.weighted = weighted / checkpoints[:, None]
        self.bars = density_stairs(ax, edges, theme.runs[0])
        self.bars.set_label("weighted draws")
        self.above = AboveTop(ax, edges, self.weighted / self.widths, theme.runs[0], theme)
        legend = with_above_top(ax, ax.legend(loc="upper right", fontsize=size * 0.72),
                                [self.above], fontsize=size * 0.72)
        self.outside_note = OutsideNote(ax, theme, size, weighted_outside / checkpoints[:, None])
        weights = result.weights
        self.norm = matplotlib.colors.LogNorm(max(weights.min(), weights.max() * 1e-4),
                                              weights.max())
        self.rug_x = np.where(inside, result.samples, np.nan)
        self.rug_y = -0.06 * top + 0.04 * top * (order % 5 - 2) / 2
        self.rug_sizes = 4 + 40 * weights / weights.max()
        self.rug_colors = matplotlib.colormaps["viridis"](self.norm(weights))
        self.rug = ax.scatter([], [], s=[], lw=0, alpha=0.8, animated=True, zorder=ANIMATED_Z)
        self.rug_limit = 1500  # newest draws shown as the rug: older ones are in the histogram
        # the weights' histogram spans four decades below the largest weight at most; smaller
        # weights are counted beside it, as a share of the draws so far like the bars
        weight_edges = np.geomspace(self.norm.vmin, weights.max() * 1.01, 41)
        weight_counts, weight_outside = binned_frames(weights, weight_edges, checkpoints)
        self.weight_heights = weight_counts / checkpoints[:, None]
        weight_ax.set_xscale("log")
        weight_ax.set_xlim(weight_edges[0], weight_edges[-1])
        log_ticks(weight_ax.xaxis)
        settled = self.weight_heights[checkpoints >= checkpoints[-1] / 10]
        weight_ax.set_ylim(0, 1.1 * settled.max())
        weight_ax.set_yticks([])
        weight_ax.axvline(1.0, color=theme.muted, lw=0.8, ls=":")
        weight_ax.set_title("weights (fraction of n)", fontsize=size * 0.8)
        self.weight_bars = density_stairs(weight_ax, weight_edges, theme.runs[2])
        self.weight_above = AboveTop(weight_ax, weight_edges, self.weight_heights,
                                     theme.runs[2], theme)
        self.weight_note = OutsideNote(weight_ax, theme, size,
                                       weight_outside / checkpoints[:, None])
        c = result.checkpoints
        est_ax.set_xscale("log")
        est_ax.set_xlim(c[0] / 1.3, c[-1] * 1.2)
        known = result.true_value is not None and np.isfinite(result.true_value)
        if known:
            est_ax.axhline(result.true_value, color=theme.foreground, lw=1.0, ls="--")
        late = np.concatenate([result.plain_estimate[len(c) // 5:],
                               result.self_normalized_estimate[len(c) // 5:]])
        late = late[np.isfinite(late)]
        centre = result.true_value if known else float(np.median(late)) if late.size else 0.0
        spread = 1.4 * max(float(np.max(np.abs(late - centre))) if late.size else 0.0, 1e-3)
        est_ax.set_ylim(centre - spread, centre + spread)
        est_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        (self.plain_line,) = est_ax.plot([], [], color=theme.runs[0], lw=1.5,
                                         label="plain (1/n)Σwf", animated=True,
                                         zorder=ANIMATED_Z)
        (self.sn_line,) = est_ax.plot([], [], color=theme.runs[3], lw=1.5,
                                      label="self-normalized Σwf/Σw", animated=True,
                                      zorder=ANIMATED_Z)
        self.heads = CurveHeads(est_ax, [theme.runs[0], theme.runs[3]], theme,
                                [result.plain_estimate[self.indices],
                                 result.self_normalized_estimate[self.indices]],
                                label="newest estimate beyond the panel")
        self.heads.add_to_key(est_ax.legend(loc="upper right", fontsize=size * 0.72),
                              fontsize=size * 0.72)
        log_ticks(est_ax.xaxis)
        self.caption = readout(est_ax, theme, size, x=0.98, y=0.05, ha="right", va="bottom")
        figure.get_layout_engine().execute(figure)
        self.outside_note.place([legend])
        late = checkpoints >= checkpoints[-1] / 3
        self.weight_note.place([], np.concatenate([weight_edges[:-1], weight_edges[1:]]),
                               np.tile(self.weight_heights[late].max(axis=0), 2))
        place_key_and_readout(est_ax, self.caption, self.caption_text(self.n_frames - 1), c,
                              [result.plain_estimate, result.self_normalized_estimate])
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        frame = min(frame, self.n_frames - 1)
        k = self.indices[frame]
        n = r.checkpoints[k]
        self.bars.set_data(self.weighted[frame] / self.widths)
        above = self.above.update(frame)
        first = max(0, n - self.rug_limit)
        self.rug.set_offsets(np.column_stack([self.rug_x[first:n], self.rug_y[first:n]]))
        self.rug.set_sizes(self.rug_sizes[first:n])
        self.rug.set_facecolors(self.rug_colors[first:n])
        self.weight_bars.set_data(self.weight_heights[frame])
        weight_above = self.weight_above.update(frame)
        c = r.checkpoints[: k + 1]
        self.plain_line.set_data(c, r.plain_estimate[: k + 1])
        self.sn_line.set_data(c, r.self_normalized_estimate[: k + 1])
        heads = self.heads.update([(n, r.plain_estimate[k]),
                                   (n, r.self_normalized_estimate[k])])
        self.caption.set_text(self.caption_text(frame))
        return [self.bars, above, self.rug, self.weight_bars, weight_above, self.plain_line,
                self.sn_line, *heads,
                *self.outside_note.update(frame), *self.weight_note.update(frame), self.caption]

    def caption_text(self, frame: int) -> str:
        r = self.result
        k = self.indices[frame]
        n = r.checkpoints[k]
        truth = "" if r.true_value is None else f"   true {true_text(r.true_value, 4)}"
        return (f"n = {n:,}   ESS = {r.ess[k]:,.0f} ({r.ess[k] / n:.0%}){truth}\n"
                f"plain {r.plain_estimate[k]:.4f}   self-normalized "
                f"{r.self_normalized_estimate[k]:.4f}")


# Metropolis–Hastings ------------------------------------------------------------------------------

def target_grid(dist: Any, points: int = 160, domain: Any = None, mass: float = 1.0):
    """The target's density on a grid over ``domain`` (default: its own), normalized
    numerically so that the grid holds ``mass`` (the target's probability inside ``domain``),
    with its marginals: ``(x, y, density, marginal_x, marginal_y)``."""
    (x0, x1), (y0, y1) = domain or dist.domain
    x, y = np.linspace(x0, x1, points), np.linspace(y0, y1, points)
    xx, yy = np.meshgrid(x, y)
    logp = dist.logpdf(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    density = np.exp(logp - np.max(logp[np.isfinite(logp)]))
    density = np.where(np.isfinite(density), density, 0.0)
    dx, dy = x[1] - x[0], y[1] - y[0]
    density *= mass / (density.sum() * dx * dy)
    return x, y, density, density.sum(axis=0) * dy, density.sum(axis=1) * dx


def central_domain(dist: Any, mass: float = 0.98, pad: float = 0.08):
    """``(box, inside)``: the part of the target's plotting box holding its central ``mass``
    along each axis, padded by ``pad`` (the banana's long thin tail would otherwise leave half
    the frame empty), and the target's probability inside it."""
    x, y, density, marginal_x, marginal_y = target_grid(dist, 240)
    box = []
    for grid_values, marginal in ((x, marginal_x), (y, marginal_y)):
        cdf = np.cumsum(marginal)
        cdf /= cdf[-1]
        low = grid_values[np.searchsorted(cdf, (1 - mass) / 2)]
        high = grid_values[min(np.searchsorted(cdf, (1 + mass) / 2), len(cdf) - 1)]
        extra = pad * (high - low)
        box.append((max(grid_values[0], low - extra), min(grid_values[-1], high + extra)))
    (x0, x1), (y0, y1) = box
    cells = np.outer((y >= y0) & (y <= y1), (x >= x0) & (x <= x1))
    inside = float(density[cells].sum() / density.sum())
    return tuple(box), inside


def target_mass(dist: Any, box: Any) -> float:
    """The target's probability inside ``box``, on a grid over its plotting box and ``box``."""
    (x0, x1), (y0, y1) = box
    (dx0, dx1), (dy0, dy1) = dist.domain
    x, y, density, _, _ = target_grid(dist, 240, ((min(x0, dx0), max(x1, dx1)),
                                                  (min(y0, dy0), max(y1, dy1))))
    cells = np.outer((y >= y0) & (y <= y1), (x >= x0) & (x <= x1))
    return float(density[cells].sum() / density.sum())


def view_box(dist: Any, points: np.ndarray):
    """``(box, inside)``: the target's central box (:func:`central_domain`) widened along each
    axis to take in where the chains went (:func:`view_range`: a chain exploring a long tail
    is shown, not cut off), and the target's probability inside it."""
    central, inside = central_domain(dist)
    box = tuple(view_range(low, high, points[:, axis])
                for axis, (low, high) in enumerate(central))
    if box == tuple(central):
        return box, inside
    return box, target_mass(dist, box)


CORNERS = {  # legend location -> (x, y, ha, va) of a caption in that corner
    "upper left": (0.02, 0.97, "left", "top"),
    "upper right": (0.98, 0.97, "right", "top"),
    "lower left": (0.02, 0.03, "left", "bottom"),
    "lower right": (0.98, 0.03, "right", "bottom"),
}


def _acceptance_colors(theme: Theme) -> tuple[str, str]:
    return theme.runs[2], theme.runs[3]  # accepted: green; rejected: vermillion


def _chain_colors(theme: Theme, chains: int) -> list[str]:
    """One colour per chain, never the accepted/rejected colours (a green chain's moves would
    read as acceptances)."""
    reserved = set(_acceptance_colors(theme))
    palette = [c for c in theme.runs if c not in reserved]
    return [palette[i % len(palette)] for i in range(chains)]


class ChainScene:
    """One or more MH chains. 1-D: trace plot + histogram against the target. 2-D: chains
    walking over the target's contours with fading tails, each step's proposal as an arrow
    (green accepted, red rejected), marginal histograms, and convergence readouts."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.theme = theme
        self.steps = select_frames(result.steps, experiment.render.frames or DEFAULT_FRAMES)[1:]
        self.n_frames = len(self.steps)
        self.positions = result.positions[0]  # (C, T+1, d)
        self.chain_colors = _chain_colors(theme, result.chains)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        self.dim = dist.dim
        if dist.dim == 1:
            self._build_1d(dist, theme, size)
        else:
            self._build_2d(dist, theme, size)
        freeze_layout(figure)

    # 1-D ------------------------------------------------------------------------------------------
    def _build_1d(self, dist: Any, theme: Theme, size: float) -> None:
        from matplotlib.transforms import offset_copy

        trace_ax, hist_ax = self.figure.subplots(
            1, 2, gridspec_kw={"width_ratios": (2.2, 1)}, sharey=True)
        show_axes(trace_ax, theme, size, "step", "x")
        show_axes(hist_ax, theme, size, "density", "")
        r = self.result
        values = self.positions[:, :, 0]
        lo, hi = dist.domain
        lo, hi = min(lo, values.min()), max(hi, values.max())
        trace_ax.set_xlim(0, r.steps)
        # a band below the lowest draw holds the caption, so it never hides the traces
        # and a little room above the highest, so a spike never reads as cut by the edge
        trace_ax.set_ylim(lo - 0.24 * (hi - lo), hi + 0.04 * (hi - lo))
        if r.burn_in:
            trace_ax.axvspan(0, r.burn_in, color=theme.muted, alpha=0.15, lw=0)
            # from the band's left edge: centred on a narrow band it would spill off the axes
            trace_ax.text(0, hi, "burn-in", ha="left", va="top", color=theme.muted,
                          fontsize=size * 0.75,
                          transform=offset_copy(trace_ax.transData, fig=self.figure, x=3, y=-2,
                                                units="points"))
        self.traces = [trace_ax.plot([], [], color=color, lw=0.7, animated=True,
                                     zorder=ANIMATED_Z)[0] for color in self.chain_colors]
        y = np.linspace(lo, hi, 400)
        pdf = dist.pdf(y)
        if not dist.normalized:
            pdf = pdf / np.trapezoid(pdf, y)
        hist_ax.plot(pdf, y, color=theme.foreground, lw=1.5, zorder=3, label="target")
        edges = np.linspace(lo, hi, 51)  # the trace's whole range: no draw is ever outside
        self.widths = np.diff(edges)
        kept, _ = self._kept_counts(values[:, :, None], edges, 0)
        self.hist_counts = kept
        self.kept_totals = self._kept_totals()
        final = densities(kept[-1:], self.kept_totals[-1:], self.widths)[0]
        hist_ax.set_xlim(0, 1.25 * max(pdf.max(), final.max()))
        self.bars = hist_ax.stairs(np.zeros(50), edges, orientation="horizontal", fill=True,
                                   color=theme.runs[0], alpha=0.55, animated=True,
                                   zorder=ANIMATED_Z,
                                   label="draws after burn-in" if r.burn_in else "draws")
        # the key explains the panel's two marks; the traces' colours are the chains (title)
        hist_ax.legend(loc="upper right", fontsize=size * 0.72)
        self.caption = readout(trace_ax, theme, size, y=0.03, va="bottom")

    def _kept_totals(self) -> np.ndarray:
        """Draws kept (all chains, after burn-in) up to each frame's step."""
        return np.maximum(self.steps - self.result.burn_in, 0) * self.result.chains

    def _kept_counts(self, values: np.ndarray, edges: np.ndarray,
                     axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Histogram (all chains, after burn-in) of coordinate ``axis`` up to each frame's step,
        and the draws beyond its left and right edge (:func:`binned_frames`)."""
        burn = self.result.burn_in
        draws = values[:, burn + 1:, axis].T.ravel()  # step-major so prefixes are step ranges
        return binned_frames(draws, edges, self._kept_totals())

    # 2-D ------------------------------------------------------------------------------------------
    def _build_2d(self, dist: Any, theme: Theme, size: float) -> None:
        figure = self.figure
        grid = figure.add_gridspec(2, 2, width_ratios=(2.0, 1), height_ratios=(1, 1))
        ax = figure.add_subplot(grid[:, 0])
        mx_ax = figure.add_subplot(grid[0, 1])
        my_ax = figure.add_subplot(grid[1, 1])
        show_axes(ax, theme, size, "x", "y")
        show_axes(mx_ax, theme, size, "x", "")
        show_axes(my_ax, theme, size, "y", "")
        x, y, density, marginal_x, marginal_y = target_grid(
            dist, 160, *view_box(dist, self.positions[..., :2].reshape(-1, 2)))
        ax.contourf(x, y, density, levels=12, cmap=theme.colormap(), zorder=0)
        ax.contour(x, y, density, levels=8, colors=theme.contour_line, linewidths=0.5,
                   alpha=0.6, zorder=1)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        self.tail = 60
        self.tails = ax.scatter([], [], s=7, lw=0, animated=True, zorder=ANIMATED_Z)
        from matplotlib.collections import LineCollection
        from matplotlib.colors import to_rgba

        self.tail_rgba = np.array([to_rgba(c) for c in self.chain_colors])
        self.arrows = LineCollection([], linewidths=1.3, animated=True, zorder=ANIMATED_Z + 1)
        ax.add_collection(self.arrows)
        self.heads = ax.scatter([], [], s=14, lw=0, marker="o", animated=True,
                                zorder=ANIMATED_Z + 1)
        self.current = ax.scatter(*self.positions[:, 0].T, s=36, edgecolors=theme.background,
                                  linewidths=0.8, c=self.chain_colors, animated=True,
                                  zorder=ANIMATED_Z + 2)
        accepted, rejected = _acceptance_colors(theme)
        self.move_colors = np.array([to_rgba(rejected), to_rgba(accepted)])
        from matplotlib.lines import Line2D

        from optiviz.render.landscape import emptiest_corner

        # legend, then caption, in the corners the chains visit least
        walked = self.positions.reshape(-1, 2)
        legend_corner = emptiest_corner(ax, walked[:, 0], walked[:, 1])
        caption_corner = emptiest_corner(ax, walked[:, 0], walked[:, 1], avoid=(legend_corner,))
        ax.legend(handles=[Line2D([], [], color=accepted, lw=1.5, label="accepted"),
                           Line2D([], [], color=rejected, lw=1.5, label="rejected")],
                  loc=legend_corner, fontsize=size * 0.72)
        self.marginals = []
        self.kept_totals = self._kept_totals()
        late = self.steps >= self.steps[-1] / 3
        for axis, (m_ax, grid_values, marginal) in enumerate(
                ((mx_ax, x, marginal_x), (my_ax, y, marginal_y))):
            m_ax.plot(grid_values, marginal, color=theme.foreground, lw=1.4, zorder=3)
            edges = np.linspace(grid_values[0], grid_values[-1], 41)
            counts, outside = self._kept_counts(self.positions, edges, axis)
            widths = np.diff(edges)
            heights = densities(counts, self.kept_totals, widths)
            m_ax.set_xlim(edges[0], edges[-1])
            m_ax.set_ylim(0, 1.25 * max(marginal.max(), heights[-1].max()))
            m_ax.set_yticks([])
            bars = density_stairs(m_ax, edges, theme.runs[0])
            note = OutsideNote(m_ax, theme, size,
                               outside / np.maximum(self.kept_totals, 1)[:, None])
            reach = (np.concatenate([edges[:-1], edges[1:], grid_values]),
                     np.concatenate([heights[late].max(axis=0)] * 2 + [marginal]))
            self.marginals.append((bars, counts, widths, note, reach))
        x, y, ha, va = CORNERS[caption_corner]
        self.caption = readout(ax, theme, size, x=x, y=y, ha=ha, va=va)
        figure.get_layout_engine().execute(figure)
        for _, _, _, note, (centres, tallest) in self.marginals:
            note.place([], centres, tallest)

    # frames ---------------------------------------------------------------------------------------
    def _diagnostics_text(self, step: int) -> str:
        r = self.result
        rate = r.accepted[0, :, :step].mean()
        k = int(np.searchsorted(r.checkpoints, step, side="right")) - 1
        lines = [f"step {step:,}/{r.steps:,}  accepted {rate:.0%}"]
        if k >= 0 and step > r.burn_in + 8 and np.isfinite(r.ess[0, k]):
            means = " ".join(f"{m:.2f}±{e:.2f}" for m, e in zip(r.running_mean[0, k],
                                                                r.mcse[0, k], strict=True))
            lines.append(f"mean {means}")
            rhat = f"  R-hat {r.rhat[0, k]:.3f}" if np.isfinite(r.rhat[0, k]) else ""
            lines.append(f"ESS {r.ess[0, k]:,.0f}{rhat}")
        return "\n".join(lines)

    def update(self, frame: int) -> Sequence[Any]:
        frame = min(frame, self.n_frames - 1)
        step = int(self.steps[frame])
        self.caption.set_text(self._diagnostics_text(step))
        if self.dim == 1:
            t = np.arange(step + 1)
            for line, chain in zip(self.traces, self.positions[:, :, 0], strict=True):
                line.set_data(t, chain[: step + 1])
            counts = self.hist_counts[frame]
            self.bars.set_data(counts / max(self.kept_totals[frame], 1) / self.widths)
            return [*self.traces, self.bars, self.caption]
        r = self.result
        start = max(0, step - self.tail)
        tail = self.positions[:, start: step + 1]  # (C, L, 2)
        age = np.linspace(0.08, 0.75, tail.shape[1])  # older samples fade
        rgba = np.repeat(self.tail_rgba[:, None, :], tail.shape[1], axis=1)
        rgba[..., 3] = age
        self.tails.set_offsets(tail.reshape(-1, 2))
        self.tails.set_facecolors(rgba.reshape(-1, 4))
        before = self.positions[:, step - 1]
        proposal = r.proposals[0, :, step - 1]
        accepted = r.accepted[0, :, step - 1]
        self.arrows.set_segments(np.stack([before, proposal], axis=1))
        self.arrows.set_colors(self.move_colors[accepted.astype(int)])
        self.heads.set_offsets(proposal)
        self.heads.set_facecolors(self.move_colors[accepted.astype(int)])
        self.current.set_offsets(self.positions[:, step])
        artists = [self.tails, self.arrows, self.heads, self.current]
        for bars, counts, widths, note, _ in self.marginals:
            bars.set_data(counts[frame] / max(self.kept_totals[frame], 1) / widths)
            artists += [bars, *note.update(frame)]
        return artists + [self.caption]


class ScaleComparisonScene:
    """The same target sampled with small, moderate and large proposal steps, side by side: the
    chain's path over the contours (1-D: its trace), with acceptance rate and ESS."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.steps = select_frames(result.steps, experiment.render.frames or DEFAULT_FRAMES)[1:]
        self.n_frames = len(self.steps)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        axes = figure.subplots(1, len(result.scales), sharex=True, sharey=True, squeeze=False)[0]
        self.panels = []
        colors = theme.run_colors(result.chains)
        if dist.dim >= 2:
            x, y, density, _, _ = target_grid(dist, 120)
        for s, ax in enumerate(axes):
            show_axes(ax, theme, size * 0.9, "x" if dist.dim >= 2 else "step",
                      ("y" if dist.dim >= 2 else "x") if s == 0 else "")
            ax.set_title(f"step scale {result.scales[s]:g}", fontsize=size * 0.9)
            if dist.dim >= 2:
                ax.contourf(x, y, density, levels=10, cmap=theme.colormap(), zorder=0)
                ax.set_xlim(x[0], x[-1])
                ax.set_ylim(y[0], y[-1])
                paths = [(p[:, 0], p[:, 1]) for p in result.positions[s]]
            else:
                lo, hi = dist.domain
                values = result.positions[:, :, :, 0]
                ax.set_xlim(0, result.steps)
                ax.set_ylim(min(lo, values.min()), max(hi, values.max()))
                t = np.arange(result.steps + 1)
                paths = [(t, p[:, 0]) for p in result.positions[s]]
            lines = [ax.plot([], [], color=c, lw=0.8, alpha=0.85, animated=True,
                             zorder=ANIMATED_Z)[0] for c in colors]
            self.panels.append((paths, lines, readout(ax, theme, size * 0.9, y=0.03,
                                                      va="bottom")))
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        step = int(self.steps[min(frame, self.n_frames - 1)])
        k = int(np.searchsorted(r.checkpoints, step, side="right")) - 1
        artists: list[Any] = []
        for s, (paths, lines, caption) in enumerate(self.panels):
            for (px, py), line in zip(paths, lines, strict=True):
                line.set_data(px[: step + 1], py[: step + 1])
            rate = r.accepted[s, :, :step].mean()
            ess = f"\nESS {r.ess[s, k]:,.0f}" if k >= 0 and np.isfinite(r.ess[s, k]) else ""
            caption.set_text(f"accepted {rate:.0%}{ess}")
            artists += [*lines, caption]
        return artists
