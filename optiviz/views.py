"""The optimizer views (``render.view``): one registry read by config validation, the renderer,
the budget, ``optiviz list`` and the docs.

Pure Python (no Matplotlib, no NumPy work): loading a config reads this table to validate
``render.view``; the renderer imports a view's scene only when it draws one.

A :class:`ViewSpec` names its scene by import path (``"optiviz.render.surface:SurfaceScene"``,
a callable ``(experiment, result, theme, size) -> Scene``) and says what the view computes:
``"trajectories"`` (every step of every run, :func:`optiviz.engine.simulate`) or
``"basins"`` (streaming reductions over blocks of starts, :func:`optiviz.streaming.run_basins`:
the memory of a block and of the map, never starts × steps).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optiviz.registry import Registry


@dataclass(frozen=True)
class ViewSpec:
    """A registered view. ``scene``: ``"module:attribute"`` of the scene builder; ``computes``:
    ``"trajectories"`` or ``"basins"``; ``default_frames``: frames when ``render.frames`` is
    not given (None: every step, at most 300)."""

    name: str
    summary: str
    scene: str
    computes: str = "trajectories"
    default_frames: int | None = None
    # render keys the view draws nothing with: refused when given, never silently ignored
    unused_render_keys: tuple[str, ...] = ()

    def scene_builder(self) -> Callable[..., Any]:
        module, _, attribute = self.scene.partition(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def streaming(self) -> bool:
        """Whether the view computes streaming reductions instead of whole trajectories."""
        return self.computes != "trajectories"


VIEWS: Registry[ViewSpec] = Registry("view")

VIEWS.add("contour", ViewSpec(
    "contour", "paths (or particle clouds, for many starts) over a contour map",
    "optiviz.render.landscape:contour_scene", unused_render_keys=("orbit", "elev", "azim")))
VIEWS.add("surface", ViewSpec(
    "surface", "paths on the 3-D surface, a fixed camera or a slow orbit",
    "optiviz.render.surface:SurfaceScene", unused_render_keys=("levels",)))
VIEWS.add("basins", ViewSpec(
    "basins", "basin map: each start of a grid coloured by the known minimum its run reaches "
    "(hue) and how fast (lightness); one panel per optimizer",
    "optiviz.render.basins:BasinScene", computes="basins", default_frames=60,
    unused_render_keys=("panels", "overlay", "levels", "domain", "trail", "orbit", "elev",
                        "azim")))


def view_of(experiment: Any) -> ViewSpec:
    """The :class:`ViewSpec` of an optimizer experiment's ``render.view``."""
    return VIEWS.get(experiment.render.view, ("render", "view"))


def is_streaming(experiment: Any) -> bool:
    """Whether the experiment computes a view's streaming reductions (a basin map)."""
    return experiment.kind == "optimizers" and view_of(experiment).streaming
