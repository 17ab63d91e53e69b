"""Rendering: experiment + result -> animation or still, by the output's extension.

``render(experiment, result, output)`` builds a Scene (``landscape.build_scene`` for optimizer
experiments, ``sampling.build_scene`` and ``variational.build_scene`` for the other kinds, by
:mod:`optiviz.kinds`), then either blits every frame into an animation writer or saves the final
frame as a still. Matplotlib is imported only here, lazily.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optiviz.atomic import probe_folder
from optiviz.errors import OptivizError

__all__ = ["render", "render_all", "check_output"]


def check_output(path: Path, origin: str = "render.output") -> None:
    """Fail early (before any computing) if ``path`` has an unknown extension, a name too
    long for its file system (the temporary name included), is a folder, or its folder (or
    the nearest existing parent, when it will be created) is not writable. ``origin`` says
    where the path came from (``render.output``, ``-o/--output``) in the message."""
    from optiviz.atomic import check_names

    path = Path(path)
    _check_format(path, origin)
    check_names(path)
    if path.is_dir():
        raise OptivizError(f"output {str(path)!r} is a folder, not a file")
    parent = path.parent.resolve()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OptivizError(f"cannot create the output folder: {str(parent)!r} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptivizError(f"cannot write to {str(parent)!r} (permission denied)")
    if path.exists() and not os.access(path, os.W_OK):
        raise OptivizError(f"cannot overwrite {str(path)!r} (permission denied)")
    probe_folder(path)  # what the permission bits cannot tell (read-only mounts, /proc)


def _check_format(path: Path, origin: str) -> None:
    """The extension must name a registered format; the message names ``origin``."""
    from optiviz.errors import ConfigError, UnknownNameError
    from optiviz.render.writers import WRITERS, output_format

    try:
        output_format(path)
    except UnknownNameError as error:
        if origin == "render.output":
            raise
        valid = " ".join(f".{name}" for name in WRITERS.names())
        suffix = path.suffix
        what = (f"unknown output format {suffix!r} (valid: {valid})" if suffix
                else f"no extension to choose the format by (end it in one of: {valid})")
        guess = f".{error.suggestion}" if error.suggestion and suffix else None
        raise ConfigError(f"{origin} {str(path)!r}: {what}", suggestion=guess) from None


def build_scene(experiment: Any, result: Any) -> Any:
    """The scene for ``result``, built by its kind of experiment (:mod:`optiviz.kinds`):
    optimizer scenes (landscape, particle clouds, surface), sampling or variational scenes."""
    from optiviz.kinds import KINDS

    return KINDS[experiment.kind].call("scene", experiment, result)


def render(experiment: Any, result: Any, output: Path, *, quiet: bool = False) -> Path:
    """Draw ``result`` of ``experiment`` into ``output`` (gif, mp4, webm, html, png, svg, pdf).

    The file appears atomically: on any error or interruption the previous ``output`` is
    untouched and no temporary file remains. Returns ``output``.
    """
    return render_all(experiment, result, [Path(output)], quiet=quiet)[0]


def render_all(experiment: Any, result: Any, outputs: Sequence[Path], *,
               quiet: bool = False) -> list[Path]:
    """Draw ``result`` into every one of ``outputs`` from one scene: the frames are drawn once
    and handed to every animated writer (the notebook's MP4 and GIF), stills are saved from
    the final frame. A writer with an ``attach_run(experiment, result, scene)`` method (the
    HTML player) hears what the frames show before the first frame. Each file appears
    atomically; on any error none of them is replaced."""
    import contextlib

    import matplotlib

    from optiviz.render.animate import animate, hold_repeats
    from optiviz.render.glyphs import font_families, user_texts
    from optiviz.render.writers import atomic_output, output_format

    outputs = [Path(output) for output in outputs]
    for output in outputs:
        check_output(output)
    formats = [output_format(output) for output in outputs]
    settings = experiment.render
    # Characters the theme's font lacks (emoji, CJK) come from an installed font that has them.
    fonts = font_families(user_texts(experiment))
    with matplotlib.rc_context({"svg.hashsalt": "optiviz", "path.simplify": False,
                                "font.family": fonts}), contextlib.ExitStack() as files:
        scene = build_scene(experiment, result)
        figure = scene.figure
        temporaries = [files.enter_context(atomic_output(output)) for output in outputs]
        writers = []
        width, height = (int(v) for v in figure.bbox.size)
        try:
            for chosen, temporary in zip(formats, temporaries, strict=True):
                if not chosen.animated:
                    continue
                writer = chosen.writer(temporary, width, height, fps=settings.fps,
                                       loop=settings.loop,
                                       background=matplotlib.colors.to_hex(
                                           figure.get_facecolor()),
                                       key_colors=tuple(getattr(scene, "key_colors", ())))
                writers.append(writer)
                attach = getattr(writer, "attach_run", None)
                if attach is not None:
                    attach(experiment, result, scene)
            if writers:
                animate(scene, Fanout(writers), hold=hold_repeats(settings.hold, settings.fps),
                        quiet=quiet)
                for writer in writers:
                    writer.finish()
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        stills = [(chosen, temporary) for chosen, temporary in zip(formats, temporaries,
                                                                   strict=True)
                  if not chosen.animated]
        if stills:
            scene.update(scene.n_frames - 1)
            for chosen, temporary in stills:
                chosen.writer.save(figure, temporary)
    if not quiet:
        for output in outputs:
            warn_if_large(output)
    return outputs


class Fanout:
    """One frame stream handed to several animated writers."""

    def __init__(self, writers: Sequence[Any]):
        self.writers = list(writers)

    def append(self, frame: Any, repeat: int = 1) -> None:
        for writer in self.writers:
            writer.append(frame, repeat)


LARGE_GIF_BYTES = 2_000_000  # the slides recipe asks for under ~1 MB; twice that is "large"


def large_gif_warning(output: Path) -> str | None:
    """One line for a GIF over ``LARGE_GIF_BYTES``: its size and what makes it smaller (an
    MP4 of the same frames is typically 5-10x smaller); None otherwise."""
    output = Path(output)
    if output.suffix.lower() != ".gif" or not output.exists():
        return None
    size = output.stat().st_size
    if size <= LARGE_GIF_BYTES:
        return None
    return (f"warning: {output} is {size / 1e6:.1f} MB, large for slides and READMEs (under "
            f"~1 MB); -o {output.with_suffix('.mp4').name} is several times smaller, or lower "
            "render.frames or the size")


def warn_if_large(output: Path) -> None:
    import sys

    message = large_gif_warning(output)
    if message:
        print(message, file=sys.stderr)
