"""YAML experiment files -> validated, frozen :class:`~optiviz.experiment.Experiment`.

The file is read with PyYAML's safe composer, so every value keeps the line it came from. Validation
code anywhere below raises :class:`ConfigError` with a key path only
(``("optimizers", 2, "betaz")``);
:func:`load` adds the file name and the line of that key, so users read
``exp.yaml:7: optimizers[2].betaz: unknown key; did you mean 'betas'?``.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from optiviz import budget, statistics, tuning, yaml_loader
from optiviz.errors import ConfigError, KeyPath, OptivizError, closest
from optiviz.experiment import (
    Experiment,
    OptimizerConfig,
    RenderConfig,
    SamplingConfig,
    ScheduleConfig,
    Sweep,
)
from optiviz.registry import (
    Param,
    as_float,
    as_int,
    in_range,
    positive,
    show_value,
    validate_params,
)
from optiviz.views import VIEWS

TOP_LEVEL_KEYS = (
    "title",
    "description",
    "function",
    "start",
    "steps",
    "seed",
    "optimizers",
    "render",
    "sampling",
    "variational",
    "tune",
    "tolerance",
)
OPTIMIZER_ENTRY_KEYS = ("name", "label", "schedule", "noise", "batch_size", "color")
SCHEDULE_KEYS = ("name", "warmup_steps", "warmup_start_factor")
MAX_STEPS = 10_000_000


def _even(v: Any) -> str | None:
    return None if v % 2 == 0 else "must be even (video encoders need even dimensions)"


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"must be >= {low}"


def _both(*checks: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        for c in checks:
            problem = c(v)
            if problem:
                return problem
        return None

    return check


RENDER_PARAMS: tuple[Param, ...] = (
    Param(
        "output",
        None,
        "str",
        "output file; its extension picks the format (gif mp4 webm html png svg pdf)",
        nullable=True,
    ),
    Param("width", 960, "int", "width in pixels", _both(_at_least(64), _even)),
    Param("height", 540, "int", "height in pixels", _both(_at_least(64), _even)),
    Param("dpi", 100, "int", "dots per inch: scales fonts and lines", in_range(20, 600)),
    Param("fps", 30, "int", "frames per second", in_range(1, 50)),
    Param(
        "frames",
        None,
        "int",
        "frames in the animation (default: every step, at most 300; 150 for an orbit; 60 for "
        "basins)",
        _at_least(1),
        nullable=True,
    ),
    Param("hold", 1.5, "float", "seconds the last frame stays", in_range(0, 60)),
    Param("loop", True, "bool", "loop the animation (GIF)"),
    Param("theme", "light", "choice", "colour theme", choices=("light", "dark")),
    Param("view", "contour", "choice", "what an optimizer experiment shows: "
          + ", ".join(VIEWS.names()), choices=tuple(VIEWS.names())),
    Param(
        "panels",
        None,
        "any",
        "panels: any of landscape, loss, lr (default: + loss for <= 12 runs or a cloud it fits)",
        nullable=True,
    ),
    Param(
        "overlay",
        None,
        "any",
        "arrows at each head of the contour view: any of gradient, velocity, step",
        nullable=True,
    ),
    Param("levels", 30, "int", "contour levels", in_range(2, 500)),
    Param(
        "domain",
        None,
        "any",
        "plot domain [[xmin, xmax], [ymin, ymax]] (default: the function's, grown to the runs)",
        nullable=True,
    ),
    Param(
        "trail",
        None,
        "int",
        "steps of tail drawn behind each head (default: whole path)",
        positive,
        nullable=True,
    ),
    Param("title", None, "str", "figure title (default: the experiment title)", nullable=True),
    Param("orbit", False, "bool", "surface view: slow camera orbit"),
    Param("elev", 35.0, "float", "surface view: camera elevation (degrees)", in_range(-90, 90)),
    Param("azim", -60.0, "float", "surface view: camera azimuth (degrees)"),
)
# Render keys of the optimizer views that a sampling animation has no use for.
SAMPLING_UNUSED_RENDER_KEYS = ("view", "panels", "overlay", "levels", "domain", "trail", "orbit",
                               "elev", "azim")


_PATH_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]|\.")


def _parse_key_path(text: str) -> KeyPath:
    """``optimizers[0].lr`` -> ("optimizers", 0, "lr")."""
    path: list[Any] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if not match:
            raise ConfigError(f"--set {text!r}: cannot parse the key path")
        if match.group(1):
            path.append(match.group(1))
        elif match.group(2):
            path.append(int(match.group(2)))
        pos = match.end()
    if not path:
        raise ConfigError(f"--set {text!r}: empty key path")
    return tuple(path)


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``--set key.path=value`` (value parsed as YAML) to the raw document."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. steps=500")
    key_text, value_text = assignment.split("=", 1)
    path = _parse_key_path(key_text.strip())
    try:
        value = yaml_loader.parse_value(value_text, "--set", path) if value_text.strip() else None
    except ConfigError as exc:
        shown = show_value(assignment)
        raise ConfigError(f"--set {shown}: {exc.message}", exc.path) from None
    target: Any = data
    for i, part in enumerate(path[:-1]):
        if isinstance(part, int):
            if not isinstance(target, list) or not -len(target) <= part < len(target):
                raise ConfigError(f"--set {assignment!r}: no item {part} here", path[: i + 1])
            target = target[part]
        else:
            if not isinstance(target, dict):
                raise ConfigError(f"--set {assignment!r}: not a mapping", path[:i])
            target = target.setdefault(part, {})
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or not -len(target) <= last < len(target):
            raise ConfigError(f"--set {assignment!r}: no item {last} here", path)
        target[last] = value
    else:
        if not isinstance(target, dict):
            raise ConfigError(f"--set {assignment!r}: not a mapping", path[:-1])
        target[last] = value


# --------------------------------------------------------------------------------------------
# Section validators: each takes the raw value and its key path, raises ConfigError(path=...)


def _mapping(value: Any, path: KeyPath, what: str = "a mapping") -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"must be {what}, got {show_value(value)}", path)
    return value


def _integer(value: Any, path: KeyPath, *, low: int | None = None) -> int:
    value = as_int(value, path)
    if low is not None and value < low:
        raise ConfigError(f"must be >= {low}, got {value}", path)
    return value


def _box(value: Any, path: KeyPath) -> tuple[tuple[float, float], tuple[float, float]]:
    from optiviz.functions import parse_domain

    return parse_domain(value, path)


def _starts(
    value: Any,
    path: KeyPath,
    function: Any,
    seed: int,
    check: Callable[[int, KeyPath], None] = lambda count, where: None,
) -> tuple[np.ndarray, str]:
    """The (N, 2) starts and their kind; ``check(N, key)`` runs before they are made."""
    if isinstance(value, dict):
        kinds = [k for k in ("random", "grid") if k in value]
        if len(kinds) != 1:
            raise ConfigError(
                "must be [x, y], a list of points, {random: N} or {grid: [nx, ny]}", path
            )
        kind = kinds[0]
        allowed = (kind, "box", "seed")
        for key in value:
            if key not in allowed:
                guess = closest(str(key), allowed)
                raise ConfigError(
                    "unknown key", path + (key,), suggestion=guess[0] if guess else None
                )
        box = _box(value["box"], path + ("box",)) if "box" in value else function.domain
        (x0, x1), (y0, y1) = box
        if kind == "random":
            count = _integer(value["random"], path + ("random",), low=1)
            start_seed = _integer(value.get("seed", seed), path + ("seed",), low=0)
            check(count, path + ("random",))
            rng = np.random.default_rng(start_seed)
            points = np.column_stack((rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)))
        else:
            grid = value["grid"]
            if isinstance(grid, (int, float)) and not isinstance(grid, bool):
                grid = [grid, grid]
            if not isinstance(grid, list) or len(grid) != 2:
                raise ConfigError(f"must be [nx, ny], got {show_value(grid)}", path + ("grid",))
            nx = _integer(grid[0], path + ("grid", 0), low=1)
            ny = _integer(grid[1], path + ("grid", 1), low=1)
            check(nx * ny, path + ("grid",))
            xs = np.linspace(x0, x1, nx) if nx > 1 else np.array([(x0 + x1) / 2])
            ys = np.linspace(y0, y1, ny) if ny > 1 else np.array([(y0 + y1) / 2])
            gx, gy = np.meshgrid(xs, ys)
            points = np.column_stack((gx.ravel(), gy.ravel()))
        return points.astype(np.float64), kind
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple)):
        value = [value]
        single = True
    else:
        single = False
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(
            "must be [x, y], a list of points, {random: N} or {grid: [nx, ny]}, "
            f"got {show_value(value)}",
            path,
        )
    check(len(value), path)
    points = []
    for i, point in enumerate(value):
        where = path if single else path + (i,)
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ConfigError(f"a start must be a 2-D point [x, y], got {show_value(point)}", where)
        points.append([as_float(point[0], where + (0,)), as_float(point[1], where + (1,))])
    return np.array(points, dtype=np.float64), "points"


def _schedule(value: Any, path: KeyPath, steps: int) -> ScheduleConfig:
    from optiviz.schedules import SCHEDULES

    if isinstance(value, str):
        value = {"name": value}
    value = _mapping(value, path, "a schedule name or mapping")
    name = value.get("name")
    warmup = _integer(value.get("warmup_steps", 0), path + ("warmup_steps",), low=0)
    start_factor = value.get("warmup_start_factor", 0.01)
    start_factor = as_float(start_factor, path + ("warmup_start_factor",))
    if not 0 < start_factor <= 1:
        raise ConfigError(f"must be in (0, 1], got {start_factor}", path + ("warmup_start_factor",))
    if name is None:
        if "name" in value:
            raise ConfigError("must be a schedule name", path + ("name",))
        extra = [k for k in value if k not in SCHEDULE_KEYS]
        if extra:
            raise ConfigError("needs a schedule 'name' for these keys", path + (extra[0],))
        if warmup == 0:
            raise ConfigError("needs a 'name' (or warmup_steps)", path)
        return ScheduleConfig(None, {}, warmup, start_factor)
    spec = SCHEDULES.get(name, path + ("name",))
    given = {k: v for k, v in value.items() if k not in SCHEDULE_KEYS}
    given = _fill_length_params(spec.params, given, steps - warmup)
    params = validate_params(spec.params, given, path, ignore=SCHEDULE_KEYS)
    if getattr(spec, "check", None) is not None:
        spec.check(params, path)
    return ScheduleConfig(SCHEDULES.canonical(name), params, warmup, start_factor)


def _fill_length_params(params: Iterable[Param], given: dict, length: int) -> dict:
    """Schedules whose length defaults to "the whole run" (t_max, total_steps, ...) get it when
    the key is missing or null."""
    given = dict(given)
    for p in params:
        if p.name in ("t_max", "total_steps", "total_iters") and given.get(p.name) is None:
            if p.required or p.default is None:
                given[p.name] = max(int(length), 1)
    return given


MAX_SWEEP = 1000


def _format_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _optimizer_entries(
    value: Any, path: KeyPath, *, steps: int, function: Any, index: int, tune: Any = None
) -> list[OptimizerConfig]:
    """One entry, or several when hyperparameters are swept: a list where a number is expected
    (``lr: [0.001, 0.01, 0.1]``; ``betas: [[0.9, 0.999], [0.5, 0.9]]``) expands into one entry
    per value, every combination when several keys are swept."""
    from optiviz.optimizers import OPTIMIZERS
    from optiviz.optimizers.plugins import external_spec

    if not isinstance(value, dict) or not isinstance(value.get("name", value.get("torch")), str):
        return [_optimizer(value, path, steps=steps, function=function, index=index, tune=tune)]
    spec = external_spec(value, path) or OPTIMIZERS.get(value["name"], path + ("name",))
    params = {p.name: p for p in spec.params}
    swept: dict[str, list] = {}
    for key, given in value.items():
        param = params.get(key)
        if param is None or not isinstance(given, list):
            continue
        if param.kind in ("float", "int") or (
            param.kind == "floats" and given and all(isinstance(v, list) for v in given)
        ):
            if not given:
                raise ConfigError("an empty sweep: give at least one value", path + (key,))
            swept[key] = [param.coerce(v, path + (key, i)) for i, v in enumerate(given)]
    if not swept:
        return [_optimizer(value, path, steps=steps, function=function, index=index, tune=tune)]
    combinations = list(itertools.product(*swept.values()))
    if len(combinations) > MAX_SWEEP:
        raise ConfigError(
            f"sweeps {len(combinations):,} combinations; at most {MAX_SWEEP:,}",
            path + (next(iter(swept)),),
        )
    entries = []
    for combination in combinations:
        chosen = dict(zip(swept, combination, strict=True))
        entry = _optimizer(
            {**value, **chosen}, path, steps=steps, function=function, index=index, tune=tune
        )
        suffix = " ".join(
            f"{key}={_format_value(v)}"
            for key, v in chosen.items()
            if "label" in value or key != "lr"
        )
        if suffix:
            entry = replace(entry, label=f"{entry.label} {suffix}")
        entries.append(replace(entry, sweep=Sweep(index, tuple(chosen.items()))))
    return entries


def _optimizer(
    value: Any, path: KeyPath, *, steps: int, function: Any, index: int, nested: bool = False,
    tune: Any = None
) -> OptimizerConfig:
    from optiviz.optimizers import OPTIMIZERS

    if isinstance(value, str):
        value = {"name": value}
    value = _mapping(value, path, "a mapping with at least a 'name'")
    from optiviz.optimizers.plugins import external_entry

    auto = value.get("lr") is not None and tuning.is_auto(value.get("lr"))
    if auto:  # lr: auto (optiviz/tuning.py): validated with a stand-in lr, tuned when computing
        value = tuning.auto_entry(value, path, nested=nested)

    external = external_entry(value, path)  # torch: classes, plugins named by import path
    if external is not None:
        name, spec, hyper = external
    else:
        if "name" not in value:
            raise ConfigError("missing required key 'name'", path)
        spec = OPTIMIZERS.get(value["name"], path + ("name",))
        name = OPTIMIZERS.canonical(value["name"])
        entry_keys = OPTIMIZER_ENTRY_KEYS + (("inner",) if name == "lookahead" else ())
        given = {k: v for k, v in value.items() if k not in entry_keys}
        hyper = validate_params(
            [p for p in spec.params if p.name != "inner"], given, path, ignore=entry_keys,
            what="key"
        )
    if "lr" in hyper and not hyper["lr"] > 0:
        # torch accepts lr = 0, but a run that cannot move is never what a user meant.
        raise ConfigError(f"must be > 0, got {hyper['lr']!r}", path + ("lr",))
    inner = None
    if name == "lookahead":
        from optiviz.optimizers.base import InnerOptimizer

        if "inner" not in value:
            raise ConfigError("missing required key 'inner' (the optimizer lookahead wraps)", path)
        inner = _optimizer(
            value["inner"],
            path + ("inner",),
            steps=steps,
            function=function,
            index=index,
            nested=True,
        )
        if inner.name == "lookahead":
            raise ConfigError("lookahead cannot wrap lookahead", path + ("inner", "name"))
        hyper["inner"] = InnerOptimizer(inner.spec or OPTIMIZERS.get(inner.name), inner.hyper)
    check = getattr(spec, "check", None)
    if check is not None:
        try:
            check(hyper)
        except ConfigError as exc:
            raise ConfigError(exc.message, path + exc.path, suggestion=exc.suggestion) from None
    label = value.get("label")
    if label is not None and not isinstance(label, (str, int, float)):
        raise ConfigError(f"must be a string, got {show_value(label)}", path + ("label",))
    if auto:
        hyper = {**hyper, "lr": math.nan}  # set by the tuning; a run of NaN lr goes nowhere
        label = str(label) if label is not None else _default_label(
            name, {k: v for k, v in hyper.items() if k != "lr"}, inner)
    else:
        label = str(label) if label is not None else _default_label(name, hyper, inner)
    color = value.get("color")
    if color is not None:
        from matplotlib.colors import is_color_like

        if not isinstance(color, str) or not is_color_like(color):
            raise ConfigError(
                f"must be a colour name or #rrggbb, got {show_value(color)}", path + ("color",)
            )
    noise = as_float(value.get("noise", 0.0), path + ("noise",))
    if noise < 0:
        raise ConfigError(f"must be >= 0, got {noise}", path + ("noise",))
    batch_size = value.get("batch_size", "full")
    if batch_size == "full" or batch_size is None:
        batch_size = None
    else:
        batch_size = _integer(batch_size, path + ("batch_size",), low=1)
        n = getattr(function, "n_samples", None)
        if n is None:
            raise ConfigError(
                "needs a dataset objective (function: {name: linear_regression} or "
                "logistic_regression)",
                path + ("batch_size",),
            )
        if batch_size > n:
            raise ConfigError(
                f"must be <= the {n} samples of the dataset, got {batch_size}",
                path + ("batch_size",),
            )
    schedule = None
    if "schedule" in value and value["schedule"] is not None:
        if nested:
            raise ConfigError(
                "put the schedule on the lookahead entry, not on its inner optimizer",
                path + ("schedule",),
            )
        schedule = _schedule(value["schedule"], path + ("schedule",), steps)
        if schedule.name == "onecycle" and schedule.params.get("cycle_momentum", False):
            target = spec if inner is None else inner.spec or OPTIMIZERS.get(inner.name)
            if target.momentum_key is None:
                raise ConfigError(
                    f"onecycle cycles momentum, which {target.name} does not have; set "
                    "cycle_momentum: false",
                    path + ("schedule", "name"),
                )
        if "lr" not in (inner.hyper if inner is not None else hyper):
            raise ConfigError(f"{name} has no learning rate to schedule", path + ("schedule",))
        if schedule.name == "onecycle" and schedule.params.get("total_steps", steps) < steps:
            raise ConfigError(
                f"total_steps must be >= steps ({steps}); torch raises past it",
                path + ("schedule", "total_steps"),
            )
    return OptimizerConfig(
        name=name,
        label=label,
        hyper=hyper,
        schedule=schedule,
        noise=noise,
        batch_size=batch_size,
        inner=inner,
        color=color,
        spec=spec if external is not None else None,
        tune=(tune or tuning.TuneConfig()) if auto else None,
    )


DISPLAY_NAMES = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adadelta": "Adadelta",
    "rprop": "Rprop",
    "asgd": "ASGD",
    "lbfgs": "L-BFGS",
    "gd": "GD",
    "momentum": "Momentum",
    "nag": "NAG",
    "newton": "Newton",
    "lion": "Lion",
    "lookahead": "Lookahead",
}


def _default_label(name: str, hyper: dict, inner: OptimizerConfig | None) -> str:
    """A legend label that tells runs apart: display name, variant, lr."""
    if inner is not None:
        return f"Lookahead({inner.label})"
    display = DISPLAY_NAMES.get(name, name)
    if name == "sgd" and hyper.get("momentum"):
        display = "Nesterov" if hyper.get("nesterov") else f"SGD momentum={hyper['momentum']:g}"
    elif hyper.get("amsgrad"):
        display = "AMSGrad"
    elif name == "newton" and hyper.get("damping", "none") != "none":
        display = f"Newton ({hyper['damping']})"
    if "lr" in hyper and name not in ("newton", "lbfgs"):
        return f"{display} lr={hyper['lr']:g}"
    return display


def _render(value: Any, path: KeyPath) -> RenderConfig:
    value = _mapping(value if value is not None else {}, path)
    params = validate_params(RENDER_PARAMS, value, path)
    if params["panels"] is not None:
        from optiviz.render.panels import check_panels

        params["panels"] = check_panels(params["panels"], path + ("panels",))
    if params["overlay"] is None:
        params["overlay"] = ()
    else:
        from optiviz.recording import check_overlay

        params["overlay"] = check_overlay(params["overlay"], path + ("overlay",))
    if params["domain"] is not None:
        params["domain"] = _box(params["domain"], path + ("domain",))
    if params["output"] is not None:
        from optiviz.render.writers import WRITERS

        suffix = Path(params["output"]).suffix.lower().lstrip(".")
        if suffix not in WRITERS:
            raise ConfigError(
                f"unknown output format {('.' + suffix) if suffix else '(no extension)'} "
                f"(valid: {', '.join('.' + w for w in WRITERS.names())})",
                path + ("output",),
            )
    return RenderConfig(**params)


# --------------------------------------------------------------------------------------------
# Entry points


def parse_experiment(
    data: Any,
    *,
    name: str = "experiment",
    source: Path | None = None,
    errors: list[ConfigError] | None = None,
) -> Experiment:
    """Validate a raw document. With ``errors`` given, collect independent errors instead of
    stopping at the first (used by ``optiviz validate``); the result is then meaningless if any."""

    def attempt(fn: Callable[[], Any], default: Any = None) -> Any:
        if errors is None:
            return fn()
        try:
            return fn()
        except ConfigError as exc:
            errors.append(exc)
            return default

    data = _mapping(data, (), "a mapping of keys (title, function, start, optimizers, ...)")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            guess = closest(str(key), TOP_LEVEL_KEYS)
            attempt(
                lambda key=key, guess=guess: _raise(
                    ConfigError(
                        "unknown key" + ("" if guess else f" (valid: {', '.join(TOP_LEVEL_KEYS)})"),
                        (key,),
                        suggestion=guess[0] if guess else None,
                    )
                )
            )
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        problem = f"must be a string, got {show_value(title)}"
        attempt(lambda: _raise(ConfigError(problem, ("title",))))
        title = None
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problem = f"must be a string, got {show_value(description)}"
        attempt(lambda: _raise(ConfigError(problem, ("description",))))
    seed = attempt(lambda: _integer(data.get("seed", 0), ("seed",), low=0), 0)
    render = attempt(lambda: _render(data.get("render"), ("render",)), RenderConfig())

    from optiviz import kinds

    others = [section for section in kinds.SECTIONS if section in data]
    for section in others[1:]:
        attempt(lambda section=section: _raise(ConfigError(
            f"a config is one kind of experiment: it has a '{others[0]}' section already",
            (section,))))
    common = Common(name=name, title=title, source=source, render=render, seed=seed,
                    errors=errors)
    return kinds.of_config(data).call("parse", data, common, attempt)


@dataclass(frozen=True)
class Common:
    """What every kind of experiment reads the same way (``parse_experiment``): the name,
    title, source, render settings and seed; ``errors`` is the list ``optiviz validate``
    collects into (None: raise at the first)."""

    name: str
    title: str | None
    source: Path | None
    render: RenderConfig
    seed: int
    errors: list[ConfigError] | None = None


def unused_keys(data: dict, keys: Iterable[str], kind: str, attempt: Callable,
                path: KeyPath = (), why: str = "") -> None:
    """Refuse each of ``keys`` present in ``data`` (at ``path``): not used by a ``kind``
    experiment."""
    for key in keys:
        if key in data:
            message = f"not used by a {kind} experiment" + (f" ({why})" if why else "")
            attempt(lambda key=key, message=message: _raise(ConfigError(message, path + (key,))))


def parse_sampling(data: dict, common: Common, attempt: Callable) -> Experiment:
    """The ``sampling:`` kind."""
    name, title, source, render, seed = (common.name, common.title, common.source,
                                         common.render, common.seed)
    for key in ("function", "start", "steps", "optimizers", "tune", "tolerance"):
        if key in data:
            attempt(
                lambda key=key: _raise(
                    ConfigError(
                        "not used by a sampling experiment (it has a 'sampling' section)",
                        (key,),
                    )
                )
            )
    given_render = data.get("render") if isinstance(data.get("render"), dict) else {}
    for key in SAMPLING_UNUSED_RENDER_KEYS:
        if key in given_render:
            attempt(
                lambda key=key: _raise(
                    ConfigError("not used by a sampling experiment (it draws no landscape)",
                                ("render", key))
                )
            )
    from optiviz import sampling

    section = attempt(lambda: _mapping(data["sampling"], ("sampling",)), None)
    sampling_config: SamplingConfig | None = None
    if section is not None:
        sampling_config = attempt(
            lambda: sampling.validate(section, seed=seed, path=("sampling",),
                                      drawable=False)
        )
    if sampling_config is not None:
        # sizes first: a quantile search over binom(n=1e18) would never end
        if attempt(lambda: budget.check_sampling(sampling_config, render) or True):
            attempt(lambda: sampling.check_drawable(sampling_config))
    return Experiment(
        name=name,
        title=title,
        source=source,
        render=render,
        seed=seed,
        sampling=sampling_config,
    )


def parse_optimizers(data: dict, common: Common, attempt: Callable) -> Experiment:
    """The optimizer kind: ``function``, ``start``, ``steps``, ``optimizers``."""
    name, title, source, render, seed, errors = (common.name, common.title, common.source,
                                                 common.render, common.seed, common.errors)
    from optiviz.functions import make_function

    if "optimizers" not in data:
        raise_or_collect = ConfigError(
            "missing 'optimizers' (or a 'sampling' or 'variational' section)", ())
        attempt(lambda: _raise(raise_or_collect))
    if "function" not in data:
        attempt(lambda: _raise(ConfigError("missing 'function' (e.g. function: rosenbrock)", ())))
    function = None
    if "function" in data:
        function = attempt(lambda: make_function(data["function"], seed=seed, path=("function",)))
    steps = attempt(lambda: _integer(data.get("steps", 200), ("steps",), low=1), 1)
    if steps is not None and steps > MAX_STEPS:
        attempt(lambda: _raise(ConfigError(f"must be <= {MAX_STEPS:,}, got {steps:,}", ("steps",))))
        steps = 1
    tune = attempt(lambda: tuning.parse_tune(data.get("tune")), tuning.TuneConfig())
    tolerance = attempt(lambda: statistics.parse_tolerance(data.get("tolerance"), function))
    optimizers: list[OptimizerConfig] = []
    raw = data.get("optimizers")
    if raw is not None:
        if isinstance(raw, dict) or isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            attempt(
                lambda: _raise(
                    ConfigError("must be a non-empty list of optimizers", ("optimizers",))
                )
            )
            raw = []
        for i, entry in enumerate(raw):
            if function is None:
                break
            expanded = attempt(
                lambda i=i, entry=entry: _optimizer_entries(
                    entry, ("optimizers", i), steps=steps, function=function, index=i, tune=tune
                )
            )
            if expanded is not None:
                optimizers.extend(expanded)
    if "tune" in data and optimizers and not any(o.tune is not None for o in optimizers):
        attempt(lambda: _raise(ConfigError(
            "no optimizer has lr: auto to tune; write lr: auto on an entry or remove tune",
            ("tune",))))
    starts, start_kind = None, "points"
    if function is not None:
        if "start" not in data:
            attempt(
                lambda: _raise(
                    ConfigError(
                        "missing 'start' (e.g. start: [-1.5, 2] or start: {random: 50})", ()
                    )
                )
            )
        else:
            # made after the optimizers, so that the budget is checked before they exist
            result = attempt(lambda: _starts(
                data["start"], ("start",), function, seed,
                check=lambda count, where: budget.check_optimizers(
                    count, optimizers, steps, render, function, start_path=where)))
            if result is not None:
                starts, start_kind = result
    attempt(lambda: _view_checks(data, render, function, start_kind, tolerance, optimizers))
    if errors:
        return Experiment(name=name, title=title, source=source, render=render, seed=seed)
    return Experiment(
        name=name,
        title=title,
        source=source,
        render=render,
        seed=seed,
        function=function,
        function_spec=data.get("function"),
        starts=starts,
        start_kind=start_kind,
        steps=steps,
        optimizers=tuple(optimizers),
        tolerance=tolerance,
    )


def _view_checks(data: dict, render: RenderConfig, function: Any, start_kind: str,
                 tolerance: Any, optimizers: Sequence[OptimizerConfig]) -> None:
    """What ``render.view`` needs, checked by that view's module: render keys it draws nothing
    with are refused; a streaming view (basins) checks the function, starts and tolerance."""
    view = VIEWS.get(render.view)
    given_render = data.get("render") if isinstance(data.get("render"), dict) else {}
    for key in view.unused_render_keys:
        if key in given_render:
            users = [name for name, other in VIEWS.items() if key not in other.unused_render_keys]
            hint = f" (only by view: {' or '.join(users)})" if users else ""
            raise ConfigError(f"not used by the {view.name} view{hint}", ("render", key))
    if view.streaming and function is not None:
        from optiviz import streaming

        streaming.check_basins(function, start_kind, tolerance, optimizers)


def _raise(error: ConfigError) -> None:
    raise error


def _locate(
    error: ConfigError,
    located: yaml_loader.Located | None,
    file: str,
    overridden: Sequence[KeyPath] = (),
) -> ConfigError:
    if error.file is None:
        error.file = file
    if error.line is None and located is not None and error.path:
        if any(error.path[: len(o)] == o for o in overridden):
            return error
        error.line = located.line_of(error.path)
    return error


def locate_in_source(error: ConfigError, source: str | Path | None) -> ConfigError:
    """``error``, raised after loading (by computing, say), with the file and line of its key
    path in ``source`` filled in where they are missing and can be found."""
    if source is None or error.file is not None:
        return error
    try:
        located = yaml_loader.compose(*yaml_loader.read_config(source))
    except (ConfigError, OSError):
        located = None
    return _locate(error, located, str(source))


def _source(path: str | Path) -> tuple[str, Path | None]:
    """The experiment's name (default output ``<name>.gif``) and source file; standard input
    (``-``) is named ``stdin`` and has no file."""
    if str(path) == yaml_loader.STDIN:
        return "stdin", None
    return Path(path).stem, Path(path)


def load(path: str | Path, overrides: Sequence[str] = (), *, render: bool = True) -> Experiment:
    """Read (``-``: standard input), override (``--set``) and validate one experiment, then run
    the cheap checks of every later stage (:func:`preflight`; ``render=False``: of computing
    only), so that a config that loads does not fail later for a reason in the config."""
    file = str(path)
    name, source = _source(path)
    try:
        text, file = yaml_loader.read_config(path)
    except ConfigError as exc:
        raise _locate(exc, None, file) from None
    return load_text(text, file, overrides, render=render, name=name, source=source)


def load_text(text: str, file: str, overrides: Sequence[str] = (), *, render: bool = True,
              name: str = "config", source: Path | None = None) -> Experiment:
    """:func:`load` for a config already read (``optiviz.animate`` given YAML text): ``file``
    is what messages call it."""
    located = None
    overridden: list[KeyPath] = []
    try:
        located = yaml_loader.compose(text, file)
        data = located.data if located.data is not None else {}
        return _load_data(data, overrides, overridden, render=render, name=name, source=source)
    except ConfigError as exc:
        raise _locate(exc, located, file, overridden) from None


def load_data(data: Any, file: str, overrides: Sequence[str] = (), *, render: bool = True,
              name: str = "config") -> Experiment:
    """:func:`load` for a config given as plain values (``optiviz.animate`` given a dict;
    ``data`` is not changed); messages name ``file`` and no line."""
    import copy

    overridden: list[KeyPath] = []
    try:
        return _load_data(copy.deepcopy(data), overrides, overridden, render=render, name=name,
                          source=None)
    except ConfigError as exc:
        raise _locate(exc, None, file, overridden) from None


def _load_data(data: Any, overrides: Sequence[str], overridden: list[KeyPath], *, render: bool,
               name: str, source: Path | None) -> Experiment:
    for assignment in overrides:
        if not isinstance(data, dict):
            break
        apply_override(data, assignment)
        overridden.append(_parse_key_path(assignment.split("=", 1)[0].strip()))
    experiment = parse_experiment(data, name=name, source=source)
    preflight(experiment, render=render)
    return experiment


def validate_files(paths: Iterable[str | Path]) -> list[ConfigError]:
    """Check configs without running them; every independent error of every file. A config
    without errors also passes :func:`preflight`, as ``run`` does."""
    found: list[ConfigError] = []
    for path in paths:
        file = str(path)
        name, source = _source(path)
        located = None
        errors: list[ConfigError] = []
        try:
            text, file = yaml_loader.read_config(path)
            located = yaml_loader.compose(text, file)
            data = located.data if located.data is not None else {}
            experiment = parse_experiment(data, name=name, source=source, errors=errors)
            if not errors:
                preflight(experiment)
        except ConfigError as exc:
            errors.append(exc)
        except OptivizError as exc:
            errors.append(ConfigError(str(exc)))
        found.extend(_locate(e, located, file) for e in errors)
    return found


def preflight(experiment: Experiment, *, render: bool = True) -> None:
    """The cheap checks of the stages after loading, by the functions those stages use, without
    computing or drawing: what ``run`` would refuse for a reason in the config is refused here.

    ``render=False`` (``run --no-render``) skips what only drawing needs: typeset text, panels,
    and a map of the function with something to show."""
    if not render:
        return
    for text, path in _texts(experiment):
        check_typeset(text, path)
    from optiviz import kinds

    kind = kinds.KINDS[experiment.kind]
    if kind.preflight is not None:
        kind.call("preflight", experiment)


def _texts(experiment: Experiment) -> list[tuple[str | None, KeyPath]]:
    """Every text the renderer typesets, with the key it comes from."""
    texts: list[tuple[str | None, KeyPath]] = [
        (experiment.title, ("title",)),
        (experiment.render.title, ("render", "title")),
    ]
    for i, optimizer in enumerate(experiment.optimizers):
        texts.append((optimizer.label, ("optimizers", i, "label")))
    function = experiment.function
    if function is not None:
        texts.append((function.title, ("function", "title")))
        texts.append((function.formula, ("function",)))
    return texts


def check_typeset(text: str | None, path: KeyPath) -> None:
    """Text with an even number of unescaped ``$`` is mathtext to Matplotlib: parse it as the
    renderer will (without drawing), so a typo in ``$\\frac{a}{b$`` is an error at its key."""
    if not text:
        return
    dollars = text.count("$") - text.count(r"\$")
    if dollars <= 0 or dollars % 2:
        return
    reason = _typeset_problem(text)
    if reason is not None:
        shown = f"'{text}'" if len(text) <= 60 else f"'{text[:57]}...'"
        raise ConfigError(f"{shown} {reason}", path)


@functools.lru_cache(maxsize=256)
def _typeset_problem(text: str) -> str | None:
    """Why Matplotlib cannot typeset ``text``, or None. Remembered per text: a batch plans many
    configs that share a function's formula, and each parse costs milliseconds."""
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(text, dpi=72)
    except ValueError as exc:
        return f"cannot be typeset: {_mathtext_reason(exc)}"
    except RecursionError:
        return "nests too deeply to be typeset"
    return None


def _mathtext_reason(exc: ValueError) -> str:
    """pyparsing's last line, without its exception name, position noise and (for a
    missing argument) the list of every construct it would have accepted."""
    rows = [row.strip() for row in str(exc).splitlines() if row.strip()]
    reason = re.sub(r"^\w*(Exception|Error): ", "", rows[-1] if rows else str(exc))
    reason = re.sub(r",?\s*\(line:\d+, col:\d+\)$", "", reason).strip()
    found = re.search(r"found (.+?)\s*\(at char (\d+)\)", reason)
    if found and (len(reason) > 100 or reason.startswith("Expected {")):
        return f"unexpected {found.group(1)} at character {int(found.group(2)) + 1}"
    return re.sub(r"\s+\(at char (\d+)\)", lambda m: f" at character {int(m.group(1)) + 1}",
                  reason)


def check_map(experiment: Experiment) -> None:
    """What every optimizer view needs: panels it can draw, and a function that is finite
    somewhere in the shown domain and not constant there (contour levels must increase)."""
    from optiviz.recording import check_overlay_view
    from optiviz.render.cloud import cloud_panels
    from optiviz.render.landscape import chosen_panels, domain_of, grid_points, landscape_grid
    from optiviz.view import cloud_experiment

    check_overlay_view(experiment)
    if experiment.render.view == "contour" and cloud_experiment(experiment):
        cloud_panels(experiment)
        if experiment.render.trail is not None:
            raise ConfigError("not used by the particle-cloud view (many starts: each run is a "
                              "moving particle, with no path behind it)", ("render", "trail"))
    else:
        chosen_panels(experiment, len(experiment.optimizers) * len(experiment.starts),
                      f"{experiment.render.view} view")
    domain = domain_of(experiment)
    _, _, z, shown = landscape_grid(experiment.function, domain, grid_points(experiment.render))
    levels = np.linspace(shown.min(), shown.max(), max(int(experiment.render.levels), 2) + 1)
    if not np.all(np.diff(levels) > 0):
        where = ("render", "domain") if experiment.render.domain else ("function",)
        (x0, x1), (y0, y1) = domain
        raise ConfigError(
            f"is constant over the shown domain [[{x0:g}, {x1:g}], [{y0:g}, {y1:g}]] "
            f"(f = {float(np.median(z)):g} everywhere, to float precision): there is no "
            "landscape to draw or descend", where)


def with_render(experiment: Experiment, **changes: Any) -> Experiment:
    """A copy with some render keys changed (e.g. ``output`` from ``-o``)."""
    known = {f.name for f in fields(RenderConfig)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown render keys {sorted(unknown)}")
    return replace(experiment, render=replace(experiment.render, **changes))
