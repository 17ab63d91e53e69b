"""The variational scene: q fitted to p, one block per divergence, side by side.

Each block shows, on top, p and every optimizer's q as it moves (1-D: p filled, q's density
curve; 2-D: p's contours with q's 1σ and 2σ ellipses, and both marginals) and, below, the
panels of ``render.panels`` (view family ``variational``, see ``optiviz.variational.panels``):
``landscape`` (1-D: the divergence over (μ, log σ) with each optimizer's path), ``loss`` (the
objective per step with its cross-entropy and entropy terms and the Monte Carlo band) and
``gradients`` (the reverse block only: single-draw reparam and score estimates around the
exact gradient). Everything drawn comes from the :class:`VariationalResult`; only q's closed
forms (a Gaussian density, an ellipse) are evaluated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.heads import CurveHeads
from optiviz.render.landscape import (
    left_view_handle,
    legend_below,
    run_colors,
    shown_values,
    start_styles,
)
from optiviz.render.panels import PanelContext, build_panels
from optiviz.render.sampling import percent
from optiviz.render.scene import ANIMATED_Z, CachedGlyphText, GrowingLine, freeze_layout, new_figure
from optiviz.render.theme import font_size, get_theme, rc_params, style_axes

DEFAULT_PANELS = ("landscape", "loss")
BLOCK_TITLES = {
    "reverse": "reverse KL(q‖p): mode-seeking",
    "forward": "forward KL(p‖q): mass-covering",
}
TERMS = {  # divergence -> (objective, cross-entropy, entropy) labels
    "reverse": ("KL(q‖p)", "cross-entropy H(q, p)", "entropy H(q)"),
    "forward": ("KL(p‖q)", "cross-entropy H(p, q)", "entropy H(p)"),
}


def build_scene(experiment: Any, result: Any) -> Any:
    import matplotlib

    render = experiment.render
    theme = get_theme(render.theme)
    size = font_size(render.width, render.height, render.dpi)
    with matplotlib.rc_context(rc_params(theme, size)):
        return VariationalScene(experiment, result, theme, size)


def panel_list(experiment: Any) -> tuple[str, ...]:
    return tuple(experiment.render.panels or DEFAULT_PANELS)


class VariationalScene:
    def __init__(self, experiment: Any, result: Any, theme: Any, size: float):
        render = experiment.render
        config = experiment.variational
        self.steps = select_frames(result.steps, render.frames)
        self.n_frames = len(self.steps)
        self.total_steps = result.steps
        self.figure = figure = new_figure(render.width, render.height, render.dpi,
                                          theme.background)
        figure.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04)
        title = render.title or experiment.title or f"q fitted to {config.built.title}"
        figure.suptitle(title, color=theme.foreground, fontsize=size * 1.15, fontweight="bold")
        entry_colors = run_colors(experiment, _AsTrajectories(result), theme)
        colors = [entry_colors[int(o)] for o in result.run_optimizer]
        # several starts: each its own line style and start marker (as in the optimizer views)
        self.styles = start_styles(result)
        self.key_colors = tuple(dict.fromkeys(colors))
        self.panel_names = panel_list(experiment)
        self.config = config
        panels = [p for p in self.panel_names if p != "landscape"]
        blocks = figure.add_gridspec(1, len(result.divergences))
        self.parts: list[Any] = []
        self.counters: list[Any] = []
        one_d = config.built.dim == 1
        for di, name in enumerate(result.divergences):
            runs = np.flatnonzero(result.run_divergence == di)
            below = (["landscape"] if one_d else []) + [
                p for p in panels if p != "gradients" or name == "reverse"]
            # one column per panel; gradients takes two (reparam and score side by side)
            widths = [w for p in below for w in ([0.75, 0.75] if p == "gradients" else [1.0])]
            if one_d:
                block = blocks[0, di].subgridspec(2, max(len(widths), 1),
                                                  height_ratios=[1.0, 1.25 if below else 0.01],
                                                  width_ratios=widths or None)
                top = figure.add_subplot(block[0, :])
                row = [block[1, i] for i in range(len(widths))]
            else:  # p's map beside the panels, as wide as its box's shape asks (equal units)
                block = blocks[0, di].subgridspec(
                    1, 1 + len(widths),
                    width_ratios=[map_share(result.density, render, len(result.divergences),
                                            sum(widths))] + widths)
                top = figure.add_subplot(block[0, 0])
                row = [block[0, 1 + i] for i in range(len(widths))]
            style_axes(top, theme, size)
            top.set_title(BLOCK_TITLES[name], color=theme.foreground, fontsize=size, loc="left")
            if one_d:
                self.parts.append(DensityPanel(top, result, runs, colors, theme, config,
                                               [self.styles[r][0] for r in runs]))
            else:
                self.parts.append(EllipsePanel(top, result, runs, colors, theme, config, size))
            counter = CachedGlyphText(top, 0.99, 0.97, size=size * 0.85, color=theme.foreground,
                                      box_color=theme.panel, box_alpha=0.85, align="right",
                                      zorder=ANIMATED_Z + 3)
            self.counters.append(counter)
            axes, twins, column = [], [], 0
            for panel in below:
                axes.append(figure.add_subplot(row[column]))
                column += 1
                if panel == "gradients":  # score beside reparam, sharing their axes
                    twins.append(figure.add_subplot(row[column], sharex=axes[-1],
                                                    sharey=axes[-1]))
                    column += 1
            for ax in axes + twins:
                style_axes(ax, theme, size)
            context = PanelContext(
                experiment=experiment, trajectories=result, theme=theme,
                colors=colors, groups=[runs], group_colors=[colors[r] for r in runs],
                domain=None, size=size, width=render.width,
                extras={"divergence": di, "name": name, "runs": runs, "twins": twins})
            names = [p for p in below if p != "landscape"]
            if one_d and below:
                self.parts.append(LandscapePanel(axes[0], result, di, runs, colors, theme,
                                                 self.styles))
                axes = axes[1:]
            self.parts += build_panels(names, axes, "variational", context)
        handles = self._key(result, colors, theme, one_d)
        handles += [part.peaks.handle() for part in self.parts
                    if isinstance(part, DensityPanel) and part.peaks.ever_beyond][:1]
        handles += [part.heads.handle() for part in self.parts
                    if isinstance(part, ObjectivePanel) and part.heads.ever_beyond][:1]
        if any(isinstance(part, LandscapePanel) and part.left for part in self.parts):
            handles.append(left_view_handle(theme))
        legend = legend_below(figure, handles, {
            "fancybox": False, "framealpha": 1.0, "borderpad": 0.3, "handlelength": 1.8,
            "columnspacing": 1.2})
        legend.get_frame().set_linewidth(0)
        figure.get_layout_engine().execute(figure)  # lay out once to measure the titles,
        fit_titles(figure)  # fit them, and lay out again with their final sizes
        freeze_layout(figure)
        for part in self.parts:
            if isinstance(part, LandscapePanel):
                part.place()

    def _key(self, result: Any, colors: Sequence[str], theme: Any, one_d: bool) -> list[Any]:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        config = self.config
        how = (f"gradients: {config.gradient}, {config.samples} draws a step"
               if config.gradient != "exact" else "gradients: exact")
        handles: list[Any] = [Patch(facecolor=theme.muted, alpha=0.45, edgecolor=theme.muted,
                                    label="target p"),
                              Line2D([], [], linestyle="none", label=how)]
        seen: set[int] = set()
        for r in range(result.runs):
            entry = int(result.run_optimizer[r])
            if entry in seen:
                continue
            seen.add(entry)
            label = str(result.label[r]).split(" · ")[0]
            handles.append(Line2D([], [], color=colors[r], linewidth=2,
                                  label=f"q by {label}"))
        starts = self.config.starts
        if len(starts) > 1:  # one line style and start marker per start
            for index, (style, marker) in enumerate(self.styles[: len(starts)]):
                shown = ", ".join(f"{v:.3g}".replace("-", "−") for v in starts[index][:2])
                handles.append(Line2D([], [], color=theme.foreground, linewidth=1.2,
                                      linestyle=style, marker=marker, markersize=5,
                                      markerfacecolor="none", label=f"start ({shown})"))
        if not one_d:
            handles.append(Line2D([], [], color=theme.foreground, linewidth=1.0,
                                  linestyle="--", label="q's 1σ (solid) and 2σ ellipses"))
        if any(name in self.panel_names for name in ("loss",)):
            handles += [Line2D([], [], color=theme.foreground, linewidth=1.6, label="KL"),
                        Line2D([], [], color=theme.foreground, linewidth=1.0, linestyle="--",
                               label="cross-entropy"),
                        Line2D([], [], color=theme.foreground, linewidth=1.2, linestyle=":",
                               label="entropy")]
            if np.isfinite(result.band_low).any():
                handles.append(Patch(facecolor=theme.muted, alpha=0.4,
                                     label="±1 sd of the MC estimate of KL"))
        if "gradients" in self.panel_names:
            handles.append(Line2D([], [], color=theme.foreground, marker=r"$\rightarrow$",
                                  markersize=12, linestyle="none",
                                  label="exact gradient; dots: one-draw estimates"))
        if one_d and "landscape" in self.panel_names:
            handles.append(Line2D([], [], marker="*", markersize=10, linestyle="none",
                                  color=theme.marker_face, markeredgecolor=theme.marker_edge,
                                  label="least KL on the grid"))
        return handles

    def restage(self, frame: int) -> bool:
        stop = int(self.steps[frame]) + 1
        return any([bool(part.restage(stop)) for part in self.parts])

    def update(self, frame: int) -> Sequence[Any]:
        step = int(self.steps[frame])
        artists: list[Any] = []
        for part in self.parts:
            artists += part.update(step)
        width = len(str(self.total_steps))
        for counter in self.counters:
            counter.set_text(f"step {step:>{width}d}/{self.total_steps}")
            artists.append(counter)
        return artists


def map_share(density: dict, render: Any, blocks: int, panels: float) -> float:
    """The width ratio of a 2-D map beside ``panels`` units of panels in its block: the width
    that the map's height (about 70% of the frame's) needs for equal units on both axes, at
    least half and at most twice a panel's."""
    if not panels:
        return 1.0
    x, y = density["x"], density["y"]
    wanted = 0.70 * render.height * (x[-1] - x[0]) / (y[-1] - y[0])
    block = render.width / blocks
    wanted = min(wanted, 0.75 * block)
    return float(np.clip(wanted / ((block - wanted) / panels), 0.5, 2.0))


def fit_titles(figure: Any, smallest: float = 0.6) -> None:
    """Shrink an axes title that would run past the figure's right edge or into the next axes
    to its right at its height (a narrow panel, a block beside another): constrained layout
    makes room for titles above the axes, not beside them."""
    renderer = figure.canvas.get_renderer()
    boxes = [(ax, ax.get_window_extent(renderer)) for ax in figure.axes]
    for ax, box in boxes:
        title = ax._left_title  # the titles this scene sets are left-aligned
        if not title.get_text():
            continue
        height = title.get_window_extent(renderer)
        right = min([figure.bbox.x1 - 2] + [
            other.x0 - 6 for axes, other in boxes
            if axes is not ax and other.x0 > box.x0 + 1 and other.y1 >= height.y0
            and other.y0 <= height.y1 + box.height])
        size = title.get_fontsize()
        scale = 1.0
        while title.get_window_extent(renderer).x1 > right and scale > 0.8:
            scale -= 0.05
            title.set_fontsize(size * scale)
        if title.get_window_extent(renderer).x1 > right and " = " in title.get_text():
            title.set_text(title.get_text().replace(" = ", " =\n", 1))  # two lines
        while title.get_window_extent(renderer).x1 > right and scale > smallest:
            scale -= 0.05
            title.set_fontsize(size * scale)


class _AsTrajectories:
    """What ``run_colors`` reads of a result."""

    def __init__(self, result: Any):
        self.run_optimizer = result.run_optimizer


class LineBundle:
    """Several polylines revealed step by step as ONE animated artist (a LineCollection: one
    draw per frame instead of one per line, which is most of a frame's cost with a dozen
    lines), folded into a static twin every ``fold_points`` points like ``GrowingLine``."""

    def __init__(self, ax: Any, xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], *,
                 colors: Sequence[str], styles: Sequence[Any] | None = None,
                 widths: Sequence[float] | None = None, fold_points: int = 250,
                 path_effects: Any = None, zorder: float = ANIMATED_Z):
        from matplotlib.collections import LineCollection

        self.xs = [np.asarray(x, dtype=float) for x in xs]
        self.ys = [np.asarray(y, dtype=float) for y in ys]
        self.fold_points = fold_points
        self.folded = 0
        style = {"colors": list(colors), "linestyles": list(styles or ["solid"] * len(xs)),
                 "linewidths": list(widths or [1.5] * len(xs)), "capstyle": "round",
                 "joinstyle": "round", "path_effects": path_effects}
        self.static = LineCollection([], zorder=zorder - 5, **style)
        self.moving = LineCollection([], animated=True, zorder=zorder, **style)
        ax.add_collection(self.static, autolim=False)
        ax.add_collection(self.moving, autolim=False)

    def _segments(self, start: int, stop: int) -> list[np.ndarray]:
        return [np.column_stack([x[start:stop], y[start:stop]])
                for x, y in zip(self.xs, self.ys, strict=True)]

    def fold(self, stop: int) -> bool:
        if stop - 1 - self.folded < self.fold_points:
            return False
        self.folded = stop - 1
        self.static.set_segments(self._segments(0, self.folded + 1))
        return True

    def show(self, stop: int) -> Any:
        self.moving.set_segments(self._segments(self.folded, stop))
        return self.moving


def _halo(theme: Any, colors: Sequence[str], width: float) -> Any:
    """The theme's halo when any of ``colors`` needs one (a bundle is drawn as one artist)."""
    return next((effects for effects in (theme.halo(c, width) for c in colors) if effects),
                None)


def _peak(log_sigma: Any) -> Any:
    """N(μ, σ²)'s density at its mode, 1/(σ√(2π)), from log σ (a number or an array)."""
    return 1 / (np.exp(log_sigma) * np.sqrt(2 * np.pi))


def _gauss(x: np.ndarray, mu: float, log_sigma: float) -> np.ndarray:
    sigma = np.exp(log_sigma)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


class DensityPanel:
    """1-D: p filled, each run's q = N(μ, σ²) drawn over it at the current step."""

    def __init__(self, ax: Any, result: Any, runs: np.ndarray, colors: Sequence[str],
                 theme: Any, config: Any, linestyles: Sequence[Any] | None = None):
        x, p = result.density["x"], result.density["p"]
        self.x = x
        self.runs = runs
        self.positions = result.positions
        ax.fill_between(x, 0, p, color=theme.muted, alpha=0.45, linewidth=0, zorder=1)
        ax.plot(x, p, color=theme.muted, linewidth=1.0, zorder=2)
        # each run's q peak at every step (NaN where q is not finite)
        with np.errstate(all="ignore"):
            heights = [np.where(np.isfinite(self.positions[r]).all(axis=1),
                                _peak(self.positions[r, :, 1]), np.nan) for r in runs]
        peaks = [p.max(), *(float(np.nanmax(h)) if np.isfinite(h).any() else 0.0
                            for h in heights)]
        top = min(max(peaks), 6.0 * p.max())  # a q far narrower than p may leave the top
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1.12 * top)
        ax.set_ylabel("density", labelpad=1)
        ax.set_xlabel("z", labelpad=1)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.3)
        ax.set_autoscale_on(False)
        from matplotlib.collections import LineCollection

        run_colors = [colors[r] for r in runs]
        self.curves = LineCollection([], colors=run_colors, linewidths=1.8, animated=True,
                                     linestyles=list(linestyles or ["solid"] * len(runs)),
                                     zorder=ANIMATED_Z, path_effects=_halo(theme, run_colors, 1.8))
        ax.add_collection(self.curves, autolim=False)
        # a q narrower than the panel allows is cut at the top: a ▲ over its mode says so
        self.peaks = CurveHeads(ax, run_colors, theme, heights, dots=False,
                                label=self.PEAK_LABEL)

    PEAK_LABEL = "q's peak above the panel"

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        segments = []
        modes = []
        low, high = self.x[0], self.x[-1]
        for r in self.runs:
            mu, log_sigma = self.positions[r, step, :2]
            finite = np.isfinite(mu) and np.isfinite(log_sigma)
            y = _gauss(self.x, mu, log_sigma) if finite else np.full_like(self.x, np.nan)
            segments.append(np.column_stack([self.x, y]))
            shown = finite and low <= mu <= high
            modes.append((mu, _peak(log_sigma)) if shown else (np.nan, np.nan))
        self.curves.set_segments(segments)
        return [self.curves, *self.peaks.update(modes)]


class LandscapePanel:
    """1-D: the divergence over (μ, log σ), exact on the result's grid, with each run's path."""

    def __init__(self, ax: Any, result: Any, divergence: int, runs: np.ndarray,
                 colors: Sequence[str], theme: Any,
                 styles: Sequence[tuple[Any, str]] | None = None):
        grid = result.landscape
        mu, log_sigma = grid["mu"], grid["log_sigma"]
        values = grid["values"][divergence]
        finite = values[np.isfinite(values)]
        low, high = float(finite.min()), float(finite.max())
        shown = shown_values(np.where(np.isfinite(values), values, high), True, low, high,
                             floor=1e-4)
        levels = np.linspace(shown.min(), shown.max(), 24)
        ax.contourf(mu, log_sigma, shown, levels=levels, cmap=theme.colormap(), zorder=0)
        ax.contour(mu, log_sigma, shown, levels=levels[1:-1:2], colors=theme.contour_line,
                   linewidths=0.45, alpha=0.55, zorder=1)
        best = np.unravel_index(np.argmin(np.where(np.isfinite(values), values, np.inf)),
                                values.shape)
        ax.plot([mu[best[1]]], [log_sigma[best[0]]], marker="*", markersize=11,
                color=theme.marker_face, markeredgecolor=theme.marker_edge,
                markeredgewidth=0.9, linestyle="none", zorder=3)
        ax.set_xlim(mu[0], mu[-1])
        ax.set_ylim(log_sigma[0], log_sigma[-1])
        ax.set_xlabel("μ", labelpad=1)
        ax.set_ylabel("log σ", labelpad=1)
        ax.set_autoscale_on(False)
        name = result.divergences[divergence]
        ax.set_title(f"{TERMS[name][0]} over (μ, log σ)", fontsize=ax.title.get_size() * 0.9,
                     loc="left")
        positions = result.positions
        self.runs = runs
        self.positions = positions
        run_colors = [colors[r] for r in runs]
        styles = styles or [("solid", "o")] * result.runs
        for r in runs:
            ax.plot(positions[r, 0, 0], positions[r, 0, 1], marker=styles[r][1], markersize=5,
                    markerfacecolor="none", markeredgecolor=colors[r], linestyle="none",
                    zorder=4)
        self.paths = LineBundle(ax, [positions[r, :, 0] for r in runs],
                                [positions[r, :, 1] for r in runs], colors=run_colors,
                                styles=[styles[r][0] for r in runs],
                                widths=[1.4] * len(runs),
                                path_effects=_halo(theme, run_colors, 1.4))
        self.heads = ax.scatter(np.full(len(runs), np.nan), np.full(len(runs), np.nan), s=36,
                                c=run_colors, edgecolors=[theme.marker_edge_for(c)
                                                          for c in run_colors],
                                linewidths=1.0, animated=True, zorder=ANIMATED_Z + 1)
        # a run beyond the grid (a huge first step, σ blown up) has its head off the map: an
        # arrow at the edge where it left, as on the optimizer views (the panel is too small
        # for their count note to stay clear of the arrows; the key explains the arrow)
        from optiviz.render.landscape import ExitMarks
        from optiviz.view import exits

        self.domain = ((float(mu[0]), float(mu[-1])), (float(log_sigma[0]), float(log_sigma[-1])))
        self.exits = ExitMarks(ax, exits(positions[runs, :, :2], self.domain), run_colors, theme,
                               len(runs), note=None)

    @property
    def left(self) -> bool:
        """Whether some run of the panel leaves the map (the key then explains the arrow)."""
        return len(self.exits.exits) > 0

    def place(self) -> None:
        """Once the layout is frozen: the exit arrows' places and angles on screen."""
        self.exits.place(self.domain)

    def restage(self, stop: int) -> bool:
        return self.paths.fold(stop)

    def update(self, step: int) -> list[Any]:
        self.heads.set_offsets(self.positions[self.runs, step, :2])  # NaN: not drawn
        return [self.paths.show(step + 1), self.heads, *self.exits.update(step)]


class EllipsePanel:
    """2-D: p's contours (log density), each run's q as its 1σ and 2σ ellipses and its mean's
    path, p's marginals (filled) and q's (lines) along the top and right edges."""

    def __init__(self, ax: Any, result: Any, runs: np.ndarray, colors: Sequence[str],
                 theme: Any, config: Any, size: float):
        x, y, log_p = result.density["x"], result.density["y"], result.density["log_p"]
        top = np.nanmax(log_p[np.isfinite(log_p)])
        shown = np.clip(np.where(np.isfinite(log_p), log_p, top - 12), top - 12, top)
        levels = np.linspace(top - 12, top, 13)
        ax.contourf(x, y, shown, levels=levels, cmap=theme.colormap(), zorder=0)
        ax.contour(x, y, shown, levels=levels[4:-1], colors=theme.contour_line, linewidths=0.5,
                   alpha=0.6, zorder=1)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        ax.set_xlabel("z₁", labelpad=1)
        ax.set_ylabel("z₂", labelpad=1)
        ax.set_autoscale_on(False)
        # one unit is one unit both ways (a ring stays round) unless that squeezes the map
        # to a sliver: p's box at most 2.5 times as tall as wide or the other way
        if 0.4 <= (y[-1] - y[0]) / (x[-1] - x[0]) <= 2.5:
            ax.set_aspect("equal", adjustable="box")
        self.family = config.q
        self.positions = result.positions
        self.runs = runs
        self.x, self.y = x, y
        self.angles = np.linspace(0, 2 * np.pi, 90)
        self.ellipses, self.paths, self.heads = [], [], []
        for r in runs:
            for style in ("-", "--"):
                self.ellipses.append(ax.plot([], [], color=colors[r], linewidth=1.5,
                                             linestyle=style, animated=True,
                                             zorder=ANIMATED_Z)[0])
            self.paths.append(GrowingLine(ax, result.positions[r, :, 0],
                                          result.positions[r, :, 1], color=colors[r],
                                          linewidth=1.0, alpha=0.8))
            self.heads.append(ax.plot([], [], marker="o", markersize=5, color=colors[r],
                                      linestyle="none", animated=True,
                                      zorder=ANIMATED_Z + 1)[0])
        # marginals: p's filled along the top and right edges, q's as lines
        self.top_ax = ax.inset_axes([0, 1.0, 1, 0.16], sharex=ax)
        self.right_ax = ax.inset_axes([1.0, 0, 0.12, 1], sharey=ax)
        px, py = result.density["marginal_x"], result.density["marginal_y"]
        self.top_ax.fill_between(x, 0, px, color=theme.muted, alpha=0.45, linewidth=0)
        self.right_ax.fill_betweenx(y, 0, py, color=theme.muted, alpha=0.45, linewidth=0)
        # room for q's marginals too (their peaks 1/(√(2π) σᵢ) over the run), at most 4x p's
        peaks = [px.max(), py.max()]
        with np.errstate(all="ignore"):
            for r in runs:
                mean, scale = self.family.unpack(result.positions[r])
                sd = np.sqrt(np.einsum("tij,tij->ti", scale, scale))
                heights = 1 / (np.sqrt(2 * np.pi) * sd[np.isfinite(sd).all(axis=1)])
                if heights.size:
                    peaks = [max(peaks[i], min(float(heights[:, i].max()),
                                               4 * (px, py)[i].max())) for i in range(2)]
        self.top_ax.set_ylim(0, 1.1 * peaks[0])
        self.right_ax.set_xlim(0, 1.1 * peaks[1])
        for inset in (self.top_ax, self.right_ax):
            inset.set_axis_off()
        self.top_lines = [self.top_ax.plot([], [], color=colors[r], linewidth=1.2,
                                           animated=True, clip_on=True)[0] for r in runs]
        self.right_lines = [self.right_ax.plot([], [], color=colors[r], linewidth=1.2,
                                               animated=True, clip_on=True)[0] for r in runs]
        for line in self.top_lines + self.right_lines:
            line.set_clip_box(line.axes.bbox)

    def restage(self, stop: int) -> bool:
        return any([path.fold(stop) for path in self.paths])

    def update(self, step: int) -> list[Any]:
        artists: list[Any] = [path.show(step + 1) for path in self.paths]
        circle = np.stack([np.cos(self.angles), np.sin(self.angles)])
        for i, r in enumerate(self.runs):
            params = self.positions[r, step]
            mean, scale = self.family.unpack(params[None])
            mean, scale = mean[0], scale[0]
            ok = bool(np.isfinite(params).all())
            for j, radius in enumerate((1.0, 2.0)):
                line = self.ellipses[2 * i + j]
                if ok:
                    ring = mean[:, None] + radius * scale @ circle
                    line.set_data(ring[0], ring[1])
                else:
                    line.set_data([], [])
                artists.append(line)
            head = self.heads[i]
            head.set_data([mean[0]], [mean[1]])
            head.set_visible(ok)
            artists.append(head)
            sigma = scale @ scale.T
            if ok:
                self.top_lines[i].set_data(self.x, _gauss(self.x, mean[0],
                                                          0.5 * np.log(sigma[0, 0])))
                gy = _gauss(self.y, mean[1], 0.5 * np.log(sigma[1, 1]))
                self.right_lines[i].set_data(gy, self.y)
            artists += [self.top_lines[i], self.right_lines[i]]
        return artists


class ObjectivePanel:
    """The objective per step for the block's runs: the divergence (solid), its
    cross-entropy (dashed) and entropy (dotted) terms, and with Monte Carlo gradients the band
    objective ± the standard deviation of its Monte Carlo estimate."""

    def __init__(self, ax: Any, context: PanelContext):
        from matplotlib.collections import PolyCollection

        result = context.trajectories
        theme = context.theme
        runs = context.extras["runs"]
        name = context.extras["name"]
        self.runs = runs
        steps = np.arange(result.steps + 1, dtype=float)
        self.t = steps
        series = [result.objective[runs], result.cross_entropy[runs], result.entropy[runs]]
        band = [result.band_low[runs], result.band_high[runs]]
        self.has_band = bool(np.isfinite(band[0]).any())
        low, high = objective_limits(series + (band if self.has_band else []))
        pad = 0.06 * (high - low or 1.0)
        # a little room left of step 0: its head (and the cursor) clear of the spine
        ax.set_xlim(-0.015 * max(result.steps, 1), max(result.steps, 1))
        ax.set_ylim(low - pad, high + pad)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.35)
        ax.set_xlabel("step", labelpad=1)
        ax.set_ylabel("nats", labelpad=1)
        ax.set_autoscale_on(False)
        self.cursor = ax.axvline(0, color=theme.muted, linewidth=0.9, animated=True,
                                 zorder=ANIMATED_Z - 1)
        self.band_values = band
        run_colors = [context.colors[r] for r in runs]
        kinds = (("-", 1.6), ("--", 1.0), (":", 1.2))  # divergence, cross-entropy, entropy
        self.lines = LineBundle(
            ax, [steps] * (3 * len(runs)),
            [series[k][i] for i in range(len(runs)) for k in range(3)],
            colors=[c for c in run_colors for _ in kinds],
            styles=[style for _ in run_colors for style, _ in kinds],
            widths=[width for _ in run_colors for _, width in kinds])
        self.bands = None
        if self.has_band:
            self.bands = PolyCollection([np.zeros((0, 2))] * len(runs), facecolors=run_colors,
                                        alpha=0.22, edgecolors="none", animated=True,
                                        zorder=ANIMATED_Z - 2)
            ax.add_collection(self.bands, autolim=False)
        # each run's newest KL as a dot: the first frame's one-point curves draw nothing, and
        # an outlier run (objective_limits) leaves the panel: a ▲/▼ on its edge then
        self.objective = series[0]
        self.heads = CurveHeads(ax, run_colors, theme, list(series[0]),
                                label=self.BEYOND_LABEL)
        terms = TERMS[name]
        cross, entropy = (term.split(" ", 1)[1].replace(", ", ",") for term in terms[1:])
        ax.set_title(f"KL = {cross} − {entropy}", fontsize=ax.title.get_size() * 0.9,
                     loc="left")

    def restage(self, stop: int) -> bool:
        return self.lines.fold(stop)

    def update(self, step: int) -> list[Any]:
        self.cursor.set_xdata([step, step])
        artists: list[Any] = [self.cursor]
        if self.bands is not None:
            polygons = []
            t = self.t[: step + 1]
            for low, high in zip(self.band_values[0][:, : step + 1],
                                 self.band_values[1][:, : step + 1], strict=True):
                keep = np.isfinite(low) & np.isfinite(high)
                polygons.append(np.concatenate([np.column_stack([t[keep], low[keep]]),
                                                np.column_stack([t[keep][::-1],
                                                                 high[keep][::-1]])]))
            self.bands.set_verts(polygons)
            artists.append(self.bands)
        artists.append(self.lines.show(step + 1))
        artists += self.heads.update([(step, value) for value in self.objective[:, step]])
        return artists

    BEYOND_LABEL = "newest KL beyond the panel"


def objective_limits(series: Sequence[np.ndarray]) -> tuple[float, float]:
    """The objective panel's y range: every value of every run, except runs whose extremes are
    outliers among the runs' (a run blowing up, its entropy heading to −inf as σ underflows),
    which leave the panel instead of flattening every other curve."""
    stacked = np.stack([np.asarray(s, dtype=float) for s in series])  # (series, runs, steps)
    with np.errstate(all="ignore"):
        highs = np.nanmax(np.where(np.isfinite(stacked), stacked, np.nan), axis=(0, 2))
        lows = np.nanmin(np.where(np.isfinite(stacked), stacked, np.nan), axis=(0, 2))
    highs, lows = highs[np.isfinite(highs)], lows[np.isfinite(lows)]
    if not highs.size:
        return 0.0, 1.0
    top, bottom = float(np.median(highs)), float(np.median(lows))
    reach = max(top - bottom, 1.0)
    high = float(highs[highs <= top + 10 * reach].max())
    low = float(lows[lows >= bottom - 10 * reach].min())
    return low, max(high, low + 1e-9)


class GradientsPanel:
    """At q's current parameters (the block's first run), side by side on shared axes:
    single-draw reparam and score estimates of the reverse KL's gradient, the exact gradient
    as an arrow on both, and each estimator's variance (summed over the parameters). The axes
    fit the clouds at the start, where q is farthest from p and the estimators differ most;
    the share of a frame's draws beyond them is written under the variance."""

    def __init__(self, ax: Any, context: PanelContext):
        result = context.trajectories
        theme = context.theme
        clouds = result.clouds
        self.cloud_steps = clouds["steps"]
        self.reparam, self.score = clouds["reparam"], clouds["score"]
        self.exact, self.variance = clouds["exact"], clouds["variance"]
        names = result.param_names
        twin = context.extras["twins"][0]
        first = np.concatenate([self.reparam[0, :, :2], self.score[0, :, :2],
                                self.exact[:, :2]])
        first = first[np.isfinite(first).all(axis=1)]
        lo = np.quantile(first, 0.05, axis=0) if first.size else np.array([-1.0, -1.0])
        hi = np.quantile(first, 0.95, axis=0) if first.size else np.array([1.0, 1.0])
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        pad = 0.08 * np.maximum(hi - lo, 1e-9)
        palette = [c for c in theme.runs if c not in context.colors] or list(theme.runs)
        from matplotlib.transforms import ScaledTranslation

        self.clouds, self.arrows, self.notes, self.beyond_notes = [], [], [], []
        for k, (axes, title) in enumerate(((ax, "reparam"), (twin, "score"))):
            axes.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            axes.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
            axes.axhline(0, color=theme.muted, linewidth=0.6)
            axes.axvline(0, color=theme.muted, linewidth=0.6)
            axes.set_title(title, fontsize=axes.title.get_size() * 0.9, loc="left")
            axes.set_xlabel(f"∂/∂{_greek(names[0])}", labelpad=1)
            axes.set_autoscale_on(False)
            color = palette[k % len(palette)]
            self.clouds.append(axes.plot([], [], marker=".", markersize=4, linestyle="none",
                                         color=color, alpha=0.6, animated=True,
                                         zorder=ANIMATED_Z)[0])
            self.arrows.append(axes.quiver([0.0], [0.0], [0.0], [0.0], angles="xy",
                                           scale_units="xy", scale=1, color=theme.foreground,
                                           width=0.02, animated=True, zorder=ANIMATED_Z + 1))
            self.arrows[-1].set_in_layout(False)  # its extent is not known before a frame
            self.notes.append(CachedGlyphText(axes, 0.04, 0.96, size=context.size * 0.7,
                                              color=theme.foreground, box_color=theme.panel,
                                              box_alpha=0.85, zorder=ANIMATED_Z + 2))
            below = axes.transAxes + ScaledTranslation(0, -1.7 * context.size * 0.7 / 72,
                                                       axes.figure.dpi_scale_trans)
            self.beyond_notes.append(CachedGlyphText(axes, 0.04, 0.96, size=context.size * 0.7,
                                                     color=theme.foreground,
                                                     box_color=theme.panel, box_alpha=0.85,
                                                     transform=below, zorder=ANIMATED_Z + 2))
        ax.set_ylabel(f"∂/∂{_greek(names[1])}", labelpad=1)
        twin.tick_params(labelleft=False)
        # the axes hold the start's central 90 %: the draws beyond them are counted, not hidden
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        self.outside = []
        for points in (self.reparam, self.score):
            x, y = points[..., 0], points[..., 1]
            with np.errstate(invalid="ignore"):
                inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            self.outside.append(1.0 - inside.mean(axis=1))

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        index = int(np.clip(np.searchsorted(self.cloud_steps, step, side="right") - 1, 0,
                            len(self.cloud_steps) - 1))
        artists: list[Any] = []
        exact = self.exact[index]
        for k in range(2):
            points = (self.reparam, self.score)[k][index]
            self.clouds[k].set_data(points[:, 0], points[:, 1])
            if np.isfinite(exact).all():
                self.arrows[k].set_UVC([exact[0]], [exact[1]])
            beyond = self.outside[k][index]
            self.notes[k].set_text(f"Var {self.variance[index, k]:.3g}")
            self.beyond_notes[k].set_text(f"{percent(beyond)} outside" if beyond > 0 else "")
            artists += [self.clouds[k], self.arrows[k], self.notes[k], self.beyond_notes[k]]
        return artists


def _greek(name: str) -> str:
    return {"mu": "μ", "log_sigma": "log σ"}.get(name, name)
