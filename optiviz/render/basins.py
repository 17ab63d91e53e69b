"""The basins view: one map per optimizer in which every pixel is a start of the grid.

A pixel's hue says which known minimum its run ends within ``tolerance`` of, its lightness how
many steps the run took to get there (deep: at once, pale: at the last step, on a log scale);
grey: near no known minimum, black: diverged. The animation shows the map forming: at each
frame a pixel has the hue of the minimum its run is near at that step (grey while it travels).
A still shows the final map. The key names the minima, each with its lightness ramp over the
steps.

Everything drawn comes from :class:`optiviz.streaming.BasinMaps`; the scene only colours it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from optiviz.render.cloud import fit_title
from optiviz.render.landscape import title_of
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, new_figure
from optiviz.render.theme import OKABE_ITO, TOL_EXTRA, Theme, style_axes
from optiviz.streaming import DIVERGED, NONE, minimum_label

LEVELS = 64  # lightness levels of a minimum's hue
PALE = 0.78  # the slowest runs' share of white in their hue
NONE_COLOR = "#9a9a9a"
DIVERGED_COLOR = "#000000"
STAR_SIZE = {"global minimum": 13, "local minimum": 10}
# The layout, in units of the font size in pixels.
TITLE_BAND = 2.2  # the figure title's row (and the step counter's)
ROW_TOP = 1.7  # a map's title
ROW_BOTTOM = 2.9  # a row's x tick labels and x label
LEFT = 4.6  # the y tick labels (up to '−0.75') and the y label
GAP = 1.2  # between two maps of a row
KEY_WIDTH = 12.5  # the key column: ramps (KEY_RAMP) and the minima's names right of them
KEY_RAMP = 4.5
KEY_ROW = 1.2  # height of one minimum's ramp
LEGEND_ROWS = 3.6  # the legend under the key: three rows and their spacing
LEGEND_WIDTH = 12.5  # the legend's widest line, "near no known minimum", with its handle
RIGHT = 0.6


@dataclass(frozen=True)
class Layout:
    """Where everything goes, in figure fractions: the maps' boxes (row-major), the key's
    ramps, the legend's top-left corner."""

    columns: int
    maps: tuple[tuple[float, float, float, float], ...]
    key: tuple[float, float, float, float]
    legend: tuple[float, float]


def plan_layout(entries: int, minima: int, aspect: float, width: float, height: float,
                font: float) -> Layout:
    """The grid of ``entries`` maps (height/width ``aspect``) and the place of the key that
    make the maps largest: the key as a column right of the maps (its ramps, one row per
    minimum, at the top, the legend under them) or as a band under them (the legend right of
    the ramps). The maps are centred in the space the key leaves."""
    ramps = max(1, minima) * KEY_ROW
    band = max(ramps, LEGEND_ROWS) + ROW_TOP + ROW_BOTTOM  # the key as a band, in font units
    best = None
    for below in (False, True):
        for columns in range(1, entries + 1):
            rows = -(-entries // columns)
            key_w, key_h = (0.0, band) if below else (KEY_WIDTH + GAP, 0.0)
            room_x = width - (LEFT + key_w + RIGHT + GAP * (columns - 1)) * font
            room_y = height - (TITLE_BAND + key_h + rows * (ROW_TOP + ROW_BOTTOM)) * font
            side = min(room_x / columns, room_y / rows / aspect)
            if best is None or side > best[0] + 0.5:
                best = (side, columns, rows, below)
    side, columns, rows, below = best
    side = max(side, 8.0)
    key_w, key_h = (0.0, band * font) if below else ((KEY_WIDTH + GAP) * font, 0.0)
    block_w = LEFT * font + columns * side + (columns - 1) * GAP * font
    block_h = rows * (side * aspect + (ROW_TOP + ROW_BOTTOM) * font)
    left = max(0.0, (width - key_w - RIGHT * font - block_w) / 2)
    room = height - TITLE_BAND * font - key_h
    top = height - TITLE_BAND * font - max(0.0, (room - block_h) / 2)
    boxes = []
    for e in range(entries):
        row, column = divmod(e, columns)
        x = left + LEFT * font + column * (side + GAP * font)
        y = top - (row + 1) * (side * aspect + (ROW_TOP + ROW_BOTTOM) * font) \
            + ROW_BOTTOM * font
        boxes.append((x / width, y / height, side / width, side * aspect / height))
    if below:
        # ramps, their minima's names, the legend: side by side, centred under the maps
        names, legend_w = (KEY_WIDTH - KEY_RAMP) * font, LEGEND_WIDTH * font
        ramp_w = min(2 * KEY_RAMP * font, max(font, width - names - legend_w - 2 * font))
        band_w = ramp_w + names + legend_w
        key_x = max(font / 2, (width - band_w) / 2)
        key_top = (band - ROW_TOP) * font
        legend_x = key_x + ramp_w + names
        legend_top = key_top
    else:
        key_x = width - (KEY_WIDTH + RIGHT) * font
        key_top = height - (TITLE_BAND + ROW_TOP) * font
        legend_x = key_x
        ramp_w = KEY_RAMP * font
    space = key_top - (ROW_BOTTOM + (0 if below else LEGEND_ROWS)) * font
    tall = max(min(ramps * font, space), font)
    if not below:
        legend_top = key_top - tall - ROW_BOTTOM * font
    key = (key_x / width, (key_top - tall) / height, ramp_w / width, tall / height)
    return Layout(columns, tuple(boxes), key, (legend_x / width, legend_top / height))


def hues(count: int) -> list[str]:
    """One colour-blind-safe hue per minimum (Okabe–Ito, then Paul Tol's), cycling beyond."""
    palette = OKABE_ITO + TOL_EXTRA
    return [palette[i % len(palette)] for i in range(count)]


def palette(count: int) -> np.ndarray:
    """The (count·LEVELS + 2, 4) uint8 colours: minimum k at lightness level l is row
    ``k·LEVELS + l``; then near none, then diverged."""
    from matplotlib.colors import to_rgb

    shade = np.linspace(0.0, PALE, LEVELS)[:, None]
    rows = [np.asarray(to_rgb(hue)) * (1 - shade) + shade for hue in hues(count)]
    rows.append(np.asarray([to_rgb(NONE_COLOR)]))
    rows.append(np.asarray([to_rgb(DIVERGED_COLOR)]))
    rgb = np.concatenate(rows) if rows else np.zeros((0, 3))
    out = np.empty((len(rgb), 4), np.uint8)
    out[:, :3] = np.round(rgb * 255)
    out[:, 3] = 255
    return out


def lightness_level(steps: np.ndarray, total: int) -> np.ndarray:
    """Steps to tolerance -> lightness level 0 (at once) .. LEVELS-1 (the last step),
    linearly."""
    level = np.round((LEVELS - 1) * np.maximum(steps, 0) / max(total, 1))
    return np.clip(level, 0, LEVELS - 1).astype(np.int32)


def colour_codes(codes: np.ndarray, level: np.ndarray, minima: int) -> np.ndarray:
    """Rows of :func:`palette` for basin codes (a minimum, ``NONE``, ``DIVERGED``)."""
    index = codes.astype(np.int32) * LEVELS + level
    index = np.where(codes >= 0, index, minima * LEVELS + (codes == DIVERGED))
    return index


def step_ticks(total: int) -> list[int]:
    """Steps labelled under a key's ramp: 0, the last step, and at most two round steps
    between them (labels never touch in the key's width)."""
    from matplotlib.ticker import MaxNLocator

    inside = [int(t) for t in MaxNLocator(3, integer=True).tick_values(0, total)
              if 0 < t < 0.8 * total]
    return [0, *inside, total] if total > 0 else [0]


class BasinScene:
    """One basin map per optimizer entry, a key of the minima beside them."""

    def __init__(self, experiment: Any, maps: Any, theme: Theme, size: float):
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        render = experiment.render
        self.maps = maps
        self.steps = maps.frame_steps
        self.n_frames = len(self.steps)
        self.total_steps = maps.steps
        nx, ny = maps.grid
        self.shape = (ny, nx)
        minima = len(maps.minima)
        self.colours = palette(minima)
        self.levels = [lightness_level(maps.reached_step[e], maps.steps)
                       for e in range(maps.entries)]
        self.key_colors = tuple(hues(minima)) + (NONE_COLOR, DIVERGED_COLOR)
        (x0, x1), (y0, y1) = maps.box
        dx = (x1 - x0) / (nx - 1) if nx > 1 else 1.0
        dy = (y1 - y0) / (ny - 1) if ny > 1 else 1.0
        extent = (x0 - dx / 2, x1 + dx / 2, y0 - dy / 2, y1 + dy / 2)
        aspect = (extent[3] - extent[2]) / (extent[1] - extent[0])

        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        self.suptitle = figure.suptitle(title_of(experiment) or " ", color=theme.foreground,
                                        fontsize=size * 1.2, fontweight="bold", y=0.995,
                                        va="top")
        entries = maps.entries
        font = size * render.dpi / 72  # the font size in pixels: the layout's unit
        layout = plan_layout(entries, minima, aspect, render.width, render.height, font)
        map_axes = []
        for e, box in enumerate(layout.maps):
            ax = figure.add_axes(box)
            style_axes(ax, theme, size * 0.9)
            ax.set_title(maps.label[e], fontsize=size, pad=3, color=theme.foreground)
            if e % layout.columns:
                ax.tick_params(labelleft=False)
            else:
                ax.set_ylabel(experiment.function.ylabel, labelpad=1)
            if e + layout.columns < entries:
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(experiment.function.xlabel, labelpad=1)
            map_axes.append(ax)
        key_ax = figure.add_axes(layout.key)

        # the key: one lightness ramp per minimum, named, over the steps it took
        style_axes(key_ax, theme, size * 0.8)
        ramp = self.colours[:minima * LEVELS].reshape(minima, LEVELS, 4)
        key_ax.imshow(ramp, aspect="auto", interpolation="nearest",
                      extent=(-0.5, LEVELS - 0.5, minima - 0.5, -0.5))
        key_ax.set_yticks(range(minima))
        key_ax.set_yticklabels([minimum_label(x, y) for x, y in maps.minima])
        key_ax.yaxis.tick_right()
        ticks = step_ticks(maps.steps)
        key_ax.set_xticks(lightness_level(np.asarray(ticks), maps.steps))
        key_ax.set_xticklabels([f"{t:,}" for t in ticks])
        key_ax.set_xlabel(f"steps to within {maps.tolerance:.2g}", labelpad=1, loc="left")
        key_ax.set_title("run ends near", fontsize=size * 0.85, pad=3, color=theme.foreground,
                         loc="left")
        key_ax.xaxis.label.set_size(size * 0.8)
        key_ax.tick_params(length=2)

        star = Line2D([], [], marker="*", markersize=11, linestyle="none",
                      markerfacecolor="white", markeredgecolor="black", markeredgewidth=0.8)
        handles = [Patch(facecolor=NONE_COLOR, edgecolor=theme.muted, linewidth=0.5),
                   Patch(facecolor=DIVERGED_COLOR, edgecolor=theme.muted, linewidth=0.5),
                   star]
        labels = ["near no known minimum", "diverged", "known minimum"]
        x0_key, y0_key = layout.legend
        figure.legend(handles, labels, loc="upper left", bbox_to_anchor=(x0_key, y0_key),
                      frameon=False, fontsize=size * 0.8, labelcolor=theme.foreground,
                      borderaxespad=0.0, borderpad=0.0, handlelength=1.2)
        renderer = figure.canvas.get_renderer()
        for ax in map_axes:
            fit_title(ax, renderer)

        self.images = []
        self.stars: list[Any] = []
        blank = np.zeros(self.shape + (4,), np.uint8)
        # stars in proportion to the maps: a thirteenth of a map's side, 13 points at most
        map_points = layout.maps[0][2] * render.width * 72 / render.dpi
        star_size = float(np.clip(map_points / 13, 5, STAR_SIZE["global minimum"]))
        for ax in map_axes:
            image = ax.imshow(blank, origin="lower", extent=extent, interpolation="antialiased",
                              animated=True, zorder=ANIMATED_Z - 1)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            # round ticks; beside another map, none at the edges, where labels would touch
            ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10],
                                                   prune="both" if layout.columns > 1 else None))
            self.images.append(image)
            for (mx, my), kind in zip(maps.minima, maps.minimum_kinds, strict=True):
                inside = extent[0] <= mx <= extent[1] and extent[2] <= my <= extent[3]
                if not inside:
                    continue
                (mark,) = ax.plot([mx], [my], marker="*", markersize=star_size * STAR_SIZE.get(
                                      kind, 10) / STAR_SIZE["global minimum"],
                                  linestyle="none", markerfacecolor="white",
                                  markeredgecolor="black", markeredgewidth=0.8, animated=True,
                                  zorder=ANIMATED_Z + 1)
                self.stars.append(mark)
        # the step counter, level with the title in the figure's top-right corner
        self.counter = CachedGlyphText(map_axes[0], 0.995, 0.995, size=size * 0.85,
                                       color=theme.foreground, align="right",
                                       transform=figure.transFigure, zorder=ANIMATED_Z + 3)

    def frame_image(self, entry: int, frame: int) -> np.ndarray:
        """Entry ``entry``'s map at ``frame`` as RGBA rows, the lowest y first."""
        codes = self.maps.frames[frame, entry]
        index = colour_codes(codes, self.levels[entry], len(self.maps.minima))
        return self.colours[index].reshape(self.shape + (4,))

    def update(self, frame: int) -> Sequence[Any]:
        for entry, image in enumerate(self.images):
            image.set_data(self.frame_image(entry, frame))
        width = len(f"{self.total_steps}")
        self.counter.set_text(f"step {int(self.steps[frame]):>{width}}/{self.total_steps}")
        return [*self.images, *self.stars, self.counter]


__all__ = ["BasinScene", "DIVERGED", "NONE", "palette", "lightness_level", "colour_codes"]
