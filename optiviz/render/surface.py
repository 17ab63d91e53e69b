"""The 3-D surface view: the function as a shaded surface with the paths drawn on it, a fixed
camera or a slow orbit, and the loss / lr panels beside it like the contour view's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.landscape import (
    ARROW_SIZE,
    MAX_RUNS_WITH_LOSS_PANEL,
    POINT_MARKERS,
    arrow_marker,
    chosen_panels,
    domain_of,
    key_handles,
    landscape_grid,
    legend_below,
    run_colors,
    runs_text,
    shown_values,
    side_panels,
    start_styles,
    title_of,
)
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, fit_title, new_figure
from optiviz.render.theme import Theme, style_axes

SURFACE_GRID = 81  # surface samples per axis, every one drawn (striding makes a sawtooth)
ORBIT_GRID = 57  # an orbit redraws the whole surface every frame: half the faces
ORBIT_MAX_FRAMES = 150  # an orbit's default frame count (every frame is a full redraw)
BOX_ASPECT = (4.0, 4.0, 2.6)  # x, y, z: flatter than mplot3d's 4:4:3, a wider box on the slide
SURFACE_FLOOR = 1e-3  # log surfaces plot log10(f - f* + ε), ε this share of the median f - f*
SURFACE_LIFT = 0.004  # paths and marks sit this share of the z range above the surface
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


def drawn_box_3d(ax: Any, renderer: Any) -> Any:
    """What the 3-D axes ``ax`` draws at its current camera, in figure pixels: its three axes
    (lines, tick labels, labels) and the data box's corners (the grid lines on the back panes
    reach them). Not the 2-D axes rectangle, which a zoomed box overflows or underfills."""
    import itertools

    from matplotlib.transforms import Bbox
    from mpl_toolkits.mplot3d import proj3d

    ax.apply_aspect()
    ax.M = ax.get_proj()  # what a draw would set: measuring needs this camera's projection
    ax.invM = np.linalg.inv(ax.M)
    boxes = [axis.get_tightbbox(renderer) for axis in (ax.xaxis, ax.yaxis, ax.zaxis)]
    corners = np.array(list(itertools.product(ax.get_xlim(), ax.get_ylim(), ax.get_zlim())))
    x, y, _ = proj3d.proj_transform(corners[:, 0], corners[:, 1], corners[:, 2], ax.M)
    pixels = ax.transData.transform(np.column_stack([x, y]))
    boxes.append(Bbox.from_extents(*pixels.min(axis=0), *pixels.max(axis=0)))
    return Bbox.union([box for box in boxes if box is not None])


def fit_axes_3d(ax: Any, region: Any, elev: float, azimuths: Sequence[float], *,
                zoom: float = 1.0) -> tuple[Any, float]:
    """Zoom and move the 3-D axes ``ax`` so that everything it draws (box, tick labels, axis
    labels) fills ``region`` (a Bbox in figure pixels) and stays inside it for every camera
    azimuth given. Tick labels do not scale with the zoom, so this measures and corrects until
    the drawing fills 96-100 % of the region along its tighter side, starting from ``zoom``
    (a good guess saves measuring: each costs a few tick-label layouts per azimuth). Returns
    the drawing's box (the union over the azimuths) and the zoom."""
    from matplotlib.transforms import Bbox

    figure = ax.figure
    renderer = figure.canvas.get_renderer()

    def drawn() -> Any:
        boxes = []
        for azim in azimuths:
            ax.view_init(elev=elev, azim=azim)
            boxes.append(drawn_box_3d(ax, renderer))
        return Bbox.union(boxes)

    ax.set_box_aspect(BOX_ASPECT, zoom=zoom)
    for _ in range(12):
        box = drawn()
        scale = min(region.width / box.width, region.height / box.height)
        if 0.96 <= scale <= 1.0:
            break
        zoom *= min(scale * 0.99, 2.0)
        ax.set_box_aspect(BOX_ASPECT, zoom=zoom)
    for _ in range(12):  # never leave it larger than the region
        if scale >= 1.0:
            break
        zoom *= scale * 0.985
        ax.set_box_aspect(BOX_ASPECT, zoom=zoom)
        box = drawn()
        scale = min(region.width / box.width, region.height / box.height)
    dx = (region.x0 + region.x1 - box.x0 - box.x1) / 2 / figure.bbox.width
    dy = (region.y0 + region.y1 - box.y0 - box.y1) / 2 / figure.bbox.height
    ax.set_position(ax.get_position().translated(dx, dy))
    ax.view_init(elev=elev, azim=azimuths[0])
    drawn_box_3d(ax, renderer)
    return box.translated(dx * figure.bbox.width, dy * figure.bbox.height), zoom


def legend_beside(figure: Any, handles: list[Any], style: dict[str, Any]) -> Any:
    """A figure legend right of everything, centred on the height (clear of the title), in
    the fewest columns whose height fits the figure."""
    renderer = figure.canvas.get_renderer()
    for columns in range(1, len(handles) + 1):
        legend = figure.legend(handles=handles, loc="outside right center", ncols=columns,
                               **style)
        if (columns == len(handles)
                or legend.get_window_extent(renderer).height <= 0.85 * figure.bbox.height):
            return legend
        legend.remove()
    raise ValueError("a legend needs at least one entry")


def surface_heights(grid: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Heights of the drawn surface at points ``(x, y)``: the grid's heights interpolated
    bilinearly within each face, so that a path drawn at them lies on the faces (not at the
    true value, which between samples can sit far below a coarse face: Rosenbrock's narrow
    valley); NaN outside the grid or where the point is not finite."""
    xs, ys, shown = grid[0][0], grid[1][:, 0], grid[3]
    nx, ny = xs.size, ys.size
    with np.errstate(invalid="ignore"):
        u = (np.asarray(x, dtype=float) - xs[0]) / (xs[-1] - xs[0]) * (nx - 1)
        v = (np.asarray(y, dtype=float) - ys[0]) / (ys[-1] - ys[0]) * (ny - 1)
        inside = np.isfinite(u) & np.isfinite(v) & (u >= 0) & (u <= nx - 1) & (v >= 0) \
            & (v <= ny - 1)
    u, v = np.where(inside, u, 0.0), np.where(inside, v, 0.0)
    i = np.clip(np.floor(u).astype(np.int64), 0, nx - 2)
    j = np.clip(np.floor(v).astype(np.int64), 0, ny - 2)
    s, t = u - i, v - j
    height = (shown[j, i] * (1 - s) * (1 - t) + shown[j, i + 1] * s * (1 - t)
              + shown[j + 1, i] * (1 - s) * t + shown[j + 1, i + 1] * s * t)
    return np.where(inside, height, np.nan)


def surface_grid(function: Any, domain: Any, points: int) -> tuple[Any, bool, Any]:
    """``((X, Y, Z, shown), log, minimum)``: the heights the surface draws, ``log10(f - f* + ε)``
    for functions spanning decades (ε a share of the *median* gap: a few huge corners (Beale)
    must not flatten the floor, and a narrow log valley (Rosenbrock) must not become a row of
    spikes), ``f`` otherwise."""
    x, y, z, _ = landscape_grid(function, domain, points)
    log = bool(getattr(function, "log_scale", False))
    minimum = getattr(function, "minimum", None)
    low = min(float(minimum), float(z.min())) if log and minimum is not None else z.min()
    floor = SURFACE_FLOOR * float(np.median(z - low)) / max(float(z.max() - low), 1e-300)
    return (x, y, z, shown_values(z, log, low, z.max(), floor=floor)), log, minimum


class SurfaceScene:
    """The function as a 3-D surface with the paths drawn on it; a fixed camera or a slow orbit.

    Heights are what the contour view colours: ``log10(f - f* + ε)`` for functions spanning
    decades, ``f`` otherwise (see :func:`surface_grid`); paths, starts and known points sit
    on the drawn faces (:func:`surface_heights`) and are drawn after the surface (no depth
    sorting), so they stay visible where a hill would hide them. The surface shows the same
    view as the contour map (:func:`optiviz.view.view_domain`); a run that leaves it gets an
    arrow on the edge where it left and is counted beside the step counter.

    Layout as in the contour view: the ``render.panels`` (by default the loss panel when there
    are few runs) right of the surface, one key (runs, starts, marks) under everything, the
    step counter above the surface's top-left corner. The 3-D axes are zoomed to fill what is
    left without any label leaving it at any camera angle of the animation.

    With a fixed camera frames are blitted like the contour view's. With ``orbit`` the camera
    moves every frame, so ``restage`` asks for a full redraw of every frame: blitting is
    impossible there, so orbits draw fewer faces (``ORBIT_GRID``) and, unless ``render.frames``
    says otherwise, at most ``ORBIT_MAX_FRAMES`` frames.
    """

    def __init__(self, experiment: Any, trajectories: Any, theme: Theme, size: float):
        from matplotlib.ticker import MaxNLocator
        from matplotlib.transforms import Bbox
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  registers the projection

        from optiviz.view import exits

        render = experiment.render
        self.render = render
        frames = render.frames
        if frames is None and render.orbit:
            frames = ORBIT_MAX_FRAMES
        self.steps = select_frames(trajectories.steps, frames)
        self.n_frames = len(self.steps)
        self.total_steps = trajectories.steps
        self.turns = orbit_turns(self.n_frames, render.fps) if render.orbit else None
        self.panels = chosen_panels(experiment, trajectories.runs, "surface view")
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        figure.set_layout_engine("constrained", h_pad=0.06, w_pad=0.06)
        function = experiment.function
        title = title_of(experiment)
        if title:
            fit_title(figure, title, color=theme.foreground, fontsize=size * 1.2,
                      fontweight="bold")

        # the constrained layout places the side panels and the key; an empty placeholder
        # holds the surface's cell, where the 3-D axes go once the layout is frozen
        side = [p for p in self.panels if p != "landscape"]
        if side:
            grid = figure.add_gridspec(len(side), 2, width_ratios=[1.7, 1])
            holder = figure.add_subplot(grid[:, 0])
            side_axes = [figure.add_subplot(grid[i, 1]) for i in range(len(side))]
        else:
            holder = figure.add_subplot()
            side_axes = []
        holder.set_axis_off()
        for side_ax in side_axes:
            style_axes(side_ax, theme, size)

        domain = domain_of(experiment, trajectories)
        self.domain = domain
        surface, log, minimum = surface_grid(function, domain,
                                             ORBIT_GRID if render.orbit else SURFACE_GRID)
        colors = run_colors(experiment, trajectories, theme)
        self.color = [colors[int(o)] for o in trajectories.run_optimizer]
        self.key_colors = tuple(dict.fromkeys(self.color))
        styles = start_styles(trajectories)
        positions = trajectories.positions
        self.exits = exits(positions, domain)
        self.side = side_panels(side, side_axes, experiment, trajectories, self.color, theme,
                                styles, domain)
        handles = key_handles(experiment, trajectories, self.color, theme, styles, domain,
                              left=len(self.exits) > 0, extra=self.side)
        several_starts = len(np.unique(trajectories.run_start)) > 1
        key_style = {"handlelength": 2.6 if several_starts else 1.4, "borderpad": 0.4,
                     "labelspacing": 0.3, "columnspacing": 1.2, "fancybox": False,
                     "framealpha": 1.0}
        # with side panels the key goes under everything; alone, the surface (about as wide
        # as tall) leaves the frame's sides empty: the key goes right of it, if it fits there
        legend = (legend_below(figure, handles, key_style) if side
                  else legend_beside(figure, handles, key_style))
        layout = figure.get_layout_engine()
        layout.execute(figure)
        renderer = figure.canvas.get_renderer()
        pixels = figure.bbox
        counter_height = 1.7 * size * render.dpi / 72

        def surface_region() -> Any:
            """The holder's column, from the key up to the title (the cell itself stops where
            the side panels' axes do, above their tick labels: the surface needs no room
            for those), less a strip at the top for the step counter."""
            cell = holder.get_window_extent(renderer)
            pad = 0.02 * pixels.height
            bottom = legend.get_window_extent(renderer).y1 + pad
            top = (figure._suptitle.get_window_extent(renderer).y0 if title else pixels.y1) - pad
            return Bbox.from_extents(cell.x0, min(bottom, cell.y0), cell.x1,
                                     max(top, cell.y1) - counter_height)

        region = surface_region()
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

        x, y, _, shown = surface
        faces = x.shape[0]
        ax.plot_surface(x, y, shown, facecolors=shaded_colors(shown, theme), linewidth=0,
                        antialiased=False, rcount=faces, ccount=faces, shade=False, zorder=1)
        (x0, x1), (y0, y1) = domain
        z0, z1 = float(shown.min()), float(shown.max())
        lift = SURFACE_LIFT * (z1 - z0)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_zlim(z0, z1)
        ax.set_xlabel(getattr(function, "xlabel", "x") or "x", fontsize=size * 0.85, labelpad=0)
        ax.set_ylabel(getattr(function, "ylabel", "y") or "y", fontsize=size * 0.85, labelpad=0)
        z_label = ("f" if not log else "log₁₀(f − f*)" if minimum is not None
                   else "log₁₀(f − min f)")
        ax.set_zlabel(z_label, fontsize=size * 0.85, labelpad=2)
        ticks = 4 if region.width < 600 else 5  # more collide at the shared corner
        # no tick labels at the box's corners, where the x and y labels would meet
        ax.xaxis.set_major_locator(MaxNLocator(nbins=ticks, prune="both"))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=ticks, prune="both"))
        ax.zaxis.set_major_locator(MaxNLocator(nbins=5, integer=log))

        for point in getattr(function, "points", ()):
            height = surface_heights(surface, np.array([point.x]), np.array([point.y]))
            if not np.isfinite(height).all():
                continue
            marker, marker_size = POINT_MARKERS.get(point.kind, ("o", 6))
            ax.plot([point.x], [point.y], height + lift, marker=marker,
                    markersize=marker_size, color=theme.marker_face,
                    markeredgecolor=theme.marker_edge, markeredgewidth=0.9, linestyle="none",
                    zorder=3)

        heights = surface_heights(surface, positions[..., 0], positions[..., 1]) + lift
        self.xyz = np.stack([positions[..., 0], positions[..., 1], heights], axis=-1)
        self.diverged_step = trajectories.diverged_step
        self.trail = render.trail
        self.lines, self.heads, self.crosses = [], [], []
        line_width = 1.6 if trajectories.runs <= MAX_RUNS_WITH_LOSS_PANEL else 1.0
        for r in range(trajectories.runs):
            color = self.color[r]
            linestyle, marker = styles[r]
            start = self.xyz[r, 0]
            if np.isfinite(start).all():
                ax.plot([start[0]], [start[1]], [start[2]], marker=marker, markersize=6,
                        markerfacecolor="none", markeredgecolor=color, markeredgewidth=1.4,
                        linestyle="none", zorder=4)
            (line,) = ax.plot([], [], [], color=color, linewidth=line_width, animated=True,
                              linestyle=linestyle, solid_capstyle="round",
                              solid_joinstyle="round",
                              path_effects=theme.halo(color, line_width), zorder=ANIMATED_Z)
            (head,) = ax.plot([], [], [], marker=marker, markersize=6, color=color,
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
        self.arrows = {}
        self.first_exit = self.exits.first_step(trajectories.runs)
        edge = np.clip(self.exits.point, (x0, y0), (x1, y1))
        self.exit_xyz = np.column_stack([edge, surface_heights(surface, edge[:, 0], edge[:, 1])
                                         + lift])
        for r in self.exits.runs():
            (arrow,) = ax.plot([], [], [], marker=arrow_marker(0.0), markersize=ARROW_SIZE,
                               color=self.color[int(r)], markeredgecolor=theme.background,
                               markeredgewidth=0.8, linestyle="none", animated=True,
                               zorder=ANIMATED_Z + 2, visible=False)
            self.arrows[int(r)] = arrow
        azimuths = list(render.azim + (np.linspace(0, self.turns[-1], 5)
                                       if self.turns is not None and self.turns.size
                                       else np.zeros(1)))
        drawn, zoom = fit_axes_3d(ax, region, render.elev, azimuths)
        if not side and drawn.height < 0.95 * region.height:
            # the key beside the surface makes it narrower than its height allows: under it
            legend.remove()
            legend = legend_below(figure, handles, key_style)
            layout.execute(figure)
            region, zoom = self.move_axes(ax, region, surface_region(), zoom)
            drawn, zoom = fit_axes_3d(ax, region, render.elev, azimuths, zoom=zoom)
        legend.get_frame().set_linewidth(0)  # borderless: snaps to whole pixels (see scene.py)
        if side and region.width - drawn.width > 0.02 * pixels.width:
            # the surface is as tall as its cell allows and narrower than it: the side panels
            # get the spare width (a 3-D box is about as wide as it is tall)
            ratios = [1.7, 1.0]
            cell_region = region
            for _ in range(3):
                wanted = drawn.width / drawn.height * region.height + 2
                ratios[0] *= wanted / region.width
                grid.set_width_ratios(ratios)
                layout.execute(figure)
                region = surface_region()
                if abs(region.width - wanted) < 0.01 * pixels.width:
                    break
            region, zoom = self.move_axes(ax, cell_region, region, zoom)
            drawn, zoom = fit_axes_3d(ax, region, render.elev, azimuths, zoom=zoom)
        holder.remove()
        figure.set_layout_engine("none")  # frozen: later draws neither pay for it nor move
        self.region = region
        # the counter (and the count of runs that left the view) above the surface's top-left
        # corner, in figure pixels: a child of the 3-D axes, so that stills draw it too
        self.counter = CachedGlyphText(ax, region.x0 / pixels.width,
                                       (region.y1 + counter_height) / pixels.height,
                                       size=size * 0.9, color=theme.foreground,
                                       transform=figure.transFigure, zorder=ANIMATED_Z + 3)
        self.overlays = [legend]
        self.eraser = None
        if self.turns is not None:
            self.eraser = self.orbit_eraser(legend, side_axes, theme)

    def orbit_eraser(self, legend: Any, side_axes: list[Any], theme: Theme) -> Any:
        """An orbit redraws only the 3-D axes each frame, on the cached background: this
        rectangle of background colour, from the frame's left edge to the side panels and from
        the key up to the title, first wipes the surface the previous camera drew. (A full
        redraw would redraw the key, the title and the side panels too: twice the cost.)"""
        from matplotlib.patches import Rectangle
        from matplotlib.transforms import IdentityTransform

        figure = self.figure
        renderer = figure.canvas.get_renderer()
        pixels = figure.bbox
        key = legend.get_window_extent(renderer)
        beside = key.x0 > self.region.x1  # the key right of the surface, not under it
        right = min([a.get_tightbbox(renderer).x0 for a in side_axes]
                    + ([key.x0] if beside else []), default=pixels.x1)
        bottom = 0 if beside else key.y1
        title = figure._suptitle
        top = title.get_window_extent(renderer).y0 if title is not None else pixels.y1
        x0, y0 = 0, int(np.ceil(bottom)) + 1
        x1, y1 = int(np.floor(right)) - 1, int(np.floor(top)) - 1
        eraser = Rectangle((x0, y0), x1 - x0, y1 - y0, transform=IdentityTransform(),
                           facecolor=theme.background, edgecolor="none", linewidth=0,
                           snap=True, animated=True)
        figure.add_artist(eraser)
        return eraser

    @staticmethod
    def move_axes(ax: Any, old: Any, new: Any, zoom: float) -> tuple[Any, float]:
        """Put the 3-D axes on region ``new`` (it was fitted to ``old`` at ``zoom``); returns
        ``new`` and the zoom that keeps the drawing's scale per pixel of region (a 3-D axes
        draws in a square as large as its rectangle's shorter side)."""
        figure = ax.figure.bbox
        ax.set_position((new.x0 / figure.width, new.y0 / figure.height,
                         new.width / figure.width, new.height / figure.height))
        return new, zoom * min(old.width, old.height) / min(new.width, new.height)

    def last_shown(self, run: int) -> np.ndarray:
        """Where a diverged run's ✕ goes: its last point on the map (the start if none)."""
        finite = np.flatnonzero(np.isfinite(self.xyz[run]).all(axis=1))
        return self.xyz[run, finite[-1] if finite.size else 0]

    def restage(self, frame: int) -> bool:
        """Turn the camera for ``frame`` when orbiting (``update`` then redraws the 3-D axes);
        fold the side panels' finished curves into the background."""
        if self.turns is not None:
            self.ax.view_init(elev=self.render.elev, azim=self.render.azim + self.turns[frame])
        stop = int(self.steps[frame]) + 1
        return any([panel.restage(stop) for panel in self.side])

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
        arrows = self.update_arrows(step)
        width = len(str(self.total_steps))
        text = f"step {step:>{width}d}/{self.total_steps}"
        left = int(np.count_nonzero((self.first_exit >= 0) & (self.first_exit <= step)))
        self.counter.set_text(f"{text}  {runs_text(left)}" if left else text)
        side: list[Any] = []
        for panel in self.side:
            side += panel.update(step)
        # in zorder, as a full redraw draws them: every line, then every head, then the crosses
        moving = [*self.lines, *self.heads, *arrows, *self.crosses, self.counter, *side]
        return moving if self.eraser is None else [self.eraser, self.ax, *moving]

    def update_arrows(self, step: int) -> list[Any]:
        """Each run outside the view gets its arrow at the edge where it left, turned the way
        it went as the camera now sees it."""
        from mpl_toolkits.mplot3d import proj3d

        exits = self.exits
        for r, arrow in self.arrows.items():
            stretches = np.flatnonzero(exits.run == r)
            i = int(np.searchsorted(exits.begin[stretches], step, side="right")) - 1
            shown = i >= 0 and step < exits.end[stretches[i]]
            arrow.set_visible(bool(shown))
            if not shown:
                continue
            index = stretches[i]
            x, y, z = self.exit_xyz[index]
            (x0, x1), (y0, y1) = self.domain
            u, v = exits.direction[index] / np.hypot(*exits.direction[index])
            ends = proj3d.proj_transform(np.array([x, x + u * (x1 - x0) * 0.05]),
                                         np.array([y, y + v * (y1 - y0) * 0.05]),
                                         np.array([z, z]), self.ax.get_proj())
            (a, b) = self.ax.transData.transform(np.column_stack(ends[:2]))
            arrow.set_data_3d([x], [y], [z])
            arrow.set_marker(arrow_marker(float(np.degrees(np.arctan2(b[1] - a[1],
                                                                       b[0] - a[0])))))
        return list(self.arrows.values())
