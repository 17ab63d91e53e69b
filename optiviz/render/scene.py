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

A step counter redrawn as text every frame costs a third of a blitted frame (Agg lays out and
rasterizes the string anew); :class:`CachedGlyphText` draws the same line from cached glyphs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from matplotlib.artist import Artist


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

    Each fold costs a full static redraw (F, about 80 ms at 640x480 with contours); each point
    of the moving part about c = 0.2 us per line per frame. Folding every T points costs
    F/T + c*T/2 per frame, least at T = sqrt(2F/c): about 400 points for 5 to 10 lines.
    """

    def __init__(self, ax: Any, x: np.ndarray, y: np.ndarray, *, trail: int | None = None,
                 fold_points: int = 400, zorder: float = ANIMATED_Z, **style: Any):
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


class CachedGlyphText(Artist):
    """A one-line monospace text at a fixed place, drawn from cached glyph bitmaps.

    Laying out and rasterizing a text with Agg costs about 3 ms per draw, a third of a blitted
    frame for a step counter. A counter uses a dozen distinct characters, so each is rasterized
    once (white on transparent: the alpha channel is its coverage) into a cell one advance wide
    (the advance rounded to whole pixels) plus a margin for overhangs; a frame's text is the
    per-pixel maximum of its cells' coverage, coloured and drawn as one image on whole pixels.
    Blitted frames, full redraws and PNG stills all take this path, so they agree pixel for
    pixel; vector renderers (SVG, PDF) get an ordinary text in the same place.

    ``x, y``: the text's top-left corner (top-right with ``align="right"``) in axes fractions,
    or in ``transform``'s coordinates (e.g. ``figure.transFigure``). ``box_color``/``box_alpha``:
    a rounded backing box padded by a quarter of the font size, like ``Text(bbox=...)``.
    """

    def __init__(self, ax: Any, x: float, y: float, *, size: float, color: str,
                 box_color: str | None = None, box_alpha: float = 1.0,
                 family: str = "monospace", align: str = "left", transform: Any = None,
                 zorder: float = ANIMATED_Z, animated: bool = True):
        from matplotlib.font_manager import FontProperties

        if align not in ("left", "right"):
            raise ValueError(f"align must be 'left' or 'right', not {align!r}")
        super().__init__()
        self.anchor = (x, y)
        self.align = align
        self.place = transform
        self.size = size
        self.color = color
        self.box_color = box_color
        self.box_alpha = box_alpha
        self.font = FontProperties(family=family, size=size)
        self.text = ""
        self.glyphs: dict[tuple[float, str], np.ndarray] = {}  # (dpi, char) -> coverage cell
        self.sizes: dict[float, tuple[int, int, int, int]] = {}  # dpi -> metrics
        self.backing: tuple[tuple[float, ...], Any] | None = None  # (extents + dpi, patch)
        self.set_zorder(zorder)
        self.set_animated(animated)
        ax.add_artist(self)

    def set_text(self, text: str) -> None:
        self.text = str(text)
        self.stale = True

    def get_text(self) -> str:
        return self.text

    def metrics(self, dpi: float) -> tuple[int, int, int, int]:
        """``(advance, ascent, descent, margin)`` in whole pixels at ``dpi``."""
        if dpi not in self.sizes:
            pixels = self.size * dpi / 72
            self.sizes[dpi] = (int(round(_text_width(self.font, "0" * 10, dpi) / 10)),
                               int(np.ceil(pixels * 0.8)), int(np.ceil(pixels * 0.25)),
                               int(np.ceil(pixels * 0.25)))
        return self.sizes[dpi]

    def glyph(self, char: str, dpi: float) -> np.ndarray:
        """The coverage (uint8, margin all round) of ``char``, rasterized once per dpi."""
        key = (dpi, char)
        if key not in self.glyphs:
            from matplotlib.backends.backend_agg import RendererAgg

            advance, ascent, descent, margin = self.metrics(dpi)
            renderer = RendererAgg(advance + 2 * margin, ascent + descent + 2 * margin, dpi)
            gc = renderer.new_gc()
            gc.set_foreground((1.0, 1.0, 1.0, 1.0))
            # the renderer's y runs downwards for text: the baseline sits ascent below the top
            renderer.draw_text(gc, margin, margin + ascent, char, self.font, 0)
            gc.restore()
            self.glyphs[key] = np.array(np.asarray(renderer.buffer_rgba())[..., 3])
        return self.glyphs[key]

    def image(self, dpi: float) -> np.ndarray:
        """The text as an RGBA image (margin all round), top row first."""
        from matplotlib.colors import to_rgba

        advance, ascent, descent, margin = self.metrics(dpi)
        coverage = np.zeros((ascent + descent + 2 * margin,
                             advance * len(self.text) + 2 * margin), np.uint8)
        for i, char in enumerate(self.text):
            cell = coverage[:, i * advance: i * advance + advance + 2 * margin]
            np.maximum(cell, self.glyph(char, dpi), out=cell)
        red, green, blue, alpha = to_rgba(self.color)
        image = np.empty(coverage.shape + (4,), np.uint8)
        image[..., :3] = np.round(np.array([red, green, blue]) * 255)
        image[..., 3] = np.round(coverage * alpha).astype(np.uint8)
        return image

    def get_window_extent(self, renderer: Any = None) -> Any:
        """Where the glyphs go, in display pixels: whole pixels, so the cells stay crisp."""
        from matplotlib.transforms import Bbox

        advance, ascent, descent, _ = self.metrics(self.figure.dpi)
        place = self.place if self.place is not None else self.axes.transAxes
        x, y = place.transform(self.anchor)
        width = advance * len(self.text)
        left, top = int(round(x - (width if self.align == "right" else 0))), int(round(y))
        return Bbox.from_extents(left, top - ascent - descent, left + width, top)

    def draw(self, renderer: Any) -> None:
        if not self.get_visible() or not self.text:
            return
        from matplotlib.backends.backend_agg import RendererAgg

        dpi = self.figure.dpi  # what display coordinates are in (72 while saving a PDF)
        box = self.get_window_extent(renderer)
        if self.box_color is not None:
            self.backing_box(box, dpi).draw(renderer)
        if not isinstance(renderer, RendererAgg):
            self.vector_text(box).draw(renderer)
            return
        margin = self.metrics(dpi)[3]
        gc = renderer.new_gc()
        # Agg's draw_image takes the bottom row first
        renderer.draw_image(gc, int(box.x0) - margin, int(box.y0) - margin,
                            self.image(dpi)[::-1])
        gc.restore()
        self.stale = False

    def backing_box(self, box: Any, dpi: float) -> Any:
        from matplotlib.patches import FancyBboxPatch
        from matplotlib.transforms import IdentityTransform

        key = (*box.extents, dpi)
        if self.backing is not None and self.backing[0] == key:
            return self.backing[1]
        pad = 0.25 * self.size * dpi / 72
        patch = FancyBboxPatch((box.x0, box.y0), box.width, box.height,
                               boxstyle=f"round,pad={pad}", facecolor=self.box_color,
                               alpha=self.box_alpha, edgecolor="none",
                               transform=IdentityTransform())
        patch.set_figure(self.figure)
        self.backing = (key, patch)
        return patch

    def vector_text(self, box: Any) -> Any:
        from matplotlib.text import Text
        from matplotlib.transforms import IdentityTransform

        text = Text(box.x0, box.y1, self.text, color=self.color, fontproperties=self.font,
                    ha="left", va="top", transform=IdentityTransform())
        text.set_figure(self.figure)
        return text


def _text_width(font: Any, text: str, dpi: float) -> float:
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, dpi).get_text_width_height_descent(text, font, False)[0]


TITLE_SHRINK = 0.72  # a long title may shrink to this share of its size before it wraps


def _math_terms(formula: str) -> list[str]:
    """A mathtext formula (without its ``$``) cut before each top-level ``+`` / ``-`` (outside
    braces and ``\\left … \\right``), each cut keeping its sign."""
    terms, depth, start, i = [], 0, 0, 0
    while i < len(formula):
        if formula.startswith("\\left", i):
            depth += 1
            i += 5
            continue
        if formula.startswith("\\right", i):
            depth -= 1
            i += 6
            continue
        char = formula[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char in "+-" and depth == 0 and formula[i - 1:i] == " " and i > 0:
            terms.append(formula[start:i].rstrip())
            start = i
        i += 1
    terms.append(formula[start:].strip())
    return [term for term in terms if term]


def _wrapped(text: str, lines: int) -> str:
    """``text`` broken into about ``lines`` lines of equal length: at spaces, or a formula
    (``$…$`` whole) at its top-level ``+``/``-``, each line typeset on its own."""
    import textwrap

    if text.startswith("$") and text.endswith("$") and text.count("$") == 2:
        terms = _math_terms(text[1:-1])
        share = sum(len(term) for term in terms) / lines
        rows: list[list[str]] = [[] for _ in range(lines)]
        done = 0
        for term in terms:  # each term to the line its middle falls on
            rows[min(lines - 1, int((done + len(term) / 2) // share))].append(term)
            done += len(term)
        return "\n".join(f"${' '.join(row)}$" for row in rows if row)
    return textwrap.fill(text, width=max(10, math.ceil(len(text) / lines)))


def fit_title(figure: Any, text: str, *, fontsize: float, margin: float = 0.04,
              **style: Any) -> Any:
    """The figure's title, never wider than the frame: shrunk down to ``TITLE_SHRINK`` of its
    size, then broken into as few lines as fit (a formula at its top-level ``+``/``-``)."""
    title = figure.suptitle(text, fontsize=fontsize, **style)
    renderer = figure.canvas.get_renderer()
    room = figure.bbox.width * (1 - 2 * margin)
    width = title.get_window_extent(renderer).width
    if width <= room:
        return title
    scale = max(TITLE_SHRINK, room / width)
    title.set_fontsize(fontsize * scale)
    for lines in range(2, 5):
        if title.get_window_extent(renderer).width <= room:
            break
        title.set_text(_wrapped(text, lines))
    return title
