"""The newest point of a growing curve, always on show.

A curve that is one point long draws nothing, and one whose newest value lies beyond its
panel's y limits (an early estimate far from the truth the panel is scaled to, a KL of exactly
0 on a log axis) leaves the panel without a trace: the readout says a number the picture does
not show. :class:`CurveHeads` marks each curve's newest point with a dot where it lies inside
the panel, and with a ▲ or ▼ on the top or bottom edge, at its x (each curve's a few points
aside, so that two never stack into one), where it lies above or below.
The panel's key gets one entry for the edge marks, only if some frame needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.scene import ANIMATED_Z
from optiviz.render.theme import Theme


def key_with(ax: Any, legend: Any, handle: Any, **style: Any) -> Any:
    """``ax``'s key ``legend`` made again in its place with one more entry, ``handle`` (its
    label is the entry's text); ``style``: the key's own (a new legend takes none of the old)."""
    handles = [*legend.legend_handles, handle]
    labels = [t.get_text() for t in legend.get_texts()] + [handle.get_label()]
    return ax.legend(handles, labels, loc=legend._loc, **style)


class CurveHeads:
    """Heads for ``len(colors)`` curves of one panel. Call :meth:`update` each frame with each
    curve's newest ``(x, y)``; ``values`` (curves × anything) is every y a curve will take, to
    tell whether some frame needs an edge mark (:attr:`ever_beyond`). Decide the panel's y
    limits first: a head is beyond the limits the axes have when it is drawn."""

    LABEL = "newest value beyond the panel"

    def __init__(self, ax: Any, colors: Sequence[str], theme: Theme,
                 values: Sequence[np.ndarray] = (), *, label: str | None = None,
                 dots: bool = True):
        self.ax = ax
        self.show_dots = dots  # False: only the edge marks (a curve's peak, not its head)
        self.label = label or self.LABEL
        self.theme = theme
        self.values = [np.asarray(v, dtype=float) for v in values]
        self.dots = []
        self.edges = []
        from matplotlib.transforms import offset_copy

        for index, color in enumerate(colors):
            # curves beyond the same edge at the same x would stack their marks into one:
            # each curve's mark sits a few points aside of the others'
            aside = (index - (len(colors) - 1) / 2) * 6.0
            edge_transform = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=aside,
                                         units="points")
            (dot,) = ax.plot([], [], "o", markersize=4.5, color=color,
                             markeredgecolor=theme.background, markeredgewidth=0.6,
                             animated=True, zorder=ANIMATED_Z + 2)
            (edge,) = ax.plot([], [], linestyle="none", markersize=7, color=color,
                              markeredgecolor=theme.foreground, markeredgewidth=0.7,
                              transform=edge_transform, clip_on=False,
                              animated=True, zorder=ANIMATED_Z + 3)
            dot.set_in_layout(False)
            edge.set_in_layout(False)
            self.dots.append(dot)
            self.edges.append(edge)

    def sides(self, y: Any) -> np.ndarray:
        """Per value: -1 below the panel (-inf; 0 or less on a log axis, whose lower limit is
        positive), +1 above (+inf), 0 inside; a NaN is nowhere (0)."""
        y = np.asarray(y, dtype=float)
        low, high = sorted(self.ax.get_ylim())
        with np.errstate(invalid="ignore"):
            return np.where(y < low, -1, np.where(y > high, 1, 0))

    @property
    def ever_beyond(self) -> bool:
        return any(np.any(self.sides(v) != 0) for v in self.values)

    def handle(self) -> Any:
        """The key's entry for the edge marks: a ▲ (a ▼ where no curve is ever above)."""
        from matplotlib.lines import Line2D

        above = any(np.any(self.sides(v) > 0) for v in self.values)
        return Line2D([], [], marker="^" if above else "v", markersize=7, linestyle="none",
                      color=self.theme.muted, markeredgecolor=self.theme.foreground,
                      markeredgewidth=0.7, label=self.label)

    def add_to_key(self, legend: Any, **style: Any) -> Any:
        """``legend`` (or a new key, if None) with the edge marks' entry, when some frame needs
        it; the legend unchanged otherwise."""
        if not self.ever_beyond:
            return legend
        if legend is None:
            return self.ax.legend(handles=[self.handle()], **style)
        return key_with(self.ax, legend, self.handle(), **style)

    def update(self, points: Sequence[tuple[float, float]]) -> list[Any]:
        """Place each curve's head at its newest ``(x, y)``; the artists to draw."""
        for (x, y), dot, edge in zip(points, self.dots, self.edges, strict=True):
            side = int(self.sides(y))
            if side == 0:  # inside, or a NaN: nothing to mark
                shown = bool(np.isfinite(y)) and self.show_dots
                dot.set_data([x] if shown else [], [y] if shown else [])
                edge.set_data([], [])
            else:
                dot.set_data([], [])
                edge.set_marker("^" if side > 0 else "v")
                edge.set_data([x], [0.985 if side > 0 else 0.015])
        return [*self.dots, *self.edges]
