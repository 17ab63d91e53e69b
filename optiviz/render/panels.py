"""The side panels an optimizer view can draw beside its map (``render.panels``): one registry.

A panel is a :class:`PanelSpec`: its name, a one-line summary (``optiviz list panels``, docs),
and per view family a factory ``build(ax, context) -> SidePanel`` (``paths``: the contour and
surface views, one line per run; ``cloud``: the particle-cloud view, one curve per optimizer).
A view draws a panel only when the panel has a factory for it; a requested panel the view
cannot draw is refused with the names it can. ``check(experiment)`` refuses, at load time, a
panel the experiment gives nothing to draw (raise ``ConfigError`` with the key path).

``landscape`` is the map itself: every ``render.panels`` list names it, and it has no factory.
A new panel arrives as one :meth:`Registry.add` in its own module, listed in
:data:`PANEL_MODULES` so that it is registered before the first lookup.

The panel classes live with the views they belong to and are imported when a panel is built,
so validating a config never imports Matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from optiviz.errors import ConfigError, closest
from optiviz.registry import Registry

# Modules that register panels of their own (imported on the first lookup).
PANEL_MODULES: tuple[str, ...] = ("optiviz.render.outcomes", "optiviz.render.state_panel",
                                  "optiviz.variational.panels")


@dataclass
class PanelContext:
    """What a panel may draw from: the experiment, its result, and the view's choices.

    ``colors``: one colour per run (paths views) ; ``groups``: the runs of each optimizer
    entry and ``group_colors`` their colours (every view sets both); ``styles``: each run's
    (line style, marker); ``domain``: the map's view; ``size``: the font size in points;
    ``width``: the frame's width in pixels."""

    experiment: Any
    trajectories: Any
    theme: Any
    colors: Sequence[str]
    groups: Sequence[Any]
    group_colors: Sequence[str]
    domain: Any
    styles: Sequence[tuple[Any, str]] | None = None
    size: float = 10.0
    width: int = 640
    extras: dict = field(default_factory=dict)

    @cached_property
    def loss_summary(self) -> Any:
        """Each optimizer's median and quartile loss over its starts (the cloud view's)."""
        from optiviz.render.cloud import loss_summary

        return loss_summary(self.experiment, self.trajectories, self.groups, self.domain)


Factory = Callable[[Any, PanelContext], Any]


@dataclass(frozen=True)
class PanelSpec:
    name: str
    summary: str
    views: Mapping[str, Factory] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    params: tuple = ()  # registries list parameters; panels have none of their own
    # ``key(experiment, theme) -> [(handle, label), ...]``: the panel's marks for the view's key
    key: Callable[[Any, Any], list] | None = None


def _loss_paths(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.landscape import LossPanel

    return LossPanel(ax, context.experiment, context.trajectories, list(context.colors),
                     context.theme, styles=context.styles, domain=context.domain)


def _lr_paths(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.landscape import LrPanel

    return LrPanel(ax, context.experiment, context.trajectories, list(context.colors),
                   context.theme, styles=context.styles, domain=context.domain)


def _loss_cloud(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.cloud import CloudLossPanel

    return CloudLossPanel(ax, context.loss_summary, context.trajectories.steps,
                          context.group_colors, context.theme, points=2 * context.width)


def _lr_cloud(ax: Any, context: PanelContext) -> Any:
    from optiviz.render.cloud import CloudLrPanel

    return CloudLrPanel(ax, context.trajectories, context.groups, context.group_colors,
                        context.theme)


class _PanelRegistry(Registry):
    """The panel registry; the modules of :data:`PANEL_MODULES` register on first use."""

    _loaded = False

    def _load(self) -> None:
        if not _PanelRegistry._loaded:
            _PanelRegistry._loaded = True
            for module in PANEL_MODULES:
                importlib.import_module(module)

    def canonical(self, name: str, path: Any = ()) -> str:
        self._load()
        return super().canonical(name, path)

    def __contains__(self, name: object) -> bool:
        self._load()
        return super().__contains__(name)

    def __iter__(self) -> Any:
        self._load()
        return super().__iter__()

    def names(self) -> list[str]:
        self._load()
        return super().names()

    def items(self) -> Any:
        self._load()
        return super().items()


PANELS: Registry = _PanelRegistry("panel")
PANELS.add("landscape", PanelSpec("landscape", "the map: paths, clouds or the surface"))
PANELS.add("loss", PanelSpec("loss", "loss per step (a cloud: the median and quartiles over "
                             "starts)", {"paths": _loss_paths, "cloud": _loss_cloud}))
PANELS.add("lr", PanelSpec("lr", "each optimizer's learning rate per step",
                           {"paths": _lr_paths, "cloud": _lr_cloud}))


def panel_names() -> list[str]:
    return list(PANELS.names())


def check_panels(value: Any, path: tuple) -> tuple[str, ...]:
    """``render.panels`` as written, validated against the registry: a list of known names
    that includes ``landscape``; duplicates dropped, order kept."""
    names = panel_names()
    panels = [value] if isinstance(value, str) else value
    if not isinstance(panels, list) or not panels:
        raise ConfigError(f"must be a list of {', '.join(names)}", path)
    for i, panel in enumerate(panels):
        if not isinstance(panel, str) or panel.lower() not in names:
            guess = closest(str(panel), names)
            raise ConfigError(f"unknown panel {panel!r} (valid: {', '.join(names)})",
                              path + (i,), suggestion=guess[0] if guess else None)
    panels = [panel.lower() for panel in panels]
    if "landscape" not in panels:
        raise ConfigError("must include 'landscape'", path)
    return tuple(dict.fromkeys(panels))


def view_panels(experiment: Any, view: str, what: str) -> tuple[str, ...] | None:
    """``render.panels`` checked against what view family ``view`` draws (``what`` names the
    view in the message), or None when unset. A panel it cannot draw is refused, never
    dropped; each panel's own ``check`` runs."""
    panels = experiment.render.panels
    if panels is None:
        return None
    drawable = [name for name, spec in PANELS.items() if view in spec.views]
    for i, name in enumerate(panels):
        if name == "landscape":
            continue
        spec = PANELS.get(name, ("render", "panels", i))
        if view not in spec.views:
            guess = closest(str(name), drawable)
            raise ConfigError(f"the {what} cannot draw a {name!r} panel "
                              f"(it draws: {', '.join(['landscape', *drawable])})",
                              ("render", "panels", i), suggestion=guess[0] if guess else None)
        if spec.check is not None:
            spec.check(experiment)
    return tuple(panels)


def panel_key(names: Sequence[str], experiment: Any, theme: Any) -> list[tuple[Any, str]]:
    """The key entries of the panels ``names`` (a ``|`` in a label breaks the line where the
    view's key has room for one line only)."""
    entries: list[tuple[Any, str]] = []
    for name in names:
        spec = PANELS.get(name)
        if spec.key is not None:
            entries += spec.key(experiment, theme)
    return entries


def xlabel_of(panel: Any) -> str:
    """What a built panel's x axis shows: ``step`` unless the panel says otherwise (stacked
    panels share one step axis, labelled once)."""
    return getattr(panel, "xlabel", "step")


def build_panels(names: Sequence[str], axes: Sequence[Any], view: str,
                 context: PanelContext) -> list[Any]:
    """One panel per name on the matching axes, built by the panel's factory for ``view``."""
    return [PANELS.get(name).views[view](ax, context)
            for name, ax in zip(names, axes, strict=True)]
