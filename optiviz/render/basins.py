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
from typing import Any

import numpy as np

from optiviz.render.landscape import title_of
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, freeze_layout, new_figure
from optiviz.render.theme import OKABE_ITO, TOL_EXTRA, Theme, style_axes
from optiviz.streaming import DIVERGED, NONE, minimum_label

LEVELS = 64  # lightness levels of a minimum's hue
PALE = 0.78  # the slowest runs' share of white in their hue
NONE_COLOR = "#9a9a9a"
DIVERGED_COLOR = "#000000"
STAR_SIZE = {"global minimum": 13, "local minimum": 10}
MAP_COLUMNS_MAX = 3  # maps per row; more optimizers wrap onto further rows


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
        figure.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04, hspace=0.02,
                                 wspace=0.02)
        self.suptitle = figure.suptitle(title_of(experiment) or " ", color=theme.foreground,
                                        fontsize=size * 1.2, fontweight="bold")
        entries = maps.entries
        columns = min(entries, MAP_COLUMNS_MAX)
        rows = -(-entries // columns)
        grid = figure.add_gridspec(rows, columns + 1,
                                   width_ratios=[1.0] * columns + [0.62 + 0.1 * columns])
        map_axes = []
        for e in range(entries):
            ax = figure.add_subplot(grid[e // columns, e % columns])
            style_axes(ax, theme, size * 0.9)
            ax.set_box_aspect(aspect)
            ax.set_title(maps.label[e], fontsize=size, pad=3, color=theme.foreground)
            if e % columns:
                ax.tick_params(labelleft=False)
            else:
                ax.set_ylabel(experiment.function.ylabel, labelpad=1)
            if e + columns < entries:
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(experiment.function.xlabel, labelpad=1)
            map_axes.append(ax)
        side = grid[:, columns].subgridspec(2, 1, height_ratios=[max(minima, 1) * 0.9 + 1.6,
                                                                   3.2])
        key_ax = figure.add_subplot(side[0])
        legend_ax = figure.add_subplot(side[1])
        legend_ax.set_axis_off()

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
        key_ax.set_xlabel(f"steps to within {maps.tolerance:.2g}", labelpad=1)
        key_ax.set_title("run ends near", fontsize=size * 0.85, pad=3, color=theme.foreground)
        key_ax.tick_params(length=2)

        star = Line2D([], [], marker="*", markersize=11, linestyle="none",
                      markerfacecolor="white", markeredgecolor="black", markeredgewidth=0.8)
        handles = [Patch(facecolor=NONE_COLOR, edgecolor=theme.muted, linewidth=0.5),
                   Patch(facecolor=DIVERGED_COLOR, edgecolor=theme.muted, linewidth=0.5),
                   star]
        labels = ["near no known minimum", "diverged", "known minimum"]
        legend_ax.legend(handles, labels, loc="upper left", frameon=False,
                         fontsize=size * 0.8, labelcolor=theme.foreground,
                         borderaxespad=0.0, handlelength=1.2)

        freeze_layout(figure)

        self.images = []
        self.stars: list[Any] = []
        blank = np.zeros(self.shape + (4,), np.uint8)
        for ax in map_axes:
            image = ax.imshow(blank, origin="lower", extent=extent, interpolation="antialiased",
                              animated=True, zorder=ANIMATED_Z - 1)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            self.images.append(image)
            for (mx, my), kind in zip(maps.minima, maps.minimum_kinds, strict=True):
                inside = extent[0] <= mx <= extent[1] and extent[2] <= my <= extent[3]
                if not inside:
                    continue
                (mark,) = ax.plot([mx], [my], marker="*", markersize=STAR_SIZE.get(kind, 10),
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
