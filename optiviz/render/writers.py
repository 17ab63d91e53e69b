"""Output formats, chosen by the extension of the output path.

Two kinds of writer live in :data:`WRITERS`:

- *animation* writers (gif, mp4, webm; html in :mod:`optiviz.render.html_player`) take RGB(A)
  frames one at a time through the protocol
  ``writer = Writer(path, width, height, fps=..., loop=..., background=..., key_colors=...)``
  (``key_colors``: colours that must stay exact, e.g. the runs'),
  ``writer.append(frame, repeat=1)`` (``frame`` is an ``(H, W, 3|4) uint8`` array, shown for
  ``repeat`` frame periods), ``writer.finish()``, ``writer.abort()``; a writer that needs to
  know what the frames show (the HTML player's readout) also has
  ``writer.attach_run(experiment, result, scene)``, called before the first frame;
- *still* writers (png, svg, pdf) save a whole figure: ``Writer.save(figure, path)``.

:func:`atomic_output` wraps either: it writes a temporary file in the target folder and renames
it over the target only when everything succeeded, so Ctrl-C, SIGTERM or an error leave the
previous output intact and no temporary file behind (SIGKILL can leave a hidden
``.<stem>.optiviz-tmp-<pid><suffix>`` file, removed by the next write of that target, but never
a half-written target).
"""

from __future__ import annotations

import contextlib
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from optiviz.atomic import atomic_output, sigterm_as_exit, temporary_path  # noqa: F401
from optiviz.errors import OptivizError
from optiviz.registry import Registry


@dataclass(frozen=True)
class OutputFormat:
    """One registered extension: its writer class and what ``optiviz list`` shows."""

    extension: str
    writer: type
    animated: bool
    doc: str


WRITERS: Registry[OutputFormat] = Registry("output format")


def register_writer(extension: str, doc: str, aliases: tuple[str, ...] = ()):
    """Class decorator: register ``cls`` under ``extension``; ``cls.animated`` says which
    protocol it follows."""

    def decorator(cls: type) -> type:
        WRITERS.add(extension, OutputFormat(extension, cls, bool(cls.animated), doc), aliases)
        return cls

    return decorator


def output_format(path: Path) -> OutputFormat:
    """The registered format of ``path`` (by extension, case-insensitive)."""
    extension = Path(path).suffix.lower().lstrip(".")
    return WRITERS.get(extension, ("render", "output"))


# Atomic writes ----------------------------------------------------------------------------------


# GIF --------------------------------------------------------------------------------------------


# 7-bit colour indices: LZW codes start one bit shorter than with 8 (about 10% smaller files);
# 127 colours hold every flat colour of our frames and a median cut of their anti-aliasing.
BITS = 7
TRANSPARENT = (1 << BITS) - 1  # palette index of "unchanged from the previous frame"


def gif_palette(frames: list[np.ndarray], exact: int = 96, size: int = TRANSPARENT,
                key_colors: tuple[tuple[int, int, int], ...] = ()) -> Any:
    """A palette of ``size`` colours (a Pillow "P" image) shared by every frame.

    ``key_colors`` (the runs' colours: few pixels, but they must be true) come first; then the
    ``exact`` most frequent colours of ``frames`` (background, contour bands, the solid
    cores of run colours) are kept exactly, so flat areas stay flat and true; the remaining
    slots are a median cut of the other colours (anti-aliased edges).
    """
    from PIL import Image

    pixels = np.concatenate([f[..., :3].reshape(-1, 3) for f in frames])
    packed = (pixels[:, 0].astype(np.uint32) << 16) | (pixels[:, 1].astype(np.uint32) << 8) \
        | pixels[:, 2]
    # frames are mostly flat: count runs of one colour rather than sort every pixel
    starts = np.flatnonzero(np.concatenate([[True], packed[1:] != packed[:-1]]))
    lengths = np.diff(np.append(starts, packed.size))
    colors, run_color = np.unique(packed[starts], return_inverse=True)
    counts = np.bincount(run_color, weights=lengths, minlength=colors.size)
    keys = [(r << 16) | (g << 8) | b for r, g, b in dict.fromkeys(key_colors)][:size]
    frequent = colors[np.argsort(-counts, kind="stable")]
    frequent = frequent[~np.isin(frequent, keys)][: max(0, min(exact, size) - len(keys))]
    kept = np.concatenate([np.asarray(keys, np.uint32), frequent.astype(np.uint32)])
    palette = [((c >> 16) & 255, (c >> 8) & 255, c & 255) for c in kept.tolist()]
    rest = pixels[~np.repeat(np.isin(colors, kept)[run_color], lengths)]
    if rest.size and len(palette) < size:
        strip = Image.fromarray(np.ascontiguousarray(rest[None, :, :]))
        cut = strip.quantize(size - len(palette), method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE)
        used = len(cut.getcolors(size))
        entries = np.asarray(cut.getpalette()[: 3 * used]).reshape(-1, 3)
        palette += [tuple(e) for e in entries.tolist()]
    image = Image.new("P", (1, 1))
    image.putpalette([v for color in palette for v in color])
    return image


class ExactColors:
    """Pillow's palette mapping is a fast approximate nearest-colour search: it can map white to
    a near-white entry even though white is in the palette. Pixels whose colour IS a palette
    entry (background, contour bands, run colours: almost every pixel) get that entry."""

    def __init__(self, palette: Any):
        # never the transparent index: it means "unchanged", not a colour
        entries = np.asarray(palette.getpalette(), dtype=np.uint32).reshape(-1, 3)[:TRANSPARENT]
        packed = (entries[:, 0] << 16) | (entries[:, 1] << 8) | entries[:, 2]
        keys, first = np.unique(packed, return_index=True)  # the first entry of a duplicate
        self.keys = keys
        self.index = first.astype(np.uint8)

    def correct(self, patch: np.ndarray, indices: np.ndarray) -> np.ndarray:
        rgb = patch[..., :3].astype(np.uint32)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        where = np.minimum(np.searchsorted(self.keys, packed), self.keys.size - 1)
        hit = self.keys[where] == packed
        indices[hit] = self.index[where[hit]]
        return indices


def gif_file_header(width: int, height: int, palette: bytes, loop: bool) -> bytes:
    """GIF89a header, 256-entry global colour table and (if looping) the NETSCAPE2.0 loop."""
    entries = 1 << BITS
    table = palette[: 3 * entries].ljust(3 * entries, b"\0")
    packed = 0x80 | ((BITS - 1) << 4) | (BITS - 1)  # global table of 2**BITS colours
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, packed, 0, 0) + table
    if loop:
        header += b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", 0) + b"\0"
    return header


def gif_frame(indices: np.ndarray, left: int, top: int, delay: int, transparent: bool) -> bytes:
    """One frame: graphic control (delay in 1/100 s, keep the previous frame underneath,
    optional transparent index) + image descriptor + LZW data (Pillow's encoder)."""
    from PIL import Image

    height, width = indices.shape
    flags = (1 << 2) | (1 if transparent else 0)  # disposal 1: do not dispose
    control = b"!\xf9\x04" + struct.pack("<BHB", flags, delay, TRANSPARENT) + b"\0"
    descriptor = b"," + struct.pack("<HHHHB", left, top, width, height, 0) + bytes([BITS])
    data = Image.fromarray(np.ascontiguousarray(indices), "P").tobytes("gif", "P", BITS, 0)
    return control + descriptor + data + b"\0"


class Extent:
    """The smallest rectangle holding every rectangle added (empty: one pixel at 0, 0)."""

    def __init__(self) -> None:
        self.top = self.left = 1 << 30
        self.bottom = self.right = 0

    def add(self, top: int, left: int, bottom: int, right: int) -> None:
        self.top, self.left = min(self.top, top), min(self.left, left)
        self.bottom, self.right = max(self.bottom, bottom), max(self.right, right)

    def box(self) -> tuple[slice, slice]:
        if self.bottom == 0:
            return np.s_[0:1, 0:1]
        return np.s_[self.top: self.bottom, self.left: self.right]


@register_writer("gif", "looping GIF: one global palette, changed rectangles only")
class GifWriter:
    """GIF with one global palette, written frame by frame by this module.

    The palette (:func:`gif_palette`) comes from the first and the last frame (which holds every
    path); frames are mapped to it without dithering. Each later frame stores only the rectangle
    whose palette indices changed, with unchanged pixels inside it transparent (long runs of one
    index compress well); frames identical after mapping are merged by adding their delays.

    The palette needs the last frame, so nothing can be encoded before ``finish``. Until then each
    frame's changed RGBA rectangle is spilled, raw, to an anonymous temporary file beside the
    output (deleted by the system when closed, even after SIGKILL; beside the output because
    /tmp is often memory), and ``finish`` reads them back one at a time. Memory stays at a few
    whole frames however many frames there are; the spill holds what memory used to.
    """

    animated: ClassVar[bool] = True

    def __init__(self, path: Path, width: int, height: int, *, fps: float = 30, loop: bool = True,
                 background: str = "#ffffff", key_colors: tuple[str, ...] = ()):
        from matplotlib.colors import to_rgb

        self.path = Path(path)
        self.size = (width, height)
        self.fps = fps
        self.loop = loop
        self.key_colors = tuple(tuple(int(round(255 * v)) for v in to_rgb(c))
                                for c in (background, *key_colors))
        self.first: np.ndarray | None = None
        self.current: np.ndarray | None = None
        # (top, left, height, width) of each frame's changed rectangle; the first frame is whole
        # and kept in memory, every later rectangle's RGBA pixels are in the spill, in order
        self.changes: list[tuple[int, int, int, int]] = []
        self.repeats: list[int] = []
        self.spill: Any = None

    def append(self, frame: np.ndarray, repeat: int = 1) -> None:
        frame = np.asarray(frame)
        if frame.shape[2] == 3:
            frame = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], 2)
        if self.current is None:
            self.first = np.array(frame)
            self.current = np.array(frame)
            self.changes.append((0, 0) + frame.shape[:2])
            self.repeats.append(repeat)
            return
        changed = (np.ascontiguousarray(frame).view(np.uint32)[..., 0]
                   != self.current.view(np.uint32)[..., 0])
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:
            self.repeats[-1] += repeat
            return
        columns = np.flatnonzero(changed.any(axis=0))
        box = np.s_[rows[0]: rows[-1] + 1, columns[0]: columns[-1] + 1]
        patch = np.ascontiguousarray(frame[box])
        self.current[box] = patch
        if self.spill is None:
            import tempfile

            self.spill = tempfile.TemporaryFile(dir=self.path.parent, prefix=".optiviz-frames-")
        self.spill.write(memoryview(patch).cast("B"))
        self.changes.append((int(rows[0]), int(columns[0])) + patch.shape[:2])
        self.repeats.append(repeat)

    def _patches(self) -> Any:
        """Each change's (top, left, RGBA patch), in order: the first frame, then the spill."""
        if self.spill is not None:
            self.spill.flush()
            self.spill.seek(0)
        for i, (top, left, height, width) in enumerate(self.changes):
            if i == 0:
                yield top, left, self.first
                continue
            patch = np.empty((height, width, 4), np.uint8)
            if self.spill.readinto(memoryview(patch).cast("B")) != patch.nbytes:
                raise OptivizError(f"the frames spilled beside {self.path} were cut short")
            yield top, left, patch

    def finish(self) -> None:
        from PIL import Image

        if self.current is None:
            raise OptivizError("no frames to write")
        palette = gif_palette([self.first, self.current], key_colors=self.key_colors)
        width, height = self.size
        # frame i is due at starts[i] hundredths of a second; rounding the cumulative times (not
        # each delay) keeps the total exact: 30 fps gives delays 3, 4, 3, 3, 4, 3 ...
        starts = np.round(np.concatenate([[0], np.cumsum(self.repeats)]) * (100.0 / self.fps))
        durations = np.diff(starts).astype(np.int64)
        exact = ExactColors(palette)
        latest = np.zeros((height, width), np.uint8)  # palette indices of the newest frame
        written: np.ndarray | None = None  # what a viewer shows after the frames written
        dirty = Extent()  # where latest may differ from written
        pending = 0  # hundredths of a second the newest frame has been due
        with open(self.path, "wb") as out:
            out.write(gif_file_header(width, height, bytes(palette.getpalette()), self.loop))
            for i, (top, left, patch) in enumerate(self._patches()):
                rgb = Image.frombuffer("RGBA", patch.shape[1::-1], np.ascontiguousarray(patch),
                                       "raw", "RGBA", 0, 1).convert("RGB")
                indices = exact.correct(patch, np.array(
                    rgb.quantize(palette=palette, dither=Image.Dither.NONE)))
                bottom, right = top + indices.shape[0], left + indices.shape[1]
                region = latest[top: bottom, left: right]
                if i and np.array_equal(region, indices):
                    pending += durations[i]  # identical after mapping: one longer frame
                    continue
                if i and pending >= 2:
                    written = self._write(out, latest, written, pending, dirty.box())
                    dirty = Extent()
                    pending = 0
                # a frame due for under 2/100 s (browsers would show it for 1/10 s) is skipped
                # and its time given to the next one
                region[...] = indices
                dirty.add(top, left, bottom, right)
                pending += durations[i]
            self._write(out, latest, written, max(pending, 2), dirty.box())
            out.write(b";")
        self.abort()

    @staticmethod
    def _write(out: Any, latest: np.ndarray, written: np.ndarray | None, delay: int,
               dirty: tuple[slice, slice]) -> np.ndarray:
        """Write ``latest`` as the changes from ``written`` (found inside ``dirty``: comparing
        whole frames would cost more than encoding them); return the new screen."""
        if written is None:
            out.write(gif_frame(latest, 0, 0, int(delay), transparent=False))
            return latest.copy()
        changed = latest[dirty] != written[dirty]
        rows = np.flatnonzero(changed.any(axis=1))
        if rows.size == 0:  # cannot happen for distinct frames; keep the timing anyway
            rows = np.array([0])
            changed[0, 0] = True
        columns = np.flatnonzero(changed.any(axis=0))
        inside = np.s_[rows[0]: rows[-1] + 1, columns[0]: columns[-1] + 1]
        top, left = dirty[0].start + int(rows[0]), dirty[1].start + int(columns[0])
        box = np.s_[top: top + rows[-1] + 1 - rows[0], left: left + columns[-1] + 1 - columns[0]]
        stored = np.where(changed[inside], latest[box], TRANSPARENT).astype(np.uint8)
        out.write(gif_frame(stored, left, top, int(delay), transparent=True))
        written[box] = latest[box]
        return written

    def abort(self) -> None:
        self.first = self.current = None
        self.changes.clear()
        if self.spill is not None:
            self.spill.close()
            self.spill = None


# Video through the bundled ffmpeg ---------------------------------------------------------------


class FfmpegWriter:
    """Raw RGBA frames piped to one ffmpeg process: memory stays flat however many frames.

    Odd sizes are padded by one pixel of background (never rescaled). One encoder thread and the
    bitexact flags with no metadata make the output byte-identical for identical frames.
    ffmpeg gets the output as an absolute path, so a name like ``file:x.mp4`` or ``pipe:1.mp4``
    is a file of that name, never an ffmpeg protocol; it is killed if optiviz dies (Linux).
    """

    animated: ClassVar[bool] = True
    codec_args: ClassVar[tuple[str, ...]] = ()
    container_args: ClassVar[tuple[str, ...]] = ()

    def __init__(self, path: Path, width: int, height: int, *, fps: float = 30, loop: bool = True,
                 background: str = "#ffffff", key_colors: tuple[str, ...] = ()):
        import os
        import signal
        import threading

        import imageio_ffmpeg

        from optiviz.atomic import exit_with_parent

        self.path = Path(path)
        self.size = (width, height)
        pad = f"pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0:color={background.lstrip('#')}"
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
            "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{width}x{height}",
            "-framerate", str(fps), "-i", "pipe:0", "-an", "-vf", pad,
            *self.codec_args, "-threads", "1",
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
            *self.container_args, os.path.abspath(self.path),
        ]
        # preexec_fn is unsafe with other threads running (a Dask worker): then go without.
        follow = exit_with_parent(signal.SIGKILL) if threading.active_count() == 1 else None
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=follow,
        )

    def append(self, frame: np.ndarray, repeat: int = 1) -> None:
        if frame.shape[2] == 3:
            frame = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], 2)
        data = memoryview(np.ascontiguousarray(frame)).cast("B")
        try:
            for _ in range(repeat):
                self.process.stdin.write(data)
        except BrokenPipeError:
            self._fail()

    def finish(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        if self.process.wait() != 0:
            self._fail()

    def _fail(self) -> None:
        import os

        from optiviz.atomic import target_of

        self.process.kill()
        self.process.wait()
        target = target_of(self.path)
        stderr = self.process.stderr.read().decode(errors="replace")
        # ffmpeg names the hidden temporary file; the user knows the target
        message = ffmpeg_message(stderr.replace(os.path.abspath(self.path), str(target)))
        raise OptivizError(f"{target}: ffmpeg failed: {message}")

    def abort(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stderr):
            with contextlib.suppress(OSError):
                stream.close()


def ffmpeg_message(stderr: str, limit: int = 300) -> str:
    """ffmpeg's complaint on one line: its distinct lines joined, repeated ones and the
    generic "Conversion failed!" dropped, at most ``limit`` characters (the end kept: the
    cause is usually last)."""
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    lines = [line for line in dict.fromkeys(lines) if line and line != "Conversion failed!"]
    text = " / ".join(lines) or "no message"
    return text if len(text) <= limit else "..." + text[-(limit - 3):]


@register_writer("mp4", "H.264 video (yuv420p, +faststart): slides and browsers")
class Mp4Writer(FfmpegWriter):
    # veryfast: half the encode time of medium and smaller files on flat synthetic frames
    codec_args = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                  "-tune", "animation")
    container_args = ("-movflags", "+faststart", "-f", "mp4")


@register_writer("webm", "VP9 video for web pages")
class WebmWriter(FfmpegWriter):
    codec_args = ("-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "33", "-deadline", "good",
                  "-cpu-used", "4", "-row-mt", "0", "-pix_fmt", "yuv420p")
    container_args = ("-f", "webm")


# Stills -----------------------------------------------------------------------------------------


class StillWriter:
    """The figure as it stands (the final frame), saved without dates or version stamps."""

    animated: ClassVar[bool] = False
    format: ClassVar[str] = ""
    metadata: ClassVar[dict[str, Any]] = {}

    @classmethod
    def save(cls, figure: Any, path: Path) -> None:
        import matplotlib

        with matplotlib.rc_context({"svg.hashsalt": "optiviz", "svg.fonttype": "path"}):
            figure.savefig(path, format=cls.format, dpi=figure.dpi,
                           facecolor=figure.get_facecolor(), metadata=dict(cls.metadata))


@register_writer("png", "the final frame as a PNG still")
class PngWriter(StillWriter):
    format = "png"
    metadata = {"Software": None}


@register_writer("svg", "the final frame as an SVG (vector) still")
class SvgWriter(StillWriter):
    format = "svg"
    metadata = {"Date": None, "Creator": None}


@register_writer("pdf", "the final frame as a PDF (vector) still")
class PdfWriter(StillWriter):
    format = "pdf"
    metadata = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}


# The HTML player registers itself (its own module: the page, the readout) ----------------------

from optiviz.render import html_player  # noqa: E402,F401
