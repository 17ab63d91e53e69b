"""Colours and type for light and dark themes, shared by every scene.

Run colours come from the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency); the landscape colour map is a quiet ramp so that the runs stay the loudest thing in
the frame. Scenes read a :class:`Theme` and call :func:`style_axes`; they never hard-code colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def style_axes(ax: Any, theme: Theme, size: float) -> None:
    """Colours, ticks and spines of one 2-D axes in the theme."""
    ax.set_facecolor(theme.panel)
    for spine in ax.spines.values():
        spine.set_color(theme.muted)
        spine.set_linewidth(0.8)
    ax.tick_params(colors=theme.foreground, labelsize=size * 0.85, length=3, width=0.6)
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
