"""``lr: auto``: each such entry's learning rate tuned on the experiment's own horizon.

An entry written ``{name: adam, lr: auto}`` gets ``budget`` candidate learning rates,
log-spaced over ``range`` (the ``tune:`` section, :class:`TuneConfig`). Before the experiment
runs, :func:`tune` steps every candidate from every start for the whole ``steps``: the
candidates of one entry are one run group of the engine (:func:`optiviz.engine.run_group`, the
lr a per-run column), so tuning costs about ``budget`` runs of the entry. Each candidate's
objective is the median over its runs of the final loss (``objective: final``) or of the mean
loss over steps 0..steps (``mean``, the area under the loss curve). Entries with gradient noise
or mini-batches repeat this over ``seeds`` independent draws and take the median over every
run of every seed (every candidate of one seed sees the same mini-batches).

The rule (:func:`choose`): a candidate with a diverged run, from any start and seed, ranks
after every candidate without one; among the rest, the lowest objective wins, and objectives
within a relative ``TIE`` (1e-9) of the lowest count as equal: of those, the smallest lr wins.
So the choice does not depend on the candidates' order or on rounding, and a tie (two lrs that
both reach the floating-point floor) goes to the more cautious lr.

The chosen lr then runs the experiment like a written one (:func:`resolve` returns the
experiment with every ``lr: auto`` replaced); a deterministic entry's run is bit for bit the
tuned candidate's (the engine's groups are exact). The record of the tuning stays on the entry
(``OptimizerConfig.tuned``, an :class:`EntryTuning`) for the legend, the summary, ``--data``
and the ``tuning`` panel.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath
from optiviz.registry import Param, as_float, in_range, show_value, validate_params
from optiviz.trajectories import Trajectories

AUTO = "auto"
#: Objectives within this relative distance of the best count as equal (the smaller lr wins).
TIE = 1e-9
MAX_BUDGET = 1000
MAX_SEEDS = 100
#: The stream of the tuning's noise and mini-batches: [seed, entry, TUNE_STREAM, repeat], apart
#: from the experiment's own runs ([seed, entry]).
TUNE_STREAM = 7_411


@dataclass(frozen=True)
class TuneConfig:
    """The ``tune:`` section (the defaults when it is not written)."""

    range: tuple[float, float] = (1.0e-5, 10.0)
    budget: int = 32
    objective: str = "final"  # final | mean
    seeds: int = 1

    def candidates(self) -> np.ndarray:
        """The ``budget`` candidate lrs, log-spaced over ``range``, both ends included."""
        low, high = self.range
        return np.geomspace(low, high, self.budget)

    def describe(self) -> str:
        what = "median final loss" if self.objective == "final" else \
            "median mean loss over the steps"
        low, high = self.range
        return f"{self.budget} log-spaced lrs in [{low:g}, {high:g}] by {what}"


TUNE_PARAMS: tuple[Param, ...] = (
    Param("range", [1.0e-5, 10.0], "any", "[low, high]: candidate lrs are log-spaced over it"),
    Param("budget", 32, "int", "candidate lrs per optimizer entry", in_range(2, MAX_BUDGET)),
    Param("objective", "final", "choice",
          "final: median final loss over the starts; mean: median of the mean loss over the "
          "steps (area under the curve)", choices=("final", "mean")),
    Param("seeds", 1, "int", "repeats of noisy / mini-batch entries over independent draws",
          in_range(1, MAX_SEEDS)),
)


def parse_tune(value: Any, path: KeyPath = ("tune",)) -> TuneConfig:
    """The ``tune:`` section as written (None: the defaults)."""
    if value is None:
        return TuneConfig()
    if not isinstance(value, dict):
        raise ConfigError(f"must be a mapping (range, budget, objective, seeds), got "
                          f"{show_value(value)}", path)
    params = validate_params(TUNE_PARAMS, value, path)
    raw = params["range"]
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise ConfigError(f"must be [low, high], got {show_value(raw)}", path + ("range",))
    low = as_float(raw[0], path + ("range", 0))
    high = as_float(raw[1], path + ("range", 1))
    if not 0 < low < high:
        raise ConfigError(f"must be 0 < low < high, got [{low:g}, {high:g}]", path + ("range",))
    return TuneConfig((low, high), params["budget"], params["objective"], params["seeds"])


def is_auto(value: Any) -> bool:
    """Whether an ``lr`` as written asks for tuning."""
    return isinstance(value, str) and value.strip().lower() == AUTO


def auto_entry(value: dict, path: KeyPath, *, nested: bool) -> dict:
    """An ``lr: auto`` entry as written, with a stand-in lr to validate it by (it runs with
    none: :func:`tune` sets the lr). Refused where there is no lr to tune: lookahead's inner
    optimizer (tune a plain entry instead), an optimizer without ``lr``, a OneCycle schedule
    (it sets the lr itself from its ``max_lr``)."""
    from optiviz.optimizers import OPTIMIZERS

    if nested:
        raise ConfigError("lr: auto tunes a top-level optimizer entry; give lookahead's inner "
                          "optimizer a number", path + ("lr",))
    name = value.get("name")
    if "torch" not in value and isinstance(name, str) and ":" not in name:
        spec = OPTIMIZERS.get(name, path + ("name",))
        if "lr" not in {p.name for p in spec.params}:
            hint = " (write lr: auto on a plain entry)" if spec.name == "lookahead" else ""
            raise ConfigError(f"{spec.name} has no lr to tune{hint}", path + ("lr",))
    schedule = value.get("schedule")
    kind = schedule.get("name") if isinstance(schedule, dict) else schedule
    if isinstance(kind, str) and kind.strip().lower() == "onecycle":
        raise ConfigError("onecycle sets the lr itself from its max_lr: lr: auto has nothing "
                          "to tune (tune a constant lr, or another schedule)", path + ("lr",))
    return {**value, "lr": 1e-3}


def tuned_label(base: str, lr: float) -> str:
    """The legend label of a tuned entry: ``Adam · lr 0.0316, tuned``."""
    return f"{base} · lr {lr:.3g}, tuned"


@dataclass(frozen=True)
class EntryTuning:
    """The tuning of one entry: candidates ``lr`` (B,), each one's ``objective`` (B,; the median
    over runs, a diverged run counting as +inf), ``diverged`` (B,) runs that diverged of
    ``runs`` per candidate, the ``chosen`` index and the ``tune:`` settings used."""

    lr: np.ndarray
    objective: np.ndarray
    diverged: np.ndarray
    runs: int
    chosen: int
    config: TuneConfig

    @property
    def chosen_lr(self) -> float:
        return float(self.lr[self.chosen])


def choose(lr: np.ndarray, objective: np.ndarray, diverged: np.ndarray) -> int:
    """The winning candidate (see the module docstring); -1 when every candidate diverged."""
    clean = np.flatnonzero((np.asarray(diverged) == 0) & np.isfinite(objective))
    if not clean.size:
        return -1
    values = np.asarray(objective, dtype=np.float64)[clean]
    best = values.min()
    tied = clean[np.abs(values - best) <= TIE * abs(best)]
    return int(tied[np.argmin(np.asarray(lr)[tied])])


def with_lr(config: Any, lr: float) -> Any:
    """``config`` with its lr set to ``lr`` (a candidate, or the chosen one)."""
    return replace(config, hyper={**config.hyper, "lr": float(lr)})


def pending(experiment: Any) -> list[int]:
    """Indices of the entries whose lr is still ``auto``."""
    return [i for i, c in enumerate(experiment.optimizers)
            if c.tune is not None and c.tuned is None]


#: The most bytes one run group of candidates would record with every step (positions and loss;
#: it keeps only the last step and, for the ``mean`` objective, a running sum: the chunks are
#: smaller than memory needs); a larger group advances in chunks of candidates, each run
#: bit-identical to running alone.
CHUNK_BYTES = 256 << 20
RECORDED_BYTES = 24  # per run and step: x, y, loss


def chunk_size(starts: int, steps: int) -> int:
    """Candidates per chunk: as many as ``CHUNK_BYTES`` of recorded runs hold (at least 1)."""
    return max(1, CHUNK_BYTES // max(1, starts * (steps + 1) * RECORDED_BYTES))


def chunks(group: tuple[int, ...], starts: int, steps: int) -> list[tuple[int, ...]]:
    """``group`` split into chunks of :func:`chunk_size` candidates. Every chunk of a seed
    starts from the same generator, so all see one sequence of mini-batches."""
    size = chunk_size(starts, steps)
    return [group[i: i + size] for i in range(0, len(group), size)]


def _groups(candidates: list[Any]) -> list[tuple[int, ...]]:
    """How the candidates advance: as the engine groups them when noise and mini-batches are
    set aside (an lr the optimizer takes per run: one group; else one candidate at a time).
    A noisy group shares one stream, its candidates one sequence of mini-batches."""
    from optiviz.engine import group_entries

    return group_entries([replace(c, noise=0.0, batch_size=None) for c in candidates])


def tune_entry(experiment: Any, index: int,
               progress: Callable[[int], None] | None = None) -> EntryTuning:
    """Tune entry ``index`` of ``experiment`` (its ``tune`` settings) over all its starts."""
    from optiviz.engine import run_group
    from optiviz.reductions import LossSum

    config = experiment.optimizers[index]
    settings: TuneConfig = config.tune
    lrs = settings.candidates()
    candidates = [with_lr(config, lr) for lr in lrs]
    noisy = bool(config.noise) or config.batch_size is not None
    repeats = settings.seeds if noisy else 1
    starts = experiment.starts
    n = len(starts)
    steps = experiment.steps
    # per candidate, every run of every repeat: the run's score (+inf when it diverged)
    scores = np.empty((len(lrs), repeats * n))
    diverged = np.zeros(len(lrs), dtype=np.int64)
    done = 0
    groups = [chunk for group in _groups(candidates)
              for chunk in chunks(group, n, steps)]
    for repeat in range(repeats):
        for group in groups:
            rng = np.random.default_rng([experiment.seed, index, TUNE_STREAM, repeat])
            report = None
            if progress is not None:
                def report(t: int, base: int = done, weight: int = len(group)) -> None:
                    progress(base + weight * t)
            # only the last step is recorded; the mean objective sums every step as it runs
            summed = None if settings.objective == "final" else LossSum(len(group) * n, steps)
            _, loss, _, stopped = run_group([candidates[i] for i in group], experiment.function,
                                            starts, steps, rng, progress=report,
                                            record_steps=np.array([steps]), reduce=summed)
            done += len(group) * steps
            with np.errstate(invalid="ignore"):
                score = loss[-1].copy() if summed is None else summed.mean()
            gone = stopped >= 0
            score[gone | ~np.isfinite(score)] = np.inf
            for member, i in enumerate(group):
                rows = slice(member * n, (member + 1) * n)
                scores[i, repeat * n: (repeat + 1) * n] = score[rows]
                diverged[i] += int(np.count_nonzero(gone[rows]))
            del loss
    objective = np.median(scores, axis=1)
    chosen = choose(lrs, objective, diverged)
    if chosen < 0:
        low, high = settings.range
        raise ConfigError(
            f"every candidate lr in [{low:g}, {high:g}] diverged from some start; lower "
            "tune.range or give the lr", ("optimizers", _written_index(config, index), "lr"))
    return EntryTuning(lrs, objective, diverged, repeats * n, chosen, settings)


def _written_index(config: Any, index: int) -> int:
    """The entry's index in ``optimizers:`` as written (a sweep expands one into several)."""
    return config.sweep.entry if config.sweep is not None else index


def work(experiment: Any) -> int:
    """Entry-steps the tuning will advance (for progress)."""
    total = 0
    for i in pending(experiment):
        config = experiment.optimizers[i]
        noisy = bool(config.noise) or config.batch_size is not None
        total += config.tune.budget * (config.tune.seeds if noisy else 1) * experiment.steps
    return total


def tune(experiment: Any, progress: Callable[[int, int], None] | None = None) -> Any:
    """``experiment`` with every ``lr: auto`` replaced by its tuned lr (itself when there is
    none): the entry's lr, its label (``Adam · lr 0.0316, tuned``) and ``tuned`` record."""
    indices = pending(experiment)
    if not indices:
        return experiment
    total, done = work(experiment), 0
    entries = list(experiment.optimizers)
    for i in indices:
        report = None
        if progress is not None:
            def report(t: int, base: int = done) -> None:
                progress(base + t, total)
        record = tune_entry(experiment, i, report)
        config = entries[i]
        done += config.tune.budget * (record.runs // len(experiment.starts)) * experiment.steps
        if record.chosen in (0, len(record.lr) - 1):
            edge = "lowest" if record.chosen == 0 else "highest"
            warnings.warn(f"{config.label}: the tuned lr {record.chosen_lr:.3g} is the {edge} "
                          "candidate of tune.range: the best lr may lie beyond it",
                          stacklevel=2)
        entries[i] = replace(with_lr(config, record.chosen_lr), tuned=record,
                             label=tuned_label(config.label, record.chosen_lr))
        if progress is not None:
            progress(done, total)
    return replace(experiment, optimizers=tuple(entries))


@dataclass(frozen=True)
class TunedTrajectories(Trajectories):
    """The runs of an experiment whose ``lr: auto`` entries :func:`optiviz.api.compute` tuned,
    with the tuning's record per entry (None: not tuned), so that what is drawn and written
    from the result alone (the ``tuning`` panel, ``--data``) has it."""

    tuning: tuple = ()


def attach(result: Any, tuned: Any) -> Any:
    """``result`` (Trajectories) with the tuning records of ``tuned`` (the tuned experiment)."""
    from dataclasses import fields

    values = {f.name: getattr(result, f.name) for f in fields(result) if f.name != "tuning"}
    return TunedTrajectories(**values, tuning=tuple(c.tuned for c in tuned.optimizers))


def records(experiment: Any, result: Any = None) -> list[Any]:
    """Each entry's tuning record (None: not tuned): the experiment's when it was tuned, else
    those the result carries (an experiment passed on before tuning)."""
    own = [c.tuned for c in experiment.optimizers]
    carried = getattr(result, "tuning", ())
    if any(r is not None for r in own) or len(carried) != len(own):
        return own
    return list(carried)


def data_arrays(experiment: Any, result: Any = None) -> dict[str, np.ndarray]:
    """``--data``'s tuning keys when some entry was tuned: per expanded entry ``tuned_lr``
    (NaN: not tuned) and the table ``tuning_lr``, ``tuning_objective``, ``tuning_diverged``
    (entries x candidates; NaN / -1 rows for entries not tuned), ``tuning_runs``."""
    records_ = records(experiment, result)
    if not any(r is not None for r in records_):
        return {}
    budget = max(len(r.lr) for r in records_ if r is not None)
    entries = len(records_)
    lr = np.full((entries, budget), np.nan)
    objective = np.full((entries, budget), np.nan)
    diverged = np.full((entries, budget), -1, dtype=np.int64)
    chosen = np.full(entries, np.nan)
    runs = np.zeros(entries, dtype=np.int64)
    for i, record in enumerate(records_):
        if record is None:
            continue
        size = len(record.lr)
        lr[i, :size] = record.lr
        objective[i, :size] = record.objective
        diverged[i, :size] = record.diverged
        chosen[i] = record.chosen_lr
        runs[i] = record.runs
    return {"tuned_lr": chosen, "tuning_lr": lr, "tuning_objective": objective,
            "tuning_diverged": diverged, "tuning_runs": runs}


def summary_line(experiment: Any, result: Any = None) -> str | None:
    """One line saying how the tuned lrs were chosen, or None when nothing was tuned."""
    tuned = [(c, r) for c, r in zip(experiment.optimizers, records(experiment, result),
                                    strict=True) if r is not None]
    if not tuned:
        return None
    settings = tuned[0][1].config
    chosen = ", ".join(f"{c.label.rsplit(' · lr ', 1)[0]} {r.chosen_lr:.3g}" for c, r in tuned)
    seeds = "" if settings.seeds == 1 else f", noisy entries over {settings.seeds} seeds"
    return f"tuned lr ({settings.describe()}{seeds}): {chosen}"
