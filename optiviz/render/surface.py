"""The 3-D surface view: the function as a shaded surface with the paths on it, a fixed camera
or a slow orbit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.landscape import (
    MAX_RUNS_WITH_LOSS_PANEL,
    domain_of,
    landscape_grid,
    legend_handles,
    run_colors,
    shown_values,
    title_of,
)
from optiviz.render.scene import ANIMATED_Z, new_figure
from optiviz.render.theme import Theme

SURFACE_GRID = 81  # surface samples per axis, every one drawn (striding makes a sawtooth)
SURFACE_FLOOR = 1e-3  # log surfaces plot log10(f - f* + ε), ε this share of the median f - f*
SURFACE_LIFT = 0.012  # paths float this share of the z range above the surface
ORBIT_DEGREES = 120.0  # camera turn over a long animation...
ORBIT_DEGREES_PER_SECOND = 10.0  # ...and never faster than this (a short one turns less)


def shaded_colors(shown: np.ndarray, theme: Theme) -> np.ndarray:
    """RGBA face colours for a surface of heights ``shown``: the contour view's colour map of
    the height, softly hill-shaded from the upper left so that the relief reads in 3-D."""
    from matplotlib.colors import LightSource, Normalize

    norm = Normalize(shown.min(), shown.max())
    light = LightSource(azdeg=315, altdeg=45)
    span = float(np.ptp(shown)) or 1.0
    return light.shade(shown, cmap=theme.colormap(), norm=norm, blend_mode="soft",
                       vert_exag=0.5 * shown.shape[0] / span)


def orbit_turns(frames: int, fps: float) -> np.ndarray:
    """The camera's azimuth offset (degrees) at each frame of an orbit: ``ORBIT_DEGREES`` at
    most, at most ``ORBIT_DEGREES_PER_SECOND`` on average, eased in and out with
    ``(1 - cos(pi t)) / 2`` so that the camera starts and stops without a jolt."""
    if frames <= 1:
        return np.zeros(max(frames, 0))
    total = min(ORBIT_DEGREES, ORBIT_DEGREES_PER_SECOND * (frames - 1) / max(fps, 1e-9))
    t = np.linspace(0.0, 1.0, frames)
    return total * (1.0 - np.cos(np.pi * t)) / 2.0


def fit_axes_3d(ax: Any, region: Any, elev: float, azimuths: Sequence[float]) -> None:
    """Zoom and move the 3-D axes ``ax`` so that everything it draws (box, tick labels, axis
    labels) lies inside ``region`` (a Bbox in figure pixels) for every camera azimuth given.
    Tick labels do not scale with the zoom, so this measures and corrects a few times."""
    from matplotlib.transforms import Bbox

    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    zoom = 1.0
    for _ in range(3):
        boxes = []
        for azim in azimuths:
            ax.view_init(elev=elev, azim=azim)
            boxes.append(ax.get_tightbbox(renderer))
        drawn = Bbox.union(boxes)
        scale = min(region.width / drawn.width, region.height / drawn.height)
        position = ax.get_position()
        dx = (region.x0 + region.x1 - drawn.x0 - drawn.x1) / 2 / figure.bbox.width
        dy = (region.y0 + region.y1 - drawn.y0 - drawn.y1) / 2 / figure.bbox.height
        ax.set_position(position.translated(dx, dy))
        if 0.97 <= scale <= 1.0 and abs(dx) < 1e-3 and abs(dy) < 1e-3:
            break
        zoom *= min(scale * 0.99, 1.25)
        ax.set_box_aspect(None, zoom=zoom)
    ax.view_init(elev=elev, azim=azimuths[0])


class SurfaceScene:
    """The function as a 3-D surface with the paths drawn on it; a fixed camera or a slow orbit.

    Heights are what the contour view colours: ``log10(f - f* + ε)`` for functions spanning
    decades (ε keeps the minimum's well from becoming a one-face spike), ``f`` otherwise. The
    surface is shaded in the contour view's colour map; paths float just above it and are
    drawn after it (no depth sorting), so they stay visible where a hill would hide them.
    The legend and the step counter sit left of the 3-D axes, which are zoomed so that no
    label leaves the frame at any camera angle of the animation.

    With a fixed camera frames are blitted like the contour view's. With ``orbit`` the camera
    moves every frame, so ``restage`` asks for a full redraw of every frame: blitting is
    impossible there, and orbit renders cost a full draw per frame.
    """

    def __init__(self, experiment: Any, trajectories: Any, theme: Theme, size: float):
        from matplotlib.ticker import MaxNLocator
        from matplotlib.transforms import Bbox
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  registers the projection

        render = experiment.render
        self.render = render
        self.steps = select_frames(trajectories.steps, render.frames)
        self.n_frames = len(self.steps)
        self.total_steps = trajectories.steps
        self.turns = orbit_turns(self.n_frames, render.fps) if render.orbit else None
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        function = experiment.function
        title = title_of(experiment)
        if title:
            figure.suptitle(title, color=theme.foreground, fontsize=size * 1.2,
                            fontweight="bold", y=0.985, va="top")

        colors = run_colors(experiment, trajectories, theme)
        self.key_colors = tuple(colors)
        self.color = [colors[int(o)] for o in trajectories.run_optimizer]
        legend = figure.legend(handles=legend_handles(trajectories, self.color, theme),
                               loc="upper left", bbox_to_anchor=(0.0, 0.0), handlelength=1.4,
                               borderpad=0.4, labelspacing=0.3, fancybox=False,
                               framealpha=1.0, ncols=1 + (trajectories.runs - 1) // 12)
        legend.get_frame().set_linewidth(0)  # borderless: snaps to whole pixels (see scene.py)
        renderer = figure.canvas.get_renderer()
        pixels = figure.bbox
        margin = 0.015 * pixels.height
        title_bottom = (figure.texts[0].get_window_extent(renderer).y0 if title
                        else pixels.y1) - margin
        counter_height = 1.6 * size * render.dpi / 72
        legend_box = legend.get_window_extent(renderer)
        legend_top = title_bottom - counter_height
        legend.set_bbox_to_anchor((margin / pixels.width, legend_top / pixels.height))
        region = Bbox.from_extents(legend_box.width + 2 * margin, margin,
                                   pixels.x1 - margin, title_bottom)

        ax = figure.add_axes((region.x0 / pixels.width, region.y0 / pixels.height,
                              region.width / pixels.width, region.height / pixels.height),
                             projection="3d", computed_zorder=False)
        self.ax = ax
        ax.set_facecolor(theme.background)
        ax.patch.set_visible(False)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_pane_color((0, 0, 0, 0))
            axis.label.set_color(theme.foreground)
            axis.line.set_color(theme.muted)
            axis._axinfo["grid"]["color"] = theme.muted
            axis._axinfo["grid"]["linewidth"] = 0.3
        ax.tick_params(colors=theme.foreground, labelsize=size * 0.75, pad=0)

        domain = domain_of(experiment)
        x, y, z, _ = landscape_grid(function, domain, SURFACE_GRID)
        log = bool(getattr(function, "log_scale", False))
        minimum = getattr(function, "minimum", None)
        low = min(float(minimum), float(z.min())) if log and minimum is not None else z.min()
        # ε from the median, not the range: a few huge corners (Beale) must not flatten the
        # floor, and a narrow log valley (Rosenbrock) must not become a row of spikes
        floor = SURFACE_FLOOR * float(np.median(z - low)) / max(float(z.max() - low), 1e-300)
        shown = shown_values(z, log, low, z.max(), floor=floor)
        ax.plot_surface(x, y, shown, facecolors=shaded_colors(shown, theme), linewidth=0,
                        antialiased=False, rcount=SURFACE_GRID, ccount=SURFACE_GRID,
                        shade=False, zorder=1)
        (x0, x1), (y0, y1) = domain
        z0, z1 = float(shown.min()), float(shown.max())
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_zlim(z0, z1)
        ax.set_xlabel(getattr(function, "xlabel", "x") or "x", fontsize=size * 0.85, labelpad=0)
        ax.set_ylabel(getattr(function, "ylabel", "y") or "y", fontsize=size * 0.85, labelpad=0)
        z_label = ("f" if not log else "log₁₀(f − f*)" if minimum is not None
                   else "log₁₀(f − min f)")
        ax.set_zlabel(z_label, fontsize=size * 0.85, labelpad=2)
        ticks = 4 if region.width < 600 else 5  # more collide at the shared corner
        ax.xaxis.set_major_locator(MaxNLocator(nbins=ticks))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=ticks))
        ax.zaxis.set_major_locator(MaxNLocator(nbins=5, integer=log))

        heights = shown_values(trajectories.loss, log, low, z.max(), floor=floor)
        heights = np.clip(heights, z0, z1) + SURFACE_LIFT * (z1 - z0)
        positions = trajectories.positions
        inside = ((positions[..., 0] >= x0) & (positions[..., 0] <= x1)
                  & (positions[..., 1] >= y0) & (positions[..., 1] <= y1))
        self.xyz = np.stack([positions[..., 0], positions[..., 1],
                             np.where(inside, heights, np.nan)], axis=-1)
        self.diverged_step = trajectories.diverged_step
        self.trail = render.trail
        self.lines, self.heads, self.crosses = [], [], []
        line_width = 1.6 if trajectories.runs <= MAX_RUNS_WITH_LOSS_PANEL else 1.0
        for r in range(trajectories.runs):
            color = self.color[r]
            start = self.xyz[r, 0]
            if np.isfinite(start).all():
                ax.plot([start[0]], [start[1]], [start[2]], marker="o", markersize=6,
                        markerfacecolor="none", markeredgecolor=color, markeredgewidth=1.4,
                        linestyle="none", zorder=4)
            (line,) = ax.plot([], [], [], color=color, linewidth=line_width, animated=True,
                              solid_capstyle="round", solid_joinstyle="round",
                              path_effects=theme.halo(color, line_width), zorder=ANIMATED_Z)
            (head,) = ax.plot([], [], [], marker="o", markersize=6, color=color,
                              markeredgecolor=theme.marker_edge_for(color), linestyle="none",
                              animated=True, zorder=ANIMATED_Z + 1)
            last = self.last_shown(r)
            (cross,) = ax.plot([last[0]], [last[1]], [last[2]], marker="X", markersize=10,
                               color=color, markeredgecolor=theme.background,
                               markeredgewidth=1.1, linestyle="none", animated=True,
                               zorder=ANIMATED_Z + 2, visible=False)
            self.lines.append(line)
            self.heads.append(head)
            self.crosses.append(cross)
        # a child of the 3-D axes placed in figure coordinates, so that stills draw it too
        self.counter = ax.text2D(margin / pixels.width, title_bottom / pixels.height, "",
                                 transform=figure.transFigure, ha="left", va="top",
                                 animated=True, fontsize=size * 0.9, family="monospace",
                                 color=theme.foreground, zorder=ANIMATED_Z + 3)
        azimuths = render.azim + (np.linspace(0, self.turns[-1], 5) if self.turns is not None
                                  and self.turns.size else np.zeros(1))
        fit_axes_3d(ax, region, render.elev, list(azimuths))
        self.overlays = [legend]


    def last_shown(self, run: int) -> np.ndarray:
        """Where a diverged run's ✕ goes: its last point on the map (the start if none)."""
        finite = np.flatnonzero(np.isfinite(self.xyz[run]).all(axis=1))
        return self.xyz[run, finite[-1] if finite.size else 0]

    def restage(self, frame: int) -> bool:
        """Turn the camera for ``frame`` when orbiting; every orbit frame is a full redraw."""
        if self.turns is None:
            return False
        self.ax.view_init(elev=self.render.elev, azim=self.render.azim + self.turns[frame])
        return True

    def update(self, frame: int) -> Sequence[Any]:
        step = int(self.steps[frame])
        start = 0 if self.trail is None else max(0, step + 1 - self.trail)
        for r, (line, head, cross) in enumerate(zip(self.lines, self.heads, self.crosses,
                                                    strict=True)):
            path = self.xyz[r, start: step + 1]
            line.set_data_3d(path[:, 0], path[:, 1], path[:, 2])
            point = self.xyz[r, step: step + 1]
            head.set_data_3d(point[:, 0], point[:, 1], point[:, 2])
            head.set_visible(bool(np.isfinite(point).all()))
            cross.set_visible(bool(0 <= self.diverged_step[r] <= step))
        width = len(str(self.total_steps))
        self.counter.set_text(f"step {step:>{width}d}/{self.total_steps}")
        # in zorder, as a full redraw draws them: every line, then every head, then the crosses
        return [*self.lines, *self.heads, *self.crosses, self.counter]
