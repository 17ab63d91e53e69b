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
from optiviz.render.landscape import legend_below, run_colors, shown_values
from optiviz.render.panels import PanelContext, build_panels
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
        self.key_colors = tuple(dict.fromkeys(colors))
        self.panel_names = panel_list(experiment)
        panels = [p for p in self.panel_names if p != "landscape"]
        blocks = figure.add_gridspec(1, len(result.divergences))
        self.parts: list[Any] = []
        self.counters: list[Any] = []
        one_d = config.built.dim == 1
        for di, name in enumerate(result.divergences):
            runs = np.flatnonzero(result.run_divergence == di)
            below = (["landscape"] if one_d else []) + [
                p for p in panels if p != "gradients" or name == "reverse"]
            if one_d:
                block = blocks[0, di].subgridspec(2, max(len(below), 1),
                                                  height_ratios=[1.0, 1.25 if below else 0.01])
                top = figure.add_subplot(block[0, :])
                cells = [block[1, i] for i in range(len(below))]
            else:  # p's map beside the panels: a 2-D map needs its height
                block = blocks[0, di].subgridspec(1, 1 + len(below),
                                                  width_ratios=[1.5] + [1.0] * len(below))
                top = figure.add_subplot(block[0, 0])
                cells = [block[0, 1 + i] for i in range(len(below))]
            style_axes(top, theme, size)
            top.set_title(BLOCK_TITLES[name], color=theme.foreground, fontsize=size, loc="left")
            how = (f"{config.gradient} gradients, {config.samples} draws a step"
                   if config.gradient != "exact" else "exact gradients")
            top.text(0.99, 0.80, how, transform=top.transAxes, ha="right", va="top",
                     fontsize=size * 0.75, color=theme.muted, zorder=3)
            if one_d:
                self.parts.append(DensityPanel(top, result, runs, colors, theme, config))
            else:
                self.parts.append(EllipsePanel(top, result, runs, colors, theme, config, size))
            counter = CachedGlyphText(top, 0.99, 0.97, size=size * 0.85, color=theme.foreground,
                                      box_color=theme.panel, box_alpha=0.85, align="right",
                                      zorder=ANIMATED_Z + 3)
            self.counters.append(counter)
            axes = [figure.add_subplot(cell) for cell in cells]
            for ax in axes:
                style_axes(ax, theme, size)
            context = PanelContext(
                experiment=experiment, trajectories=result, theme=theme,
                colors=colors, groups=[runs], group_colors=[colors[r] for r in runs],
                domain=None, size=size, width=render.width,
                extras={"divergence": di, "name": name, "runs": runs})
            names = [p for p in below if p != "landscape"]
            if one_d and below:
                self.parts.append(LandscapePanel(axes[0], result, di, runs, colors, theme))
                axes = axes[1:]
            self.parts += build_panels(names, axes, "variational", context)
        handles = self._key(result, colors, theme, one_d)
        legend = legend_below(figure, handles, {
            "fancybox": False, "framealpha": 1.0, "borderpad": 0.3, "handlelength": 1.8,
            "columnspacing": 1.2})
        legend.get_frame().set_linewidth(0)
        freeze_layout(figure)

    def _key(self, result: Any, colors: Sequence[str], theme: Any, one_d: bool) -> list[Any]:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles: list[Any] = [Patch(facecolor=theme.muted, alpha=0.45, edgecolor=theme.muted,
                                    label="target p")]
        seen: set[int] = set()
        for r in range(result.runs):
            entry = int(result.run_optimizer[r])
            if entry in seen:
                continue
            seen.add(entry)
            label = str(result.label[r]).split(" · ")[0]
            handles.append(Line2D([], [], color=colors[r], linewidth=2,
                                  label=f"q by {label}"))
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
                                  label="exact gradient (dots: reparam, ✕: score)"))
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


class _AsTrajectories:
    """What ``run_colors`` reads of a result."""

    def __init__(self, result: Any):
        self.run_optimizer = result.run_optimizer


def _gauss(x: np.ndarray, mu: float, log_sigma: float) -> np.ndarray:
    sigma = np.exp(log_sigma)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


class DensityPanel:
    """1-D: p filled, each run's q = N(μ, σ²) drawn over it at the current step."""

    def __init__(self, ax: Any, result: Any, runs: np.ndarray, colors: Sequence[str],
                 theme: Any, config: Any):
        x, p = result.density["x"], result.density["p"]
        self.x = x
        self.runs = runs
        self.positions = result.positions
        ax.fill_between(x, 0, p, color=theme.muted, alpha=0.45, linewidth=0, zorder=1)
        ax.plot(x, p, color=theme.muted, linewidth=1.0, zorder=2)
        peaks = [p.max()]
        with np.errstate(all="ignore"):
            for r in runs:
                finite = np.isfinite(self.positions[r]).all(axis=1)
                heights = 1 / (np.exp(self.positions[r, finite, 1]) * np.sqrt(2 * np.pi))
                peaks.append(float(np.quantile(heights, 0.9)) if heights.size else 0.0)
                peaks.append(float(heights[0]) if heights.size else 0.0)
        top = min(max(peaks), 3.0 * p.max())
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1.12 * top)
        ax.set_ylabel("density", labelpad=1)
        ax.set_xlabel("z", labelpad=1)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.3)
        ax.set_autoscale_on(False)
        self.curves = [ax.plot([], [], color=colors[r], linewidth=1.8, animated=True,
                               zorder=ANIMATED_Z, path_effects=theme.halo(colors[r], 1.8))[0]
                       for r in runs]

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        for curve, r in zip(self.curves, self.runs, strict=True):
            mu, log_sigma = self.positions[r, step, :2]
            if np.isfinite(mu) and np.isfinite(log_sigma):
                curve.set_data(self.x, _gauss(self.x, mu, log_sigma))
            else:
                curve.set_data([], [])
        return list(self.curves)


class LandscapePanel:
    """1-D: the divergence over (μ, log σ), exact on the result's grid, with each run's path."""

    def __init__(self, ax: Any, result: Any, divergence: int, runs: np.ndarray,
                 colors: Sequence[str], theme: Any):
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
        self.lines, self.heads, self.runs = [], [], runs
        self.positions = positions
        for r in runs:
            ax.plot(positions[r, 0, 0], positions[r, 0, 1], marker="o", markersize=5,
                    markerfacecolor="none", markeredgecolor=colors[r], linestyle="none",
                    zorder=4)
            self.lines.append(GrowingLine(ax, positions[r, :, 0], positions[r, :, 1],
                                          color=colors[r], linewidth=1.4,
                                          path_effects=theme.halo(colors[r], 1.4)))
            self.heads.append(ax.plot([], [], marker="o", markersize=6, color=colors[r],
                                      markeredgecolor=theme.marker_edge_for(colors[r]),
                                      linestyle="none", animated=True,
                                      zorder=ANIMATED_Z + 1)[0])

    def restage(self, stop: int) -> bool:
        return any([line.fold(stop) for line in self.lines])

    def update(self, step: int) -> list[Any]:
        artists = [line.show(step + 1) for line in self.lines]
        for head, r in zip(self.heads, self.runs, strict=True):
            point = self.positions[r, step, :2]
            head.set_data([point[0]], [point[1]])
            head.set_visible(bool(np.isfinite(point).all()))
        return artists + list(self.heads)


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
        weights = np.exp(np.where(np.isfinite(log_p), log_p - top, -np.inf))
        self.top_ax = ax.inset_axes([0, 1.0, 1, 0.16], sharex=ax)
        self.right_ax = ax.inset_axes([1.0, 0, 0.12, 1], sharey=ax)
        px, py = weights.sum(axis=0), weights.sum(axis=1)
        px = px / (px.sum() * (x[1] - x[0]))
        py = py / (py.sum() * (y[1] - y[0]))
        self.top_ax.fill_between(x, 0, px, color=theme.muted, alpha=0.45, linewidth=0)
        self.right_ax.fill_betweenx(y, 0, py, color=theme.muted, alpha=0.45, linewidth=0)
        self.top_ax.set_ylim(0, 1.6 * px.max())
        self.right_ax.set_xlim(0, 1.6 * py.max())
        for inset in (self.top_ax, self.right_ax):
            inset.set_axis_off()
        self.top_lines = [self.top_ax.plot([], [], color=colors[r], linewidth=1.2,
                                           animated=True)[0] for r in runs]
        self.right_lines = [self.right_ax.plot([], [], color=colors[r], linewidth=1.2,
                                               animated=True)[0] for r in runs]

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
        values = np.concatenate([s[np.isfinite(s)] for s in series
                                 + (band if self.has_band else [])])
        low, high = np.quantile(values, [0.0, 1.0]) if values.size else (0.0, 1.0)
        pad = 0.06 * (high - low or 1.0)
        ax.set_xlim(0, max(result.steps, 1))
        ax.set_ylim(low - pad, high + pad)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.35)
        ax.set_xlabel("step", labelpad=1)
        ax.set_ylabel("nats", labelpad=1)
        ax.set_autoscale_on(False)
        self.cursor = ax.axvline(0, color=theme.muted, linewidth=0.9, animated=True,
                                 zorder=ANIMATED_Z - 1)
        self.lines = []
        self.bands = []
        self.band_values = band
        for i, r in enumerate(runs):
            color = context.colors[r]
            for k, (style, width) in enumerate((("-", 1.6), ("--", 1.0), (":", 1.2))):
                self.lines.append(GrowingLine(ax, steps, series[k][i], color=color,
                                              linewidth=width, linestyle=style))
            if self.has_band:
                band_poly = PolyCollection([np.zeros((0, 2))], facecolors=color, alpha=0.22,
                                           edgecolors="none", animated=True,
                                           zorder=ANIMATED_Z - 2)
                ax.add_collection(band_poly)
                self.bands.append(band_poly)
        terms = TERMS[name]
        ax.set_title(f"KL = {terms[1].split(' ', 1)[1]} − {terms[2].split(' ', 1)[1]}",
                     fontsize=ax.title.get_size() * 0.9, loc="left")

    def restage(self, stop: int) -> bool:
        return any([line.fold(stop) for line in self.lines])

    def update(self, step: int) -> list[Any]:
        self.cursor.set_xdata([step, step])
        artists: list[Any] = [self.cursor]
        for i, poly in enumerate(self.bands):
            low = self.band_values[0][i, : step + 1]
            high = self.band_values[1][i, : step + 1]
            t = self.t[: step + 1]
            keep = np.isfinite(low) & np.isfinite(high)
            verts = np.concatenate([np.column_stack([t[keep], low[keep]]),
                                    np.column_stack([t[keep][::-1], high[keep][::-1]])])
            poly.set_verts([verts])
            artists.append(poly)
        artists += [line.show(step + 1) for line in self.lines]
        return artists


class GradientsPanel:
    """At q's current parameters (the block's first run): single-draw reparam (dots) and score
    (crosses) estimates of the reverse KL's gradient on one pair of axes, the exact gradient as
    an arrow, and each estimator's variance (summed over the parameters)."""

    def __init__(self, ax: Any, context: PanelContext):
        result = context.trajectories
        theme = context.theme
        clouds = result.clouds
        self.cloud_steps = clouds["steps"]
        self.reparam, self.score = clouds["reparam"], clouds["score"]
        self.exact, self.variance = clouds["exact"], clouds["variance"]
        names = result.param_names
        both = np.concatenate([self.reparam[..., :2].reshape(-1, 2),
                               self.score[..., :2].reshape(-1, 2), self.exact[:, :2]])
        both = both[np.isfinite(both).all(axis=1)]
        lo = np.quantile(both, 0.03, axis=0) if both.size else np.array([-1.0, -1.0])
        hi = np.quantile(both, 0.97, axis=0) if both.size else np.array([1.0, 1.0])
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        pad = 0.08 * np.maximum(hi - lo, 1e-9)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.axhline(0, color=theme.muted, linewidth=0.6)
        ax.axvline(0, color=theme.muted, linewidth=0.6)
        ax.set_title("one-draw gradients at q", fontsize=ax.title.get_size() * 0.9, loc="left")
        ax.set_xlabel(f"∂/∂{_greek(names[0])}", labelpad=1)
        ax.set_ylabel(f"∂/∂{_greek(names[1])}", labelpad=1)
        ax.set_autoscale_on(False)
        palette = [c for c in theme.runs if c not in context.colors] or list(theme.runs)
        self.colors = (palette[0], palette[1 % len(palette)])
        self.clouds = [ax.plot([], [], marker=marker, markersize=size, linestyle="none",
                               color=color, alpha=0.65, animated=True, zorder=ANIMATED_Z,
                               label=label)[0]
                       for marker, size, color, label in (
                           (".", 4, self.colors[0], "reparam"),
                           ("x", 3, self.colors[1], "score"))]
        self.arrow = ax.quiver([0.0], [0.0], [0.0], [0.0], angles="xy", scale_units="xy",
                               scale=1, color=theme.foreground, width=0.012, animated=True,
                               zorder=ANIMATED_Z + 1)
        self.notes = [CachedGlyphText(ax, 0.03, 0.97 - 0.11 * k, size=context.size * 0.72,
                                      color=self.colors[k], box_color=theme.panel,
                                      box_alpha=0.85, zorder=ANIMATED_Z + 2) for k in range(2)]

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        index = int(np.clip(np.searchsorted(self.cloud_steps, step, side="right") - 1, 0,
                            len(self.cloud_steps) - 1))
        artists: list[Any] = []
        for k, name in enumerate(("reparam", "score")):
            points = (self.reparam, self.score)[k][index]
            self.clouds[k].set_data(points[:, 0], points[:, 1])
            self.notes[k].set_text(f"{name} Var {self.variance[index, k]:.3g}")
            artists += [self.clouds[k], self.notes[k]]
        exact = self.exact[index]
        if np.isfinite(exact).all():
            self.arrow.set_UVC([exact[0]], [exact[1]])
        return artists + [self.arrow]


def _greek(name: str) -> str:
    return {"mu": "μ", "log_sigma": "log σ"}.get(name, name)
