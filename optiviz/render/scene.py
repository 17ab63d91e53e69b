"""The Scene protocol: what one animation shows, frame by frame.

A scene owns a bare :class:`matplotlib.figure.Figure` on a ``FigureCanvasAgg`` (no pyplot) whose
axes limits are fixed. Everything that never moves is an ordinary artist, drawn once into the
cached background; everything that moves is created with ``animated=True`` (so a normal draw
skips it) and a zorder above the static artists of its axes. The frame loop
(:mod:`optiviz.render.animate`) then does, per frame::

    if frame == 0 or scene.restage(frame):   # optional hook, default: never
        draw the figure, cache the background and the pixels under each overlay
    restore the background
    for artist in scene.update(frame): figure.draw_artist(artist)
    restore the overlay pixels
    hand canvas.buffer_rgba() to the writer

A scene must provide ``figure``, ``n_frames`` and ``update(frame)``; it may provide
``restage(frame) -> bool``, called before ``update(frame)`` with non-decreasing frames, to change
static artists (fold finished trails into the background so per-frame cost does not grow, move a
3-D camera) and return True when it did. Stills call ``update(n_frames - 1)`` and save the figure
(saving draws animated artists too).

Optional ``key_colors``: colours (any matplotlib colour) that palette-based writers (GIF) must
keep exact even when they cover few pixels, such as the runs' colours.

Optional ``overlays``: static artists that must stay on top of the moving ones (a legend).
They are drawn once with the background and their pixels pasted back after the moving artists,
which is far cheaper than redrawing a legend per frame. Give them an opaque, square,
borderless frame (Agg snaps it to whole pixels) so that the pasted rectangle is exactly what a
full redraw shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Scene(Protocol):
    figure: Any  # matplotlib.figure.Figure with a FigureCanvasAgg
    n_frames: int

    def update(self, frame: int) -> Sequence[Any]:
        """Move the animated artists to ``frame`` and return them (in drawing order)."""
        ...


def restage(scene: Scene, frame: int) -> bool:
    """Call the scene's optional ``restage`` hook; False when it has none."""
    hook = getattr(scene, "restage", None)
    return bool(hook(frame)) if hook is not None else False


def overlays(scene: Scene) -> list[Any]:
    """The scene's optional overlay artists (empty when it has none)."""
    return list(getattr(scene, "overlays", ()))


def new_figure(width: int, height: int, dpi: int, facecolor: str) -> Any:
    """A bare Agg figure of exactly ``width`` x ``height`` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor=facecolor)
    FigureCanvasAgg(figure)
    return figure


def freeze_layout(figure: Any) -> None:
    """Run the constrained layout once and fix the axes positions, so that later draws (one per
    restage) neither pay for it nor move anything."""
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
        figure.set_layout_engine("none")


# Animated z-order: above every static artist of the same axes, so that a blitted frame draws in
# the same order as a full redraw.
ANIMATED_Z = 10.0


class GrowingLine:
    """A polyline revealed point by point: ``show(stop)`` draws points ``[start, stop)``.

    With no ``trail`` the part already shown is periodically folded into a static twin line
    (``fold``), so the animated part, and so the per-frame cost, stays under ``fold_points``.
    With a ``trail`` of n points only the last n are shown and nothing is folded.
    """

    def __init__(self, ax: Any, x: np.ndarray, y: np.ndarray, *, trail: int | None = None,
                 fold_points: int = 192, zorder: float = ANIMATED_Z, **style: Any):
        from matplotlib.lines import Line2D

        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.trail = trail
        self.fold_points = fold_points
        self.folded = 0  # points [0, folded] live in the static twin
        self.static = Line2D([], [], zorder=zorder - 5, **style)
        self.moving = Line2D([], [], animated=True, zorder=zorder, **style)
        ax.add_line(self.static)
        ax.add_line(self.moving)

    def fold(self, stop: int) -> bool:
        """Move all but the tail of ``[0, stop)`` into the static line when the tail is long."""
        if self.trail is not None or stop - 1 - self.folded < self.fold_points:
            return False
        self.folded = stop - 1
        self.static.set_data(self.x[: self.folded + 1], self.y[: self.folded + 1])
        return True

    def show(self, stop: int) -> Any:
        start = self.folded if self.trail is None else max(0, stop - self.trail)
        self.moving.set_data(self.x[start:stop], self.y[start:stop])
        return self.moving
