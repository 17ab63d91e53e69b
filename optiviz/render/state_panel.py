"""The ``state`` panel (``render.panels: [landscape, state]``): each optimizer's recorded state
over steps (‖m‖, ‖√v̂‖, ‖lr·m̂/(√v̂+ε)‖; see :mod:`optiviz.recording`). Registered here, drawn
by :class:`optiviz.render.overlays.StatePanel` (imported when built, so validating a config
never imports Matplotlib)."""

from __future__ import annotations

from typing import Any

from optiviz.errors import ConfigError
from optiviz.render.panels import PANELS, PanelContext, PanelSpec


def _state_paths(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.overlays import StatePanel

    return StatePanel(ax, context.experiment, context.trajectories, context.groups,
                      context.group_colors, context.theme)


def check_state(experiment: Any) -> None:
    """Refuse the panel when no optimizer of the experiment keeps a state vector (gd, newton,
    lbfgs, asgd alone)."""
    from optiviz.engine import spec_of

    if not experiment.optimizers:
        return
    if any(spec_of(entry).state_vectors is not None for entry in experiment.optimizers):
        return
    names = ", ".join(dict.fromkeys(entry.name for entry in experiment.optimizers))
    index = experiment.render.panels.index("state")
    raise ConfigError(f"no optimizer here keeps a state vector to plot ({names}: none); "
                      "momentum, Adam-family, RMSprop, Adagrad, Adadelta, Rprop and Lion do",
                      ("render", "panels", index))


PANELS.add("state", PanelSpec(
    "state", "each optimizer's state per step: ‖m‖, ‖√v̂‖, ‖lr·m̂/(√v̂+ε)‖ (first start)",
    {"paths": _state_paths}, check=check_state))
