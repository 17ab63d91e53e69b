"""What a finished run says about its numbers: the terminal summary, the batch manifest's
``final`` and ``RunReport.summary`` in the Python API all come from :func:`summarize`.

Optimizer experiments get one :class:`OptimizerSummary` per ``optimizers:`` entry: the final loss
over the entry's starts (median and quartiles of the runs that did not diverge), how many runs
diverged and how many left the region the animation shows (``optiviz.view.left_view``, the same
function the renderer reads). Sampling experiments report their result's ``summary()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Below this many finite runs the quartiles say little: the line shows the range instead.
FEW_RUNS = 4
LOSS_DIGITS = 3  # significant digits of a loss on the terminal (the manifest keeps them all)


@dataclass(frozen=True)
class OptimizerSummary:
    """One ``optimizers:`` entry over its starts. Losses are NaN when every run diverged."""

    label: str
    runs: int
    median: float
    q1: float
    q3: float
    low: float
    high: float
    diverged: int
    first_diverged_step: int | None  # the earliest step at which one of its runs diverged
    left_view: int
    # runs within ``tolerance:`` of a known global minimum by the last step (None: no known
    # minimum) and the median step they first got there (NaN: none did); see statistics.py
    success: int | None = None
    median_steps: float = math.nan
    tuned_lr: float | None = None  # lr: auto: the lr the tuning chose

    @property
    def success_rate(self) -> float:
        return self.success / self.runs if self.success is not None and self.runs else math.nan

    def numbers(self) -> dict[str, Any]:
        """The manifest's form: plain JSON values, null for a loss that is not finite."""
        return {
            "median": _finite_or_none(self.median),
            "q1": _finite_or_none(self.q1),
            "q3": _finite_or_none(self.q3),
            "diverged": self.diverged,
            "left_view": self.left_view,
            "runs": self.runs,
            **({"success": self.success, "success_rate": _finite_or_none(self.success_rate),
                "median_steps": _finite_or_none(self.median_steps)}
               if self.success is not None else {}),
            **({"tuned_lr": self.tuned_lr} if self.tuned_lr is not None else {}),
        }

    def describe(self) -> str:
        """The line after the label: ``final loss 3.1e-06 (median of 5 starts, IQR ...); ...``."""
        finite = self.runs - self.diverged
        if self.runs == 1:
            if self.diverged:
                text = f"diverged at step {self.first_diverged_step}"
            else:
                text = f"final loss {number(self.median, LOSS_DIGITS)}"
            return text + ("; left the view" if self.left_view else "")
        parts = []
        if finite:
            spread = ("IQR", self.q1, self.q3) if finite >= FEW_RUNS else \
                ("range", self.low, self.high)
            of = (f"{self.runs} starts" if not self.diverged
                  else f"the {finite} starts that did not diverge")
            parts.append(f"final loss {number(self.median, LOSS_DIGITS)} (median of {of}; "
                         f"{spread[0]} {number(spread[1], LOSS_DIGITS)} to "
                         f"{number(spread[2], LOSS_DIGITS)})")
        diverged = f"{self.diverged} of {self.runs} diverged"
        if self.diverged:
            diverged += f" (the first at step {self.first_diverged_step})"
        parts.append(diverged)
        parts.append(f"{self.left_view} of {self.runs} left the view")
        return "; ".join(parts)


@dataclass(frozen=True)
class BasinSummary:
    """One ``optimizers:`` entry of a basin map: the final loss over its starts (as
    :class:`OptimizerSummary`), how many runs ended within tolerance of each known minimum,
    how many of none, how many diverged, and the median steps to tolerance."""

    label: str
    runs: int
    median: float
    q1: float
    q3: float
    diverged: int
    basins: dict[str, int]  # minimum label -> runs that end within tolerance of it
    none: int  # runs that end near no known minimum (and did not diverge)
    median_steps: float  # median first step within tolerance, over the runs that end near one
    success: int = 0  # runs that end within tolerance of a known global minimum
    tuned_lr: float | None = None  # never: the basins view refuses lr: auto

    @property
    def success_rate(self) -> float:
        return self.success / self.runs if self.runs else math.nan

    def numbers(self) -> dict[str, Any]:
        return {
            "median": _finite_or_none(self.median),
            "q1": _finite_or_none(self.q1),
            "q3": _finite_or_none(self.q3),
            "diverged": self.diverged,
            "runs": self.runs,
            "reached": dict(self.basins),
            "none": self.none,
            "success": self.success,
            "success_rate": _finite_or_none(self.success_rate),
            "median_steps": _finite_or_none(self.median_steps),
        }

    def describe(self) -> str:
        reached = sum(self.basins.values())
        parts = []
        if self.runs > self.diverged:
            parts.append(f"final loss {number(self.median, LOSS_DIGITS)} (median; IQR "
                         f"{number(self.q1, LOSS_DIGITS)} to {number(self.q3, LOSS_DIGITS)})")
        shares = ", ".join(f"{name} {_percent(count, self.runs)}"
                           for name, count in self.basins.items())
        parts.append(f"{_percent(reached, self.runs)} of {self.runs:,} reached a minimum "
                     f"({shares})")
        if reached:
            parts.append(f"median {number(self.median_steps)} steps to tolerance")
        parts.append(f"{self.none:,} near none; {self.diverged:,} diverged")
        return "; ".join(parts)


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.3g}%" if total else "0%"


def summarize_basins(experiment: Any, result: Any) -> RunSummary:
    """The :class:`RunSummary` of :class:`~optiviz.streaming.BasinMaps`."""
    from optiviz.streaming import minimum_label

    names = [minimum_label(x, y) for x, y in result.minima]
    is_global = np.array([kind == "global minimum" for kind in result.minimum_kinds])
    entries = []
    labels: set[str] = set()
    for e, label in enumerate(result.label):
        basin, final = result.basin[e], result.final_loss[e]
        alive = result.diverged_step[e] < 0
        kept = final[alive & np.isfinite(final)]
        q1, median, q3 = np.percentile(kept, [25, 50, 75]) if kept.size else (math.nan,) * 3
        counts = np.bincount(basin[basin >= 0].astype(np.int64), minlength=len(names))
        reached = result.reached_step[e][basin >= 0]
        while label in labels:
            label += "'"
        labels.add(label)
        entries.append(BasinSummary(
            label=label, runs=int(basin.size), median=float(median), q1=float(q1),
            q3=float(q3), diverged=int(np.count_nonzero(~alive)),
            basins={name: int(c) for name, c in zip(names, counts, strict=True)},
            none=int(np.count_nonzero(basin == -1)),
            median_steps=float(np.median(reached)) if reached.size else math.nan,
            success=int(counts[is_global].sum())))
    success = (f"runs ending within {result.tolerance:g} of a known global minimum; median "
               "steps: of the runs ending near a known minimum, the first step within it")
    return RunSummary("optimizers", optimizers=tuple(entries), success=success)


@dataclass(frozen=True)
class RunSummary:
    """The numbers a run ends with: ``optimizers`` (optimizer experiments) or ``estimates``
    (sampling experiments, the result's ``summary()``)."""

    kind: str
    optimizers: tuple[OptimizerSummary | BasinSummary, ...] = ()
    estimates: dict[str, float] = field(default_factory=dict)
    method: str | None = None  # the sampling method
    success: str | None = None  # what "success" meant, or why it was not measured
    tuning: str | None = None  # how the tuned lrs were chosen (None: none was)
    hitting_steps: Any = None  # (R,) each run's first step within tolerance (statistics.py)

    def final(self) -> dict[str, Any]:
        """The batch manifest's ``final``: ``{label: {median, q1, q3, diverged, left_view,
        runs}}``, or the sampling estimates by name; null for anything not finite."""
        if self.kind == "sampling":
            return {name: _finite_or_none(value) for name, value in self.estimates.items()}
        return {entry.label: entry.numbers() for entry in self.optimizers}

    def lines(self) -> list[str]:
        """One line per optimizer entry, labels aligned; one line for a sampling run."""
        if self.kind == "sampling":
            values = ", ".join(f"{name}={number(value)}" for name, value in self.estimates.items())
            return [f"{self.method} sampling: {values}"]
        width = max((len(entry.label) for entry in self.optimizers), default=0)
        lines = [f"{entry.label + ':':<{width + 1}} {entry.describe()}"
                 for entry in self.optimizers]
        return lines + ([self.tuning] if self.tuning else [])

    def table(self) -> list[str]:
        """``run --summary``: one table, a row per optimizer entry: runs, median final loss and
        its IQR (runs that did not diverge), success rate and median steps to tolerance,
        diverged runs, the tuned lr; then what "success" and "tuned" meant."""
        if self.kind == "sampling":
            return self.lines()
        tuned = any(entry.tuned_lr is not None for entry in self.optimizers)
        header = ["optimizer", "runs", "median final loss", "IQR", "success",
                  "median steps", "diverged"] + (["tuned lr"] if tuned else [])
        rows = []
        for entry in self.optimizers:
            iqr = ("–" if math.isnan(entry.q1) else
                   f"{number(entry.q1, LOSS_DIGITS)} to {number(entry.q3, LOSS_DIGITS)}")
            success = "–" if entry.success is None else f"{100 * entry.success_rate:.0f} %"
            steps = "–" if math.isnan(entry.median_steps) else number(entry.median_steps)
            row = [entry.label, str(entry.runs), number(entry.median, LOSS_DIGITS), iqr,
                   success, steps, str(entry.diverged)]
            if tuned:
                row.append("–" if entry.tuned_lr is None else f"{entry.tuned_lr:.3g}")
            rows.append(row)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(cells, widths, strict=True)))

        out = [line(header), *(line(r) for r in rows)]
        out.append(f"success: {self.success}")
        if self.tuning:
            out.append(self.tuning)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """``--data``'s copy of :meth:`table`: ``summary_*`` per optimizer entry, and each
        run's ``success_step`` (-1: never within tolerance) when success is measured."""
        if self.kind == "sampling":
            return {}
        entries = self.optimizers
        out = {
            "summary_label": np.array([e.label for e in entries], dtype=str),
            "summary_runs": np.array([e.runs for e in entries], dtype=np.int64),
            "summary_median": np.array([e.median for e in entries]),
            "summary_q1": np.array([e.q1 for e in entries]),
            "summary_q3": np.array([e.q3 for e in entries]),
            "summary_diverged": np.array([e.diverged for e in entries], dtype=np.int64),
            "summary_success_rate": np.array([e.success_rate for e in entries]),
            "summary_median_steps": np.array([e.median_steps for e in entries]),
        }
        if self.hitting_steps is not None:
            out["success_step"] = np.asarray(self.hitting_steps, dtype=np.int64)
        return out


def summarize(experiment: Any, result: Any, *, statistics: bool | None = None) -> RunSummary:
    """The :class:`RunSummary` of ``result``, made by its kind of experiment
    (:mod:`optiviz.kinds`).

    ``statistics`` (optimizer experiments): whether to measure success (each run's first step
    within tolerance of a known global minimum: a pass over every recorded point); None: when
    the config writes ``tolerance:``. ``run --summary`` and ``--data`` ask for it."""
    from optiviz.kinds import KINDS

    return KINDS[experiment.kind].call("summarize", experiment, result, statistics=statistics)


def summarize_sampling(experiment: Any, result: Any, *,
                       statistics: bool | None = None) -> RunSummary:
    estimates = {str(name): _as_float(value) for name, value in result.summary().items()}
    return RunSummary("sampling", estimates=estimates, method=experiment.sampling.method)


def summarize_optimizers(experiment: Any, result: Any, *,
                         statistics: bool | None = None) -> RunSummary:
    """One :class:`OptimizerSummary` per ``optimizers:`` entry of the Trajectories."""
    from optiviz.views import is_streaming

    if is_streaming(experiment):
        return summarize_basins(experiment, result)
    from optiviz import statistics as statistics_module
    from optiviz import tuning
    from optiviz.view import left_view

    measure = experiment.tolerance is not None if statistics is None else statistics
    hits = statistics_module.hitting_steps(experiment, result) if measure else None
    final = result.final_loss()
    diverged_step = np.asarray(result.diverged_step)
    outside = np.asarray(left_view(experiment, result), dtype=bool)
    n = len(experiment.starts)
    entries: list[OptimizerSummary] = []
    labels: set[str] = set()
    tuned = tuning.records(experiment, result)
    for i, entry in enumerate(experiment.optimizers):
        rows = slice(i * n, (i + 1) * n)
        steps = diverged_step[rows]
        kept = final[rows][(steps < 0) & np.isfinite(final[rows])]
        label = entry.label
        while label in labels:  # two entries with one label keep both lines apart
            label += "'"
        labels.add(label)
        if kept.size:
            low, q1, median, q3, high = np.percentile(kept, [0, 25, 50, 75, 100])
        else:
            low = q1 = median = q3 = high = math.nan
        entries.append(OptimizerSummary(
            label=label,
            runs=n,
            median=float(median),
            q1=float(q1),
            q3=float(q3),
            low=float(low),
            high=float(high),
            diverged=int(np.count_nonzero(steps >= 0)),
            first_diverged_step=int(steps[steps >= 0].min()) if (steps >= 0).any() else None,
            left_view=int(np.count_nonzero(outside[rows])),
            success=None if hits is None else int(np.count_nonzero(hits[rows] >= 0)),
            median_steps=(math.nan if hits is None
                          else statistics_module.median_steps(hits[rows])),
            tuned_lr=tuned[i].chosen_lr if tuned[i] is not None else None,
        ))
    if hits is not None:
        success = (f"runs {statistics_module.tolerance_of(experiment).describe()} by the last "
                   "step; median steps: of those runs, the first step there")
    elif measure:
        success = "– (the function has no known global minimum)"
    else:
        success = "– (not measured: write tolerance:, or run with --summary or --data)"
    return RunSummary("optimizers", optimizers=tuple(entries), success=success,
                      tuning=tuning.summary_line(experiment, result), hitting_steps=hits)


def final_to_json(final: Any) -> Any:
    """``final`` numbers (nested dicts) with every non-finite float as None: JSON has no NaN."""
    if isinstance(final, dict):
        return {str(key): final_to_json(value) for key, value in final.items()}
    if isinstance(final, float):
        return _finite_or_none(final)
    return final


def final_from_json(final: Any) -> dict[str, Any]:
    """``final`` numbers read back (a manifest, a report): None becomes NaN, so that every
    loss is a float again; whole counts stay ints; anything else (a hand-edited manifest) is
    left out."""
    if not isinstance(final, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in final.items():
        if isinstance(value, dict):
            out[str(key)] = final_from_json(value)
        elif value is None:
            out[str(key)] = math.nan
        elif isinstance(value, int) and not isinstance(value, bool):
            out[str(key)] = value
        elif isinstance(value, float):
            out[str(key)] = value
    return out


def number(value: float, digits: int = 4) -> str:
    """A loss or estimate as a reader wants it: ``digits`` significant digits, whole numbers
    whole, NaN as "undefined"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _finite_or_none(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
