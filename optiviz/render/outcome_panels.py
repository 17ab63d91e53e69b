"""The ``tuning``, ``final`` and ``success`` panels (registered in
:mod:`optiviz.render.outcomes`): one curve per optimizer entry, in its colour.

What they draw is computed elsewhere and only read here: the tuning's record on each tuned
entry (:class:`optiviz.tuning.EntryTuning`), the runs' losses, and the hitting steps of
:mod:`optiviz.statistics`. Losses are shown as the loss panel shows them
(:func:`~optiviz.render.landscape.loss_axis`: the loss, or the gap f − f* when the minimum is
known and some loss is not positive).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optiviz.render.landscape import SidePanel, loss_axis
from optiviz.render.scene import ANIMATED_Z
from optiviz.render.theme import log_ticks

#: Above the panel, values are cut at this multiple of the worst start's loss (a candidate lr
#: that makes things worse than not moving leaves the tuning panel through its top).
WORSE_THAN_START = 10.0
GAP_FLOOR = 1e-16  # loss_axis's floor of f − f*


def _gap(values: np.ndarray, function: Any, reference: np.ndarray) -> tuple[np.ndarray, str,
                                                                         str]:
    """``values`` on the axis the loss panel would use for ``reference`` losses."""
    _, label, scale = loss_axis(reference, function)
    if label == "f − f*":
        return np.maximum(values - function.minimum, GAP_FLOOR), label, scale
    return values, label, scale


#: Over more decades than this, a log axis has no minor ticks (they would merge into a bar).
MINOR_DECADES = 8


def log_axis(axis: Any, low: float, high: float) -> None:
    """Legible ticks on a log axis (:func:`~optiviz.render.theme.log_ticks`), without minor
    ticks over many decades."""
    from matplotlib.ticker import NullLocator

    log_ticks(axis)
    if high / low > 10.0 ** MINOR_DECADES:
        axis.set_minor_locator(NullLocator())


class _Static:
    """A panel with nothing that moves."""

    xlabel = "step"

    def restage(self, stop: int) -> bool:
        return False

    def update(self, step: int) -> list[Any]:
        return []


class TuningPanel(_Static):
    """The lr-sensitivity curve of each tuned entry: its tuning objective per candidate lr
    (log-log when the objective is positive), the chosen lr as a large dot, a candidate with a
    diverged run as a ✕ on the panel's top edge. Static: the tuning came before the race."""

    def __init__(self, ax: Any, context: Any):
        from matplotlib.patches import Rectangle

        experiment = context.experiment
        theme = context.theme
        function = experiment.function
        start_loss = context.trajectories.loss[:, 0]
        from optiviz.tuning import records

        tuned = [(i, r) for i, r in enumerate(records(experiment, context.trajectories))
                 if r is not None]
        objective = ("final loss" if tuned and tuned[0][1].config.objective == "final"
                     else "mean loss")
        reference = np.concatenate([start_loss] + [r.objective for _, r in tuned])
        reference = reference[np.isfinite(reference)]
        if not reference.size:
            reference = np.ones(1)
        curves = []
        for i, record in tuned:
            values, label, scale = _gap(record.objective, function, reference[None, :])
            curves.append((i, record, values))
        starts = start_loss[np.isfinite(start_loss)]
        worst_start = _gap(np.array([starts.max() if starts.size else 1.0]), function,
                           reference[None, :])[0]
        clean = np.concatenate([v[(r.diverged == 0) & np.isfinite(v)] for _, r, v in curves])
        if scale == "log":
            clean = clean[clean > 0]
        if clean.size:
            low, high = float(clean.min()), float(clean.max())
            cap = float(np.max(worst_start)) * WORSE_THAN_START
            if scale == "log":
                high = min(high, cap) if cap > low else high
                high = high if high > low else low * 10
                pad = (high / low) ** 0.06  # room for the chosen lr's dot at either end
                low, high = low / pad, high * pad
            else:
                pad = (high - low) * 0.08 or 1.0
                low, high = low - pad, min(high, cap) + pad if cap > low else high + pad
        else:
            low, high = (1e-3, 1.0) if scale == "log" else (0.0, 1.0)
        # a band along the top holds one row of ✕ per entry that has a diverged candidate
        rows = [i for i, r, _ in curves if (r.diverged != 0).any()]
        if scale == "log":
            ratio = (high / low) ** 0.07
            row_y = {i: high * ratio ** (j + 1) for j, i in enumerate(rows)}
            top = high * ratio ** (len(rows) + 0.8) if rows else high
        else:
            gap = (high - low) * 0.07
            row_y = {i: high + gap * (j + 1) for j, i in enumerate(rows)}
            top = high + gap * (len(rows) + 0.8) if rows else high
        ax.set_xscale("log")
        ax.set_yscale(scale)
        lrs = np.concatenate([r.lr for _, r, _ in curves])
        x0, x1 = lrs.min() / 1.6, lrs.max() * 1.6
        ax.set_xlim(x0, x1)
        ax.set_ylim(low, top)
        if rows:
            ax.axhline(high, color=theme.muted, linewidth=0.6, linestyle=(0, (2, 2)), zorder=2)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.35)
        for i, record, values in curves:
            color = context.group_colors[i]
            ok = record.diverged == 0
            (line,) = ax.plot(record.lr[ok], values[ok], color=color, linewidth=1.3,
                              marker="o", markersize=2.2, zorder=3,
                              path_effects=theme.halo(color, 1.3))
            if rows:  # a curve above the band's edge leaves the plot there
                line.set_clip_path(Rectangle((x0, low), x1 - x0, high - low,
                                             transform=ax.transData))
            if (~ok).any():
                ax.plot(record.lr[~ok], np.full((~ok).sum(), row_y[i]), linestyle="none",
                        marker="X", markersize=5.5, color=color,
                        markeredgecolor=theme.background, markeredgewidth=0.5, zorder=4)
            ax.plot([record.chosen_lr], [values[record.chosen]], linestyle="none", marker="o",
                    markersize=8, color=color, markeredgecolor=theme.foreground,
                    markeredgewidth=1.0, zorder=5)
        log_axis(ax.xaxis, x0, x1)
        if scale == "log":
            log_axis(ax.yaxis, low, top)
            if rows:  # no tick labels in the band of ✕
                ax.yaxis.set_major_locator(BelowLocator(high))
        elif rows:
            ax.yaxis.set_major_locator(BelowLocator(high, ax.yaxis.get_major_locator()))
        ax.set_ylabel(f"{objective}" if label == "loss" else f"{label}, {objective}",
                      labelpad=1)
        ax.set_autoscale_on(False)
        self.xlabel = "lr (tuning candidates)"


class BelowLocator:
    """A major-tick locator that keeps another's ticks at or below ``limit`` (the top band of
    the tuning panel holds ✕ rows, not values)."""

    def __new__(cls, limit: float, inner: Any = None) -> Any:
        from matplotlib.ticker import Locator

        from optiviz.render.theme import FittingLogLocator

        base = inner if inner is not None else FittingLogLocator()

        class Below(Locator):
            def set_axis(self, axis: Any) -> None:
                super().set_axis(axis)
                base.set_axis(axis)

            def __call__(self) -> Any:
                ticks = np.asarray(base())
                return ticks[ticks <= limit * (1 + 1e-9)]

            def tick_values(self, vmin: float, vmax: float) -> Any:
                ticks = np.asarray(base.tick_values(vmin, vmax))
                return ticks[ticks <= limit * (1 + 1e-9)]

        return Below()


def tuning_key(theme: Any) -> list[tuple[Any, str]]:
    from matplotlib.lines import Line2D

    return [
        (Line2D([], [], linestyle="none", marker="o", markersize=7, color=theme.muted,
                markeredgecolor=theme.foreground, markeredgewidth=1.0), "tuned lr|(chosen)"),
        (Line2D([], [], linestyle="none", marker="X", markersize=5.5, color=theme.muted,
                markeredgecolor=theme.background, markeredgewidth=0.5),
         "candidate lr with|a diverged run"),
    ]


class FinalPanel(_Static):
    """Each optimizer's loss over its starts at the shown step, as an empirical CDF: the share
    of its starts whose loss is at most x. A diverged run counts as +∞, so its curve ends
    below 1 by the share that diverged; a loss below the axis counts at its left edge."""

    def __init__(self, ax: Any, context: Any):
        from optiviz.statistics import recorded_steps

        experiment = context.experiment
        trajectories = context.trajectories
        theme = context.theme
        loss = trajectories.loss
        self.columns = recorded_steps(trajectories)
        self.groups = list(context.groups)
        values, label, scale = loss_axis(loss, experiment.function)
        self.values = values
        self.scale = scale
        finite = values[np.isfinite(values)]
        if scale == "log":
            finite = finite[finite > 0]
        start = values[:, 0][np.isfinite(values[:, 0])]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            if start.size and scale == "log":
                high = min(high, float(start.max()) * WORSE_THAN_START)
            if scale == "log":
                low, high = low / 2, (high * 2 if high > low else low * 20)
            else:
                pad = (high - low) * 0.05 or 1.0
                low, high = low - pad, high + pad
        else:
            low, high = (1e-3, 1.0) if scale == "log" else (-1.0, 1.0)
        self.low, self.high = low, high
        ax.set_xscale(scale)
        ax.set_xlim(low, high)
        ax.set_ylim(0, 1.04)
        ax.grid(True, color=theme.muted, linewidth=0.4, alpha=0.35)
        if scale == "log":
            log_axis(ax.xaxis, low, high)
        ax.set_ylabel("share ≤ x", labelpad=1)
        self.xlabel = f"{label} at the step (ECDF)"
        self.lines = [ax.plot([], [], color=color, linewidth=1.4, drawstyle="steps-post",
                              animated=True, zorder=ANIMATED_Z,
                              path_effects=theme.halo(color, 1.4))[0]
                      for color in context.group_colors]
        ax.set_autoscale_on(False)

    def update(self, step: int) -> list[Any]:
        column = min(int(np.searchsorted(self.columns, step, side="right")) - 1,
                     self.values.shape[1] - 1)
        for runs, line in zip(self.groups, self.lines, strict=True):
            x, y = ecdf(self.values[runs, max(column, 0)], self.low, self.high)
            line.set_data(x, y)
        return list(self.lines)


def ecdf(values: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """The step curve of the empirical CDF of ``values`` (NaN: +∞) across ``[low, high]``:
    y the share of values at most x (post steps), up to ``high`` (where it stays below 1 by
    the share above the axis or diverged); it starts at the smallest value, or at ``low`` with
    the share of the values at or below it."""
    n = max(len(values), 1)
    finite = np.sort(values[np.isfinite(values)])
    inside = finite[(finite > low) & (finite < high)]
    below = int(np.count_nonzero(finite <= low))
    heights = (below + np.arange(1, inside.size + 1)) / n
    top = heights[-1] if heights.size else below / n
    if below:  # the share at or below the axis enters at its left edge
        x = np.concatenate([[low], inside, [high]])
        y = np.concatenate([[below / n], heights, [top]])
    elif inside.size:  # zero up to the smallest value (not drawn along the axis)
        x = np.concatenate([inside[:1], inside, [high]])
        y = np.concatenate([[0.0], heights, [top]])
    else:
        x, y = np.array([low, high]), np.array([top, top]) if top else np.array([np.nan] * 2)
    return x, y


def final_key(experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    from matplotlib.lines import Line2D

    return [(Line2D([], [], color=theme.foreground, linewidth=1.4, drawstyle="steps-post"),
             "share of starts at|or below x; diverged: +∞")]


class SuccessPanel(SidePanel):
    """Each optimizer's share of runs that have reached a known global minimum within
    ``tolerance:`` by each step (a run counts from its first step there), revealed with the
    race: the runtime ECDF of the COCO platform."""

    def __init__(self, ax: Any, context: Any):
        from optiviz.statistics import hitting_steps, success_curves

        trajectories = context.trajectories
        super().__init__(ax, context.theme, trajectories.steps)
        hits = hitting_steps(context.experiment, trajectories)
        curves = success_curves(hits, list(context.groups), trajectories.steps)
        ax.set_ylim(0, 1.04)
        ax.set_ylabel("reached", labelpad=1)
        steps = np.arange(trajectories.steps + 1, dtype=float)
        self.curves = [(steps, curve) for curve in curves]
        self.lines = [ax.plot([], [], color=color, linewidth=1.5, drawstyle="steps-post",
                              animated=True, zorder=ANIMATED_Z,
                              path_effects=context.theme.halo(color, 1.5))[0]
                      for color in context.group_colors]
        ax.set_autoscale_on(False)

    def update(self, step: int) -> list[Any]:
        artists = super().update(step)
        for (x, y), line in zip(self.curves, self.lines, strict=True):
            line.set_data(x[: step + 1], y[: step + 1])
        return artists + list(self.lines)


def success_key(experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    from matplotlib.lines import Line2D

    from optiviz.statistics import tolerance_of

    tolerance = tolerance_of(experiment).describe()
    return [(Line2D([], [], color=theme.foreground, linewidth=1.5, drawstyle="steps-post"),
             f"share reached:|{tolerance}")]

