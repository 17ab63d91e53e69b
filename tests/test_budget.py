"""Memory and time are checked before they are spent: every size a config sets is estimated
(optiviz/budget.py) and refused, with the estimate and the limit, before anything is allocated;
the GIF writer streams its frames so that frame count does not cost memory.

The tests set tiny limits through OPTIVIZ_MEMORY_LIMIT / OPTIVIZ_TIME_LIMIT, so the configs they
refuse are modest and nothing large is ever allocated (were a check missing, the run would
allocate only megabytes and the test would fail on its exit status, not exhaust the machine).
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from optiviz.render.writers import GifWriter

# The GIF writer streams ---------------------------------------------------------------------------

def changing_frames(count: int, width: int = 320, height: int = 240):
    """RGBA frames whose every pixel changes from one frame to the next (the worst case for a
    writer that keeps the changed rectangles), drawn from a few flat colours."""
    colours = np.array([[250, 250, 250], [0, 114, 178], [213, 94, 0], [0, 158, 115]], np.uint8)
    rows = np.arange(height)[:, None]
    columns = np.arange(width)[None, :]
    for i in range(count):
        frame = np.empty((height, width, 4), np.uint8)
        frame[..., :3] = colours[(rows // 8 + columns // 8 + i) % len(colours)]
        frame[..., 3] = 255
        yield frame


def gif_peak(path: Path, count: int) -> int:
    tracemalloc.start()
    try:
        writer = GifWriter(path, 320, 240, fps=30)
        for frame in changing_frames(count):
            writer.append(frame)
        writer.finish()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_gif_memory_does_not_grow_with_the_frame_count(tmp_path):
    gif_peak(tmp_path / "warm.gif", 2)  # lazy imports (Pillow, colours) out of the way
    few = gif_peak(tmp_path / "few.gif", 10)
    many = gif_peak(tmp_path / "many.gif", 120)
    # holding the changed rectangles, 110 more whole frames would be 110 × 300 KiB = 33 MiB
    assert many < few + 2_000_000, (few, many)
    with Image.open(tmp_path / "many.gif") as image:
        assert image.n_frames == 120


def test_gif_spill_is_beside_the_output_and_gone_afterwards(tmp_path):
    writer = GifWriter(tmp_path / "a.gif", 320, 240)
    frames = changing_frames(3)
    for frame in frames:
        writer.append(frame)
    spill = Path(writer.spill.name) if isinstance(writer.spill.name, str) else None
    assert spill is None or spill.parent == tmp_path
    writer.finish()
    assert writer.spill is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]
    aborted = GifWriter(tmp_path / "b.gif", 320, 240)
    for frame in changing_frames(3):
        aborted.append(frame)
    aborted.abort()
    assert aborted.spill is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


def test_streamed_gif_frames_decode_to_what_was_appended(tmp_path):
    frames = [frame.copy() for frame in changing_frames(5, 64, 48)]
    writer = GifWriter(tmp_path / "a.gif", 64, 48)
    for frame in frames:
        writer.append(frame)
    writer.finish()
    with Image.open(tmp_path / "a.gif") as image:
        for i, frame in enumerate(frames):
            image.seek(i)
            np.testing.assert_array_equal(np.asarray(image.convert("RGB")), frame[..., :3])
