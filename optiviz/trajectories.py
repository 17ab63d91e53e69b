"""What the engine computes and the renderer draws: one record of every run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Trajectories:
    """All runs of one experiment. R = optimizers x starts, optimizer-major; S = steps.

    ``positions[r, t]`` is run r's parameter vector after t optimizer steps (t = 0 is the start),
    ``loss[r, t]`` the (full-batch) objective there and ``lr[r, t]`` the learning rate step t+1
    used. A diverged run is frozen: from its first non-finite step on, its positions and loss are
    NaN and ``diverged_step[r]`` is that step (-1 for runs that never diverged).
    """

    positions: np.ndarray  # (R, S+1, 2) float64
    loss: np.ndarray  # (R, S+1) float64
    lr: np.ndarray  # (R, S) float64
    label: np.ndarray  # (R,) str
    optimizer: np.ndarray  # (R,) str, registry name of each run's optimizer
    run_optimizer: np.ndarray  # (R,) int, index into the experiment's optimizers
    run_start: np.ndarray  # (R,) int, index into the experiment's starts
    diverged_step: np.ndarray  # (R,) int, -1 if the run never diverged
    # What overlays and the state panel asked the engine to record (optiviz/recording.py):
    # name -> (R, S, 2), step t of run r; empty when nothing asked.
    recorded: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0

    @property
    def runs(self) -> int:
        return self.positions.shape[0]

    @property
    def steps(self) -> int:
        return self.positions.shape[1] - 1

    def final_loss(self) -> np.ndarray:
        """Each run's loss after its last finite step."""
        finite = np.isfinite(self.loss)
        last = self.loss.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
        out = self.loss[np.arange(self.runs), last]
        out[~finite.any(axis=1)] = np.nan
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``--data`` writes, by name."""
        return {
            "positions": self.positions,
            "loss": self.loss,
            "lr": self.lr,
            "label": np.asarray(self.label, dtype=str),
            "optimizer": np.asarray(self.optimizer, dtype=str),
            "run_optimizer": np.asarray(self.run_optimizer, dtype=np.int64),
            "run_start": np.asarray(self.run_start, dtype=np.int64),
            "diverged": self.diverged,
            "diverged_step": np.asarray(self.diverged_step, dtype=np.int64),
            **self.recorded,
        }
