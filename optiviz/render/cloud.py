"""The many-starts view: one map per optimizer with its runs as a particle cloud, and the
share of particles gathered at each known minimum."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.landscape import (
    domain_of,
    draw_map,
    grid_points,
    landscape_grid,
    run_colors,
    title_of,
)
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, freeze_layout, new_figure
from optiviz.render.theme import Theme, style_axes


class CloudScene:
    """Many starts: one subplot per optimizer, each run a particle (no lines)."""

    def __init__(self, experiment: Any, trajectories: Any, theme: Theme, size: float):
        render = experiment.render
        self.steps = select_frames(trajectories.steps, render.frames)
        self.n_frames = len(self.steps)
        self.total_steps = trajectories.steps
        self.positions = trajectories.positions
        self.diverged_step = trajectories.diverged_step
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        figure.set_layout_engine("constrained", h_pad=0.05, w_pad=0.05)
        groups = np.unique(trajectories.run_optimizer)
        columns = max(1, round(math.sqrt(len(groups) * render.width / render.height / 1.2)))
        columns = min(columns, len(groups))
        rows = math.ceil(len(groups) / columns)
        colors = run_colors(experiment, trajectories, theme)
        self.key_colors = tuple(colors)
        domain = domain_of(experiment)
        grid = landscape_grid(experiment.function, domain, grid_points(render) // 2 + 40)
        title = title_of(experiment)
        if title:
            figure.suptitle(title, color=theme.foreground, fontsize=size * 1.2,
                            fontweight="bold")
        self.groups: list[tuple[np.ndarray, Any, Any]] = []
        self.tallies: list[list[tuple[np.ndarray, Any]]] = []
        (x0, x1), (y0, y1) = domain
        self.catch_radius = CATCH_RADIUS * math.hypot(x1 - x0, y1 - y0)
        marker_size = 3.5 if trajectories.runs / len(groups) <= 200 else 2.5
        for i, group in enumerate(groups):
            ax = figure.add_subplot(rows, columns, i + 1)
            style_axes(ax, theme, size * 0.9)
            draw_map(ax, experiment, grid, theme, point_scale=0.8, hollow=True)
            runs = np.flatnonzero(trajectories.run_optimizer == group)
            ax.set_title(str(trajectories.label[runs[0]]), fontsize=size, pad=3,
                         color=theme.foreground)
            if i % columns:
                ax.tick_params(labelleft=False)
            if i < len(groups) - columns:
                ax.tick_params(labelbottom=False)
            (cloud,) = ax.plot([], [], marker="o", markersize=marker_size, linestyle="none",
                               color=colors[int(group)], markeredgecolor=theme.foreground,
                               markeredgewidth=0.25, animated=True, zorder=ANIMATED_Z)
            status = ax.text(0.03, 0.03, "", transform=ax.transAxes, ha="left", va="bottom",
                             fontsize=size * 0.8, color=theme.foreground, animated=True,
                             zorder=ANIMATED_Z + 1,
                             bbox={"boxstyle": "round,pad=0.2", "facecolor": theme.panel,
                                   "alpha": 0.85, "edgecolor": "none"})
            self.groups.append((runs, cloud, status))
            self.tallies.append(minimum_tallies(ax, experiment, theme, size))
        freeze_layout(figure)
        # the step counter sits in the figure's top-right corner, level with the title, off
        # every map (a corner of a map may hold a minimum and its tally)
        # (a child of the first map, so that stills draw it too)
        self.counter = CachedGlyphText(self.groups[0][1].axes, 0.995, 0.995, size=size * 0.85,
                                       color=theme.foreground, align="right",
                                       transform=figure.transFigure, zorder=ANIMATED_Z + 2)

    def update(self, frame: int) -> Sequence[Any]:
        step = int(self.steps[frame])
        artists: list[Any] = []
        for runs, cloud, status in self.groups:
            points = self.positions[runs, step]
            cloud.set_data(points[:, 0], points[:, 1])
            lost = int(np.count_nonzero((self.diverged_step[runs] >= 0)
                                        & (self.diverged_step[runs] <= step)))
            status.set_text(f"{lost}/{len(runs)} diverged ✕" if lost else "")
            status.set_visible(bool(lost))
            artists += [cloud, status]
        for (runs, _, _), tallies in zip(self.groups, self.tallies, strict=True):
            points = self.positions[runs, step]
            for where, label in tallies:
                near = np.hypot(points[:, 0] - where[0], points[:, 1] - where[1])
                caught = int(np.count_nonzero(near <= self.catch_radius))
                label.set_text(f"{caught / len(runs):.0%}")
                label.set_visible(caught > 0)
                artists.append(label)
        width = len(str(self.total_steps))
        self.counter.set_text(f"step {step:>{width}d}/{self.total_steps}")
        artists.append(self.counter)
        return artists


CATCH_RADIUS = 0.025  # particles this close to a minimum (times the map's diagonal) count as in it


def minimum_tallies(ax: Any, experiment: Any, theme: Theme,
                    size: float) -> list[tuple[np.ndarray, Any]]:
    """One animated label per known minimum on the map, beside its marker: the share of the
    panel's particles gathered there (hundreds of particles on one spot look like one)."""
    from matplotlib.transforms import offset_copy

    (x0, x1), (y0, y1) = domain_of(experiment)
    beside = offset_copy(ax.transData, fig=ax.figure, x=6, y=5, units="points")
    tallies = []
    for point in getattr(experiment.function, "points", ()):
        if "minimum" not in point.kind or not (x0 <= point.x <= x1 and y0 <= point.y <= y1):
            continue
        label = ax.text(point.x, point.y, "", transform=beside, ha="left", va="bottom",
                        fontsize=size * 0.72, fontweight="bold", color=theme.foreground,
                        animated=True, zorder=ANIMATED_Z + 1, clip_on=True,
                        bbox={"boxstyle": "round,pad=0.15", "facecolor": theme.panel,
                              "alpha": 0.8, "edgecolor": "none"})
        tallies.append((np.array([point.x, point.y]), label))
    return tallies
