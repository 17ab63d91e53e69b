"""The kinds of experiment: one table, read by the loader, ``api.compute``, the renderer and the
run report instead of each branching on the kind.

An :class:`ExperimentKind` names the top-level section that makes a config of its kind
(``sampling:``, ``variational:``; optimizer experiments have none: they are what a config is
otherwise) and, as ``"module:function"`` strings imported when first called (loading a config
never imports the renderer), how the kind is parsed, computed, drawn and summarized:

- ``parse(data, common, attempt) -> Experiment``: ``common`` holds what every kind shares
  (name, title, source, render, seed) and ``attempt`` collects errors for ``optiviz validate``;
- ``compute(experiment, progress) -> result`` (``result.arrays()`` is what ``--data`` writes);
- ``scene(experiment, result) -> Scene``;
- ``summarize(experiment, result) -> RunSummary``;
- ``preflight(experiment)``: the cheap render-time checks ``config.preflight`` runs (or None);
- ``readout(tables, experiment, result, steps)``: the HTML player's per-frame readout, for a
  kind that has its own (None: the player's optimizer or sampling tables).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExperimentKind:
    name: str
    section: str | None
    parse: str
    compute: str
    scene: str
    summarize: str
    preflight: str | None = None
    readout: str | None = None  # ``-o page.html``: (tables, experiment, result, steps) -> None

    def call(self, role: str, *args: Any, **kwargs: Any) -> Any:
        """Import and call the function this kind names for ``role`` (``"compute"`` ...)."""
        return resolve(getattr(self, role))(*args, **kwargs)


def resolve(reference: str) -> Callable[..., Any]:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


KINDS: dict[str, ExperimentKind] = {
    "optimizers": ExperimentKind(
        "optimizers", None, "optiviz.config:parse_optimizers", "optiviz.api:compute_optimizers",
        "optiviz.render.landscape:build_scene", "optiviz.report:summarize_optimizers",
        "optiviz.config:check_map"),
    "sampling": ExperimentKind(
        "sampling", "sampling", "optiviz.config:parse_sampling", "optiviz.sampling:run_experiment",
        "optiviz.render.sampling:build_scene", "optiviz.report:summarize_sampling"),
    "variational": ExperimentKind(
        "variational", "variational", "optiviz.variational:parse", "optiviz.variational:run",
        "optiviz.render.variational:build_scene", "optiviz.variational:summarize",
        "optiviz.variational:preflight", "optiviz.variational:html_readout"),
}

SECTIONS = tuple(kind.section for kind in KINDS.values() if kind.section)


def of_config(data: dict) -> ExperimentKind:
    """The kind a raw config is: the first section it has, else an optimizer experiment.
    (Two sections are refused by the parser of the first.)"""
    for kind in KINDS.values():
        if kind.section is not None and kind.section in data:
            return kind
    return KINDS["optimizers"]


def of_experiment(experiment: Any) -> str:
    """The kind of a built Experiment: the one whose section it holds."""
    for kind in KINDS.values():
        if kind.section is not None and getattr(experiment, kind.section, None) is not None:
            return kind.name
    return "optimizers"
