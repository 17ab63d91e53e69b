"""The frame loop: draw the static layer once, blit the moving artists, hand pixels to a writer.

No PNG round trips and no ``FuncAnimation``: per frame we restore the cached background, draw
only the animated artists with ``figure.draw_artist`` and pass ``canvas.buffer_rgba()`` (a view,
no copy) to the writer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optiviz.progress import Progress
from optiviz.render.scene import Scene, overlays, restage

DEFAULT_MAX_FRAMES = 300


def select_frames(steps: int, frames: int | None = None) -> np.ndarray:
    """Which step each frame shows: ``0 .. steps`` inclusive.

    With ``frames`` None every step is a frame up to ``DEFAULT_MAX_FRAMES`` frames; beyond, and
    whenever ``frames`` is given, the steps are evenly spaced, ``round(i * steps / (n - 1))``,
    so the first (the starts) and the last step are always shown. Never more frames than steps+1.
    """
    available = steps + 1
    count = min(available, DEFAULT_MAX_FRAMES if frames is None else max(int(frames), 1))
    if count >= available:
        return np.arange(available)
    if count == 1:
        return np.array([steps])
    return np.unique(np.round(np.linspace(0, steps, count)).astype(np.int64))


def hold_repeats(hold: float, fps: float) -> int:
    """How many frame periods the last frame is shown: itself plus ``hold`` seconds."""
    return 1 + max(0, int(round(hold * fps)))


class Layers:
    """The cached static pixels: the whole background and the pixels of each overlay."""

    def __init__(self, scene: Scene):
        figure = scene.figure
        canvas = figure.canvas
        canvas.draw()
        self.background = canvas.copy_from_bbox(figure.bbox)
        renderer = canvas.get_renderer()
        self.overlays = [canvas.copy_from_bbox(overlay_box(artist, renderer))
                         for artist in overlays(scene) if artist.get_visible()]


def overlay_box(artist: Any, renderer: Any) -> Any:
    """The pixels an overlay covers: its frame (a legend's box) rounded to whole pixels, as Agg
    snaps a borderless rectangle, so that pasting them equals drawing the overlay on top."""
    from matplotlib.transforms import Bbox

    frame = artist.get_frame() if hasattr(artist, "get_frame") else artist
    return Bbox.from_extents(*np.round(frame.get_window_extent(renderer).extents))


def frame_pixels(scene: Scene, frame: int, layers: Layers | None) -> tuple[np.ndarray, Layers]:
    """Blit ``frame`` and return its RGBA pixels (a view of the canvas buffer, valid until the
    next draw) and the static layers to reuse. ``layers`` None forces a full static draw."""
    figure = scene.figure
    canvas = figure.canvas
    restaged = restage(scene, frame)
    if layers is None or restaged:
        layers = Layers(scene)
    else:
        canvas.restore_region(layers.background)
    for artist in scene.update(frame):
        figure.draw_artist(artist)
    for region in layers.overlays:
        canvas.restore_region(region)
    return np.asarray(canvas.buffer_rgba()), layers


def animate(scene: Scene, writer: Any, *, hold: int = 1, quiet: bool = False) -> int:
    """Render every frame of ``scene`` into ``writer`` (``append(frame, repeat)``); the last frame
    is shown ``hold`` periods. Returns the number of frames rendered."""
    progress = Progress(scene.n_frames, enabled=not quiet)
    layers = None
    try:
        for frame in range(scene.n_frames):
            pixels, layers = frame_pixels(scene, frame, layers)
            writer.append(pixels, hold if frame == scene.n_frames - 1 else 1)
            progress.advance(frame + 1)
    finally:
        progress.close()
    return scene.n_frames


def full_redraw(scene: Scene, frame: int) -> np.ndarray:
    """``frame`` drawn the slow way, every artist at once (the reference blitting must match)."""
    import io

    scene.update(frame)
    buffer = io.BytesIO()
    figure = scene.figure
    figure.savefig(buffer, format="rgba", dpi=figure.dpi, facecolor=figure.get_facecolor())
    height, width = int(figure.bbox.height), int(figure.bbox.width)
    return np.frombuffer(buffer.getvalue(), np.uint8).reshape(height, width, 4)
