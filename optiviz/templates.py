"""The configs ``optiviz init`` prints: commented, and working as printed.

A template is a starting point users edit, so every value in it is one that runs well:

- the start sits in the upper-left part of the function's plot domain, away from its minima;
- each optimizer gets a learning rate suited to the function (:func:`suggested_lr`), because
  torch's defaults are tuned for neural networks, not for a 2-D landscape of any scale;
- the momentum forms take steps of one size. Their lr does not mean the same step: what
  matches is the *effective step size*, the step a steady gradient g settles to divided by g,
  lr × :func:`step_factor`. EMA momentum (``momentum``: v ← βv + (1−β)g, θ ← θ − lr·v) settles
  to lr·g, like gradient descent; the summing forms (``nag``, Sutskever's v ← μv + lr·∇f,
  θ ← θ − v; ``sgd`` with torch's buffer b ← μb + g) settle to lr·g/(1−μ), ten times more at
  μ = 0.9. Rule: a form with momentum μ gets the effective step size lr_gd/(1−μ), where lr_gd
  is gradient descent's lr on the function: the steps of torch's ``SGD(lr_gd, momentum=μ)``.
  So ``nag`` gets lr_gd and ``momentum`` lr_gd/(1−β): their lr differ tenfold, their steps
  do not, and both outrun gradient descent as momentum should;
- every other hyperparameter is listed in a comment with its default, read from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from optiviz.errors import ConfigError

DEFAULT_FUNCTION = "rosenbrock"
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
STEPS = 200
SAMPLES = 5000
START_FRACTION = (0.2, 0.8)  # of the domain's width and height, from its lower-left corner

# How each optimizer's step scales with the gradient decides its learning rate:
# "curvature": steps are lr·g, stable below 2/λmax of the Hessian (gradient-descent family);
# "distance": steps are about lr in parameter space whatever g is (sign/normalized methods);
# "radam": RAdam's first five steps are lr·m̂ (un-normalized), then Adam-like;
# "unit": a second-order method whose natural step is 1. Anything else keeps torch's default.
# A momentum form's effective step size is the rule's lr/(1−μ); its lr is that divided by
# step_factor (see the module docstring).
LR_RULES = {
    "sgd": "curvature", "gd": "curvature", "momentum": "curvature", "nag": "curvature",
    "asgd": "curvature",
    "adam": "distance", "adamw": "distance", "adamax": "distance", "nadam": "distance",
    "rmsprop": "distance", "lion": "distance", "adagrad": "distance_large",
    "radam": "radam",
    "lbfgs": "unit", "newton": "unit",
}
LOOKAHEAD_INNER = "adam"

# Parameters for distributions whose parameters are required, chosen to make a readable plot.
DISTRIBUTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "bernoulli": {"p": 0.3},
    "binom": {"n": 20, "p": 0.3},
    "poisson": {"mu": 4.0},
    "geom": {"p": 0.25},
    "nbinom": {"n": 5, "p": 0.5},
    "hypergeom": {"M": 40, "n": 12, "N": 10},
    "randint": {"low": 1, "high": 7},
    "beta": {"a": 2.0, "b": 5.0},
    "gamma": {"a": 2.0},
    "t": {"df": 3.0},
    "chi2": {"df": 4.0},
    "lognorm": {"s": 0.5},
    "multivariate_normal": {"mean": [0.0, 0.0], "cov": [[1.0, 0.6], [0.6, 1.0]]},
    "dirichlet": {"alpha": [2.0, 3.0, 4.0]},
    "mixture": {"components": [
        {"mean": [-1.5, 0.0], "std": 0.6, "weight": 0.5},
        {"mean": [1.5, 0.5], "std": 0.8, "weight": 0.5},
    ]},
    "expr": {"expr": "exp(-(x**2 + y**2 - 4)**2)"},
}


def init_config(
    *, function: str | None = None, optimizers: Sequence[str] = (), sampling: str | None = None,
    variational: str | None = None,
) -> str:
    """A commented YAML experiment that loads and runs as printed.

    ``sampling`` (a distribution name) gives a sampling experiment and cannot be combined with
    ``function``/``optimizers``. Unknown names raise :class:`UnknownNameError` with the nearest
    valid name.
    """
    if variational is not None:
        if function is not None or sampling is not None:
            raise ConfigError("--variational makes a variational experiment; drop --function "
                              "and --sampling")
        return variational_template(variational, tuple(optimizers) or VARIATIONAL_OPTIMIZERS)
    if sampling is not None:
        if function is not None or optimizers:
            raise ConfigError(
                "--sampling makes a sampling experiment; drop --function and --optimizers"
            )
        return sampling_template(sampling)
    return optimizer_template(function or DEFAULT_FUNCTION, tuple(optimizers) or DEFAULT_OPTIMIZERS)


# Optimizer experiments ------------------------------------------------------------------------

def optimizer_template(function_name: str, optimizer_names: Sequence[str]) -> str:
    import numpy as np

    from optiviz.functions import FUNCTIONS, make_function
    from optiviz.optimizers import OPTIMIZERS

    entry = FUNCTIONS.get(function_name, ("function",))
    canonical = FUNCTIONS.canonical(function_name)
    function_value: Any = {"name": canonical, **entry.example} if entry.example else canonical
    if canonical == "expr":
        function_value = {"expr": "x**2 + 10*y**2", "domain": [[-3, 3], [-3, 3]]}
    function = make_function(function_value)
    specs = [
        OPTIMIZERS.get(name, ("optimizers", i, "name")) for i, name in enumerate(optimizer_names)
    ]
    start = start_point(function)
    lines = [
        "# optiviz experiment: optimizers racing over a loss surface.",
        "# Run:  optiviz run THIS.yaml      Keys:  optiviz list functions | optimizers | schedules",
        f"title: {_title(function.title, [s.name for s in specs])}",
        "",
        f"# {entry.summary}" if entry.summary else "# the landscape",
        f"function: {_flow(function_value)}",
        "# one start [x, y]; or [[x, y], ...]; or {random: 200, seed: 0}; or {grid: [10, 10]}",
        f"start: {_flow([float(v) for v in start])}",
        f"steps: {STEPS}",
        "seed: 0",
        "",
        "# lr: auto tunes an lr on this race (tune: {range: [1.0e-5, 10], budget: 32});",
        "# render: {panels: [landscape, loss, tuning]} draws the lr-sensitivity curve",
        "optimizers:",
    ]
    for spec in specs:
        lines += _optimizer_lines(spec, function, np.asarray([start], dtype=float), OPTIMIZERS)
    lines += _render_lines(f"{canonical}.gif")
    return "\n".join(lines) + "\n"


def start_point(function: Any) -> tuple[float, float]:
    """A start in the upper-left part of the plot domain: away from the minima of every
    registered function, where the path has somewhere to go."""
    (x0, x1), (y0, y1) = function.domain
    fx, fy = START_FRACTION
    return (_round(x0 + fx * (x1 - x0)), _round(y0 + fy * (y1 - y0)))


def suggested_lr(name: str, function: Any, start: Any, default: float) -> float:
    """A learning rate that makes ``name`` move well over ``function`` from ``start`` (see
    LR_RULES): ``0.5/λmax`` for gradient steps (λmax of the Hessian at the start and at the
    known minima, where the path ends), never a first step longer than a tenth of the domain;
    1% of the domain's span for normalized methods; the registry default otherwise."""
    import numpy as np

    rule = LR_RULES.get(name)
    (x0, x1), (y0, y1) = function.domain
    span = float(math.hypot(x1 - x0, y1 - y0))
    gx, gy = function.grad(start[:, 0], start[:, 1])
    grad_norm = float(np.hypot(gx, gy)[0])
    first_step_cap = 0.1 * span / grad_norm if grad_norm > 0 and math.isfinite(grad_norm) else 1.0
    if rule == "curvature":
        points = [(float(start[0, 0]), float(start[0, 1]))] + [
            (p.x, p.y) for p in function.points if "minimum" in p.kind
        ]
        curvature = max(_largest_eigenvalue(function, x, y) for x, y in points)
        lr = 0.5 / curvature if curvature > 0 else first_step_cap
        return _round(min(lr, first_step_cap))
    if rule == "distance":
        return _round(0.01 * span)
    if rule == "distance_large":
        return _round(0.05 * span)
    if rule == "radam":
        return _round(min(0.01 * span, first_step_cap))
    if rule == "unit":
        return 1.0
    return default


def step_factor(name: str, hyper: dict[str, Any]) -> float:
    """The effective step size per unit lr: the step a constant gradient g settles to is
    ``lr · step_factor · g``. 1 for gradient descent and EMA momentum (v ← βv + (1−β)g);
    ``1/(1−μ)`` for the summing forms, Sutskever's ``nag`` (v ← μv + lr·∇f) and torch's
    ``sgd``/``rmsprop`` momentum buffer (b ← μb + (1−dampening)·g)."""
    momentum = float(hyper.get("momentum", 0.0) or 0.0)
    if name == "nag" or (name in ("sgd", "rmsprop") and momentum > 0):
        dampening = float(hyper.get("dampening", 0.0) or 0.0) if name == "sgd" else 0.0
        return (1.0 - dampening) / (1.0 - momentum)
    return 1.0


def _largest_eigenvalue(function: Any, x: float, y: float) -> float:
    fxx, fxy, fyy = (float(v) for v in function.hessian(x, y))
    if not all(math.isfinite(v) for v in (fxx, fxy, fyy)):
        return 0.0
    return 0.5 * (fxx + fyy) + math.hypot(0.5 * (fxx - fyy), fxy)


def _optimizer_lines(spec: Any, function: Any, start: Any, registry: Any) -> list[str]:
    params = {p.name: p for p in spec.params}
    entry: dict[str, Any] = {"name": spec.name}
    note = ""
    if spec.name == "lookahead":
        inner = registry.get(LOOKAHEAD_INNER)
        inner_default = {p.name: p.default for p in inner.params}.get("lr", 1e-3)
        entry["inner"] = {
            "name": LOOKAHEAD_INNER,
            "lr": suggested_lr(LOOKAHEAD_INNER, function, start, inner_default),
        }
    elif "lr" in params and not params["lr"].required:
        defaults = {p.name: p.default for p in spec.params}
        lr = suggested_lr(spec.name, function, start, params["lr"].default)
        momentum = float(defaults.get("momentum", 0.0) or 0.0)
        if LR_RULES.get(spec.name) == "curvature" and momentum > 0:
            effective = _round(lr / (1.0 - momentum))
            note = (f"effective step size {effective:g} = gd's lr/(1 - momentum), the same for "
                    "every momentum form")
            lr = _round(effective / step_factor(spec.name, defaults))
        if lr != params["lr"].default:
            entry["lr"] = lr
    others = _describe(p for p in spec.params if p.name not in entry)
    lines = _comment(f"{spec.name}: {spec.summary}", "  ")
    if note:
        lines += _comment(note, "  ")
    if others:
        lines += _comment(f"also: {others}", "  ")
    lines.append(f"  - {_flow(entry)}")
    return lines


def _describe(params: Any) -> str:
    """Parameters with their defaults as YAML a user can paste: ``betas: [0.9, 0.999]``."""
    return ", ".join(f"{p.name}: {p.describe_default()}" for p in params)


def _comment(text: str, indent: str) -> list[str]:
    """``text`` as comment lines no longer than the 100 columns of our files."""
    import textwrap

    return textwrap.wrap(
        text, 100, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}#   ",
        break_on_hyphens=False,
    )


def _title(function_title: str, names: Sequence[str]) -> str:
    return _quote(f"{', '.join(dict.fromkeys(names))} on {function_title}")


# Sampling experiments -------------------------------------------------------------------------

def sampling_template(distribution_name: str) -> str:
    from optiviz.sampling.distributions import DISTRIBUTIONS

    canonical = DISTRIBUTIONS.canonical(distribution_name, ("sampling", "distribution", "name"))
    spec = DISTRIBUTIONS.get(canonical)
    shown = DISTRIBUTIONS.spelling(distribution_name)
    distribution: dict[str, Any] = {"name": shown, **distribution_example(canonical, spec)}
    target = spec.family == "target"
    method = "metropolis" if target else "direct"
    lines = [
        "# optiviz experiment: samples building up a distribution.",
        "# Run:  optiviz run THIS.yaml      Keys:  optiviz list distributions | methods",
        f"title: {_quote(f'{method.capitalize()} sampling of {shown}')}",
        "",
        "sampling:",
        *_comment(f"parameters of {canonical}: {_describe(spec.params)}", "  "),
        f"  distribution: {_flow(distribution)}",
        "  # direct | stratified | importance | metropolis   (optiviz list methods)",
        f"  method: {method}",
        f"  samples: {SAMPLES}",
        "  seed: 0",
    ]
    lines += _render_lines(f"{canonical}.gif")
    return "\n".join(lines) + "\n"


def distribution_example(name: str, spec: Any) -> dict[str, Any]:
    """Values for the required parameters of ``name`` (our table, else scipy's own test values)."""
    if name in DISTRIBUTION_EXAMPLES:
        return dict(DISTRIBUTION_EXAMPLES[name])
    required = [p.name for p in spec.params if p.required]
    if not required:
        return {}
    values = _scipy_example_shapes(name)
    if values is None or len(values) != len(required):
        values = [1.5] * len(required)
    return dict(zip(required, [_plain(v) for v in values], strict=True))


def _scipy_example_shapes(name: str) -> list[Any] | None:
    """scipy's own valid parameter values for each distribution (used by its test suite)."""
    try:
        from scipy.stats import _distr_params
    except ImportError:
        return None
    for table in (_distr_params.distcont, _distr_params.distdiscrete):
        for entry_name, shapes in table:
            if entry_name == name:
                return list(shapes)
    return None


# YAML pieces ----------------------------------------------------------------------------------

# Variational experiments ----------------------------------------------------------------------

VARIATIONAL_OPTIMIZERS = ("adam", "sgd")
VARIATIONAL_LR = {"adam": 0.05, "sgd": 0.05}  # others: their torch default
TWO_MODES = {"name": "mixture", "components": [
    {"mean": -2.0, "std": 0.6, "weight": 0.3}, {"mean": 2.0, "std": 1.0, "weight": 0.7}]}


def variational_template(target_name: str, optimizer_names: Sequence[str]) -> str:
    """q fitted to ``target_name`` (``mixture``: the two-mode 1-D example, reverse and forward
    KL side by side; a 2-D target: a full-covariance q, reverse KL)."""
    from optiviz.optimizers import OPTIMIZERS
    from optiviz.sampling.distributions import DISTRIBUTIONS
    from optiviz.variational import validate
    from optiviz.variational.targets import parse_target

    if target_name.strip().lower() == "mixture":
        target: dict[str, Any] = dict(TWO_MODES)
    else:
        canonical = DISTRIBUTIONS.canonical(target_name, ("variational", "target", "name"))
        spec = DISTRIBUTIONS.get(canonical)
        target = {"name": DISTRIBUTIONS.spelling(target_name),
                  **distribution_example(canonical, spec)}
    two_d = parse_target(target, ("variational", "target"))["dim"] == 2
    # both divergences where both are finite (reverse needs p on all of ℝ, forward its moments)
    choices = (["reverse"],) if two_d else (["reverse", "forward"], ["reverse"], ["forward"])
    for chosen in choices:
        try:
            validate({"target": target, "divergence": chosen})
        except ConfigError:
            continue
        break
    divergence = chosen[0] if len(chosen) == 1 else "[reverse, forward]"
    start = ("{mean: [1.0, 1.0], log_std: [-0.5, -0.5]}" if two_d
             else "{mean: -1.5, log_std: -0.5}" if target.get("name") == "mixture"
             else "{mean: 0.5, log_std: 0.0}")
    lines = [
        "# optiviz experiment: a Gaussian q fitted to a target p by minimizing a KL divergence.",
        "# Run:  optiviz run THIS.yaml      Keys:  optiviz list variational | distributions",
        f"title: {_quote('q fitted to ' + str(target['name']))}",
        "",
        "variational:",
        f"  target: {_flow(target)}",
        "  family: gaussian      # 2-D targets: gaussian (full covariance) or diagonal",
        f"  divergence: {divergence}   # reverse: KL(q‖p), mode-seeking; forward: KL(p‖q)",
        "  gradient: reparam     # reparam | score | exact",
        "  samples: 8            # Monte Carlo draws per step",
        f"  start: {start}",
        f"steps: {VARIATIONAL_STEPS}",
        "seed: 0",
        "",
        "optimizers:",
    ]
    for i, name in enumerate(optimizer_names):
        spec = OPTIMIZERS.get(name, ("optimizers", i, "name"))
        lr = VARIATIONAL_LR.get(OPTIMIZERS.canonical(name))
        entry: dict[str, Any] = {"name": spec.name}
        if lr is not None:
            entry["lr"] = lr
        lines.append(f"  - {_flow(entry)}")
    lines += _render_lines("variational.gif")
    lines.insert(-6, "  # panels: [landscape, loss, gradients]   # + one-draw gradient clouds")
    return "\n".join(lines) + "\n"


VARIATIONAL_STEPS = 400


def _render_lines(output: str) -> list[str]:
    return [
        "",
        "render:",
        f"  output: {output}   # .gif .mp4 .webm .html .png .svg .pdf (optiviz list writers)",
        "  width: 960          # 960x540 at 30 fps suits slides",
        "  height: 540",
        "  fps: 30",
        "  # frames: 150       # default: every step, at most 300",
        "  # theme: dark       # light | dark",
        f"  # view: contour     # {' | '.join(_view_names())} (optiviz list views)",
    ]


def _view_names() -> list[str]:
    from optiviz.views import VIEWS

    return VIEWS.names()


def _flow(value: Any) -> str:
    """A value as one line of YAML flow style: {name: adam, lr: 0.05}."""
    from optiviz.registry import yaml_flow

    return yaml_flow(value)


def _quote(text: str) -> str:
    """Plain YAML scalar when safe, double-quoted (JSON escaping is valid YAML) otherwise."""
    from optiviz.registry import yaml_flow

    return yaml_flow(str(text))


def _round(value: float) -> float:
    """Two significant digits: readable in a template, and what a person would type."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return float(f"{value:.2g}")


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, float) else value
