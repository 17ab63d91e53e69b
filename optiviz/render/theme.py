"""Colours and type for light and dark themes, shared by every scene.

Run colours come from the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency); the landscape colour map is a quiet ramp so that the runs stay the loudest thing in
the frame. Scenes read a :class:`Theme` and call :func:`style_axes`; they never hard-code colours.
A log axis gets :func:`log_ticks`: labels chosen to fit its length, never two touching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.ticker import Formatter, Locator, LogLocator, MaxNLocator, NullFormatter

from optiviz.errors import ConfigError

# Okabe & Ito (2008), "Color Universal Design"; yellow last: it is the weakest on white.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
# Beyond seven runs: Paul Tol's dark colours from his colour-blind-safe "muted" scheme, so the
# first twelve runs (the loss panel's limit) never share a colour.
TOL_EXTRA = ("#332288", "#882255", "#999933", "#44AA99", "#AA4499")
TOL_EXTRA_DARK = ("#CC6677", "#DDCC77", "#44AA99", "#AA4499", "#A6D854")


HALO_MIN_CONTRAST = 2.0  # WCAG contrast ratio below which a run's line gets an outline


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of a matplotlib colour, 0 (black) to 1 (white)."""
    from matplotlib.colors import to_rgb

    channels = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                for c in to_rgb(color)]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 (same lightness) to 21 (black on white)."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class Theme:
    """Everything a scene needs to colour a figure."""

    name: str
    background: str  # figure face
    panel: str  # axes face
    foreground: str  # text, ticks, spines
    muted: str  # grid, secondary text
    landscape: tuple[str, ...]  # colour-map stops, low values first
    contour_line: str
    runs: tuple[str, ...]
    marker_face: str  # known minima, saddles
    marker_edge: str

    def colormap(self) -> Any:
        from matplotlib.colors import LinearSegmentedColormap

        return LinearSegmentedColormap.from_list(f"optiviz-{self.name}", self.landscape)

    def halo(self, color: str, width: float) -> list[Any] | None:
        """Path effects for a line of ``color``: a thin outline in the theme's foreground when
        the colour is too close to the map's lightness to stand out on its own (yellow on the
        light map), None otherwise."""
        if self.marker_edge_for(color) == self.background:
            return None
        from matplotlib import patheffects

        return [patheffects.Stroke(linewidth=width + 1.6, foreground=self.contour_line),
                patheffects.Normal()]

    def marker_edge_for(self, color: str) -> str:
        """The edge of a run's markers: the halo's colour where the line gets one (a marker
        of a faint colour needs the outline too), the background otherwise."""
        if contrast(color, self.landscape[0]) >= HALO_MIN_CONTRAST:
            return self.background
        return self.contour_line

    def run_colors(self, count: int, chosen: list[str | None] | None = None) -> list[str]:
        """``count`` colours: the user's where given, the palette in order otherwise (cycling)."""
        chosen = list(chosen or []) + [None] * count
        palette = iter(self.runs * (count // len(self.runs) + 1))
        return [c if c else next(palette) for c in chosen[:count]]


THEMES = {
    "light": Theme(
        name="light",
        background="#ffffff",
        panel="#ffffff",
        foreground="#222222",
        muted="#8a8f98",
        landscape=("#f7f9fc", "#dfe7f1", "#b9c8da", "#8ea3bd"),
        contour_line="#5f6f84",
        runs=OKABE_ITO + TOL_EXTRA,
        marker_face="#ffffff",
        marker_edge="#222222",
    ),
    "dark": Theme(
        name="dark",
        background="#14171c",
        panel="#14171c",
        foreground="#e6e6e6",
        muted="#7d8590",
        landscape=("#151a22", "#1e2835", "#2c3b4f", "#44586f"),
        contour_line="#8fa3ba",
        runs=("#56B4E9", "#E69F00", "#2FCB9A", "#FF7A45", "#E58CC0", "#F0E442", "#B9A5FF")
        + TOL_EXTRA_DARK,
        marker_face="#14171c",
        marker_edge="#f0f0f0",
    ),
}


def get_theme(name: str) -> Theme:
    """The theme called ``name`` (``light`` or ``dark``)."""
    if name not in THEMES:
        from optiviz.errors import closest

        guess = closest(name, THEMES)
        raise ConfigError(f"unknown theme {name!r}", ("render", "theme"),
                          suggestion=guess[0] if guess else None)
    return THEMES[name]


def font_size(width: int, height: int, dpi: float = 100) -> float:
    """Base font size in points for a frame of ``width`` x ``height`` pixels: about 10 pt at
    640x480 and 100 dpi, growing slowly with the frame so that text stays legible in slides.
    Text keeps its size in pixels whatever the dpi (points are 1/72 inch)."""
    at_100_dpi = max(7.0, min(14.0, 0.0205 * min(width, 1.33 * height) + 0.5))
    return at_100_dpi * 100 / dpi


TICK_LENGTH = 3.0  # points
X_LABEL_DROP = 0.9  # x tick labels start this many font sizes below the axes


def style_axes(ax: Any, theme: Theme, size: float) -> None:
    """Colours, ticks and spines of one 2-D axes in the theme."""
    ax.set_facecolor(theme.panel)
    for spine in ax.spines.values():
        spine.set_color(theme.muted)
        spine.set_linewidth(0.8)
    label_size = size * 0.85
    # which="both": a minor label (a log axis labels some) is never larger than a major one
    ax.tick_params(which="both", colors=theme.foreground, labelsize=label_size, width=0.6)
    ax.tick_params(which="major", length=TICK_LENGTH)
    ax.tick_params(which="minor", length=TICK_LENGTH * 0.6)
    # A y label is centred on its tick, so the lowest one reaches ~0.8 em below the axes; the
    # x labels start that far below them too, or the two at the corner overlap.
    ax.tick_params(axis="x", which="both",
                   pad=max(3.5, X_LABEL_DROP * label_size - TICK_LENGTH))
    ax.xaxis.label.set_color(theme.foreground)
    ax.yaxis.label.set_color(theme.foreground)
    ax.xaxis.label.set_size(size)
    ax.yaxis.label.set_size(size)
    ax.title.set_color(theme.foreground)
    ax.title.set_size(size)


def rc_params(theme: Theme, size: float) -> dict[str, Any]:
    """Matplotlib settings scenes are built under (fonts, text colour)."""
    return {
        "font.size": size,
        "text.color": theme.foreground,
        "axes.labelcolor": theme.foreground,
        "legend.fontsize": size * 0.85,
        "legend.frameon": True,
        "legend.framealpha": 0.9,
        "legend.facecolor": theme.panel,
        "legend.edgecolor": theme.muted,
        "legend.labelcolor": theme.foreground,
        "path.simplify": False,  # keep every step of every path
        "svg.hashsalt": "optiviz",
    }


# log axes ----------------------------------------------------------------------------------------

# Mantissas labelled within a decade, sparsest first: 1; 1 3; 1 2 5; 1 2 3 5; every integer.
LOG_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0),
                 (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0))
PLAIN_LOG_RANGE = (1e-3, 1e5)  # labels inside this range are written as plain numbers
LABEL_GAP = 0.5  # the least space between two tick labels, in multiples of their font size


def log_ticks(axis: Any) -> None:
    """Tick a log ``axis`` so that its labels are legible: only major ticks carry labels
    (unlabelled minor ticks at the integers of each decade), chosen by :class:`FittingLogLocator`
    so that no two labels touch, and written as plain numbers (0.5, 2, 300) where every label
    lies in ``PLAIN_LOG_RANGE``, as powers of ten (10⁻⁴, 2×10⁻⁵) otherwise. Call it after
    ``set_xscale("log")``/``set_yscale("log")`` (which reset the tickers)."""
    axis.set_major_locator(FittingLogLocator())
    axis.set_major_formatter(LogLabelFormatter())
    axis.set_minor_locator(LogLocator(subs=LOG_MANTISSAS[-1][1:], numticks=120))
    axis.set_minor_formatter(NullFormatter())


class LogLabelFormatter(Formatter):
    """Plain numbers (0.3, 20, 1000) when every labelled tick lies in ``PLAIN_LOG_RANGE``,
    powers of ten (10⁻⁶, 2×10⁻⁵) otherwise: one style per axis, never a mixture."""

    plain = True

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        low, high = PLAIN_LOG_RANGE
        self.plain = all(low <= v < high for v in locs if v > 0)

    def __call__(self, x: float, pos: int | None = None) -> str:
        if x <= 0 or not math.isfinite(x):
            return ""
        if self.plain:
            return f"{x:g}"
        exponent = math.floor(math.log10(x) + 1e-9)
        mantissa = round(x / 10.0**exponent, 6)
        if mantissa >= 10:  # 9.9999999 rounded up
            mantissa, exponent = mantissa / 10, exponent + 1
        power = f"10^{{{exponent}}}"
        if mantissa == 1:
            return f"$\\mathdefault{{{power}}}$"
        return f"$\\mathdefault{{{mantissa:g}\\times{power}}}$"


class FittingLogLocator(Locator):
    """Labelled ticks of a log axis whose labels, at the axis's font size and length, keep
    ``LABEL_GAP`` font sizes apart. Over several decades: decades, every k-th one when they
    crowd. Within a decade or two: the sparsest of ``LOG_MANTISSAS`` that gives three labels,
    or the densest that fits when none does. Within less than one step of even those (1.1 to
    1.8): evenly spaced plain numbers."""

    def __call__(self) -> Any:
        low, high = sorted(self.axis.get_view_interval())
        # a layout asks many times for the same axis: answer from the last identical question
        box = self.axis.axes.bbox
        question = (low, high, box.width, box.height, self.axis.get_figure(root=True).dpi,
                    _label_font(self.axis).get_size_in_points())
        if getattr(self, "_last", (None,))[0] != question:
            self._last = (question, self.tick_values(low, high))
        return self._last[1].copy()

    def tick_values(self, vmin: float, vmax: float) -> Any:
        low, high = sorted((float(vmin), float(vmax)))
        if not (high > 0 and np.isfinite(high)):
            return np.array([])
        low = max(low, high * 1e-300)
        for ticks in self._candidates(low, high):
            if self._fits(ticks, low, high):
                return ticks
        # nothing fits (a very short axis): the one tick nearest the middle
        ticks = next((t for t in self._candidates(low, high) if len(t)), np.array([]))
        if len(ticks):
            middle = np.sqrt(low * high)
            return ticks[[int(np.argmin(np.abs(np.log(ticks / middle))))]]
        return ticks

    def _candidates(self, low: float, high: float) -> Any:
        """Tick sets, most preferred first."""
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))

        def inside(values: Any) -> Any:
            values = np.asarray(values, dtype=float)
            tolerance = 1e-9 * values
            return values[(values >= low - tolerance) & (values <= high + tolerance)]

        decades = inside([10.0**k for k in range(first, last + 1)])
        if len(decades) >= 3:
            for stride in range(1, len(decades)):
                exponents = [k for k in range(first, last + 1) if k % stride == 0]
                yield inside([10.0**k for k in exponents])
            return
        sets = [inside([m * 10.0**k for k in range(first, last + 1) for m in mantissas])
                for mantissas in LOG_MANTISSAS]
        enough = [ticks for ticks in sets if len(ticks) >= 3]
        yield from enough
        yield from reversed([ticks for ticks in sets if len(ticks) < 3 and len(ticks) >= 2])
        for bins in (5, 4, 3, 2):
            linear = MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
            yield inside(linear[linear > 0])
        yield from (ticks for ticks in sets if len(ticks) == 1)

    def _fits(self, ticks: Any, low: float, high: float) -> bool:
        if len(ticks) == 0:
            return False
        if len(ticks) == 1:
            return True
        labels = self.axis.major.formatter.format_ticks(list(ticks))
        size = _label_font(self.axis)
        figure = self.axis.get_figure(root=True)
        scale = figure.dpi / 72.0
        vertical = self.axis.axis_name == "y"
        box = self.axis.axes.bbox
        length = box.height if vertical else box.width
        position = (np.log(ticks) - np.log(low)) / (np.log(high) - np.log(low)) * length
        extent = np.array([_label_extent(label, size, vertical) for label in labels]) * scale
        gap = LABEL_GAP * size.get_size_in_points() * scale
        needed = 0.5 * (extent[1:] + extent[:-1]) + gap
        return bool(np.all(np.diff(position) >= needed))


def _label_font(axis: Any) -> Any:
    """The font of ``axis``'s major tick labels."""
    return axis.majorTicks[0].label1.get_fontproperties()  # (created once, then kept)


def _label_extent(label: str, font: Any, vertical: bool) -> float:
    """The size of a tick label along its axis, in points: its width on a horizontal axis, its
    height (at least one line) on a vertical one."""
    from matplotlib.textpath import text_to_path

    mathtext = label.count("$") >= 2
    width, height, _ = text_to_path.get_text_width_height_descent(label, font, ismath=mathtext)
    if vertical:
        return max(height, font.get_size_in_points())
    return width


# Ordered sweeps (``lr: [1e-4, 1e-3, 1e-2]``): perceptual ramps, one per sweep in a figure.
# Viridis first (hue and lightness both change: the most steps told apart); then single-hue
# ramps whose hues stay clear of viridis's and of each other.
SWEEP_COLORMAPS = ("viridis", "Oranges", "RdPu", "Greys")
SWEEP_MIN_CONTRAST = 2.0  # the part of a ramp used: at least this WCAG contrast to the background


def sweep_colors(theme: Theme, count: int, sweep: int = 0) -> list[str]:
    """``count`` colours for the values of an ordered sweep, smallest value first: evenly
    spaced along a perceptual ramp, ordered light to dark, from the part of the ramp that stands
    out from the theme's background (viridis's yellow end vanishes on white, its purple end on
    the dark theme). ``sweep`` numbers the sweeps of one figure, each with its own ramp."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import to_hex

    ramp = matplotlib.colormaps[SWEEP_COLORMAPS[sweep % len(SWEEP_COLORMAPS)]]
    samples = np.linspace(0.0, 1.0, 256)
    visible = np.array([contrast(to_hex(ramp(s)), theme.background) >= SWEEP_MIN_CONTRAST
                        for s in samples])
    # the longest run of visible samples
    edges = np.flatnonzero(np.diff(np.concatenate([[0], visible.astype(int), [0]])))
    starts, stops = edges[::2], edges[1::2]
    longest = int(np.argmax(stops - starts))
    low, high = samples[starts[longest]], samples[stops[longest] - 1]
    if relative_luminance(to_hex(ramp(low))) < relative_luminance(to_hex(ramp(high))):
        low, high = high, low  # light first
    return [to_hex(ramp(s)) for s in np.linspace(low, high, max(count, 1))][:count]
