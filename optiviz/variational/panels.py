"""The variational view's panels in the panel registry (``render.panels``), registered when the
registry is first read (``optiviz.render.panels.PANEL_MODULES``).

The view family ``variational`` draws ``landscape`` (the divergence over (μ, log σ) beside p
and q), ``loss`` (the objective per step with its cross-entropy and entropy terms) and
``gradients`` (single-draw reparam and score estimates around the exact gradient). The panel
classes live in :mod:`optiviz.render.variational` and are imported only when built.
"""

from __future__ import annotations

from typing import Any

from optiviz.errors import ConfigError
from optiviz.render.panels import PANELS, PanelContext, PanelSpec

VIEW = "variational"


def _loss(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.variational import ObjectivePanel

    return ObjectivePanel(ax, context)


def _gradients(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.variational import GradientsPanel

    return GradientsPanel(ax, context)


def _check_gradients(experiment: Any) -> None:
    config = getattr(experiment, "variational", None)
    if config is None:
        return
    if "reverse" not in config.divergences:
        raise ConfigError("the gradients panel compares reparam and score estimates of the "
                          "reverse KL's gradient; add divergence: reverse",
                          ("render", "panels"))


PANELS.get("loss").views[VIEW] = _loss  # the loss panel's variational form
PANELS.add("gradients", PanelSpec(
    "gradients", "variational: single-draw reparam and score gradient estimates at q, the "
    "exact gradient and each estimator's variance", {VIEW: _gradients}, check=_check_gradients))
