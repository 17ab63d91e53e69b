"""Variational inference as an experiment kind: q fitted to a target p by our optimizers.

A ``variational:`` section (instead of ``function``/``start`` or ``sampling``) names the
target, q's family, the divergence(s) and the gradient estimator; ``steps``, ``seed`` and
``optimizers`` are the optimizer experiments' own (parsed by the same code, torch-exact,
schedules and sweeps included). :func:`run` optimizes each (divergence, optimizer entry) with
:func:`optiviz.engine.run_group` on a :class:`~optiviz.variational.objective.VariationalObjective`
and records, per step, the parameters, the objective and its decomposition (cross-entropy,
entropy), the Monte Carlo band, and what the scene draws (the divergence landscape over
(μ, log σ), p on a grid, the gradient clouds): :class:`VariationalResult`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, KeyPath, closest, refuse_unknown_keys
from optiviz.registry import Param, Registry, as_float, positive, show_value
from optiviz.report import OptimizerSummary, number
from optiviz.variational.objective import (
    FAMILIES_1D,
    FAMILIES_2D,
    Family,
    VariationalObjective,
    family_for,
    make_divergence,
    quadrature_nodes,
)
from optiviz.variational.targets import Target, make_target, parse_target

SECTION_KEYS = ("target", "family", "divergence", "gradient", "samples", "start")
START_KEYS = ("mean", "log_std")
MAX_STARTS = 12
MAX_SAMPLES = 100_000
CLOUD_DRAWS = 160  # single-draw gradient estimates per frame in the gradients panel
LANDSCAPE_POINTS = 80  # grid points per axis of the divergence landscape (a ~250 px panel)
DENSITY_POINTS = 400  # points of p's density curve (1-D)
TARGET_GRID = 160  # points per axis of p's contour grid (2-D)
# Render keys of the optimizer views a variational animation has no use for.
UNUSED_RENDER_KEYS = ("view", "domain", "trail", "orbit", "elev", "azim")
UNUSED_TOP_KEYS = ("function", "start")
# lr: auto and what steers it (tune, tolerance) belong to optimizer experiments
OPTIMIZER_ONLY_KEYS = ("tune", "tolerance")


@dataclass(frozen=True)
class Choice:
    """An entry of the small registries below: what ``optiviz list variational`` shows."""

    name: str
    summary: str
    params: tuple = ()


DIVERGENCES: Registry = Registry("divergence")
DIVERGENCES.add("reverse", Choice("reverse", "KL(q‖p) = H(q, p) − H(q): minimizing it maximizes "
                                  "the ELBO; mode-seeking"), aliases=("kl_qp", "elbo"))
DIVERGENCES.add("forward", Choice("forward", "KL(p‖q) = H(p, q) − H(p): moment matching; "
                                  "mass-covering"), aliases=("kl_pq",))
GRADIENTS: Registry = Registry("gradient")
GRADIENTS.add("reparam", Choice("reparam", "pathwise: −(1/K) Σ ∇θ log p(μ + Lε_k) − ∇H, K = "
                                "samples draws (forward: K draws from p)"),
              aliases=("reparameterization", "pathwise"))
GRADIENTS.add("score", Choice("score", "REINFORCE: (1/K) Σ (log q − log p − b_k) ∇θ log q, "
                              "leave-one-out baseline b_k (forward: K draws from p)"),
              aliases=("reinforce", "score_function"))
GRADIENTS.add("exact", Choice("exact", "Gauss–Hermite quadrature (reverse), closed form from "
                              "p's moments (forward)"))
FAMILIES: Registry = Registry("family")
FAMILIES.add("gaussian", Choice("gaussian", "1-D: q = N(μ, σ²), (μ, log σ); 2-D: full "
                                "covariance by Cholesky, (μ₁, μ₂, log l₁₁, l₂₁, log l₂₂)"),
             aliases=("normal", "full"))
FAMILIES.add("diagonal", Choice("diagonal", "2-D only: diagonal covariance, (μ₁, μ₂, log σ₁, "
                                "log σ₂)"), aliases=("diag", "mean_field"))


@dataclass(frozen=True)
class VariationalConfig:
    """The validated ``variational:`` section. ``built`` is the target, built once at load."""

    target: dict[str, Any]
    family: str
    divergences: tuple[str, ...]
    gradient: str
    samples: int
    starts: np.ndarray  # (N, d) q's parameters
    built: Target = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @property
    def q(self) -> Family:
        return family_for(self.family, self.built.dim)  # type: ignore[return-value]


# parsing ---------------------------------------------------------------------------------------

def parse(data: dict, common: Any, attempt: Callable) -> Any:
    """The ``variational:`` kind of :func:`optiviz.config.parse_experiment`."""
    from optiviz import config as config_module
    from optiviz.experiment import Experiment

    config_module.unused_keys(data, UNUSED_TOP_KEYS, "variational", attempt,
                              why="q's start is variational.start; the function is the "
                                  "divergence")
    config_module.unused_keys(data, OPTIMIZER_ONLY_KEYS, "variational", attempt,
                              why="lr: auto is tuned on optimizer experiments only")
    given_render = data.get("render") if isinstance(data.get("render"), dict) else {}
    config_module.unused_keys(given_render, UNUSED_RENDER_KEYS, "variational", attempt,
                              path=("render",))
    steps = attempt(lambda: config_module._integer(data.get("steps", 200), ("steps",), low=1), 1)
    if steps > config_module.MAX_STEPS:
        attempt(lambda: _fail(f"must be <= {config_module.MAX_STEPS:,}, got {steps:,}",
                              ("steps",)))
        steps = 1
    section = attempt(lambda: config_module._mapping(data["variational"], ("variational",)))
    variational = None
    if section is not None:
        variational = attempt(lambda: validate(section, seed=common.seed))
    optimizers: list[Any] = []
    raw = data.get("optimizers")
    if raw is None:
        attempt(lambda: _fail("missing 'optimizers' (e.g. optimizers: [{name: adam, lr: 0.05}])",
                              ()))
    else:
        if isinstance(raw, (dict, str)):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            attempt(lambda: _fail("must be a non-empty list of optimizers", ("optimizers",)))
            raw = []
        stand_in = _StandIn()
        for i, entry in enumerate(raw):
            expanded = attempt(lambda i=i, entry=entry: config_module._optimizer_entries(
                entry, ("optimizers", i), steps=steps, function=stand_in, index=i))
            if expanded and any(getattr(e, "tune", None) is not None for e in expanded):
                attempt(lambda i=i: _fail(
                    "auto is tuned on optimizer experiments only; give a variational config "
                    "a number (e.g. lr: 0.05) or a sweep (lr: [0.01, 0.05])",
                    ("optimizers", i, "lr")))
                expanded = None
            if expanded is not None:
                optimizers.extend(expanded)
    if variational is not None and optimizers:
        attempt(lambda: check_budget(variational, optimizers, steps, common.render))
    return Experiment(name=common.name, title=common.title, source=common.source,
                      render=common.render, seed=common.seed, steps=steps,
                      optimizers=tuple(optimizers),
                      variational=None if common.errors else variational)


class _StandIn:
    """What the optimizer entries are validated against: an objective without data samples
    (so ``batch_size`` is refused as for a test function)."""

    domain = ((-1.0, 1.0), (-1.0, 1.0))


def _fail(message: str, path: KeyPath) -> None:
    raise ConfigError(message, path)


def validate(section: dict, *, seed: int = 0, path: KeyPath = ("variational",)
             ) -> VariationalConfig:
    """Check the ``variational:`` mapping; builds the target to check what needs it."""
    for key in section:
        if key not in SECTION_KEYS:
            guess = closest(str(key), SECTION_KEYS)
            raise ConfigError("unknown key" + ("" if guess else
                                               f" (valid: {', '.join(SECTION_KEYS)})"),
                              path + (key,), suggestion=guess[0] if guess else None)
    if "target" not in section:
        raise ConfigError("missing 'target' (e.g. target: {name: normal, loc: 1, scale: 2})",
                          path)
    spec = parse_target(section["target"], path + ("target",))
    family_name = FAMILIES.canonical(section.get("family", "gaussian"), path + ("family",))
    if family_for(family_name, spec["dim"]) is None:
        raise ConfigError(f"{family_name} is a 2-D family; a 1-D target ({spec['name']}) takes "
                          "family: gaussian", path + ("family",))
    divergences = _divergences(section.get("divergence", "reverse"), path + ("divergence",))
    gradient = GRADIENTS.canonical(section.get("gradient", "reparam"), path + ("gradient",))
    samples = Param("samples", 8, kind="int", check=positive).coerce(
        section.get("samples", 8), path + ("samples",))
    if samples > MAX_SAMPLES:
        raise ConfigError(f"must be <= {MAX_SAMPLES:,}, got {samples:,}", path + ("samples",))
    if gradient == "score" and "reverse" in divergences and samples < 2:
        raise ConfigError("the score estimator's leave-one-out baseline needs samples >= 2",
                          path + ("samples",))
    family = family_for(family_name, spec["dim"])
    assert family is not None
    try:
        target = make_target(spec)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise ConfigError(f"{spec['name']} cannot be built with these parameters ({exc})",
                          path + ("target",)) from None
    _check_divergences(target, divergences, gradient, path)
    starts = _starts(section.get("start"), family, target, path + ("start",))
    return VariationalConfig(target=spec, family=family_name, divergences=divergences,
                             gradient=gradient, samples=samples, starts=starts, built=target)


def _divergences(value: Any, path: KeyPath) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError("must be reverse, forward or a list of them", path)
    names = [DIVERGENCES.canonical(v, path + ((i,) if isinstance(value, list) else ()))
             for i, v in enumerate(values)]
    if len(set(names)) != len(names):
        raise ConfigError(f"names a divergence twice: {show_value(value)}", path)
    return tuple(names)


def _check_divergences(target: Target, divergences: tuple[str, ...], gradient: str,
                       path: KeyPath) -> None:
    name = target.name
    lo, hi = target.support
    for i, divergence in enumerate(divergences):
        where = path + ("divergence",) + ((i,) if len(divergences) > 1 else ())
        if divergence == "reverse" and (math.isfinite(lo) or math.isfinite(hi)):
            raise ConfigError(
                f"reverse KL(q‖p) is infinite for {name}: q is Gaussian (all of ℝ) but p lives "
                f"on [{lo:g}, {hi:g}]; use divergence: forward or a target on all of ℝ", where)
        if divergence == "forward":
            if not target.finite_moments:
                raise ConfigError(f"forward KL(p‖q) is infinite for {name}: p has no finite "
                                  "mean and variance to match", where)
            if not math.isfinite(target.entropy):
                raise ConfigError(f"forward KL(p‖q) needs H(p), which cannot be integrated for "
                                  f"{name}", where)
            if gradient != "exact" and target.sample is None:
                raise ConfigError(
                    f"forward KL with Monte Carlo gradients draws from p, and {name} cannot be "
                    "sampled directly; use gradient: exact", path + ("gradient",))


def _starts(value: Any, family: Family, target: Target, path: KeyPath) -> np.ndarray:
    """q's parameters at each start: ``{mean, log_std}`` or a list of them (default: p's
    domain centre, unit standard deviation)."""
    if value is None:
        value = {}
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > MAX_STARTS:
        raise ConfigError(f"must be {{mean: .., log_std: ..}} or a list of 1 to {MAX_STARTS}",
                          path)
    k = family.dim
    domain = np.asarray(target.domain, dtype=float).reshape(k, 2)
    rows = []
    for i, item in enumerate(items):
        where = path + ((i,) if isinstance(value, list) else ())
        if not isinstance(item, dict):
            raise ConfigError(f"must be a mapping {{mean: .., log_std: ..}}, got "
                              f"{show_value(item)}", where)
        refuse_unknown_keys(item, START_KEYS, where)
        mean = _numbers(item.get("mean", list(domain.mean(axis=1))), k, where + ("mean",))
        log_std = _numbers(item.get("log_std", [0.0] * k), k, where + ("log_std",))
        if any(abs(v) > 1e6 for v in mean):
            raise ConfigError("must be within ±1e6", where + ("mean",))
        if any(abs(v) > 20 for v in log_std):
            raise ConfigError("must be within ±20 (σ from 2e-9 to 5e8)", where + ("log_std",))
        row = list(mean)
        for r, c, _ in family.scale_entries:
            row.append(log_std[r] if r == c else 0.0)
        rows.append(row)
    return np.array(rows, dtype=np.float64)


def _numbers(value: Any, count: int, path: KeyPath) -> list[float]:
    if count == 1 and not isinstance(value, (list, tuple)):
        return [as_float(value, path)]
    if count == 1 and isinstance(value, (list, tuple)) and len(value) == 1:
        return [as_float(value[0], path + (0,))]
    if not isinstance(value, (list, tuple)) or len(value) != count:
        wanted = "a number" if count == 1 else f"a list of {count} numbers"
        raise ConfigError(f"must be {wanted}, got {show_value(value)}", path)
    return [as_float(v, path + (i,)) for i, v in enumerate(value)]


def check_budget(config: VariationalConfig, optimizers: list[Any], steps: int,
                 render: Any) -> None:
    """Refuse, before anything runs, what would not fit or finish (``optiviz.budget``)."""
    from optiviz import budget

    family = config.q
    runs = len(config.divergences) * max(1, len(optimizers)) * len(config.starts)
    clouds = "gradients" in (render.panels or ())
    budget.check_variational(runs, steps, family.d, quadrature_nodes(family.dim),
                             config.samples, render, clouds=CLOUD_DRAWS if clouds else 0)


def preflight(experiment: Any) -> None:
    """What drawing needs, checked at load: the panels (``render.panels``)."""
    from optiviz.render.panels import view_panels

    view_panels(experiment, "variational", "variational view")


# computing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariationalResult:
    """Every run of a variational experiment. R = divergences × optimizers × starts
    (divergence-major), S = steps, d = q's parameters (``param_names``).

    ``positions[r, t]``: q's parameters after t steps; ``objective`` the divergence there
    (exact), ``cross_entropy`` and ``entropy`` its two terms (reverse: H(q, p) and H(q);
    forward: H(p, q) and H(p)); ``band_low``/``band_high``: objective ∓ the standard deviation
    of its ``samples``-draw Monte Carlo estimate (NaN with exact gradients). ``landscape``:
    per divergence, the objective on a (log σ, μ) grid (1-D targets); ``density``: p on a
    grid (1-D: x and p(x); 2-D: x, y and log p). ``clouds``: the gradients panel's draws.
    """

    positions: np.ndarray
    objective: np.ndarray
    cross_entropy: np.ndarray
    entropy: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    lr: np.ndarray
    label: np.ndarray
    optimizer: np.ndarray
    run_optimizer: np.ndarray
    run_start: np.ndarray
    run_divergence: np.ndarray
    diverged_step: np.ndarray
    divergences: tuple[str, ...]
    param_names: tuple[str, ...]
    landscape: dict[str, np.ndarray] = field(default_factory=dict)
    density: dict[str, np.ndarray] = field(default_factory=dict)
    clouds: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return self.positions.shape[0]

    @property
    def steps(self) -> int:
        return self.positions.shape[1] - 1

    @property
    def loss(self) -> np.ndarray:
        return self.objective

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0

    def final_loss(self) -> np.ndarray:
        finite = np.isfinite(self.objective)
        last = self.objective.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
        out = self.objective[np.arange(self.runs), last]
        out[~finite.any(axis=1)] = np.nan
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``--data`` writes."""
        out = {
            "positions": self.positions,
            "param_names": np.asarray(self.param_names, dtype=str),
            "objective": self.objective,
            "cross_entropy": self.cross_entropy,
            "entropy": self.entropy,
            "band_low": self.band_low,
            "band_high": self.band_high,
            "lr": self.lr,
            "label": np.asarray(self.label, dtype=str),
            "optimizer": np.asarray(self.optimizer, dtype=str),
            "divergence": np.asarray([self.divergences[i] for i in self.run_divergence],
                                     dtype=str),
            "run_optimizer": self.run_optimizer,
            "run_start": self.run_start,
            "diverged_step": self.diverged_step,
        }
        out.update({f"landscape_{k}": v for k, v in self.landscape.items()})
        out.update({f"density_{k}": v for k, v in self.density.items()})
        out.update({f"gradients_{k}": v for k, v in self.clouds.items()})
        return out


def frame_steps(steps: int, frames: int | None) -> np.ndarray:
    """The steps the animation shows (``optiviz.render.animate.select_frames``, which imports
    Matplotlib; tests keep the two equal)."""
    available = steps + 1
    count = min(available, 300 if frames is None else max(int(frames), 1))
    if count >= available:
        return np.arange(available)
    if count == 1:
        return np.array([steps])
    return np.unique(np.round(np.linspace(0, steps, count)).astype(np.int64))


def run(experiment: Any, progress: Callable[[int, int], None] | None = None) -> VariationalResult:
    """Optimize q for every divergence and optimizer entry from every start, then record the
    readouts and what the scene draws."""
    from optiviz.engine import run_group

    config: VariationalConfig = experiment.variational
    check_budget(config, list(experiment.optimizers), experiment.steps, experiment.render)
    target, family = config.built, config.q
    starts = config.starts
    n, steps, d = len(starts), experiment.steps, family.d
    entries = experiment.optimizers
    divergences = [make_divergence(name, target, family, experiment.seed)
                   for name in config.divergences]
    runs = len(divergences) * len(entries) * n
    positions = np.empty((runs, steps + 1, d))
    objective = np.empty((runs, steps + 1))
    lr = np.empty((runs, steps))
    diverged = np.empty(runs, dtype=np.int64)
    total, done = len(divergences) * len(entries) * steps, 0
    for di, divergence in enumerate(divergences):
        for ei, entry in enumerate(entries):
            rows = slice((di * len(entries) + ei) * n, (di * len(entries) + ei + 1) * n)
            function = VariationalObjective(
                divergence, config.gradient, config.samples,
                rng=np.random.default_rng([experiment.seed, di, ei]))
            report = None
            if progress is not None:
                def report(t: int, base: int = done) -> None:
                    progress(base + t, total)
            path, loss, rates, stopped = run_group(
                (entry,), function, starts, steps,
                np.random.default_rng([experiment.seed, di, ei, 1]), progress=report)
            positions[rows] = path.transpose(1, 0, 2)
            objective[rows] = loss.T
            lr[rows] = rates[0][None, :]
            diverged[rows] = stopped
            done += steps
            if progress is not None:
                progress(done, total)
    run_divergence = np.repeat(np.arange(len(divergences)), len(entries) * n)
    cross = np.full_like(objective, np.nan)
    entropy = np.full_like(objective, np.nan)
    spread = np.full_like(objective, np.nan)
    for di, divergence in enumerate(divergences):
        mine = run_divergence == di
        flat = positions[mine].reshape(-1, d)
        finite = np.isfinite(flat).all(axis=1)
        values = np.full((3, flat.shape[0]), np.nan)
        band = np.full(flat.shape[0], np.nan)
        if finite.any():
            values[:, finite] = np.stack(in_chunks(divergence.parts, flat[finite]))
            if config.gradient != "exact":
                band[finite] = in_chunks(
                    lambda rows, d=divergence: (d.spread(rows, config.samples),),
                    flat[finite])[0]
        shape = (int(mine.sum()), steps + 1)
        cross[mine] = values[1].reshape(shape)
        entropy[mine] = values[2].reshape(shape)
        spread[mine] = band.reshape(shape)
    labels = []
    for name in config.divergences:
        for entry in entries:
            suffix = f" · {DIVERGENCE_TITLES[name]}" if len(divergences) > 1 else ""
            labels += [entry.label + suffix] * n
    result = VariationalResult(
        positions=positions, objective=objective, cross_entropy=cross, entropy=entropy,
        band_low=objective - spread, band_high=objective + spread, lr=lr,
        label=np.array(labels, dtype=str),
        optimizer=np.tile(np.repeat(np.array([e.name for e in entries], dtype=str), n),
                          len(divergences)),
        run_optimizer=np.tile(np.repeat(np.arange(len(entries), dtype=np.int64), n),
                              len(divergences)),
        run_start=np.tile(np.arange(n, dtype=np.int64), len(divergences) * len(entries)),
        run_divergence=run_divergence, diverged_step=diverged,
        divergences=tuple(config.divergences), param_names=family.param_names)
    return replace(result, landscape=_landscape(divergences, target, result),
                   density=_density(target, family, result),
                   clouds=_clouds(experiment, divergences, result))


DIVERGENCE_TITLES = {"reverse": "KL(q‖p)", "forward": "KL(p‖q)"}
CHUNK_ROWS = 512  # parameter rows per evaluation: bounds the (rows, nodes, components) temporaries


def in_chunks(function: Callable[[np.ndarray], Any], rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """``function`` (rows -> an array or a tuple of arrays, one value per row) over ``rows`` in
    chunks of ``CHUNK_ROWS``, concatenated: the same numbers with bounded memory."""
    parts = []
    for start in range(0, max(len(rows), 1), CHUNK_ROWS):
        out = function(rows[start: start + CHUNK_ROWS])
        parts.append(out if isinstance(out, tuple) else (out,))
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _landscape(divergences: list[Any], target: Target, result: VariationalResult
               ) -> dict[str, np.ndarray]:
    """1-D targets: every divergence on one (μ, log σ) grid covering p and every path."""
    if target.dim != 1:
        return {}
    mu, log_sigma = landscape_box(target, result.positions)
    grid_mu = np.linspace(*mu, LANDSCAPE_POINTS)
    grid_s = np.linspace(*log_sigma, LANDSCAPE_POINTS)
    m, s = np.meshgrid(grid_mu, grid_s)
    flat = np.column_stack([m.ravel(), s.ravel()])
    values = np.stack([in_chunks(divergence.value, flat)[0].reshape(m.shape)
                       for divergence in divergences])
    return {"mu": grid_mu, "log_sigma": grid_s, "values": values}


def landscape_box(target: Target, positions: np.ndarray) -> tuple[tuple[float, float], ...]:
    """(μ range, log σ range) of the landscape: p's plotting range and p's own (μ, log σ)
    where finite, grown to the paths, padded by 8%. A path that flies away (σ underflowing,
    μ far off) does not stretch it beyond two of p's widths and three units of log σ: it
    leaves the map instead."""
    lo, hi = (float(v) for v in target.domain)
    span = hi - lo
    anchors = [math.log(max(span / 40, 1e-9)), math.log(span / 3)]
    if target.finite_moments and target.cov > 0:
        anchors.append(0.5 * math.log(target.cov))
    mu = np.clip(positions[..., 0][np.isfinite(positions[..., 0])], lo - 2 * span, hi + 2 * span)
    s = np.clip(positions[..., 1][np.isfinite(positions[..., 1])], min(anchors) - 3,
                max(anchors) + 3)
    mu_lo, mu_hi = min(lo, *mu.tolist()), max(hi, *mu.tolist())
    s_lo, s_hi = min(*anchors, *s.tolist()), max(*anchors, *s.tolist())
    pad_mu, pad_s = 0.08 * (mu_hi - mu_lo), 0.08 * (s_hi - s_lo)
    return (mu_lo - pad_mu, mu_hi + pad_mu), (s_lo - pad_s, s_hi + pad_s)


def _density(target: Target, family: Family, result: VariationalResult) -> dict[str, np.ndarray]:
    """p on the grid the scene draws it over: 1-D, x and p(x) over p's range grown to the
    first and last q's ±2.5σ interval (by at most half p's range on each side); 2-D, log p
    on a grid over p's box grown to the 2.5σ ellipses' boxes (same cap), and p's marginals."""
    positions = result.positions
    k = family.dim
    box = np.asarray(target.domain, dtype=float).reshape(k, 2)
    ends = positions[:, [0, -1]]
    mean, scale = family.unpack(ends.reshape(-1, family.d))
    finite = np.isfinite(mean).all(axis=1) & np.isfinite(scale).all(axis=(1, 2))
    if finite.any():
        half = 2.5 * np.sqrt(np.einsum("nij,nij->ni", scale[finite], scale[finite]))
        low = np.minimum(box[:, 0], (mean[finite] - half).min(axis=0))
        high = np.maximum(box[:, 1], (mean[finite] + half).max(axis=0))
        width = box[:, 1] - box[:, 0]
        low = np.maximum(low, box[:, 0] - 0.5 * width)
        high = np.minimum(high, box[:, 1] + 0.5 * width)
        box = np.column_stack([low, high])
    if k == 1:
        x = np.linspace(box[0, 0], box[0, 1], DENSITY_POINTS)
        with np.errstate(all="ignore"):
            p = np.exp(target.logp(x[:, None]))
        return {"x": x, "p": np.where(np.isfinite(p), p, 0.0)}
    x = np.linspace(box[0, 0], box[0, 1], TARGET_GRID)
    y = np.linspace(box[1, 0], box[1, 1], TARGET_GRID)
    gx, gy = np.meshgrid(x, y)
    with np.errstate(all="ignore"):
        log_p = target.logp(np.stack([gx, gy], axis=-1))
    weights = np.exp(np.where(np.isfinite(log_p), log_p - np.max(log_p[np.isfinite(log_p)]),
                              -np.inf))
    marginal_x, marginal_y = weights.sum(axis=0), weights.sum(axis=1)  # over the drawn box
    marginal_x = marginal_x / (marginal_x.sum() * (x[1] - x[0]))
    marginal_y = marginal_y / (marginal_y.sum() * (y[1] - y[0]))
    return {"x": x, "y": y, "log_p": log_p, "marginal_x": marginal_x, "marginal_y": marginal_y}


def _clouds(experiment: Any, divergences: list[Any], result: VariationalResult
            ) -> dict[str, np.ndarray]:
    """The gradients panel: at the frames' steps, q's parameters of the first reverse-KL run
    that did not diverge,
    ``CLOUD_DRAWS`` single-draw reparam and score estimates, the exact gradient, and each
    estimator's variance (summed over the parameters)."""
    panels = experiment.render.panels or ()
    if "gradients" not in panels:
        return {}
    index = experiment.variational.divergences.index("reverse")
    divergence = divergences[index]
    mine = np.flatnonzero(result.run_divergence == index)
    steady = mine[result.diverged_step[mine] < 0]  # the first run that never diverged
    run = int(steady[0] if steady.size else mine[0])
    steps = frame_steps(result.steps, experiment.render.frames)
    params = result.positions[run, steps]
    finite = np.isfinite(params).all(axis=1)
    safe = np.where(finite[:, None], params, result.positions[run, 0])
    rng = np.random.default_rng([experiment.seed, 99])
    frames, d = len(steps), params.shape[1]
    repeated = np.repeat(safe, CLOUD_DRAWS, axis=0)
    draws = divergence.draw(rng, repeated.shape[0], 1)
    reparam = divergence.estimate(repeated, draws, "reparam").reshape(frames, CLOUD_DRAWS, d)
    score = divergence.estimate(repeated, draws, "score").reshape(frames, CLOUD_DRAWS, d)
    exact = divergence.grad(safe)
    variance = np.stack([reparam.var(axis=1).sum(axis=1), score.var(axis=1).sum(axis=1)], -1)
    for array in (reparam, score, exact, variance):
        array[~finite] = np.nan
    return {"steps": steps, "run": np.array(run), "reparam": reparam, "score": score,
            "exact": exact, "variance": variance}


# reporting -------------------------------------------------------------------------------------

def html_readout(tables: Any, experiment: Any, result: VariationalResult,
                 steps: np.ndarray) -> None:
    """The ``-o page.html`` readout: per run and frame, the divergence, its cross-entropy and
    entropy, the lr of the step that led there and q's parameters."""
    lr_index = np.clip(steps - 1, 0, max(result.lr.shape[1] - 1, 0))
    several = len(experiment.variational.starts) > 1
    rows = []
    for r in range(result.runs):
        name = str(result.label[r])
        if several:
            name += f" \u00b7 start {int(result.run_start[r]) + 1}"
        lr = result.lr[r, lr_index] if result.lr.shape[1] else np.full(len(steps), np.nan)
        rows.append([name, tables.add(result.objective[r, steps], missing="diverged"),
                     tables.add(result.cross_entropy[r, steps]),
                     tables.add(result.entropy[r, steps]), tables.add(lr),
                     *(tables.add(result.positions[r, steps, k])
                       for k in range(result.positions.shape[2]))])
    tables.table(["q by", "KL", "cross-entropy", "entropy", "lr", *result.param_names], rows)



def summarize(experiment: Any, result: VariationalResult, *,
              statistics: bool | None = None) -> Any:
    """One line per (divergence, optimizer entry): the final divergence (median over its
    starts) and q's final parameters. (``statistics``, success within a tolerance of a known
    minimum, belongs to optimizer experiments.)"""
    from optiviz.report import RunSummary

    entries: list[Any] = []
    n = len(experiment.variational.starts)
    final = result.final_loss()
    seen: set[str] = set()
    for first in range(0, result.runs, n):
        rows = slice(first, first + n)
        kept = final[rows][(result.diverged_step[rows] < 0) & np.isfinite(final[rows])]
        if kept.size:
            low, q1, median, q3, high = np.percentile(kept, [0, 25, 50, 75, 100])
        else:
            low = q1 = median = q3 = high = math.nan
        label = str(result.label[first])
        while label in seen:
            label += "'"
        seen.add(label)
        stops = result.diverged_step[rows]
        name = result.divergences[int(result.run_divergence[first])]
        entries.append(VariationalSummary(
            label=label, runs=n, median=float(median), q1=float(q1), q3=float(q3),
            low=float(low), high=float(high), diverged=int(np.count_nonzero(stops >= 0)),
            first_diverged_step=int(stops[stops >= 0].min()) if (stops >= 0).any() else None,
            left_view=0, divergence=DIVERGENCE_TITLES[name],
            params=tuple(float(v) for v in result.positions[first, -1]),
            param_names=result.param_names))
    return RunSummary("variational", optimizers=tuple(entries),
                      success="not measured (a variational experiment's minimum is unknown)")


@dataclass(frozen=True)
class VariationalSummary(OptimizerSummary):
    """An optimizer entry's line: the final divergence instead of "loss", and where q ended."""

    divergence: str = "KL"
    params: tuple[float, ...] = ()
    param_names: tuple[str, ...] = ()

    def numbers(self) -> dict[str, Any]:
        out = super().numbers()
        out.pop("left_view")
        out["params"] = {name: (value if math.isfinite(value) else None)
                         for name, value in zip(self.param_names, self.params, strict=True)}
        return out

    def describe(self) -> str:
        text = super().describe().replace("final loss", f"final {self.divergence}")
        parts = [p for p in text.split("; ") if not p.endswith("left the view")]
        if self.runs == 1 and not self.diverged:
            parts.append("q at " + ", ".join(
                f"{name} {number(value, 3)}"
                for name, value in zip(self.param_names, self.params, strict=True)))
        return "; ".join(parts)


__all__ = ["DIVERGENCES", "FAMILIES", "FAMILIES_1D", "FAMILIES_2D", "GRADIENTS",
           "VariationalConfig", "VariationalResult", "parse", "run", "summarize", "validate"]
