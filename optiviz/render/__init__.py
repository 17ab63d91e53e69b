"""Rendering: experiment + result -> animation or still, by the output's extension.

``render(experiment, result, output)`` builds a Scene (``landscape.build_scene`` for optimizer
experiments, ``sampling.build_scene`` and ``variational.build_scene`` for the other kinds, by
:mod:`optiviz.kinds`), then either blits every frame into an animation writer or saves the final
frame as a still. Matplotlib is imported only here, lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from optiviz.atomic import probe_folder
from optiviz.errors import OptivizError

__all__ = ["render", "check_output"]


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
    """Draw ``result`` of ``experiment`` into ``output`` (gif, mp4, webm, png, svg, pdf).

    The file appears atomically: on any error or interruption the previous ``output`` is
    untouched and no temporary file remains. Returns ``output``.
    """
    import matplotlib

    from optiviz.render.animate import animate, hold_repeats
    from optiviz.render.glyphs import font_families, user_texts
    from optiviz.render.writers import atomic_output, output_format

    output = Path(output)
    check_output(output)
    chosen = output_format(output)
    settings = experiment.render
    # Characters the theme's font lacks (emoji, CJK) come from an installed font that has them.
    fonts = font_families(user_texts(experiment))
    with matplotlib.rc_context({"svg.hashsalt": "optiviz", "path.simplify": False,
                                "font.family": fonts}):
        scene = build_scene(experiment, result)
        figure = scene.figure
        with atomic_output(output) as temporary:
            if not chosen.animated:
                scene.update(scene.n_frames - 1)
                chosen.writer.save(figure, temporary)
                return output
            width, height = (int(v) for v in figure.bbox.size)
            writer = chosen.writer(temporary, width, height, fps=settings.fps,
                                   loop=settings.loop,
                                   background=matplotlib.colors.to_hex(figure.get_facecolor()),
                                   key_colors=tuple(getattr(scene, "key_colors", ())))
            try:
                animate(scene, writer, hold=hold_repeats(settings.hold, settings.fps),
                        quiet=quiet)
                writer.finish()
            except BaseException:
                writer.abort()
                raise
    if not quiet:
        warn_if_large(output)
    return output


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
