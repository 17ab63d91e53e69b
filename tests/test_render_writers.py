"""Output writers: every format decodes with the right size, frame count, timing and loop;
output is byte-identical for identical input; writes are atomic; bad outputs fail early."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from optiviz.errors import ConfigError, OptivizError
from optiviz.render import check_output
from optiviz.render.animate import hold_repeats, select_frames
from optiviz.render.writers import (
    TRANSPARENT,
    WRITERS,
    GifWriter,
    Mp4Writer,
    WebmWriter,
    atomic_output,
    gif_palette,
    output_format,
    temporary_path,
)

WIDTH, HEIGHT = 48, 32
BACKGROUND = (250, 250, 250)
RUN = (0, 114, 178)


def moving_square(count: int, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """RGBA frames: a flat background with a square moving right one pixel per frame."""
    frames = []
    for i in range(count):
        frame = np.zeros((height, width, 4), np.uint8)
        frame[..., :3] = BACKGROUND
        frame[..., 3] = 255
        frame[8:16, 4 + i: 12 + i, :3] = RUN
        frames.append(frame)
    return frames


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], dict]:
    with Image.open(path) as image:
        info = dict(image.info)
        frames, durations = [], []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
            frames.append(np.asarray(image.convert("RGB")))
    return frames, durations, info


def write_gif(path: Path, frames: list[np.ndarray], repeats: list[int] | None = None,
              fps: float = 30, loop: bool = True) -> Path:
    writer = GifWriter(path, WIDTH, HEIGHT, fps=fps, loop=loop)
    for frame, repeat in zip(frames, repeats or [1] * len(frames), strict=True):
        writer.append(frame, repeat)
    writer.finish()
    return path


# selection of frames ----------

def test_every_step_is_a_frame_up_to_300():
    assert select_frames(10).tolist() == list(range(11))
    assert len(select_frames(299)) == 300


def test_long_runs_are_subsampled_evenly_keeping_first_and_last_step():
    frames = select_frames(1000)
    assert len(frames) == 300 and frames[0] == 0 and frames[-1] == 1000
    assert np.all(np.diff(frames) >= 3) and np.all(np.diff(frames) <= 4)


def test_frames_key_sets_the_count_and_never_exceeds_the_steps():
    assert select_frames(100, 5).tolist() == [0, 25, 50, 75, 100]
    assert select_frames(3, 50).tolist() == [0, 1, 2, 3]
    assert select_frames(7, 1).tolist() == [7]


def test_hold_adds_frame_periods_to_the_last_frame():
    assert hold_repeats(1.5, 30) == 46
    assert hold_repeats(0, 30) == 1


# GIF ----------

def test_gif_decodes_to_the_frames_with_exact_colours(tmp_path):
    frames = moving_square(6)
    decoded, _, info = gif_frames(write_gif(tmp_path / "a.gif", frames))
    assert len(decoded) == 6 and decoded[0].shape == (HEIGHT, WIDTH, 3)
    for original, shown in zip(frames, decoded, strict=True):
        assert np.array_equal(shown, original[..., :3])
    assert info["loop"] == 0


def test_gif_without_loop_plays_once(tmp_path):
    _, _, info = gif_frames(write_gif(tmp_path / "a.gif", moving_square(3), loop=False))
    assert "loop" not in info


def test_gif_delays_keep_the_total_time_exact_and_never_drop_under_20ms(tmp_path):
    _, durations, _ = gif_frames(write_gif(tmp_path / "a.gif", moving_square(9)))
    assert durations == [30, 40, 30, 30, 40, 30, 30, 40, 30]
    _, fast, _ = gif_frames(write_gif(tmp_path / "b.gif", moving_square(9), fps=100))
    assert min(fast) >= 20 and abs(sum(fast) - 90) <= 10  # the last frame rounds up to 20 ms


def test_gif_merges_identical_frames_and_holds_the_last(tmp_path):
    frames = moving_square(3)
    frames = [frames[0], frames[0], frames[1], frames[2]]
    decoded, durations, _ = gif_frames(write_gif(tmp_path / "a.gif", frames, [1, 1, 1, 10],
                                                 fps=10))
    assert len(decoded) == 3
    assert durations == [200, 100, 1000]


def test_gif_stores_only_the_changed_rectangle(tmp_path):
    path = write_gif(tmp_path / "a.gif", moving_square(2))
    with Image.open(path) as image:
        image.seek(1)
        # the square moved one pixel: columns 4 and 12 changed, rows 8..15
        assert image.tile[0][1] == (4, 8, 13, 16)


def test_gif_keeps_key_colours_exact_however_few_their_pixels(tmp_path):
    rng = np.random.default_rng(0)
    frame = np.full((HEIGHT, WIDTH, 4), 255, np.uint8)
    frame[..., :3] = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame[0, 0, :3] = (0, 158, 115)  # one pixel of a run colour among 1536 random ones
    writer = GifWriter(tmp_path / "a.gif", WIDTH, HEIGHT, key_colors=("#009E73",))
    writer.append(frame)
    writer.finish()
    decoded, _, _ = gif_frames(tmp_path / "a.gif")
    assert tuple(decoded[0][0, 0]) == (0, 158, 115)


def test_gif_palette_keeps_the_most_frequent_colours_exactly():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    frame[:20] = BACKGROUND
    frame[20:25] = RUN
    palette = np.asarray(gif_palette([frame]).getpalette()).reshape(-1, 3)
    assert len(palette) == TRANSPARENT  # every index but the transparent one
    for color in (BACKGROUND, RUN):
        assert (palette == color).all(axis=1).any()


# MP4 / WebM ----------

def video_frames(path: Path) -> tuple[dict, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    return meta, frames


def write_video(writer_class, path: Path, frames, repeats=None, fps: float = 10,
                width: int = WIDTH, height: int = HEIGHT) -> Path:
    writer = writer_class(path, width, height, fps=fps, background="#fafafa")
    for frame, repeat in zip(frames, repeats or [1] * len(frames), strict=True):
        writer.append(frame, repeat)
    writer.finish()
    return path


def test_mp4_decodes_with_size_frame_count_and_rate(tmp_path):
    path = write_video(Mp4Writer, tmp_path / "a.mp4", moving_square(5), [1, 1, 1, 1, 4])
    meta, frames = video_frames(path)
    assert meta["size"] == (WIDTH, HEIGHT) and meta["fps"] == 10
    assert len(frames) == 8
    assert np.abs(frames[0].astype(int) - moving_square(1)[0][..., :3]).mean() < 4
    assert meta["codec"].startswith("h264") and "yuv420p" in meta["pix_fmt"]


def test_mp4_pads_odd_sizes_to_even_without_rescaling(tmp_path):
    frames = moving_square(2, 47, 31)
    meta, decoded = video_frames(write_video(Mp4Writer, tmp_path / "a.mp4", frames,
                                             width=47, height=31))
    assert meta["size"] == (48, 32)
    assert np.abs(decoded[0][:31, :47].astype(int) - frames[0][..., :3]).mean() < 4


def test_mp4_has_faststart(tmp_path):
    data = write_video(Mp4Writer, tmp_path / "a.mp4", moving_square(3)).read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_webm_decodes_as_vp9(tmp_path):
    meta, frames = video_frames(write_video(WebmWriter, tmp_path / "a.webm", moving_square(4)))
    assert meta["codec"].startswith("vp9") and len(frames) == 4


def test_video_writers_are_byte_identical_for_identical_frames(tmp_path):
    for writer_class, name in ((Mp4Writer, "mp4"), (GifWriter, "gif")):
        first = tmp_path / f"a.{name}"
        second = tmp_path / f"b.{name}"
        if writer_class is GifWriter:
            write_gif(first, moving_square(4))
            write_gif(second, moving_square(4))
        else:
            write_video(writer_class, first, moving_square(4))
            write_video(writer_class, second, moving_square(4))
        assert first.read_bytes() == second.read_bytes()


def test_mp4_memory_does_not_grow_with_frame_count(tmp_path):
    frame = moving_square(1, 320, 240)[0]

    def peak(count: int) -> int:
        tracemalloc.start()
        writer = Mp4Writer(tmp_path / f"{count}.mp4", 320, 240, fps=30)
        writer.append(frame, count)
        writer.finish()
        _, highest = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return highest

    few, many = peak(30), peak(300)
    assert many < few + 1_000_000


def test_a_failing_encoder_is_a_clear_error(tmp_path):
    writer = Mp4Writer(tmp_path / "missing" / "a.mp4", WIDTH, HEIGHT)
    with pytest.raises(OptivizError, match="ffmpeg failed"):
        writer.append(moving_square(1)[0], 50)
        writer.finish()
    writer.abort()


# atomic writes ----------

def test_atomic_output_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "sub" / "out.gif"
    with atomic_output(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".gif"
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["out.gif"]


def test_an_error_mid_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as temporary:
        writer = Mp4Writer(temporary, WIDTH, HEIGHT)
        try:
            writer.append(moving_square(1)[0])
            raise KeyboardInterrupt
        finally:
            writer.abort()
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_sigterm_during_a_render_leaves_the_previous_file(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous")
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from optiviz.render.writers import Mp4Writer, atomic_output
        frame = np.zeros((32, 48, 4), np.uint8)
        with atomic_output({str(target)!r}) as temporary:
            writer = Mp4Writer(temporary, 48, 32)
            try:
                writer.append(frame, 5)
                print("rendering", flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                writer.append(frame, 5)
                writer.finish()
            except BaseException:
                writer.abort()
                raise
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert "rendering" in done.stdout
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["out.mp4"]


def test_sigterm_handler_is_restored_after_writing(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    with atomic_output(tmp_path / "a.png") as temporary:
        temporary.write_bytes(b"x")
    assert signal.getsignal(signal.SIGTERM) == before


def test_temporary_file_is_hidden_next_to_the_target(tmp_path):
    temporary = temporary_path(tmp_path / "movie.mp4")
    assert temporary.name.startswith(".movie.") and temporary.suffix == ".mp4"


# errors before any work ----------

def test_every_registered_extension_is_known():
    assert set(WRITERS.names()) == {"gif", "mp4", "webm", "html", "png", "svg", "pdf"}
    assert output_format(Path("A.GIF")).extension == "gif"


def test_unknown_extension_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError) as error:
        check_output(tmp_path / "out.gfi")
    assert "gif" in str(error.value) and "render.output" in str(error.value)


def test_output_that_is_a_folder_is_an_error(tmp_path):
    (tmp_path / "x.gif").mkdir()
    with pytest.raises(OptivizError, match="folder"):
        check_output(tmp_path / "x.gif")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_an_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OptivizError, match="permission denied"):
            check_output(locked / "new" / "out.gif")
    finally:
        locked.chmod(0o700)


def test_folder_under_a_file_is_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OptivizError, match="is a file"):
        check_output(tmp_path / "file" / "out.gif")


def test_missing_folders_are_fine_before_rendering(tmp_path):
    check_output(tmp_path / "a" / "b" / "out.mp4")
    assert not (tmp_path / "a").exists()


# Cached glyph text (the fast step counter) ----------

def counter_scene(text_class: str = "cached"):
    """A small map with a step counter, as a Scene: ``update(i)`` shows ``step i/199``."""
    from optiviz.render.scene import CachedGlyphText, new_figure

    figure = new_figure(200, 150, 100, "#ffffff")
    ax = figure.add_subplot()
    ax.imshow(np.linspace(0, 1, 64).reshape(8, 8), extent=(0, 1, 0, 1), cmap="Blues")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    if text_class == "cached":
        counter = CachedGlyphText(ax, 0.05, 0.95, size=9, color="#222222",
                                  box_color="#ffffff", box_alpha=0.85)
    else:
        counter = ax.text(0.05, 0.95, "", transform=ax.transAxes, ha="left", va="top",
                          fontsize=9, family="monospace", color="#222222", animated=True,
                          bbox={"boxstyle": "round,pad=0.25", "facecolor": "#ffffff",
                                "alpha": 0.85, "edgecolor": "none"})
    (head,) = ax.plot([], [], "o", color="#D55E00", animated=True, zorder=9)

    class CounterScene:
        n_frames = 200

        def update(self, frame):
            head.set_data([frame / 200], [0.95])  # runs under the counter's box
            counter.set_text(f"step {frame:>3d}/199")
            return [head, counter]

    scene = CounterScene()
    scene.figure, scene.counter = figure, counter
    return scene


def test_cached_glyph_text_blits_like_a_full_redraw():
    from optiviz.render.animate import frame_pixels, full_redraw

    scene = counter_scene()
    layers = None
    for frame in (0, 7, 38, 199):
        pixels, layers = frame_pixels(scene, frame, layers)
        assert np.array_equal(pixels, full_redraw(scene, frame)), f"frame {frame} differs"


def test_cached_glyph_text_rasterizes_each_character_once():
    from optiviz.render.animate import frame_pixels

    scene = counter_scene()
    layers = None
    for frame in range(0, 200, 3):
        _, layers = frame_pixels(scene, frame, layers)
    assert sorted(char for _, char in scene.counter.glyphs) == sorted(set("step 0123456789/"))


def test_cached_glyph_text_looks_like_the_text_it_replaces():
    from optiviz.render.animate import full_redraw

    ink = []
    for text_class in ("cached", "text"):
        pixels = full_redraw(counter_scene(text_class), 123)[..., :3].astype(int)
        ink.append(pixels.sum(axis=2) < 200)  # the dark glyphs
    overlap = (ink[0] & ink[1]).sum() / (ink[0] | ink[1]).sum()
    assert ink[0].sum() > 100 and overlap > 0.9


def test_cached_glyph_text_is_vector_text_in_svg_and_pdf(tmp_path):
    scene = counter_scene()
    scene.update(42)
    scene.figure.savefig(tmp_path / "still.svg")
    svg = (tmp_path / "still.svg").read_text()
    assert svg.count("<image") == 1  # the map only; the counter is text
    assert "step  42/199" in svg
    scene.figure.savefig(tmp_path / "still.pdf")
    assert (tmp_path / "still.pdf").read_bytes().startswith(b"%PDF")


def test_cached_glyph_text_aligns_right_in_figure_coordinates():
    from optiviz.render.scene import CachedGlyphText, new_figure

    figure = new_figure(200, 150, 100, "#ffffff")
    ax = figure.add_subplot()
    ax.set_axis_off()
    counter = CachedGlyphText(ax, 0.995, 0.995, size=9, color="#222222", align="right",
                              transform=figure.transFigure, animated=False)
    counter.set_text("step 7/99")
    box = counter.get_window_extent()
    assert round(box.x1) == round(0.995 * 200) and round(box.y1) == round(0.995 * 150)
    figure.canvas.draw()
    ink = np.asarray(figure.canvas.buffer_rgba())[..., :3].sum(axis=2) < 300
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert rows.max() < 20 and columns.min() > 200 - box.width - 4  # top-right corner only


def test_gif_background_and_palette_colours_are_exact(tmp_path):
    from PIL import Image

    from optiviz.render.writers import GifWriter

    frame = np.full((40, 60, 3), 255, np.uint8)  # white: Pillow's quantize maps it to near-white
    frame[10:20, 10:20] = (0x00, 0x72, 0xB2)
    frame[25:30, 30:50] = np.arange(20, dtype=np.uint8)[None, :, None] * 12  # a ramp of greys
    writer = GifWriter(tmp_path / "exact.gif", 60, 40, fps=10, key_colors=("#0072B2",))
    writer.append(frame)
    writer.finish()
    shown = np.asarray(Image.open(tmp_path / "exact.gif").convert("RGB"))
    assert (shown[:5, :5] == 255).all()
    assert tuple(shown[15, 15]) == (0x00, 0x72, 0xB2)
    np.testing.assert_array_equal(shown, frame)  # few colours: every one is exact
