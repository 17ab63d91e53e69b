"""The chapter's MCMC mistake, shown: an independence sampler with and without the Hastings
correction (``hastings: [true, false]``), one row each.

Each row: (1-D) the chains' traces and the histogram of their draws after burn-in against the
target's density; (2-D) each coordinate's marginal histogram against the target's marginal.
The uncorrected row is labelled "no Hastings correction — wrong target" in the warning colour,
its histogram drawn in that colour too, and both rows read out the running mean against the
true one. Everything shown comes from the :class:`~optiviz.sampling.MetropolisResult`; binning
is the only computation. Histogram edges span every draw, so no draw is outside a view.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.animate import select_frames
from optiviz.render.sampling import (
    DEFAULT_FRAMES,
    _chain_colors,
    binned_frames,
    central_domain,
    readout,
    setup_figure,
    show_axes,
    target_grid,
    target_mass,
    true_text,
)
from optiviz.render.scene import ANIMATED_Z, freeze_layout


def _true_means(dist: Any) -> list[str]:
    mean = getattr(dist, "mean", None)
    if mean is None:
        return []
    return [true_text(value) for value in np.atleast_1d(np.asarray(mean, dtype=float))]


class HastingsScene:
    """One row per ``hastings`` setting (see the module docstring). ``labels``: the row
    titles, the text artists that say which row samples the wrong target."""

    def __init__(self, experiment: Any, result: Any, theme: Any, size: float):
        from optiviz.sampling import HASTINGS_LABELS

        dist = result.distribution
        self.result = result
        self.steps = select_frames(result.steps, experiment.render.frames or DEFAULT_FRAMES)[1:]
        self.n_frames = len(self.steps)
        self.figure = figure = setup_figure(experiment, result, theme, size)
        self.dim = dim = dist.dim
        settings = len(result.scales)
        burn = result.burn_in
        self.kept_totals = np.maximum(self.steps - burn, 0) * result.chains
        warning = theme.runs[3]  # vermilion: the wrong one
        right = theme.runs[0]
        self.truth = _true_means(dist)
        chain_colors = _chain_colors(theme, result.chains)
        if dim == 1:
            grid = figure.add_gridspec(settings, 2, width_ratios=(2.2, 1))
            values = result.positions[..., 0]
            lo, hi = dist.domain
            lo, hi = min(lo, float(np.min(values))), max(hi, float(np.max(values)))
            edges = [np.linspace(lo, hi, 51)]
            y = np.linspace(lo, hi, 400)
            pdf = dist.pdf(y)
            if not dist.normalized:
                pdf = pdf / np.trapezoid(pdf, y)
            truths = [(pdf, y)]
        else:
            grid = figure.add_gridspec(settings, dim)
            box, _ = central_domain(dist)
            box = tuple((min(low, float(np.min(result.positions[..., axis]))),
                         max(high, float(np.max(result.positions[..., axis]))))
                        for axis, (low, high) in enumerate(box[:2]))
            x, yy, _, marginal_x, marginal_y = target_grid(dist, 160, box,
                                                           target_mass(dist, box))
            edges = [np.linspace(low, high, 41) for low, high in box]
            truths = [(marginal_x, x), (marginal_y, yy)]
        # one density scale per coordinate for every row, so the rows compare at a glance
        tops = []
        for axis in range(len(truths)):
            heights = [truths[axis][0].max()]
            for s in range(settings):
                final, _ = np.histogram(result.positions[s, :, burn + 1:, axis], edges[axis])
                heights.append(final.max() / max(final.sum(), 1) / np.diff(edges[axis]).min())
            tops.append(1.2 * float(max(heights)))
        self.rows, self.labels = [], []
        for s in range(settings):
            corrected = bool(result.corrected[s])
            color = right if corrected else warning
            draws = result.positions[s, :, burn + 1:]  # (C, T - burn, d)
            row: dict[str, Any] = {"hists": []}
            if dim == 1:
                trace_ax = figure.add_subplot(grid[s, 0])
                hist_ax = figure.add_subplot(grid[s, 1], sharey=trace_ax)
                show_axes(trace_ax, theme, size, "step" if s == settings - 1 else "", "x")
                show_axes(hist_ax, theme, size, "density" if s == settings - 1 else "", "")
                hist_ax.tick_params(labelleft=False)
                trace_ax.set_xlim(0, result.steps)
                # a band below for the readout, and a little room above the highest draw so a
                # spike never reads as cut by the edge (as ChainScene's trace)
                trace_ax.set_ylim(lo - 0.3 * (hi - lo), hi + 0.04 * (hi - lo))
                if burn:
                    from matplotlib.transforms import offset_copy

                    trace_ax.axvspan(0, burn, color=theme.muted, alpha=0.15, lw=0)
                    trace_ax.text(0, hi, "burn-in", ha="left", va="top", color=theme.muted,
                                  fontsize=size * 0.75, zorder=ANIMATED_Z + 1,
                                  transform=offset_copy(trace_ax.transData, fig=figure, x=3,
                                                        y=-2, units="points"))
                row["traces"] = [trace_ax.plot([], [], color=c, lw=0.6, animated=True,
                                               zorder=ANIMATED_Z)[0] for c in chain_colors]
                row["paths"] = result.positions[s, :, :, 0]
                hist_axes, title_ax = [hist_ax], trace_ax
            else:
                hist_axes = [figure.add_subplot(grid[s, axis]) for axis in range(dim)]
                for axis, ax in enumerate(hist_axes):
                    show_axes(ax, theme, size, "xy"[axis] if s == settings - 1 else "",
                              "density" if axis == 0 else "")
                title_ax = hist_axes[0]
            for axis, ax in enumerate(hist_axes):
                pdf_values, grid_values = truths[axis]
                bins = edges[axis]
                widths = np.diff(bins)
                counts, _ = binned_frames(draws[:, :, axis].T.ravel(), bins, self.kept_totals)
                top = tops[axis]
                if dim == 1:  # horizontal, beside the trace
                    ax.plot(pdf_values, grid_values, color=theme.foreground, lw=1.5, zorder=3)
                    ax.set_xlim(0, top)
                    bars = ax.stairs(np.zeros(len(bins) - 1), bins, orientation="horizontal",
                                     fill=True, color=color, alpha=0.55, animated=True,
                                     zorder=ANIMATED_Z)
                else:
                    ax.plot(grid_values, pdf_values, color=theme.foreground, lw=1.5, zorder=3)
                    ax.set_xlim(bins[0], bins[-1])
                    ax.set_ylim(0, top)
                    ax.set_yticks([])
                    bars = ax.stairs(np.zeros(len(bins) - 1), bins, fill=True, color=color,
                                     alpha=0.55, animated=True, zorder=ANIMATED_Z)
                row["hists"].append((bars, counts, widths))
            label = HASTINGS_LABELS[corrected]
            self.labels.append(title_ax.set_title(
                label, loc="left", fontsize=size * 0.95, color=theme.foreground if corrected
                else warning, fontweight="normal" if corrected else "bold"))
            row["caption"] = readout(title_ax, theme, size, y=0.03, va="bottom") if dim == 1 \
                else readout(hist_axes[-1], theme, size, x=0.98, ha="right")
            self.rows.append(row)
        # the key: the target's density, and the histograms' colours
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [Line2D([], [], color=theme.foreground, lw=1.5,
                          label="target density" if dim == 1 else "target marginal"),
                   Patch(color=right, alpha=0.55, label="draws, corrected"),
                   Patch(color=warning, alpha=0.55, label="draws, uncorrected")]
        figure.legend(handles=handles, loc="outside lower center", ncols=3,
                      fontsize=size * 0.8, frameon=False)
        freeze_layout(figure)

    def _caption(self, s: int, step: int) -> str:
        r = self.result
        rate = r.accepted[s, :, :step].mean()
        k = int(np.searchsorted(r.checkpoints, step, side="right")) - 1
        text = f"accepted {rate:.0%}"
        if k >= 0 and step > r.burn_in and np.all(np.isfinite(r.running_mean[s, k])):
            means = " ".join(f"{m:.2f}" for m in r.running_mean[s, k])
            truth = f" (true {' '.join(self.truth)})" if self.truth else ""
            text += f"  mean {means}{truth}"
        return text

    def update(self, frame: int) -> Sequence[Any]:
        frame = min(frame, self.n_frames - 1)
        step = int(self.steps[frame])
        total = max(int(self.kept_totals[frame]), 1)
        artists: list[Any] = []
        t = np.arange(step + 1)
        for s, row in enumerate(self.rows):
            for line, path in zip(row.get("traces", ()), row.get("paths", ()), strict=True):
                line.set_data(t, path[: step + 1])
                artists.append(line)
            for bars, counts, widths in row["hists"]:
                bars.set_data(counts[frame] / total / widths)
                artists.append(bars)
            row["caption"].set_text(self._caption(s, step))
            artists.append(row["caption"])
        return artists
