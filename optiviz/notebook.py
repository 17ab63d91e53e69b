"""optiviz in Jupyter: ``optiviz.animate(config, **overrides)`` computes, renders and shows.

::

    import optiviz
    race = optiviz.animate("configs/rosenbrock.yaml", steps=200, render__frames=60)
    race                      # plays inline: the MP4 in a <video>, the GIF as the fallback
    race.summary()            # the final numbers as a table
    race.trajectories.loss    # the arrays (sampling experiments: race.samples)
    race.save("race.html")    # or .mp4 .gif (no re-rendering), .webm .png .svg .pdf, .npz

``config`` is a path to a YAML file, YAML text, or a dict of the same keys; it is validated
exactly as ``optiviz run`` validates a file, and a bad key raises :class:`optiviz.ConfigError`
with the one-line message the CLI prints. ``overrides`` are ``--set`` assignments as keywords:
``steps=200``; a nested key with ``__`` (``render__fps=10``) or spelled as on the command line
through a dict (``**{"optimizers[0].lr": 0.01}``); values are Python values.

The animation is rendered once, into an MP4 and a GIF from the same frames. Jupyter asks the
result for its MIME bundle (``_repr_mimebundle_``): ``text/html`` (a ``<video controls>`` with
the MP4 as a base64 data URI), ``image/gif`` (base64; what frontends that do not show HTML fall
back to) and ``text/plain``. Inline media beyond :attr:`Animation.inline_limit` bytes (20 MB,
base64 counted) would bloat the notebook file: the MP4 is then replaced by a message that says
so and how to save or shrink it, and the GIF left out when it does not fit beside the MP4.

Nothing here imports IPython: Jupyter finds the ``_repr_*_`` methods by name.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from optiviz.errors import ConfigError, OptivizError

INLINE_LIMIT = 20_000_000  # bytes of inline media (base64) one animation may add to a notebook


def animate(config: str | os.PathLike | Mapping[str, Any], /, **overrides: Any) -> Animation:
    """Load ``config`` (a path, YAML text or a dict), apply ``overrides``, compute and render:
    an :class:`Animation` that shows itself in Jupyter."""
    from optiviz import api

    experiment = load_config(config, overrides)
    result = api.compute(experiment)
    return Animation.render(experiment, result)


def load_config(config: str | os.PathLike | Mapping[str, Any],
                overrides: Mapping[str, Any] = {}) -> Any:  # noqa: B006 (never changed)
    """The validated Experiment of ``config`` with ``overrides`` (see the module docstring)."""
    from optiviz import config as config_module

    assignments = [override_text(key, value) for key, value in overrides.items()]
    if isinstance(config, Mapping):
        return config_module.load_data(plain(dict(config)), "<dict>", assignments,
                                       name="animation")
    if isinstance(config, os.PathLike):
        return config_module.load(config, assignments)
    if not isinstance(config, str):
        raise ConfigError(f"a config is a path, YAML text or a dict, not a "
                          f"{type(config).__name__}")
    if is_path(config):
        return config_module.load(config, assignments)
    return config_module.load_text(config, "<string>", assignments, name="animation")


def is_path(text: str) -> bool:
    """A one-line string without ``:`` (YAML mappings need one), or naming a file or a
    ``.yaml``/``.yml`` name, is a path; anything else is YAML text."""
    if "\n" in text:
        return False
    stripped = text.strip()
    return (":" not in stripped or Path(stripped).suffix.lower() in (".yaml", ".yml")
            or Path(stripped).is_file())


def override_text(key: str, value: Any) -> str:
    """A keyword override as the ``--set`` assignment it stands for: ``render__fps=10`` ->
    ``render.fps=10``; the value written as YAML."""
    import yaml

    path = key.replace("__", ".")
    dumped = yaml.safe_dump(plain(value), default_flow_style=True, width=1 << 30,
                            allow_unicode=True)
    text = dumped.strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")].strip()
    elif text.endswith("..."):
        text = text[: -3].strip()
    return f"{path}={text}"


def plain(value: Any) -> Any:
    """``value`` with tuples as lists, NumPy numbers and arrays as Python ones, paths as strings:
    the values a YAML file would have given."""
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def human_size(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    return f"{max(size, 1) / 1e3:.0f} kB" if size >= 1000 else f"{size} bytes"


class Animation:
    """A computed and rendered experiment (see the module docstring).

    ``experiment`` (the validated config), ``result`` (Trajectories or a sampling result),
    ``mp4`` and ``gif`` (the rendered files' bytes), ``frames`` (frames drawn; the last one is
    held for ``render.hold`` seconds more)."""

    inline_limit: int = INLINE_LIMIT

    def __init__(self, experiment: Any, result: Any, mp4: bytes, gif: bytes):
        self.experiment = experiment
        self.result = result
        self.mp4 = mp4
        self.gif = gif

    @classmethod
    def render(cls, experiment: Any, result: Any) -> Animation:
        """Render ``result`` once into an MP4 and a GIF (the same frames)."""
        import tempfile

        from optiviz import config as config_module
        from optiviz.render import render_all

        with tempfile.TemporaryDirectory(prefix="optiviz-") as folder:
            mp4, gif = Path(folder) / "animation.mp4", Path(folder) / "animation.gif"
            try:
                render_all(experiment, result, [mp4, gif], quiet=True)
            except ConfigError as exc:  # a render key refused by the scene: say where it is
                raise config_module.locate_in_source(exc, experiment.source) from None
            return cls(experiment, result, mp4.read_bytes(), gif.read_bytes())

    # the numbers ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self.experiment.kind

    @property
    def trajectories(self) -> Any:
        """Every run's positions, loss and learning rate (:class:`optiviz.trajectories.
        Trajectories`); optimizer experiments only."""
        if self.kind == "sampling":
            raise AttributeError("a sampling experiment has .samples (and .result), not "
                                 ".trajectories")
        return self.result

    @property
    def samples(self) -> np.ndarray:
        """The draws, as ``--data`` writes them under ``samples``; sampling experiments only
        (``.result`` holds the rest: checkpoints, estimates, diagnostics)."""
        if self.kind != "sampling":
            raise AttributeError("an optimizer experiment has .trajectories, not .samples")
        return self.result.arrays()["samples"]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``--data`` writes, by name."""
        from optiviz import api

        return api.data_arrays(self.experiment, self.result)

    def summary(self) -> SummaryTable:
        """The final numbers (``optiviz run``'s summary lines) as a table."""
        from optiviz.report import summarize

        return SummaryTable(summarize(self.experiment, self.result))

    # files ----------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the animation to ``path``, its format chosen by the extension, atomically.
        ``.mp4`` and ``.gif`` are the bytes already rendered; ``.html`` wraps the MP4 into
        the player page; ``.webm``, ``.png``, ``.svg``, ``.pdf`` are rendered now; ``.npz``
        writes the ``--data`` arrays. Returns the path."""
        from optiviz import api
        from optiviz.atomic import atomic_write_bytes
        from optiviz.render import check_output, render
        from optiviz.render.writers import WRITERS

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            api.check_data_path(path)
            return api.write_data(self.result, path, self.experiment)
        if suffix.lstrip(".") not in WRITERS:
            valid = " ".join(f".{name}" for name in (*WRITERS.names(), "npz"))
            raise ConfigError(f"save({str(path)!r}): unknown format "
                              f"{suffix or '(no extension)'} (valid: {valid})")
        check_output(path, "save()")
        if suffix == ".mp4":
            atomic_write_bytes(path, self.mp4)
        elif suffix == ".gif":
            atomic_write_bytes(path, self.gif)
        elif suffix == ".html":
            from optiviz.render.html_player import page_for

            atomic_write_bytes(path, page_for(self.experiment, self.result, self.mp4))
        else:
            render(self.experiment, self.result, path, quiet=True)
        return path

    # display --------------------------------------------------------------------------------

    def describe(self) -> str:
        e = self.experiment
        if self.kind == "sampling":
            what = f"{e.sampling.method} sampling"
        else:
            what = (f"{len(e.optimizers)} optimizer{'s' if len(e.optimizers) != 1 else ''}, "
                    f"{self.result.steps} steps")
        return (f"optiviz animation {e.name!r}: {what}; MP4 {human_size(len(self.mp4))}, "
                f"GIF {human_size(len(self.gif))}")

    def __repr__(self) -> str:
        return f"<{self.describe()}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """``text/html`` (the MP4 in a ``<video>``, or a message when it is over the limit),
        ``image/gif`` (when it fits in what the limit leaves), ``text/plain``."""
        settings = self.experiment.render
        left = self.inline_limit
        notes = []
        video = base64.b64encode(self.mp4).decode("ascii")
        if len(video) <= left:
            left -= len(video)
            page = (f'<video controls autoplay muted playsinline{" loop" if settings.loop else ""}'
                    f' width="{settings.width}" style="max-width:100%;height:auto" '
                    f'src="data:video/mp4;base64,{video}"></video>')
        else:
            message = (f"the MP4 is {human_size(len(video))} in a notebook, over the inline "
                       f"limit of {human_size(self.inline_limit)} (Animation.inline_limit): "
                       "save it with .save('name.mp4') or .save('name.html') and open the "
                       "file, or make it smaller with render__frames, render__width and "
                       "render__height")
            notes.append(message)
            page = f"<p><b>optiviz:</b> {html.escape(message)}</p>"
        bundle = {"text/html": page}
        picture = base64.b64encode(self.gif).decode("ascii")
        if len(picture) <= left:
            bundle["image/gif"] = picture
        else:
            notes.append(f"the GIF ({human_size(len(picture))} in a notebook) is left out: "
                         "it does not fit in the inline limit beside the MP4")
        bundle["text/plain"] = "\n".join([repr(self), *notes])
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle


class SummaryTable:
    """The run's final numbers as a table: ``rows`` (dicts of plain values), ``str()`` (the
    CLI's summary lines), ``_repr_html_`` (an HTML table, no pandas needed)."""

    def __init__(self, summary: Any):
        from optiviz.report import number

        self.summary = summary
        if summary.kind == "sampling":
            self.columns = ["quantity", "value"]
            self.rows = [{"quantity": name, "value": value}
                         for name, value in summary.estimates.items()]
            self.cells = [[name, number(value)] for name, value in summary.estimates.items()]
            return
        self.columns = ["optimizer", "runs", "final loss (median)", "q1", "q3", "diverged",
                        "left view"]
        self.rows = [{"optimizer": entry.label, "runs": entry.runs, "median": entry.median,
                      "q1": entry.q1, "q3": entry.q3, "diverged": entry.diverged,
                      "left_view": entry.left_view} for entry in summary.optimizers]
        self.cells = [[entry.label, str(entry.runs), number(entry.median, 4),
                       number(entry.q1, 4), number(entry.q3, 4), str(entry.diverged),
                       str(entry.left_view)] for entry in summary.optimizers]

    def __str__(self) -> str:
        return "\n".join(self.summary.lines())

    def __repr__(self) -> str:
        widths = [max(len(str(c)) for c in column)
                  for column in zip(self.columns, *self.cells, strict=True)]
        lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                           for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                 for row in [self.columns, *self.cells]]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.cells)
        return (f'<table class="optiviz-summary"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")


__all__ = ["Animation", "SummaryTable", "animate", "INLINE_LIMIT", "OptivizError"]
