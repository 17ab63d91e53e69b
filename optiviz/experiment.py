"""The validated, frozen form of a config file: what the engine and renderer read.

``optiviz.config.load`` builds these from YAML; nothing here parses or validates text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ScheduleConfig:
    """A learning-rate schedule: registry name, its validated parameters, optional warm-up."""

    name: str | None  # None: constant lr (only a warm-up, if warmup_steps > 0)
    params: dict[str, Any] = field(default_factory=dict)
    warmup_steps: int = 0
    warmup_start_factor: float = 0.01


@dataclass(frozen=True)
class Sweep:
    """Where an ``optimizers:`` entry came from when a sweep expanded it: the index of the entry
    as written, and the swept ``(key, value)`` pairs that this entry took (torch's names)."""

    entry: int
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class OptimizerConfig:
    """One entry of ``optimizers:``. ``hyper`` holds every hyperparameter, defaults filled in,
    under torch's names (``lr``, ``betas``, ``momentum`` ...)."""

    name: str  # canonical registry name
    label: str
    hyper: dict[str, Any]
    schedule: ScheduleConfig | None = None
    noise: float = 0.0  # std of Gaussian noise added to each gradient
    batch_size: int | None = None  # dataset objectives: None = full batch
    inner: OptimizerConfig | None = None  # lookahead's wrapped optimizer
    color: str | None = None
    # The OptimizerSpec of an entry the registry does not hold (a ``torch:`` class, a plugin
    # named by import path); None: ``OPTIMIZERS.get(name)``.
    spec: Any = None
    sweep: Sweep | None = None  # set when a sweep (``lr: [...]``) expanded the entry
    # ``lr: auto``: the ``tune:`` settings (an optiviz.tuning.TuneConfig) while the lr is to be
    # tuned (``hyper["lr"]`` is NaN until then), and the tuning's record (an
    # optiviz.tuning.EntryTuning: candidates, objective, chosen lr) once it is.
    tune: Any = None
    tuned: Any = None


@dataclass(frozen=True)
class RenderConfig:
    """Keys under ``render:``."""

    output: str | None = None  # None: "<config name>.gif" in the current folder
    width: int = 960  # pixels
    height: int = 540
    dpi: int = 100
    fps: int = 30
    frames: int | None = None  # None: every step up to 300 frames, evenly subsampled beyond
    hold: float = 1.5  # seconds on the last frame
    loop: bool = True
    theme: str = "light"  # light | dark
    view: str = "contour"  # a name in optiviz.views.VIEWS
    panels: tuple[str, ...] | None = None  # landscape, loss, lr; None: automatic
    overlay: tuple[str, ...] = ()  # arrows at each head: gradient, velocity, step
    levels: int = 30
    domain: tuple[tuple[float, float], tuple[float, float]] | None = None
    trail: int | None = None  # steps of tail shown; None: the whole path
    title: str | None = None
    orbit: bool = False  # surface view: slow camera orbit
    elev: float = 35.0  # surface view camera
    azim: float = -60.0


@dataclass(frozen=True)
class SamplingConfig:
    """The ``sampling:`` section (instead of ``optimizers:``). ``options`` holds the
    method-specific keys (proposal, estimate, strata, chains, ...) as validated by
    ``optiviz.sampling``."""

    distribution: dict[str, Any]
    method: str = "direct"
    samples: int = 5000
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A whole experiment, validated."""

    name: str  # config file stem; default output name
    title: str | None
    source: Path | None
    render: RenderConfig
    seed: int = 0
    # optimizer experiments
    function: Any = None  # an optiviz.functions.Function (or dataset objective)
    function_spec: dict[str, Any] = field(default_factory=dict)  # as written, for titles/manifest
    starts: np.ndarray | None = None  # (N, 2) float64
    start_kind: str = "points"  # points | random | grid
    steps: int = 0
    optimizers: tuple[OptimizerConfig, ...] = ()
    # ``tolerance:`` (an optiviz.statistics.Tolerance): when a run counts as having reached a
    # known minimum (the success statistics and panel, the basins view); None: the default
    tolerance: Any = None
    # sampling experiments
    sampling: SamplingConfig | None = None
    # variational experiments (optiviz.variational.VariationalConfig); steps and optimizers too
    variational: Any = None

    @property
    def kind(self) -> str:
        """``optimizers``, ``sampling`` or ``variational`` (see :mod:`optiviz.kinds`)."""
        from optiviz.kinds import of_experiment

        return of_experiment(self)
