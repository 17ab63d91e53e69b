"""What each optimizer feels, drawn from what the engine recorded (:mod:`optiviz.recording`):
arrows at each head of the contour view (``render.overlay``) and the ``state`` panel.

Nothing is recomputed here: the arrows are the recorded vectors times a fixed scale, the
panel's curves their norms (:func:`optiviz.recording.state_norms`).

Arrows. The head at step t carries the arrows of step t, drawn from the point the step left
(the head itself; on the last frame, which has no step of its own, the last step's arrows stay
at the point that step left): ``gradient`` −∇f as the optimizer saw it (dark), ``velocity`` the
momentum buffer turned the way it pushes, −b (hollow), ``step`` the move it made (the run's
colour). Directions are exact (in the map's units, as the paths are drawn). Lengths follow one
fixed rule per quantity for the whole animation, so they compare across frames: an arrow's
length is ``ARROW_SHARE`` of the map times √(‖vector‖ / ref), where ref is the
``PERCENTILE``-th percentile of that quantity's lengths over the shown frames (the velocity's
per optimizer, whose buffers have different units: SGD's b and Adam's m are gradients, NAG's
v a displacement); the square root keeps a gradient ten times smaller visible (three times
shorter) instead of vanishing under the head. Arrows longer than ``CAP`` typical ones are drawn
at that length (the key says so). Lengths are measured as shares of the map's width and
height, so the rule does not depend on the axes' units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiviz.render.landscape import SidePanel, arrow_marker, value_limits
from optiviz.render.scene import ANIMATED_Z, GrowingLine

ARROW_SHARE = 0.12  # a typical arrow's length, as a share of the map
CAP = 2.5  # arrows longer than this many typical ones are drawn at that length
PERCENTILE = 95.0

Z_ORDER = {"velocity": 0.5, "gradient": 0.6, "step": 0.7}  # above the paths, under the heads
NORMS = {"gradient": "∇f", "velocity": "v", "step": "Δθ"}  # what the key's √‖·‖ names
NAMES = {  # quantity -> what the key calls its arrow
    "gradient": "−∇f",
    "velocity": "−velocity",
    "step": "step",
}


def reference_length(vectors: np.ndarray, domain: Any) -> float:
    """The ``PERCENTILE``-th percentile of the finite, non-zero lengths of ``vectors`` (..., 2),
    as shares of the map (:func:`map_share`); NaN when there are none."""
    share = map_share(vectors, domain)
    share = share[np.isfinite(share) & (share > 0)]
    return float(np.percentile(share, PERCENTILE)) if share.size else float("nan")


def map_share(vectors: np.ndarray, domain: Any) -> np.ndarray:
    """Each vector's length as a share of the map (x and y measured in its width and height)."""
    (x0, x1), (y0, y1) = domain
    return np.hypot(vectors[..., 0] / (x1 - x0), vectors[..., 1] / (y1 - y0))


def drawn_length(share: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """An arrow's drawn length (a share of the map) for a vector of length ``share``:
    ``ARROW_SHARE·√(share/reference)``, at most ``CAP·ARROW_SHARE``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.minimum(ARROW_SHARE * np.sqrt(share / reference), CAP * ARROW_SHARE)


class HeadArrows:
    """One animated :class:`~matplotlib.quiver.Quiver` per overlay quantity, an arrow per run.

    ``reference[name]``: each run's reference length of that quantity (R,), see the module
    docstring; ``capped``: the quantities some of whose shown arrows were capped."""

    def __init__(self, ax: Any, trajectories: Any, names: Sequence[str], steps: np.ndarray,
                 colors: Sequence[str], theme: Any, size: float, dpi: float, domain: Any):
        self.names = tuple(names)
        self.domain = domain
        self.positions = trajectories.positions
        self.last = trajectories.steps - 1
        runs = trajectories.runs
        shown = np.minimum(np.asarray(steps, dtype=np.int64), self.last)
        self.vectors, self.reference, self.capped, self.quivers = {}, {}, set(), {}
        width = max(1.0, 0.13 * size * dpi / 72)
        for name in self.names:
            if name not in trajectories.recorded:
                raise ValueError(f"the trajectories carry no recorded {name!r}: simulate an "
                                 "experiment whose render.overlay names it")
            recorded = trajectories.recorded[name]
            vectors = recorded if name == "step" else -recorded
            self.vectors[name] = vectors
            reference = np.full(runs, np.nan)
            if name == "velocity":  # units differ by optimizer: one reference per entry
                for entry in np.unique(trajectories.run_optimizer):
                    rows = trajectories.run_optimizer == entry
                    reference[rows] = reference_length(vectors[rows][:, shown], domain)
            else:
                reference[:] = reference_length(vectors[:, shown], domain)
            self.reference[name] = reference
            share = map_share(vectors[:, shown], domain)
            with np.errstate(invalid="ignore", divide="ignore"):
                if np.any(share / reference[:, None] > CAP * CAP):
                    self.capped.add(name)
            face, edge = self.colors(name, colors, theme)
            # the hollow velocity arrow is the widest and lowest, the step on top
            wide = 1.8 if name == "velocity" else 1.0
            self.quivers[name] = ax.quiver(
                np.zeros(runs), np.zeros(runs), np.zeros(runs), np.zeros(runs),
                angles="xy", scale_units="xy", scale=1.0, units="dots", width=width * wide,
                headwidth=4.2 / wide, headlength=5.5 / wide, headaxislength=5.0 / wide,
                minlength=0.0, minshaft=1.0, color=face, edgecolor=edge,
                linewidth=0.5 * dpi / 72,
                animated=True, zorder=ANIMATED_Z + Z_ORDER[name])

    @staticmethod
    def colors(name: str, run_colors: Sequence[str], theme: Any) -> tuple[Any, str]:
        """(face, edge) of a quantity's arrows: −∇f dark, −velocity hollow, step the run's."""
        if name == "gradient":
            return theme.foreground, theme.background
        if name == "velocity":
            return theme.background, theme.foreground
        return list(run_colors), theme.foreground

    def arrows(self, name: str, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(tails (R, 2), arrows (R, 2))`` drawn at ``step``, in the map's units: each run's
        recorded vector (negated for −∇f and −velocity) rescaled to :func:`drawn_length`.
        NaN where nothing is drawn (no such vector, a zero one, a frozen run)."""
        t = min(int(step), self.last)
        tails = self.positions[:, t]
        vectors = self.vectors[name][:, t]
        share = map_share(vectors, self.domain)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(share > 0, drawn_length(share, self.reference[name]) / share,
                              np.nan)
        return tails, vectors * factor[:, None]

    def update(self, step: int) -> list[Any]:
        out = []
        for name, quiver in sorted(self.quivers.items(), key=lambda item: Z_ORDER[item[0]]):
            tails, vectors = self.arrows(name, step)
            hidden = ~(np.isfinite(tails).all(axis=1) & np.isfinite(vectors).all(axis=1))
            quiver.set_offsets(np.where(hidden[:, None], 0.0, tails))
            quiver.set_UVC(np.ma.masked_array(vectors[:, 0], hidden),
                           np.ma.masked_array(vectors[:, 1], hidden))
            out.append(quiver)
        return out

    def key_handles(self, theme: Any) -> list[Any]:
        """One key entry per quantity: its arrow and how it is scaled."""
        from matplotlib.lines import Line2D

        handles = []
        for name in self.names:
            if not np.isfinite(self.reference[name]).any():
                label = f"{NAMES[name]} (none here)"
            else:
                colour = " (the run's colour)" if name == "step" else ""
                label = f"{NAMES[name]}{colour}, length ∝ √‖{NORMS[name]}‖"
                if name == "velocity":
                    label += " per optimizer"
            if name in self.capped:
                label += ", capped"
            face, edge = self.colors(name, [theme.muted], theme)
            face = face[0] if isinstance(face, list) else face
            handles.append(Line2D([], [], marker=arrow_marker(0.0), markersize=11,
                                  linestyle="none", color=face, markeredgecolor=edge,
                                  markeredgewidth=0.8, label=label))
        return handles


STATE_STYLES = {  # state vector -> (line style, what the key calls its norm)
    "velocity": ("solid", "‖m‖: momentum / velocity"),
    "sqrt_v": ((0, (4.0, 1.6)), "‖√v̂‖: adaptive scale"),
    "effective_step": ((0, (1.0, 1.5)), "‖lr·m̂/(√v̂+ε)‖: effective step"),
}


class StatePanel(SidePanel):
    """Each optimizer's recorded state over steps, as norms on a log axis (first start of each
    entry; the entry's colour, a line style per quantity, revealed step by step)."""

    def __init__(self, ax: Any, experiment: Any, trajectories: Any, groups: Sequence[Any],
                 group_colors: Sequence[str], theme: Any):
        from optiviz.recording import state_norms

        super().__init__(ax, theme, trajectories.steps)
        ax.set_yscale("log")
        norms = state_norms(trajectories.recorded)
        steps = np.arange(1, trajectories.steps + 1, dtype=float)
        self.lines, self.quantities = [], []
        curves = []
        for runs, color in zip(groups, group_colors, strict=True):
            run = int(runs[0])  # the entry's first start
            for name, (linestyle, _) in STATE_STYLES.items():
                values = norms.get(name)
                if values is None or not np.isfinite(values[run]).any():
                    continue
                if name not in self.quantities:
                    self.quantities.append(name)
                curves.append(values[run])
                self.lines.append(GrowingLine(ax, steps, values[run], color=color,
                                              linewidth=1.3, linestyle=linestyle,
                                              path_effects=theme.halo(color, 1.3)))
        self.several = len(np.unique(trajectories.run_start)) > 1
        if curves:
            stacked = np.vstack(curves)
            low, high = value_limits(stacked, "log")
            ax.set_ylim(low, high)
        ax.set_ylabel("‖state‖", labelpad=1)
        ax.set_autoscale_on(False)

    def key_handles(self, theme: Any) -> list[Any]:
        """The line style of each quantity drawn, for the figure's one key."""
        from matplotlib.lines import Line2D

        suffix = " (first start)" if self.several else ""
        return [Line2D([], [], color=theme.muted, linewidth=1.4,
                       linestyle=STATE_STYLES[name][0], label=STATE_STYLES[name][1] + suffix)
                for name in STATE_STYLES if name in self.quantities]

    def restage(self, stop: int) -> bool:
        return any([line.fold(stop) for line in self.lines])

    def update(self, step: int) -> list[Any]:
        # state after step t is plotted at t + 1: the curve reaches the cursor
        return super().update(step) + [line.show(step) for line in self.lines]
