"""What the engine computes and the renderer draws: one record of every run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin


class RunLR(NDArrayOperatorsMixin):
    """Each run's learning rate per step, ``lr[r, t]``, stored once per optimizer entry.

    All runs of an entry share its schedule, so the engine keeps one (E, S) ``table`` and this
    (R, S) view of it reads ``table[run_optimizer[r], t]``. Indexing by runs (an int, a slice,
    a list or an array of run indices, then optionally steps) gathers only those rows;
    ``np.asarray`` (or any other use as an array: ufuncs, arithmetic) expands the whole (R, S)
    array, which is what ``--data`` writes."""

    def __init__(self, table: np.ndarray, run_optimizer: np.ndarray):
        self.table = np.asarray(table, dtype=np.float64)
        self.run_optimizer = np.asarray(run_optimizer, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.run_optimizer.size, self.table.shape[1])

    @property
    def ndim(self) -> int:
        return 2

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return self.run_optimizer.size

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.table[self.run_optimizer]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getattr__(self, name: str) -> Any:
        """Any other ndarray attribute (``copy``, ``T``, ``max`` ...) of the expanded array."""
        if name.startswith("__") or "table" not in self.__dict__:
            raise AttributeError(name)
        return getattr(np.asarray(self), name)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        arrays = [np.asarray(x) if isinstance(x, RunLR) else x for x in inputs]
        return getattr(ufunc, method)(*arrays, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        runs, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(runs, (int, np.integer, slice, list)) or (
                isinstance(runs, np.ndarray) and runs.ndim == 1 and runs.dtype.kind in "iu"):
            picked = self.table[self.run_optimizer[runs]]
            if not rest:
                return picked
            return picked[rest] if np.ndim(self.run_optimizer[runs]) == 0 else \
                picked[(slice(None), *rest)]
        return np.asarray(self)[key]

    def __iter__(self):
        return iter(np.asarray(self))

    def __repr__(self) -> str:
        return f"RunLR(shape={self.shape}, entries={self.table.shape[0]})"


@dataclass(frozen=True)
class Trajectories:
    """All runs of one experiment. R = optimizers x starts, optimizer-major; S = steps;
    d = parameters per run (2 for the test functions).

    ``positions[r, k]`` is run r's parameter vector after ``steps_recorded[k]`` optimizer
    steps (after k steps when every step is recorded, the default: t = 0 is the start),
    ``loss[r, k]`` the (full-batch) objective there and ``lr[r, t]`` the learning rate step t+1
    used (a :class:`RunLR` view of one schedule per entry, or any (R, S) array). A diverged run
    is frozen: from its first non-finite step on, its positions and loss are NaN and
    ``diverged_step[r]`` is that step (-1 for runs that never diverged).
    """

    positions: np.ndarray  # (R, K, d) float64, K = S+1 unless only some steps are recorded
    loss: np.ndarray  # (R, K) float64
    lr: Any  # (R, S) float64: an ndarray or a RunLR
    label: np.ndarray  # (R,) str
    optimizer: np.ndarray  # (R,) str, registry name of each run's optimizer
    run_optimizer: np.ndarray  # (R,) int, index into the experiment's optimizers
    run_start: np.ndarray  # (R,) int, index into the experiment's starts
    diverged_step: np.ndarray  # (R,) int, -1 if the run never diverged
    param_names: tuple[str, ...] = ("x", "y")  # (d,) names of the parameters
    steps_recorded: np.ndarray | None = None  # (K,) the recorded steps; None: 0..S, all
    # What overlays and the state panel asked the engine to record (optiviz/recording.py):
    # name -> (R, S, d), step t of run r; empty when nothing asked.
    recorded: dict[str, np.ndarray] = field(default_factory=dict)
    # What the outputs read from every step when only some were recorded
    # (optiviz/reductions.py: final loss, left the view, first step within tolerance, the loss
    # percentiles and the share inside the view per step); None when every step is recorded.
    reduced: Any = None

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0

    @property
    def runs(self) -> int:
        return self.positions.shape[0]

    @property
    def steps(self) -> int:
        """S, the optimizer steps every run took (recorded or not)."""
        if self.steps_recorded is None:
            return self.positions.shape[1] - 1
        return int(self.lr.shape[1])

    @property
    def dim(self) -> int:
        return self.positions.shape[2]

    def recorded_steps(self) -> np.ndarray:
        """The steps of ``positions[:, k]`` and ``loss[:, k]``, k = 0..K-1."""
        if self.steps_recorded is None:
            return np.arange(self.positions.shape[1])
        return self.steps_recorded

    def columns(self, steps: Any) -> np.ndarray:
        """The columns of ``positions`` and ``loss`` that hold these steps; a step that was
        not recorded is an error (an output read a step it did not ask to be kept)."""
        steps = np.asarray(steps, dtype=np.int64)
        if self.steps_recorded is None:
            return steps
        recorded = self.steps_recorded
        at = np.clip(np.searchsorted(recorded, steps), 0, max(recorded.size - 1, 0))
        if recorded.size == 0 or not np.array_equal(recorded[at], steps):
            missing = np.setdiff1d(steps, recorded)
            raise ValueError(f"steps {missing[:5].tolist()} were not recorded")
        return at

    def final_loss(self) -> np.ndarray:
        """Each run's loss after its last finite step (the reduction when only some steps were
        recorded, else the last finite recorded one)."""
        if self.reduced is not None:
            return self.reduced.final_loss.copy()
        finite = np.isfinite(self.loss)
        last = self.loss.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
        out = self.loss[np.arange(self.runs), last]
        out[~finite.any(axis=1)] = np.nan
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``--data`` writes, by name."""
        arrays = {
            "positions": self.positions,
            "loss": self.loss,
            "lr": np.asarray(self.lr, dtype=np.float64),
            "label": np.asarray(self.label, dtype=str),
            "optimizer": np.asarray(self.optimizer, dtype=str),
            "run_optimizer": np.asarray(self.run_optimizer, dtype=np.int64),
            "run_start": np.asarray(self.run_start, dtype=np.int64),
            "diverged": self.diverged,
            "diverged_step": np.asarray(self.diverged_step, dtype=np.int64),
            "param_names": np.asarray(self.param_names, dtype=str),
            **self.recorded,
        }
        if self.steps_recorded is not None:
            arrays["steps_recorded"] = np.asarray(self.steps_recorded, dtype=np.int64)
        return arrays
