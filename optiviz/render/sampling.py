"""Sampling scenes: histograms filling up, importance weights, MCMC chains walking.

Every scene follows :mod:`optiviz.render.scene`: static artists (true densities, contours,
strata) are drawn once; moving ones are ``animated=True`` and updated in place (a histogram is
one ``stairs`` artist and ``set_data``, a point cloud one scatter and ``set_offsets``, text
``set_text``). Axis limits are fixed up front from the final data. The numbers shown come from
the sampling result; binning for display is the only computation here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.scene import ANIMATED_Z, freeze_layout, new_figure
from optiviz.render.theme import Theme, font_size, get_theme, rc_params, style_axes
from optiviz.sampling.methods import cumulative_histograms

DEFAULT_FRAMES = 120
BOX = {"boxstyle": "round,pad=0.3", "alpha": 0.88, "edgecolor": "none"}


def build_scene(experiment: Any, result: Any) -> Any:
    """The scene for a sampling result, chosen by its method and dimension."""
    import matplotlib

    render = experiment.render
    theme = get_theme(render.theme)
    size = font_size(render.width, render.height)
    with matplotlib.rc_context(rc_params(theme, size)):
        if result.method == "metropolis":
            if len(result.scales) > 1:
                return ScaleComparisonScene(experiment, result, theme, size)
            return ChainScene(experiment, result, theme, size)
        if result.method == "importance":
            return ImportanceScene(experiment, result, theme, size)
        if result.method == "stratified":
            return StratifiedScene(experiment, result, theme, size)
        if result.distribution.dim == 1:
            return HistogramScene(experiment, result, theme, size)
        return CloudScene(experiment, result, theme, size)


# shared pieces ------------------------------------------------------------------------------------

def checkpoint_frames(count: int, frames: int | None) -> np.ndarray:
    """Indices into a result's (log-spaced) checkpoints, one per frame, always ending last."""
    wanted = min(count, frames or DEFAULT_FRAMES)
    return np.unique(np.round(np.linspace(0, count - 1, max(wanted, 1))).astype(int))


def title_of(experiment: Any, result: Any) -> str:
    return experiment.render.title or experiment.title or result.distribution.title


def setup_figure(experiment: Any, result: Any, theme: Theme, size: float) -> Any:
    render = experiment.render
    figure = new_figure(render.width, render.height, render.dpi, theme.background)
    figure.set_layout_engine("constrained", h_pad=0.04, w_pad=0.04)
    figure.suptitle(title_of(experiment, result), color=theme.foreground, fontsize=size * 1.15,
                    fontweight="bold")
    return figure


def readout(ax: Any, theme: Theme, size: float, *, x: float = 0.02, y: float = 0.97,
            ha: str = "left", va: str = "top") -> Any:
    """An animated monospace caption in a translucent box."""
    return ax.text(x, y, "", transform=ax.transAxes, ha=ha, va=va, family="monospace",
                   multialignment="left",
                   fontsize=size * 0.78, color=theme.foreground, animated=True,
                   zorder=ANIMATED_Z + 2, bbox={**BOX, "facecolor": theme.panel})


class Readout:
    """A table of live numbers: static labels and reference values drawn once, only the numbers
    animated (text is the most expensive thing a frame draws, so a frame draws as few glyphs as
    possible). ``side`` "left" or "right": the upper corner of ``ax`` it sits in."""

    def __init__(self, ax: Any, theme: Theme, size: float, labels: Sequence[str],
                 notes: Sequence[str], *, value_width: int = 9, side: str = "left"):
        from matplotlib.transforms import offset_copy

        font = {"family": "monospace", "fontsize": size * 0.78, "va": "top", "ha": "left"}
        label_width = max(len(label) for label in labels) + 1
        char = 0.6 * font["fontsize"]  # DejaVu Sans Mono advance, in points
        rows = [label.ljust(label_width + value_width) + note
                for label, note in zip(labels, notes, strict=True)]
        # on the right, the table's left edge sits its own width left of the corner
        shift = 0.0 if side == "left" else -max(len(row) for row in rows) * char
        x = 0.02 if side == "left" else 0.98
        box = {**BOX, "facecolor": theme.panel, "alpha": 0.75}
        self.labels = ax.text(x, 0.97, "\n".join(rows), color=theme.muted, bbox=box,
                              transform=offset_copy(ax.transAxes, fig=ax.figure, x=shift, y=0,
                                                    units="points"),
                              zorder=ANIMATED_Z - 1, **font)
        where = offset_copy(ax.transAxes, fig=ax.figure, x=shift + label_width * char, y=0,
                            units="points")
        self.values = ax.text(x, 0.97, "", transform=where, color=theme.foreground,
                              animated=True, zorder=ANIMATED_Z + 2, **font)

    def set(self, values: Sequence[str]) -> Any:
        self.values.set_text("\n".join(values))
        return self.values

    def bottom(self) -> float:
        """The lowest point of the table's box, as a fraction of the axes height."""
        ax = self.labels.axes
        renderer = ax.figure.canvas.get_renderer()
        box = self.labels.get_bbox_patch()
        self.labels.update_bbox_position_size(renderer)
        lowest = box.get_window_extent(renderer).y0
        return float(ax.transAxes.inverted().transform((0, lowest))[1])

    def span(self) -> tuple[float, float]:
        """The table's horizontal extent, as fractions of the axes width."""
        ax = self.labels.axes
        renderer = ax.figure.canvas.get_renderer()
        self.labels.update_bbox_position_size(renderer)
        extent = self.labels.get_bbox_patch().get_window_extent(renderer)
        inverse = ax.transAxes.inverted()
        return (float(inverse.transform((extent.x0, 0))[0]),
                float(inverse.transform((extent.x1, 0))[0]))


def room_under(ax: Any, caption_bottom: float, span: tuple[float, float], x: np.ndarray,
               heights: np.ndarray, top: float) -> float:
    """A y-axis top (from 0) at least ``top`` and high enough that ``heights`` at ``x`` under
    the caption's horizontal ``span`` (axes fractions) stay below its box."""
    x0, x1 = ax.get_xlim()
    u = (np.asarray(x, float) - x0) / (x1 - x0)
    under = (u >= span[0] - 0.02) & (u <= span[1] + 0.02)
    if not under.any():
        return top
    highest = float(np.nanmax(np.where(under, heights, 0.0)))
    return max(top, highest / max(caption_bottom - 0.03, 0.2))


def density_stairs(ax: Any, edges: np.ndarray, color: str) -> Any:
    return ax.stairs(np.zeros(len(edges) - 1), edges, fill=True, color=color, alpha=0.55,
                     animated=True, zorder=ANIMATED_Z)


def show_axes(ax: Any, theme: Theme, size: float, xlabel: str = "", ylabel: str = "") -> None:
    style_axes(ax, theme, size * 0.9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# direct sampling, univariate ----------------------------------------------------------------------

class HistogramScene:
    """A density histogram filling up against the true PDF/PMF, and KL(empirical ‖ true) vs n."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        from matplotlib.ticker import MaxNLocator

        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        grid = figure.add_gridspec(1, 2, width_ratios=(3.2, 1))
        ax = figure.add_subplot(grid[0])
        kl_ax = figure.add_subplot(grid[1])
        show_axes(ax, theme, size, "x", "probability" if dist.discrete else "density")
        edges, counts = display_bins(result, self.indices)
        self.widths = np.diff(edges)
        self.counts = counts
        sizes = result.checkpoints[self.indices]
        heights = counts / (sizes[:, None] * self.widths)
        centres = 0.5 * (edges[:-1] + edges[1:])
        if dist.discrete:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            support = np.round(0.5 * (result.edges[:-1] + result.edges[1:]))
            truth = result.true_probabilities
            ax.plot(support, truth, "o", color=theme.foreground, markersize=4,
                    label="true PMF", zorder=3)
            ax.vlines(support, 0, truth, color=theme.foreground, lw=1, zorder=3)
            curve_x, curve = support, truth
        else:
            curve_x = np.linspace(result.edges[0], result.edges[-1], 400)
            curve = dist.pdf(curve_x)
            curve = np.where(np.isfinite(curve), curve, 0.0)
            ax.plot(curve_x, curve, color=theme.foreground, lw=1.6, label="true PDF", zorder=3)
        # the first few dozen samples make tall, narrow spikes; scale to the settled histogram
        # (n >= a tenth of the total) and let the early spikes run off the top for a moment
        settled = heights[sizes >= sizes[-1] / 10]
        top = 1.12 * max(curve.max(), settled.max())
        ax.set_xlim(result.edges[0], result.edges[-1])
        self.bars = density_stairs(ax, edges, theme.runs[0])
        # the caption goes to the upper corner over the lower half of the distribution
        final = heights[-1]
        left = np.nanmax(np.where(centres <= np.median(centres), np.maximum(final, 0), 0))
        right = np.nanmax(np.where(centres >= np.median(centres), np.maximum(final, 0), 0))
        side = "left" if left <= right else "right"
        ax.legend(loc="upper right" if side == "left" else "upper left", fontsize=size * 0.75)
        truth_notes = [f"(true {dist.mean:.3f})", f"(true {dist.cov:.3f})", ""]
        labels = ["n", "mean", "var", "KL"]
        notes = ["", *truth_notes]
        if dist.discrete and dist.entropy is not None:
            labels.append("H(emp,p)")
            notes.append(f"(H(p) {dist.entropy:.3f})")
        if result.estimate is not None:
            labels.append(f"E[{result.estimate_text}]")
            notes.append("" if result.true_estimate is None
                         else f"(true {result.true_estimate:.3f})")
        self.caption = Readout(ax, theme, size, labels, notes, side=side)
        show_axes(kl_ax, theme, size, "samples n", "")
        kl_ax.set_title("KL(empirical ‖ true)", fontsize=size * 0.85)
        kl = np.maximum(result.kl, 1e-6)
        kl_ax.set_xscale("log")
        kl_ax.set_yscale("log")
        kl_ax.set_xlim(result.checkpoints[0], result.checkpoints[-1] * 1.3)
        kl_ax.set_ylim(kl.min() / 2, kl.max() * 2)
        kl_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        (self.kl_line,) = kl_ax.plot([], [], color=theme.runs[1], lw=1.6, animated=True,
                                     zorder=ANIMATED_Z)
        self.kl = kl
        ax.set_ylim(0, top)
        # the caption must not cover the late bars or the true curve under it; lay out once to
        # measure it, then again with the final limits (tick labels change width)
        figure.get_layout_engine().execute(figure)
        late = heights[sizes >= sizes[-1] / 3].max(axis=0)
        # a bar is under the caption if any of it is (wide PMF bars: Bernoulli's two halves)
        ax.set_ylim(0, room_under(ax, self.caption.bottom(), self.caption.span(),
                                  np.concatenate([edges[:-1], edges[1:], curve_x]),
                                  np.concatenate([late, late, curve]), top))
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        frame = min(frame, self.n_frames - 1)
        r, k = self.result, self.indices[frame]
        n = r.checkpoints[k]
        self.bars.set_data(self.counts[frame] / (n * self.widths))
        self.kl_line.set_data(r.checkpoints[: k + 1], self.kl[: k + 1])
        dist = r.distribution
        values = [f"{n:,}", f"{r.mean[k]: .3f}", f"{r.var[k]: .3f}", f"{r.kl[k]:.4f}"]
        if dist.discrete and dist.entropy is not None:
            values.append(f"{r.cross_entropy[k]:.3f}")
        if r.estimate is not None:
            values.append(f"{r.estimate[k]:.3f}")
        caption = self.caption.set(values)
        return [self.bars, self.kl_line, caption]


def display_bins(result: Any, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Histogram edges and per-frame counts to draw. A continuous distribution whose support
    ends inside the plotted range (uniform, beta, exponential) is re-binned inside its support:
    a bin straddling the edge would smear density over values that never occur."""
    dist, edges = result.distribution, result.edges
    counts = result.counts[indices]
    if dist.discrete:
        return edges, counts
    support = dist.support
    if support is None:  # ask scipy (already imported: it sampled this distribution)
        frozen = dist.frozen
        if frozen is None:
            return edges, counts
        support = frozen.support()
    low, high = (float(v) for v in support)
    inside_low, inside_high = max(edges[0], low), min(edges[-1], high)
    if (inside_low, inside_high) == (edges[0], edges[-1]) or inside_high <= inside_low:
        return edges, counts
    edges = np.linspace(inside_low, inside_high, len(edges))
    return edges, cumulative_histograms(result.samples, edges, result.checkpoints[indices])


# direct sampling, multivariate --------------------------------------------------------------------

def ellipse_points(mean: np.ndarray, cov: np.ndarray, radius: float, count: int = 120):
    """Points of {x : (x−μ)ᵀΣ⁻¹(x−μ) = r²}."""
    angle = np.linspace(0, 2 * np.pi, count)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return (mean[:, None] + radius * np.linalg.cholesky(cov) @ circle).T


SIMPLEX = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])


class CloudScene:
    """Samples of a 2-D distribution arriving: MVN with its 1σ/2σ covariance ellipses (true:
    solid, empirical: dashed), Dirichlet(α₁, α₂, α₃) on the simplex triangle over its density."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        ax = figure.add_subplot(1, 1, 1)
        show_axes(ax, theme, size)
        self.simplex = dist.name == "dirichlet" and dist.dim == 3
        if self.simplex:
            self.points = result.samples @ SIMPLEX
            ax.set_aspect("equal")
            ax.axis("off")
            grid = np.linspace(0.005, 0.995, 160)
            a, b = np.meshgrid(grid, grid)
            c = 1 - a - b
            inside = c > 0.002
            parts = np.stack([a[inside], b[inside], c[inside]], axis=1)
            xy = parts @ SIMPLEX
            density = dist.pdf(parts)
            ax.tricontourf(xy[:, 0], xy[:, 1], density, levels=14, cmap=theme.colormap(),
                           zorder=1)
            ax.tricontour(xy[:, 0], xy[:, 1], density, levels=8, colors=theme.contour_line,
                          linewidths=0.6, zorder=ANIMATED_Z + 1)
            ax.fill(*SIMPLEX.T, fill=False, edgecolor=theme.foreground, lw=1.0, zorder=2)
            for corner, label in zip(SIMPLEX, ("x₁", "x₂", "x₃"), strict=True):
                ax.annotate(label, corner, textcoords="offset points",
                            xytext=(0, -12 if corner[1] == 0 else 6), ha="center",
                            color=theme.foreground)
            ax.set_xlim(-0.05, 1.05)
            ax.set_ylim(-0.08, 0.93)
        else:
            self.points = result.samples[:, :2]
            mean, cov = np.asarray(dist.mean)[:2], np.asarray(dist.cov)[:2, :2]
            for radius in (1.0, 2.0):
                ring = ellipse_points(mean, cov, radius)
                ax.plot(ring[:, 0], ring[:, 1], color=theme.foreground, lw=1.3, zorder=3)
            (x0, x1), (y0, y1) = dist.domain[:2]
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_xlabel("x₁")
            ax.set_ylabel("x₂")
        self.empirical = [ax.plot([], [], color=theme.runs[1], lw=1.3, ls="--", animated=True,
                                  zorder=ANIMATED_Z + 1)[0] for _ in (1, 2)]
        n = len(self.points)
        marker = max(1.5, min(12.0, 1500.0 / np.sqrt(n)))
        self.cloud = ax.scatter([], [], s=marker, color=theme.runs[0], alpha=0.45, lw=0,
                                animated=True, zorder=ANIMATED_Z)
        self.caption = readout(ax, theme, size)
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r, k = self.result, self.indices[min(frame, self.n_frames - 1)]
        n = r.checkpoints[k]
        self.cloud.set_offsets(self.points[:n])
        artists = [self.cloud]
        mean = np.atleast_1d(r.mean[k])
        text = [f"n = {n:,}", "mean " + " ".join(f"{m:.3f}" for m in mean),
                "true " + " ".join(f"{m:.3f}" for m in np.atleast_1d(r.distribution.mean))]
        if not self.simplex and n > 3:
            cov = np.cov(self.points[:n].T)
            if np.all(np.linalg.eigvalsh(cov) > 0):
                for radius, line in zip((1.0, 2.0), self.empirical, strict=True):
                    ring = ellipse_points(mean[:2], cov, radius)
                    line.set_data(ring[:, 0], ring[:, 1])
                artists += self.empirical
        self.caption.set_text("\n".join(text))
        return artists + [self.caption]


# stratified vs plain ------------------------------------------------------------------------------

class StratifiedScene:
    """Left: both sample sets filling their histograms, strata boundaries marked. Right: the two
    running estimates with ±2 SE bands converging to the truth."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        hist_ax, est_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": (1.2, 1)})
        show_axes(hist_ax, theme, size, "x", "density")
        show_axes(est_ax, theme, size, "samples n", f"estimate of E[{result.estimate_text}]")
        lo, hi = dist.domain
        edges = np.linspace(lo, hi, 61)
        x = np.linspace(lo, hi, 400)
        hist_ax.plot(x, dist.pdf(x), color=theme.foreground, lw=1.5, zorder=3)
        for b in result.boundaries[1:-1]:
            hist_ax.axvline(b, color=theme.muted, lw=0.7, ls=":", zorder=2)
        hist_ax.set_xlim(lo, hi)
        hist_ax.set_ylim(0, 1.35 * np.max(dist.pdf(x)))
        checkpoints = result.checkpoints[self.indices]
        self.widths = np.diff(edges)
        self.plain_counts = cumulative_histograms(result.plain_samples, edges, checkpoints)
        self.strat_counts = cumulative_histograms(result.samples, edges, checkpoints)
        plain_color, strat_color = theme.runs[1], theme.runs[0]
        self.plain_bars = hist_ax.stairs(np.zeros(60), edges, color=plain_color, lw=1.4,
                                         animated=True, zorder=ANIMATED_Z, label="plain")
        self.strat_bars = hist_ax.stairs(np.zeros(60), edges, color=strat_color, lw=1.4,
                                         fill=True, alpha=0.45, animated=True,
                                         zorder=ANIMATED_Z, label=f"stratified ({result.strata})")
        hist_ax.legend(loc="upper right", fontsize=size * 0.75)
        est_ax.set_xscale("log")
        est_ax.axhline(result.true_value, color=theme.foreground, lw=1.0, ls="--", zorder=2)
        c = result.checkpoints
        est_ax.set_xlim(c[0], c[-1] * 1.2)
        start = len(c) // 10
        spread = 2.5 * max(result.plain_se[start:].max(), result.stratified_se[start:].max())
        est_ax.set_ylim(result.true_value - spread, result.true_value + spread)
        est_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        self.curves = []
        for estimate, se, color, label in (
            (result.plain_estimate, result.plain_se, plain_color, "plain"),
            (result.stratified_estimate, result.stratified_se, strat_color, "stratified"),
        ):
            band = est_ax.fill_between(c[:1], estimate[:1], estimate[:1], color=color,
                                       alpha=0.25, lw=0, animated=True, zorder=ANIMATED_Z)
            (line,) = est_ax.plot([], [], color=color, lw=1.5, label=label, animated=True,
                                  zorder=ANIMATED_Z + 1)
            self.curves.append((estimate, se, band, line))
        est_ax.legend(loc="upper right", fontsize=size * 0.75)
        # lower right: by then the estimates have settled at the centre of the axis
        self.caption = readout(est_ax, theme, size, x=0.98, y=0.03, ha="right", va="bottom")
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        frame = min(frame, self.n_frames - 1)
        k = self.indices[frame]
        n = r.checkpoints[k]
        self.plain_bars.set_data(self.plain_counts[frame] / (n * self.widths))
        self.strat_bars.set_data(self.strat_counts[frame] / (n * self.widths))
        artists: list[Any] = [self.plain_bars, self.strat_bars]
        c = r.checkpoints[: k + 1]
        for estimate, se, band, line in self.curves:
            upper, lower = estimate[: k + 1] + 2 * se[: k + 1], estimate[: k + 1] - 2 * se[: k + 1]
            band.set_verts([np.concatenate([np.column_stack([c, upper]),
                                            np.column_stack([c[::-1], lower[::-1]])])])
            line.set_data(c, estimate[: k + 1])
            artists += [band, line]
        self.caption.set_text(
            f"n = {n:,}\nplain      {r.plain_estimate[k]: .4f} ± {2 * r.plain_se[k]:.4f}\n"
            f"stratified {r.stratified_estimate[k]: .4f} ± {2 * r.stratified_se[k]:.4f}")
        return artists + [self.caption]


# importance sampling ------------------------------------------------------------------------------

class ImportanceScene:
    """Top left: p, q and the weighted histogram of the draws (→ p); draws as a rug coloured and
    sized by weight. Top right: the weight histogram. Bottom: plain and self-normalized
    estimates converging to the truth, with the effective sample size."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        import matplotlib

        target, proposal = result.distribution, result.proposal
        self.result = result
        self.indices = checkpoint_frames(len(result.checkpoints), experiment.render.frames)
        self.n_frames = len(self.indices)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        grid = figure.add_gridspec(2, 2, width_ratios=(2.2, 1), height_ratios=(1.3, 1))
        ax = figure.add_subplot(grid[0, 0])
        weight_ax = figure.add_subplot(grid[0, 1])
        est_ax = figure.add_subplot(grid[1, :])
        show_axes(ax, theme, size, "", "density")
        show_axes(weight_ax, theme, size, "weight p/q", "")
        show_axes(est_ax, theme, size, "samples n", f"E_p[{result.estimate_text}]")
        lo = min(target.domain[0], proposal.domain[0])
        hi = max(target.domain[1], proposal.domain[1])
        x = np.linspace(lo, hi, 400)
        ax.plot(x, target.pdf(x), color=theme.foreground, lw=1.6, label="target p", zorder=3)
        ax.plot(x, proposal.pdf(x), color=theme.runs[1], lw=1.4, ls="--", label="proposal q",
                zorder=3)
        top = 1.3 * max(target.pdf(x).max(), proposal.pdf(x).max())
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.12 * top, top)
        ax.axhline(0, color=theme.muted, lw=0.6)
        checkpoints = result.checkpoints[self.indices]
        edges = np.linspace(lo, hi, 61)
        self.widths = np.diff(edges)
        inside = (result.samples >= lo) & (result.samples <= hi)
        order = np.arange(len(result.samples))
        self.weighted = np.stack([
            np.histogram(result.samples[:n], edges, weights=result.weights[:n])[0] / n
            for n in checkpoints])
        self.bars = density_stairs(ax, edges, theme.runs[0])
        self.bars.set_label("weighted draws")
        ax.legend(loc="upper right", fontsize=size * 0.72)
        weights = result.weights
        self.norm = matplotlib.colors.LogNorm(max(weights.min(), weights.max() * 1e-4),
                                              weights.max())
        self.rug_x = np.where(inside, result.samples, np.nan)
        self.rug_y = -0.06 * top + 0.04 * top * (order % 5 - 2) / 2
        self.rug_sizes = 4 + 40 * weights / weights.max()
        self.rug_colors = matplotlib.colormaps["viridis"](self.norm(weights))
        self.rug = ax.scatter([], [], s=[], lw=0, alpha=0.8, animated=True, zorder=ANIMATED_Z)
        self.rug_limit = 1500  # newest draws shown as the rug: older ones are in the histogram
        weight_edges = np.geomspace(self.norm.vmin, weights.max() * 1.01, 41)
        self.weight_counts = cumulative_histograms(np.clip(weights, self.norm.vmin, None),
                                                   weight_edges, checkpoints)
        weight_ax.set_xscale("log")
        weight_ax.set_xlim(weight_edges[0], weight_edges[-1])
        weight_ax.set_ylim(0, 1.1 * self.weight_counts[-1].max() / len(weights))
        weight_ax.set_yticks([])
        weight_ax.axvline(1.0, color=theme.muted, lw=0.8, ls=":")
        weight_ax.set_title("weights (fraction of n)", fontsize=size * 0.8)
        self.weight_bars = density_stairs(weight_ax, weight_edges, theme.runs[2])
        c = result.checkpoints
        est_ax.set_xscale("log")
        est_ax.set_xlim(c[0], c[-1] * 1.2)
        if result.true_value is not None:
            est_ax.axhline(result.true_value, color=theme.foreground, lw=1.0, ls="--")
        late = np.concatenate([result.plain_estimate[len(c) // 5:],
                               result.self_normalized_estimate[len(c) // 5:]])
        centre = result.true_value if result.true_value is not None else float(np.median(late))
        spread = 1.4 * max(np.max(np.abs(late - centre)), 1e-3)
        est_ax.set_ylim(centre - spread, centre + spread)
        est_ax.grid(True, color=theme.muted, alpha=0.25, lw=0.5)
        (self.plain_line,) = est_ax.plot([], [], color=theme.runs[0], lw=1.5,
                                         label="plain (1/n)Σwf", animated=True,
                                         zorder=ANIMATED_Z)
        (self.sn_line,) = est_ax.plot([], [], color=theme.runs[3], lw=1.5,
                                      label="self-normalized Σwf/Σw", animated=True,
                                      zorder=ANIMATED_Z)
        est_ax.legend(loc="upper right", fontsize=size * 0.72)
        # lower right: by then the estimates have settled at the centre of the axis
        self.caption = readout(est_ax, theme, size, x=0.98, y=0.05, ha="right", va="bottom")
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        frame = min(frame, self.n_frames - 1)
        k = self.indices[frame]
        n = r.checkpoints[k]
        self.bars.set_data(self.weighted[frame] / self.widths)
        first = max(0, n - self.rug_limit)
        self.rug.set_offsets(np.column_stack([self.rug_x[first:n], self.rug_y[first:n]]))
        self.rug.set_sizes(self.rug_sizes[first:n])
        self.rug.set_facecolors(self.rug_colors[first:n])
        self.weight_bars.set_data(self.weight_counts[frame] / len(r.weights))
        c = r.checkpoints[: k + 1]
        self.plain_line.set_data(c, r.plain_estimate[: k + 1])
        self.sn_line.set_data(c, r.self_normalized_estimate[: k + 1])
        truth = "" if r.true_value is None else f"   true {r.true_value:.4f}"
        self.caption.set_text(
            f"n = {n:,}   ESS = {r.ess[k]:,.0f} ({r.ess[k] / n:.0%}){truth}\n"
            f"plain {r.plain_estimate[k]:.4f}   self-normalized "
            f"{r.self_normalized_estimate[k]:.4f}")
        return [self.bars, self.rug, self.weight_bars, self.plain_line, self.sn_line,
                self.caption]


# Metropolis–Hastings ------------------------------------------------------------------------------

def target_grid(dist: Any, points: int = 160, domain: Any = None, mass: float = 1.0):
    """The target's density on a grid over ``domain`` (default: its own), normalized
    numerically so that the grid holds ``mass`` (the target's probability inside ``domain``),
    with its marginals: ``(x, y, density, marginal_x, marginal_y)``."""
    (x0, x1), (y0, y1) = domain or dist.domain
    x, y = np.linspace(x0, x1, points), np.linspace(y0, y1, points)
    xx, yy = np.meshgrid(x, y)
    logp = dist.logpdf(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    density = np.exp(logp - np.max(logp[np.isfinite(logp)]))
    density = np.where(np.isfinite(density), density, 0.0)
    dx, dy = x[1] - x[0], y[1] - y[0]
    density *= mass / (density.sum() * dx * dy)
    return x, y, density, density.sum(axis=0) * dy, density.sum(axis=1) * dx


def central_domain(dist: Any, mass: float = 0.98, pad: float = 0.08):
    """``(box, inside)``: the part of the target's plotting box holding its central ``mass``
    along each axis, padded by ``pad`` (the banana's long thin tail would otherwise leave half
    the frame empty), and the target's probability inside it."""
    x, y, density, marginal_x, marginal_y = target_grid(dist, 240)
    box = []
    for grid_values, marginal in ((x, marginal_x), (y, marginal_y)):
        cdf = np.cumsum(marginal)
        cdf /= cdf[-1]
        low = grid_values[np.searchsorted(cdf, (1 - mass) / 2)]
        high = grid_values[min(np.searchsorted(cdf, (1 + mass) / 2), len(cdf) - 1)]
        extra = pad * (high - low)
        box.append((max(grid_values[0], low - extra), min(grid_values[-1], high + extra)))
    (x0, x1), (y0, y1) = box
    cells = np.outer((y >= y0) & (y <= y1), (x >= x0) & (x <= x1))
    inside = float(density[cells].sum() / density.sum())
    return tuple(box), inside


CORNERS = {  # legend location -> (x, y, ha, va) of a caption in that corner
    "upper left": (0.02, 0.97, "left", "top"),
    "upper right": (0.98, 0.97, "right", "top"),
    "lower left": (0.02, 0.03, "left", "bottom"),
    "lower right": (0.98, 0.03, "right", "bottom"),
}


def _acceptance_colors(theme: Theme) -> tuple[str, str]:
    return theme.runs[2], theme.runs[3]  # accepted: green; rejected: vermillion


def _chain_colors(theme: Theme, chains: int) -> list[str]:
    """One colour per chain, never the accepted/rejected colours (a green chain's moves would
    read as acceptances)."""
    reserved = set(_acceptance_colors(theme))
    palette = [c for c in theme.runs if c not in reserved]
    return [palette[i % len(palette)] for i in range(chains)]


class ChainScene:
    """One or more MH chains. 1-D: trace plot + histogram against the target. 2-D: chains
    walking over the target's contours with fading tails, each step's proposal as an arrow
    (green accepted, red rejected), marginal histograms, and convergence readouts."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.theme = theme
        self.steps = select_frames(result.steps, experiment.render.frames or DEFAULT_FRAMES)[1:]
        self.n_frames = len(self.steps)
        self.positions = result.positions[0]  # (C, T+1, d)
        self.chain_colors = _chain_colors(theme, result.chains)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        self.dim = dist.dim
        if dist.dim == 1:
            self._build_1d(dist, theme, size)
        else:
            self._build_2d(dist, theme, size)
        freeze_layout(figure)

    # 1-D ------------------------------------------------------------------------------------------
    def _build_1d(self, dist: Any, theme: Theme, size: float) -> None:
        from matplotlib.transforms import offset_copy

        trace_ax, hist_ax = self.figure.subplots(
            1, 2, gridspec_kw={"width_ratios": (2.2, 1)}, sharey=True)
        show_axes(trace_ax, theme, size, "step", "x")
        show_axes(hist_ax, theme, size, "density", "")
        r = self.result
        values = self.positions[:, :, 0]
        lo, hi = dist.domain
        lo, hi = min(lo, values.min()), max(hi, values.max())
        trace_ax.set_xlim(0, r.steps)
        # a band below the lowest draw holds the caption, so it never hides the traces
        trace_ax.set_ylim(lo - 0.24 * (hi - lo), hi)
        if r.burn_in:
            trace_ax.axvspan(0, r.burn_in, color=theme.muted, alpha=0.15, lw=0)
            # from the band's left edge: centred on a narrow band it would spill off the axes
            trace_ax.text(0, hi, "burn-in", ha="left", va="top", color=theme.muted,
                          fontsize=size * 0.75,
                          transform=offset_copy(trace_ax.transData, fig=self.figure, x=3, y=-2,
                                                units="points"))
        self.traces = [trace_ax.plot([], [], color=color, lw=0.7, animated=True,
                                     zorder=ANIMATED_Z)[0] for color in self.chain_colors]
        y = np.linspace(lo, hi, 400)
        pdf = dist.pdf(y)
        if not dist.normalized:
            pdf = pdf / np.trapezoid(pdf, y)
        hist_ax.plot(pdf, y, color=theme.foreground, lw=1.5, zorder=3)
        edges = np.linspace(lo, hi, 51)
        self.widths = np.diff(edges)
        kept = self._kept_counts(values[:, :, None], edges, 0)
        self.hist_counts = kept
        hist_ax.set_xlim(0, 1.25 * max(pdf.max(), (kept[-1] / max(kept[-1].sum(), 1)
                                                   / self.widths).max()))
        self.bars = hist_ax.stairs(np.zeros(50), edges, orientation="horizontal", fill=True,
                                   color=theme.runs[0], alpha=0.55, animated=True,
                                   zorder=ANIMATED_Z)
        self.caption = readout(trace_ax, theme, size, y=0.03, va="bottom")

    def _kept_counts(self, values: np.ndarray, edges: np.ndarray, axis: int) -> np.ndarray:
        """Histogram (all chains, after burn-in) of coordinate ``axis`` up to each frame's step."""
        burn = self.result.burn_in
        draws = values[:, burn + 1:, axis].T.ravel()  # step-major so prefixes are step ranges
        chains = values.shape[0]
        stops = np.maximum(self.steps - burn, 0) * chains
        counts = cumulative_histograms(draws, edges, np.maximum(stops, 1))
        counts[stops == 0] = 0
        return counts

    # 2-D ------------------------------------------------------------------------------------------
    def _build_2d(self, dist: Any, theme: Theme, size: float) -> None:
        figure = self.figure
        grid = figure.add_gridspec(2, 2, width_ratios=(2.0, 1), height_ratios=(1, 1))
        ax = figure.add_subplot(grid[:, 0])
        mx_ax = figure.add_subplot(grid[0, 1])
        my_ax = figure.add_subplot(grid[1, 1])
        show_axes(ax, theme, size, "x", "y")
        show_axes(mx_ax, theme, size, "x", "")
        show_axes(my_ax, theme, size, "y", "")
        x, y, density, marginal_x, marginal_y = target_grid(dist, 160, *central_domain(dist))
        ax.contourf(x, y, density, levels=12, cmap=theme.colormap(), zorder=0)
        ax.contour(x, y, density, levels=8, colors=theme.contour_line, linewidths=0.5,
                   alpha=0.6, zorder=1)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        self.tail = 60
        self.tails = ax.scatter([], [], s=7, lw=0, animated=True, zorder=ANIMATED_Z)
        from matplotlib.collections import LineCollection
        from matplotlib.colors import to_rgba

        self.tail_rgba = np.array([to_rgba(c) for c in self.chain_colors])
        self.arrows = LineCollection([], linewidths=1.3, animated=True, zorder=ANIMATED_Z + 1)
        ax.add_collection(self.arrows)
        self.heads = ax.scatter([], [], s=14, lw=0, marker="o", animated=True,
                                zorder=ANIMATED_Z + 1)
        self.current = ax.scatter(*self.positions[:, 0].T, s=36, edgecolors=theme.background,
                                  linewidths=0.8, c=self.chain_colors, animated=True,
                                  zorder=ANIMATED_Z + 2)
        accepted, rejected = _acceptance_colors(theme)
        self.move_colors = np.array([to_rgba(rejected), to_rgba(accepted)])
        from matplotlib.lines import Line2D

        from optiviz.render.landscape import emptiest_corner

        # legend, then caption, in the corners the chains visit least
        walked = self.positions.reshape(-1, 2)
        legend_corner = emptiest_corner(ax, walked[:, 0], walked[:, 1])
        caption_corner = emptiest_corner(ax, walked[:, 0], walked[:, 1], avoid=(legend_corner,))
        ax.legend(handles=[Line2D([], [], color=accepted, lw=1.5, label="accepted"),
                           Line2D([], [], color=rejected, lw=1.5, label="rejected")],
                  loc=legend_corner, fontsize=size * 0.72)
        self.marginals = []
        for axis, (m_ax, grid_values, marginal) in enumerate(
                ((mx_ax, x, marginal_x), (my_ax, y, marginal_y))):
            m_ax.plot(grid_values, marginal, color=theme.foreground, lw=1.4, zorder=3)
            edges = np.linspace(grid_values[0], grid_values[-1], 41)
            counts = self._kept_counts(self.positions, edges, axis)
            widths = np.diff(edges)
            final = counts[-1] / max(counts[-1].sum(), 1) / widths
            m_ax.set_xlim(edges[0], edges[-1])
            m_ax.set_ylim(0, 1.25 * max(marginal.max(), final.max()))
            m_ax.set_yticks([])
            bars = density_stairs(m_ax, edges, theme.runs[0])
            self.marginals.append((bars, counts, widths))
        x, y, ha, va = CORNERS[caption_corner]
        self.caption = readout(ax, theme, size, x=x, y=y, ha=ha, va=va)

    # frames ---------------------------------------------------------------------------------------
    def _diagnostics_text(self, step: int) -> str:
        r = self.result
        rate = r.accepted[0, :, :step].mean()
        k = int(np.searchsorted(r.checkpoints, step, side="right")) - 1
        lines = [f"step {step:,}/{r.steps:,}  accepted {rate:.0%}"]
        if k >= 0 and step > r.burn_in + 8 and np.isfinite(r.ess[0, k]):
            means = " ".join(f"{m:.2f}±{e:.2f}" for m, e in zip(r.running_mean[0, k],
                                                                r.mcse[0, k], strict=True))
            lines.append(f"mean {means}")
            rhat = f"  R-hat {r.rhat[0, k]:.3f}" if np.isfinite(r.rhat[0, k]) else ""
            lines.append(f"ESS {r.ess[0, k]:,.0f}{rhat}")
        return "\n".join(lines)

    def update(self, frame: int) -> Sequence[Any]:
        frame = min(frame, self.n_frames - 1)
        step = int(self.steps[frame])
        self.caption.set_text(self._diagnostics_text(step))
        if self.dim == 1:
            t = np.arange(step + 1)
            for line, chain in zip(self.traces, self.positions[:, :, 0], strict=True):
                line.set_data(t, chain[: step + 1])
            counts = self.hist_counts[frame]
            self.bars.set_data(counts / max(counts.sum(), 1) / self.widths)
            return [*self.traces, self.bars, self.caption]
        r = self.result
        start = max(0, step - self.tail)
        tail = self.positions[:, start: step + 1]  # (C, L, 2)
        age = np.linspace(0.08, 0.75, tail.shape[1])  # older samples fade
        rgba = np.repeat(self.tail_rgba[:, None, :], tail.shape[1], axis=1)
        rgba[..., 3] = age
        self.tails.set_offsets(tail.reshape(-1, 2))
        self.tails.set_facecolors(rgba.reshape(-1, 4))
        before = self.positions[:, step - 1]
        proposal = r.proposals[0, :, step - 1]
        accepted = r.accepted[0, :, step - 1]
        self.arrows.set_segments(np.stack([before, proposal], axis=1))
        self.arrows.set_colors(self.move_colors[accepted.astype(int)])
        self.heads.set_offsets(proposal)
        self.heads.set_facecolors(self.move_colors[accepted.astype(int)])
        self.current.set_offsets(self.positions[:, step])
        artists = [self.tails, self.arrows, self.heads, self.current]
        for bars, counts, widths in self.marginals:
            bars.set_data(counts[frame] / max(counts[frame].sum(), 1) / widths)
            artists.append(bars)
        return artists + [self.caption]


class ScaleComparisonScene:
    """The same target sampled with small, moderate and large proposal steps, side by side: the
    chain's path over the contours (1-D: its trace), with acceptance rate and ESS."""

    def __init__(self, experiment: Any, result: Any, theme: Theme, size: float):
        dist = result.distribution
        self.result = result
        self.steps = select_frames(result.steps, experiment.render.frames or DEFAULT_FRAMES)[1:]
        self.n_frames = len(self.steps)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        axes = figure.subplots(1, len(result.scales), sharex=True, sharey=True, squeeze=False)[0]
        self.panels = []
        colors = theme.run_colors(result.chains)
        if dist.dim >= 2:
            x, y, density, _, _ = target_grid(dist, 120)
        for s, ax in enumerate(axes):
            show_axes(ax, theme, size * 0.9, "x" if dist.dim >= 2 else "step",
                      ("y" if dist.dim >= 2 else "x") if s == 0 else "")
            ax.set_title(f"step scale {result.scales[s]:g}", fontsize=size * 0.9)
            if dist.dim >= 2:
                ax.contourf(x, y, density, levels=10, cmap=theme.colormap(), zorder=0)
                ax.set_xlim(x[0], x[-1])
                ax.set_ylim(y[0], y[-1])
                paths = [(p[:, 0], p[:, 1]) for p in result.positions[s]]
            else:
                lo, hi = dist.domain
                values = result.positions[:, :, :, 0]
                ax.set_xlim(0, result.steps)
                ax.set_ylim(min(lo, values.min()), max(hi, values.max()))
                t = np.arange(result.steps + 1)
                paths = [(t, p[:, 0]) for p in result.positions[s]]
            lines = [ax.plot([], [], color=c, lw=0.8, alpha=0.85, animated=True,
                             zorder=ANIMATED_Z)[0] for c in colors]
            self.panels.append((paths, lines, readout(ax, theme, size * 0.9, y=0.03,
                                                      va="bottom")))
        freeze_layout(figure)

    def update(self, frame: int) -> Sequence[Any]:
        r = self.result
        step = int(self.steps[min(frame, self.n_frames - 1)])
        k = int(np.searchsorted(r.checkpoints, step, side="right")) - 1
        artists: list[Any] = []
        for s, (paths, lines, caption) in enumerate(self.panels):
            for (px, py), line in zip(paths, lines, strict=True):
                line.set_data(px[: step + 1], py[: step + 1])
            rate = r.accepted[s, :, :step].mean()
            ess = f"\nESS {r.ess[s, k]:,.0f}" if k >= 0 and np.isfinite(r.ess[s, k]) else ""
            caption.set_text(f"accepted {rate:.0%}{ess}")
            artists += [*lines, caption]
        return artists
