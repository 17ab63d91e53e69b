"""Optimizers from outside optiviz: NumPy plugins and torch classes.

* A plugin is an object with our optimizer interface (an :class:`OptimizerSpec`, or any object
  with ``params``, ``init`` and ``step`` and optionally ``summary``, ``check``, ``position``,
  ``momentum_key``, ``per_run_hyper``; docs/PLUGINS.md). It is named in a config by import path,
  ``{name: "mypkg.opt:signum"}``, or registered under the entry-point group
  ``optiviz.optimizers`` (``signum = "mypkg.opt:signum"``), which makes ``signum`` a registry
  name like a built-in one: ``optiviz list``, ``optiviz init``, validation.
* ``{torch: ...}`` entries go to :mod:`optiviz.optimizers.torch_adapter`.

Importing a plugin runs its code; naming it (or installing a package that registers one) is the
user's decision to do so.
"""

from __future__ import annotations

from typing import Any

from optiviz.errors import ConfigError, KeyPath
from optiviz.optimizers.base import OptimizerSpec
from optiviz.registry import Param, Registry

ENTRY_POINT_GROUP = "optiviz.optimizers"
_OPTIONAL = ("summary", "torch", "momentum_key", "position", "check", "per_run_hyper")


def as_spec(obj: Any, name: str, where: str) -> OptimizerSpec:
    """``obj`` as an OptimizerSpec named ``name``; ConfigError naming what is missing."""
    if isinstance(obj, OptimizerSpec):
        return obj if obj.name == name else _renamed(obj, name)
    missing = [attribute for attribute in ("params", "init", "step") if not hasattr(obj, attribute)]
    if missing:
        raise ConfigError(
            f"{where} is not an optimizer: it has no {', '.join(repr(m) for m in missing)} "
            "(see docs/PLUGINS.md)"
        )
    for attribute in ("init", "step"):
        if not callable(getattr(obj, attribute)):
            raise ConfigError(f"{where} is not an optimizer: its {attribute!r} is not callable")
    try:
        params = tuple(obj.params)
    except TypeError:
        params = (obj.params,)
    bad = [p for p in params if not isinstance(p, Param)]
    if bad:
        raise ConfigError(
            f"{where} is not an optimizer: its params must be optiviz.registry.Param objects, "
            f"got {type(bad[0]).__name__}"
        )
    options = {key: getattr(obj, key) for key in _OPTIONAL if getattr(obj, key, None) is not None}
    options.setdefault("summary", (getattr(obj, "__doc__", "") or "").strip().split("\n")[0])
    if "per_run_hyper" in options:
        options["per_run_hyper"] = frozenset(options["per_run_hyper"])
    return OptimizerSpec(name=name, params=params, init=obj.init, step=obj.step, **options)


def _renamed(spec: OptimizerSpec, name: str) -> OptimizerSpec:
    from dataclasses import replace

    return replace(spec, name=name)


def is_import_path(name: Any) -> bool:
    return isinstance(name, str) and (":" in name or "." in name)


def load_plugin(name: str, path: KeyPath = ()) -> OptimizerSpec:
    """The plugin an import path names (``mypkg.opt:signum``)."""
    from optiviz.optimizers.torch_adapter import import_object

    obj = import_object(name.strip(), path, "optimizer")
    try:
        return as_spec(obj, name.strip(), name.strip())
    except ConfigError as exc:
        raise ConfigError(exc.message, path) from None


def external_entry(value: dict, path: KeyPath) -> tuple[str, OptimizerSpec, dict] | None:
    """An entry the registry does not hold: ``torch:`` or ``name:`` an import path. Returns
    (name, spec, hyper) validated, or None for a registry name."""
    if "torch" in value:
        if "name" in value:
            raise ConfigError(
                "give either 'name' (an optiviz optimizer) or 'torch' (a torch class), not both",
                path + ("name",),
            )
        from optiviz.optimizers.torch_adapter import resolve_entry

        return resolve_entry(value, path)
    name = value.get("name")
    from optiviz.optimizers import OPTIMIZERS

    if not is_import_path(name) or name in OPTIMIZERS:
        return None
    from optiviz.config import OPTIMIZER_ENTRY_KEYS
    from optiviz.registry import validate_params

    spec = load_plugin(name, path + ("name",))
    given = {k: v for k, v in value.items() if k not in OPTIMIZER_ENTRY_KEYS}
    hyper = validate_params(spec.params, given, path, ignore=OPTIMIZER_ENTRY_KEYS)
    return name.strip(), spec, hyper


def external_spec(value: dict, path: KeyPath) -> OptimizerSpec | None:
    """The spec of an external entry, for sweeps (its params); None for a registry name."""
    if "torch" in value:
        from optiviz.optimizers.base import OptimizerSpec as Spec
        from optiviz.optimizers.torch_adapter import spec_params

        return Spec("torch", spec_params(value, path), _unused, _unused, "")
    name = value.get("name")
    from optiviz.optimizers import OPTIMIZERS

    if is_import_path(name) and name not in OPTIMIZERS:
        return load_plugin(name, path + ("name",))
    return None


def _unused(*args: Any) -> Any:  # pragma: no cover - a spec only read for its params
    raise TypeError("this spec only describes an external entry's parameters (for sweeps); "
                    "the entry itself is stepped by its own spec")


class PluginRegistry(Registry[OptimizerSpec]):
    """The optimizer registry, which adds the ``optiviz.optimizers`` entry points the first time
    it is read (so that importing optiviz stays cheap). A plugin that fails to load is reported
    when its name is used, and by ``optiviz list``."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self._discovered = False
        self.failed: dict[str, str] = {}  # plugin name -> why it did not load

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        from importlib.metadata import entry_points

        for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
            if point.name.casefold() in self._folded:
                self.failed[point.name] = (
                    f"entry point {point.value} clashes with the built-in optimizer "
                    f"{point.name!r}"
                )
                continue
            try:
                obj = point.load()
                spec = as_spec(obj, point.name, f"entry point {point.name} = {point.value}")
            except ConfigError as exc:
                self.failed[point.name] = exc.message
                continue
            except Exception as exc:  # the plugin's own import raised
                text = " ".join(str(exc).split())
                self.failed[point.name] = (
                    f"entry point {point.name} = {point.value} failed to load: "
                    f"{type(exc).__name__}: {text}"
                )
                continue
            Registry.add(self, point.name, spec)

    def _built_in(self, name: object) -> bool:
        """Whether ``name`` is a built-in optimizer, told without reading the entry points: a
        built-in always wins over a plugin of its name, so the answer cannot change."""
        return not self._discovered and Registry.__contains__(self, name)

    def spelling(self, name: str, path: KeyPath = ()) -> str:
        if self._built_in(name):
            return super().spelling(name, path)
        self._discover()
        if isinstance(name, str):
            for plugin, why in self.failed.items():
                if plugin.casefold() == name.casefold() and name.casefold() not in self._folded:
                    raise ConfigError(f"optimizer plugin {plugin!r}: {why}", path)
        return super().spelling(name, path)

    def __contains__(self, name: object) -> bool:
        if self._built_in(name):
            return True
        self._discover()
        return super().__contains__(name)

    def __iter__(self):
        self._discover()
        return super().__iter__()

    def names(self) -> list[str]:
        self._discover()
        return super().names()

    def items(self):
        self._discover()
        return super().items()

    def aliases(self) -> dict[str, str]:
        self._discover()
        return super().aliases()

    def plugins(self) -> dict[str, str]:
        """Registered plugin names -> where they come from (``mypkg.opt:signum``)."""
        self._discover()
        from importlib.metadata import entry_points

        points = {p.name: p.value for p in entry_points(group=ENTRY_POINT_GROUP)}
        return {name: points[name] for name in self._entries if name in points
                and name not in self.failed}
