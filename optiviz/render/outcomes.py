"""The panels of fair comparisons (``render.panels``): ``tuning``, the lr-sensitivity curve of
the ``lr: auto`` entries; ``final``, each optimizer's distribution of the loss over its starts
(an ECDF, at the step the animation shows); ``success``, each optimizer's share of runs that
have reached a known minimum within ``tolerance:``, per step (the runtime ECDF of COCO).

Registered here, in :data:`optiviz.render.panels.PANEL_MODULES`; the panels themselves are in
:mod:`optiviz.render.outcome_panels` (Matplotlib), imported when one is built. Each draws in the
paths views (contour, surface) and in the particle-cloud view, one curve per optimizer entry.
"""

from __future__ import annotations

from typing import Any

from optiviz.errors import ConfigError
from optiviz.render.panels import PANELS, PanelContext, PanelSpec


def _tuning(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.outcome_panels import TuningPanel

    return TuningPanel(ax, context)


def _final(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.outcome_panels import FinalPanel

    return FinalPanel(ax, context)


def _success(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.outcome_panels import SuccessPanel

    return SuccessPanel(ax, context)


def _needs_tuning(experiment: Any) -> None:
    if not any(getattr(o, "tune", None) is not None for o in experiment.optimizers):
        raise ConfigError("the 'tuning' panel needs an optimizer with lr: auto (nothing is "
                          "tuned)", ("render", "panels"))


def _needs_target(experiment: Any) -> None:
    from optiviz.statistics import has_target

    if not has_target(experiment):
        raise ConfigError("the 'success' panel needs a function with a known global minimum "
                          "(an expr function takes minima: [[x, y], ...])", ("render", "panels"))


def _tuning_key(experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    from optiviz.render.outcome_panels import tuning_key

    return tuning_key(theme)


def _final_key(experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    from optiviz.render.outcome_panels import final_key

    return final_key(experiment, theme)


def _success_key(experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    from optiviz.render.outcome_panels import success_key

    return success_key(experiment, theme)


BOTH = ("paths", "cloud")
PANELS.add("tuning", PanelSpec(
    "tuning", "lr: auto: the tuning objective per candidate lr, the chosen lr marked",
    dict.fromkeys(BOTH, _tuning), _needs_tuning, key=_tuning_key))
PANELS.add("final", PanelSpec(
    "final", "each optimizer's loss over its starts at the shown step, as an ECDF",
    dict.fromkeys(BOTH, _final), key=_final_key))
PANELS.add("success", PanelSpec(
    "success", "share of each optimizer's runs within tolerance of a known minimum, per step",
    dict.fromkeys(BOTH, _success), _needs_target, key=_success_key))
