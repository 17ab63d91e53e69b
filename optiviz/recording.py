"""What the engine records beside the paths when a view asks: gradients, state, steps.

``render.overlay`` (arrows at each head: ``gradient``, ``velocity``, ``step``) and the ``state``
panel (``velocity``, ``sqrt_v``, ``effective_step`` over steps) draw quantities that only the
engine sees while it steps. :func:`requested` says which a config asks for; the engine then
hands each run group a :class:`GroupRecorder` (``engine.run_group(..., record=)``) that

- wraps the group's oracle (:meth:`GroupRecorder.watch`) and keeps the first full gradient the
  optimizer asks for in each step: the gradient *as the optimizer saw it* (noise and
  mini-batch included; NAG's is taken at its look-ahead point θ − μ·v, L-BFGS's at the
  iterate before its line search), and
- after each step reads the spec's named state vectors
  (:attr:`optiviz.optimizers.base.OptimizerSpec.state_vectors`, never a new evaluation).

``step`` is the move of the recorded position, ``positions[t + 1] − positions[t]``. Nothing is
recorded when nothing asks, so a plain run costs nothing extra. Every array is (R, S, d): step
``t`` (0-based) of run ``r``, NaN where the optimizer has no such vector, where no full
gradient was asked for, and from a diverged run's frozen steps on. ``--data`` writes them under
their names. Pure NumPy: the engine never imports Matplotlib.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optiviz.optimizers.base import STATE_VECTORS

#: ``render.overlay`` names: what an arrow at each head can show.
OVERLAYS = ("gradient", "velocity", "step")
#: What the ``state`` panel plots (the state vectors an optimizer may name).
STATE_PANEL = STATE_VECTORS
#: Everything that can be recorded, in the order ``--data`` lists it.
QUANTITIES = ("gradient", "velocity", "step", "sqrt_v", "effective_step")


def requested(experiment: Any) -> tuple[str, ...]:
    """The quantities a config's views need, in :data:`QUANTITIES` order (empty: none)."""
    return requested_by(getattr(experiment, "render", None))


def requested_by(render: Any) -> tuple[str, ...]:
    """The quantities the ``render`` section's overlays and panels need."""
    names = set(getattr(render, "overlay", None) or ())
    if "state" in (getattr(render, "panels", None) or ()):
        names.update(STATE_PANEL)
    return tuple(name for name in QUANTITIES if name in names)


class Recording:
    """Time-major (S, R, d) buffers of the named quantities for all R runs of an experiment,
    filled group by group (:meth:`group`) and handed out as (R, S, d) by :meth:`finish`."""

    def __init__(self, names: tuple[str, ...], steps: int, runs: int, dim: int = 2):
        unknown = set(names) - set(QUANTITIES)
        if unknown:
            raise ValueError(f"cannot record {sorted(unknown)} (valid: {', '.join(QUANTITIES)})")
        self.names = tuple(names)
        self.steps, self.runs = steps, runs
        # ``step`` is taken from the positions at the end; the rest are written per step.
        self.buffers = {name: np.full((steps, runs, dim), np.nan)
                        for name in self.names if name != "step"}

    def group(self, rows: np.ndarray) -> GroupRecorder:
        """The recorder of one run group whose run ``i`` is the experiment's run ``rows[i]``."""
        return GroupRecorder(self, np.asarray(rows, dtype=np.int64))

    def finish(self, path: np.ndarray, diverged_step: np.ndarray) -> dict[str, np.ndarray]:
        """The recorded arrays, (R, S, d) each, given the time-major positions (S+1, R, d)
        and each run's ``diverged_step``: steps after a run froze are NaN."""
        out = {}
        frozen = None
        if (diverged_step >= 0).any():
            t = np.arange(self.steps)[:, None]
            frozen = (diverged_step[None, :] >= 0) & (t >= diverged_step[None, :])
        for name in self.names:
            if name == "step":
                values = np.diff(path, axis=0)
            else:
                values = self.buffers[name]
                if frozen is not None:
                    values[frozen] = np.nan
            out[name] = values.transpose(1, 0, 2)
        return out


class GroupRecorder:
    """Records one run group's steps into a :class:`Recording`."""

    def __init__(self, recording: Recording, rows: np.ndarray):
        self.recording = recording
        self.rows = rows
        self.contiguous = bool(rows.size) and bool(np.all(np.diff(rows) == 1))
        self.block = slice(int(rows[0]), int(rows[-1]) + 1) if self.contiguous else rows
        self.gradient = recording.buffers.get("gradient")
        self.states = [name for name in recording.names if name in STATE_VECTORS]
        self.t = 0
        self.seen = False

    def watch(self, oracle: Any) -> Any:
        """The oracle the optimizer is handed: ``oracle`` itself when no gradient is recorded."""
        return oracle if self.gradient is None else _WatchedOracle(oracle, self)

    def saw(self, grad: np.ndarray) -> None:
        """The optimizer asked for ``grad``: keep it if it is the step's first full gradient."""
        if not self.seen and np.ndim(grad) == 2 and len(grad) == self.rows.size:
            self.gradient[self.t, self.block] = grad
            self.seen = True

    def begin(self, t: int) -> None:
        """Step ``t`` (0-based) starts."""
        self.t, self.seen = t, False

    def after(self, spec: Any, state: Any, hyper: dict) -> None:
        """Step ``self.t`` ended with ``state`` (stepped with ``hyper``)."""
        if not self.states or spec.state_vectors is None:
            return
        vectors = spec.state_vectors(state, hyper)
        for name in self.states:
            value = vectors.get(name)
            if value is not None:
                self.recording.buffers[name][self.t, self.block] = value


class _WatchedOracle:
    """An oracle that tells its :class:`GroupRecorder` every gradient it hands out, unchanged
    (the same array, the same draws of noise)."""

    def __init__(self, oracle: Any, recorder: GroupRecorder):
        self._oracle = oracle
        self._recorder = recorder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._oracle, name)

    def grad(self, params: np.ndarray) -> np.ndarray:
        grad = self._oracle.grad(params)
        self._recorder.saw(grad)
        return grad

    def grad_into(self, params: np.ndarray, out: np.ndarray) -> np.ndarray:
        grad = self._oracle.grad_into(params, out)
        self._recorder.saw(grad)
        return grad

    def value_and_grad(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = self._oracle.value_and_grad(params)
        self._recorder.saw(grad)
        return value, grad


def state_norms(recorded: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``state`` panel's curves: the Euclidean norm of each recorded state vector per run
    and step, (R, S) each (NaN where the optimizer has none)."""
    return {name: np.sqrt(np.sum(recorded[name] ** 2, axis=-1))
            for name in STATE_PANEL if name in recorded}


def check_overlay(value: Any, path: tuple) -> tuple[str, ...]:
    """``render.overlay`` as written: a name or a list of :data:`OVERLAYS`, duplicates dropped,
    order kept; an unknown name is refused with the nearest one."""
    from optiviz.errors import ConfigError, closest

    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ConfigError(f"must be a list of {', '.join(OVERLAYS)}", path)
    for i, name in enumerate(names):
        if not isinstance(name, str) or name.lower() not in OVERLAYS:
            guess = closest(str(name), list(OVERLAYS))
            raise ConfigError(f"unknown overlay {name!r} (valid: {', '.join(OVERLAYS)})",
                              path + (i,), suggestion=guess[0] if guess else None)
    return tuple(dict.fromkeys(name.lower() for name in names))


def check_overlay_view(experiment: Any, starts: int | None = None) -> None:
    """Refuse ``render.overlay`` on a view that does not draw it: the arrows stand at the heads
    of the contour view's paths; the surface view and the particle clouds (random or grid
    starts, more than ``CLOUD_MIN_STARTS`` starts) have no such heads. ``starts``: how many
    distinct starts the runs have (default: the experiment's)."""
    render = experiment.render
    if not getattr(render, "overlay", ()):
        return
    from optiviz.errors import ConfigError
    from optiviz.view import CLOUD_MIN_STARTS, drawn_as_clouds

    if render.view == "surface":
        raise ConfigError("overlays are drawn on the contour view only (arrows on a 3-D "
                          "surface would hide it); remove 'view: surface' or the overlay",
                          ("render", "overlay"))
    count = len(experiment.starts) if starts is None else starts
    if drawn_as_clouds(experiment.start_kind, count):
        kind = "" if experiment.start_kind == "points" else f"{experiment.start_kind} "
        raise ConfigError(f"overlays are drawn at each path's head, but {count} {kind}starts "
                          f"are drawn as particle clouds (list at most {CLOUD_MIN_STARTS} "
                          "starts to see the arrows)", ("render", "overlay"))
