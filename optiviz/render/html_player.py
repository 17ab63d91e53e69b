"""``-o race.html``: one self-contained page that plays the animation and reads out its numbers.

The page holds the animation as the very MP4 that ``-o race.mp4`` writes (the frames go through
:class:`~optiviz.render.writers.Mp4Writer`, base64 in the page), a player (play/pause, a frame
scrubber, step buttons, speed; keys: space, ←, →, Home, End) and, beside the video, a readout of
the numbers the current frame shows, taken from the run's arrays (the same ones ``--data``
writes). Nothing is fetched from the network; the page works from ``file://``, from any web
server and inside an ``<iframe>`` (a reveal.js slide: it pauses on ``slide:stop`` and, with
``#play``, plays on ``slide:start``).

Frames and steps: frame ``i`` of the scene is shown from ``i / fps`` to ``(i + 1) / fps`` seconds
into the video (the last frame also for the ``hold`` that follows). The page seeks to the middle
of a frame's period, and maps a video time ``t`` back to ``floor(t * fps)``, so the readout always
belongs to the frame on screen. What each frame shows comes from the scene itself
(:func:`frame_marks`): the optimizer step (``scene.steps``), the Metropolis step, or the sample
count of a checkpoint (``result.checkpoints[scene.indices]``).

The URL fragment ``#frame=N`` opens the page paused on frame ``N`` (``#step=S``: on the first frame
showing step or sample count ``S`` or more); ``#play`` starts playing (muted videos may autoplay).

What the readout shows (:func:`readout`):

- optimizer races: per run (one row per optimizer entry and start), the loss, the learning rate
  of the step that led to the frame (at step 0: of the first step) and the position; for
  particle clouds (``view.is_cloud``), per optimizer entry, the median loss over its starts
  (the loss panel's median), the learning rate and how many runs have diverged so far;
- direct sampling: the sample count, running mean and variance (per coordinate), KL(empirical ‖
  true) and the running estimate where the experiment has them;
- stratified sampling: plain and stratified estimates with their ±2 SE, and the true value;
- importance sampling: plain and self-normalized estimates, the effective sample size, the
  true value;
- Metropolis–Hastings: each chain's current state and acceptance rate so far (one proposal
  scale), the draws kept, the acceptance rate per scale and the latest diagnostics (ESS, R-hat,
  running means at the last checkpoint reached).

Numbers are rounded for reading, not for computing: losses and estimates to 4 significant
digits, positions to a thousandth of the view's width (or finer), rates to 0.1 %. They travel
as integer codes, delta-coded frame to frame and deflated, so that the page weighs little more
than the base64 video (the readout of a five-optimizer race of 300 frames is a few kB).
"""

from __future__ import annotations

import base64
import html
import json
import math
import zlib
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from optiviz.errors import OptivizError
from optiviz.render.writers import Mp4Writer, register_writer

# More runs than this (particle clouds aside) and the readout gives one row per optimizer entry.
MAX_RUN_ROWS = 12
# Integer codes beyond this lose precision as JavaScript numbers once summed: such a series is
# coded by significant digits instead.
SAFE_CODE = 2**50
SIGNIFICANT = 4  # digits of losses and estimates


# Series: one number per frame, coded as integers ------------------------------------------------


def sig_code(value: float) -> int | None:
    """``value`` rounded to 4 significant digits as one integer, monotone in ``|value|``:
    ``sign * ((exponent + 400) * 9000 + mantissa - 1000 + 1)`` with ``mantissa`` in 1000..9999
    (the player decodes it); 0 is 0, and anything not finite is None."""
    if not math.isfinite(value):
        return None
    if value == 0:
        return 0
    mantissa, exponent = f"{abs(value):.{SIGNIFICANT - 1}e}".split("e")
    digits = int(mantissa.replace(".", ""))
    code = (int(exponent) + 400) * 9000 + digits - 1000 + 1
    return code if value > 0 else -code


def sig_value(code: int) -> float:
    """The number :func:`sig_code` stands for (what the player shows)."""
    if code == 0:
        return 0.0
    magnitude = abs(code) - 1
    exponent, digits = divmod(magnitude, 9000)
    value = float(f"{digits + 1000}e{exponent - 400 - SIGNIFICANT + 1}")
    return value if code > 0 else -value


def series(values: Any, kind: str = "sig", *, decimals: int = 0, unit: str = "",
           missing: str = "\u2014") -> dict[str, Any]:
    """One readout number per frame, for the page: ``kind`` "sig" (4 significant digits),
    "fixed" (``decimals`` after the point) or "int" (whole, with thousands separators);
    ``unit`` follows the number; ``missing`` stands for a value that is not finite. Codes are
    delta-coded over the frames (a missing value does not interrupt the chain)."""
    values = np.asarray(values, dtype=float).ravel()
    scale = 10.0 ** decimals if kind == "fixed" else 1.0
    finite = values[np.isfinite(values)]
    if kind in ("fixed", "int") and finite.size and np.max(np.abs(finite)) * scale >= SAFE_CODE:
        kind = "sig"
    if kind == "sig":
        codes = [sig_code(float(v)) for v in values]
    elif kind == "fixed":
        codes = [int(round(float(v) * scale)) if math.isfinite(v) else None for v in values]
    elif kind == "int":
        codes = [int(round(float(v))) if math.isfinite(v) else None for v in values]
    else:
        raise ValueError(f"unknown series kind {kind!r}")
    deltas: list[int | None] = []
    previous = 0
    for code in codes:
        if code is None:
            deltas.append(None)
            continue
        deltas.append(code - previous)
        previous = code
    out: dict[str, Any] = {"k": kind, "v": deltas}
    if kind == "fixed":
        out["d"] = decimals
    if unit:
        out["u"] = unit
    if missing != "\u2014":
        out["m"] = missing
    return out


def decode_series(entry: dict[str, Any]) -> list[float]:
    """The numbers a series shows (NaN where missing), as the player computes them."""
    out: list[float] = []
    code = 0
    for delta in entry["v"]:
        if delta is None:
            out.append(math.nan)
            continue
        code += delta
        if entry["k"] == "sig":
            out.append(sig_value(code))
        elif entry["k"] == "fixed":
            out.append(code / 10.0 ** entry["d"])
        else:
            out.append(float(code))
    return out


class Tables:
    """The readout under construction: tables whose cells are text or series."""

    def __init__(self, mark: str, marks: np.ndarray, total: int):
        self.series: list[dict[str, Any]] = []
        self.tables: list[dict[str, Any]] = []
        self.head = {"mark": mark, "total": int(total), "frames": len(marks),
                     "marks": self.add(np.asarray(marks, dtype=float), "int")}

    def add(self, values: Any, kind: str = "sig", **options: Any) -> int:
        self.series.append(series(values, kind, **options))
        return len(self.series) - 1

    def table(self, columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
        self.tables.append({"title": title, "columns": columns, "rows": rows})

    def data(self) -> dict[str, Any]:
        return {**self.head, "tables": self.tables, "series": self.series}


def position_decimals(width: float) -> int:
    """Decimals that resolve a thousandth of ``width`` (the view's narrower side)."""
    if not math.isfinite(width) or width <= 0:
        return 3
    return max(0, int(math.ceil(-math.log10(width))) + 3)


# What each frame shows ---------------------------------------------------------------------------


def frame_marks(scene: Any, result: Any) -> tuple[str, np.ndarray]:
    """``(what, marks)``: what the frames count ("step" or "samples") and its value at each of
    the scene's frames, read from the scene (the renderer's own frame -> step mapping)."""
    steps = getattr(scene, "steps", None)
    if steps is not None:
        return "step", np.asarray(steps, dtype=np.int64)[: scene.n_frames]
    indices = getattr(scene, "indices", None)
    if indices is not None:
        return "samples", np.asarray(result.checkpoints)[np.asarray(indices)][: scene.n_frames]
    raise OptivizError(f"the HTML player cannot tell which step each frame of a "
                       f"{type(scene).__name__} shows")


def readout(experiment: Any, result: Any, scene: Any) -> dict[str, Any]:
    """The readout of every frame of ``scene`` (see the module docstring), ready for JSON."""
    mark, marks = frame_marks(scene, result)
    from optiviz.kinds import KINDS

    kind = KINDS[experiment.kind]
    if kind.readout is not None:  # a kind with a readout of its own (variational)
        tables = Tables(mark, marks, result.steps)
        kind.call("readout", tables, experiment, result, marks)
        return tables.data()
    if experiment.kind != "sampling":
        tables = Tables(mark, marks, result.steps)
        if hasattr(result, "frame_steps"):  # a basin map (optiviz.streaming.BasinMaps)
            basin_tables(tables, result, scene)
        else:
            optimizer_tables(tables, experiment, result, marks)
    else:
        method = getattr(result, "method", "")
        total = result.steps if method == "metropolis" else int(np.max(result.checkpoints))
        tables = Tables(mark, marks, total)
        if method == "metropolis":
            metropolis_tables(tables, result, marks)
        elif method == "stratified":
            stratified_tables(tables, result, scene)
        elif method == "importance":
            importance_tables(tables, result, scene)
        else:
            direct_tables(tables, result, scene)
    return tables.data()


def optimizer_tables(tables: Tables, experiment: Any, trajectories: Any,
                     steps: np.ndarray) -> None:
    from optiviz.view import is_cloud, view_domain

    (x0, x1), (y0, y1) = view_domain(experiment, trajectories)
    decimals = position_decimals(min(x1 - x0, y1 - y0))
    # the learning rate of the step that led to the frame (step 0: the first step's)
    lr_index = np.clip(steps - 1, 0, max(trajectories.lr.shape[1] - 1, 0))
    lr = trajectories.lr[:, lr_index] if trajectories.lr.shape[1] else \
        np.full((trajectories.runs, len(steps)), np.nan)
    starts = len(experiment.starts)
    if not is_cloud(experiment, trajectories) and trajectories.runs <= MAX_RUN_ROWS:
        rows = []
        for r in range(trajectories.runs):
            name = str(trajectories.label[r])
            if starts > 1:
                name += f" \u00b7 start {int(trajectories.run_start[r]) + 1}"
            rows.append([
                name,
                tables.add(trajectories.loss[r, steps], missing="diverged"),
                tables.add(lr[r]),
                tables.add(trajectories.positions[r, steps, 0], "fixed", decimals=decimals),
                tables.add(trajectories.positions[r, steps, 1], "fixed", decimals=decimals),
            ])
        function = experiment.function  # axes named as the map names them (w, b for a fit)
        tables.table(["optimizer", "loss", "lr", getattr(function, "xlabel", "x") or "x",
                      getattr(function, "ylabel", "y") or "y"], rows)
        return
    from optiviz.render.cloud import median_band

    rows = []
    for i, entry in enumerate(experiment.optimizers):
        runs = slice(i * starts, (i + 1) * starts)
        median = median_band(trajectories.loss[runs][:, trajectories.columns(steps)],
                             experiment.function)[1]
        diverged = trajectories.diverged_step[runs]
        so_far = ((diverged[:, None] >= 0) & (diverged[:, None] <= steps[None, :])).sum(axis=0)
        rows.append([entry.label, tables.add(median), tables.add(lr[i * starts]),
                     tables.add(so_far, "int", unit=f" of {starts}")])
    tables.table(["optimizer", f"median loss ({starts} starts)", "lr", "diverged"], rows)


def basin_tables(tables: Tables, maps: Any, scene: Any) -> None:
    """A basin map: per optimizer, the share of its runs near each known minimum, near none
    and diverged at each frame (the frame's map, counted)."""
    from optiviz.streaming import DIVERGED, NONE, minimum_label

    minima = len(maps.minima)
    frames = maps.frames[: scene.n_frames]
    rows = []
    for e, label in enumerate(maps.label):
        counts = np.stack([np.bincount(codes.astype(np.int64) + 2, minlength=minima + 2)
                           for codes in frames[:, e]])  # columns: diverged, none, minima...
        share = 100.0 * counts / max(maps.starts, 1)
        cells = [tables.add(share[:, k + 2], "fixed", decimals=1, unit=" %")
                 for k in range(minima)]
        cells.append(tables.add(share[:, NONE + 2], "fixed", decimals=1, unit=" %"))
        cells.append(tables.add(share[:, DIVERGED + 2], "fixed", decimals=1, unit=" %"))
        rows.append([label, *cells])
    names = [f"near {minimum_label(x, y)}" for x, y in maps.minima]
    tables.table(["optimizer", *names, "near none", "diverged"], rows,
                 title=f"runs within {maps.tolerance:g} of a known minimum "
                       f"({maps.starts:,} starts each)")


def coordinate_names(dim: int) -> list[str]:
    return ["x", "y"][:dim] if dim <= 2 else [f"x{i + 1}" for i in range(dim)]


def direct_tables(tables: Tables, result: Any, scene: Any) -> None:
    k = np.asarray(scene.indices)[: scene.n_frames]
    mean = np.asarray(result.mean, dtype=float).reshape(len(result.checkpoints), -1)[k]
    var = np.asarray(result.var, dtype=float).reshape(len(result.checkpoints), -1)[k]
    names = coordinate_names(mean.shape[1]) if mean.shape[1] > 1 else [""]
    rows: list[list[Any]] = [["samples", tables.add(result.checkpoints[k], "int")]]
    for i, name in enumerate(names):
        rows.append([f"mean {name}".strip(), tables.add(mean[:, i])])
    for i, name in enumerate(names):
        rows.append([f"variance {name}".strip(), tables.add(var[:, i])])
    if result.kl is not None:
        rows.append(["KL(empirical \u2016 true)", tables.add(result.kl[k])])
    if result.estimate is not None:
        rows.append([f"E[{result.estimate_text}]", tables.add(result.estimate[k])])
    tables.table(["quantity", "value"], rows)


def stratified_tables(tables: Tables, result: Any, scene: Any) -> None:
    k = np.asarray(scene.indices)[: scene.n_frames]
    text = result.estimate_text
    rows: list[list[Any]] = [
        ["samples", tables.add(result.checkpoints[k], "int")],
        [f"plain E[{text}]", tables.add(result.plain_estimate[k])],
        ["plain \u00b12 SE", tables.add(2 * result.plain_se[k])],
        [f"stratified E[{text}]", tables.add(result.stratified_estimate[k])],
        ["stratified \u00b12 SE", tables.add(2 * result.stratified_se[k])],
        [f"true E[{text}]", tables.add(np.full(len(k), result.true_value), missing="unknown")],
    ]
    tables.table(["quantity", "value"], rows)


def importance_tables(tables: Tables, result: Any, scene: Any) -> None:
    k = np.asarray(scene.indices)[: scene.n_frames]
    text = result.estimate_text
    true = np.nan if result.true_value is None else result.true_value
    rows: list[list[Any]] = [
        ["samples", tables.add(result.checkpoints[k], "int")],
        [f"plain E[{text}]", tables.add(result.plain_estimate[k])],
        [f"self-normalized E[{text}]", tables.add(result.self_normalized_estimate[k])],
        ["effective sample size", tables.add(result.ess[k])],
        [f"true E[{text}]", tables.add(np.full(len(k), true), missing="unknown")],
    ]
    tables.table(["quantity", "value"], rows)


def metropolis_tables(tables: Tables, result: Any, steps: np.ndarray) -> None:
    scales, chains, _, dim = result.proposals.shape
    accepted = np.concatenate([np.zeros((scales, chains, 1)),
                               np.cumsum(result.accepted, axis=2)], axis=2)  # after t steps
    shown = np.maximum(steps, 1)
    names = coordinate_names(dim)
    if scales == 1:
        low, high = result.distribution.domain if dim == 1 else result.distribution.domain[0]
        decimals = position_decimals(float(high) - float(low))
        rows = []
        for c in range(chains):
            rows.append([f"chain {c + 1}",
                         *(tables.add(result.positions[0, c, steps, i], "fixed",
                                      decimals=decimals) for i in range(dim)),
                         tables.add(100 * accepted[0, c, steps] / shown, "fixed", decimals=1,
                                    unit="%")])
        tables.table(["chain", *names, "accepted"], rows, title="chains")
    checkpoint = np.searchsorted(result.checkpoints, steps, side="right") - 1
    reached = checkpoint >= 0
    at = np.maximum(checkpoint, 0)

    def latest(values: np.ndarray) -> np.ndarray:
        return np.where(reached, values[at], np.nan)

    rows = [["draws kept", tables.add(np.maximum(steps - result.burn_in, 0) * chains, "int")]]
    for s in range(scales):
        suffix = f" (scale {result.scales[s]:g})" if scales > 1 else ""
        rate = accepted[s, :, steps].sum(axis=1) / (chains * shown)
        rows.append([f"accepted{suffix}", tables.add(100 * rate, "fixed", decimals=1,
                                                     unit="%")])
        rows.append([f"ESS{suffix}", tables.add(latest(result.ess[s]))])
        rows.append([f"R-hat{suffix}", tables.add(latest(result.rhat[s]))])
        for i, name in enumerate(names):
            rows.append([f"mean {name}{suffix}", tables.add(latest(result.running_mean[s, :, i]))])
    tables.table(["quantity", "value"], rows,
                 title="all chains (ESS, R-hat, means: at the last diagnostics checkpoint)")


# The page ----------------------------------------------------------------------------------------


def pack(data: dict[str, Any]) -> str:
    """The readout for the page: its JSON without the series' deltas, a NUL byte, then every
    series' deltas in order as variable-length integers (7 bits a byte, low first; 0: missing,
    else 1 + the zig-zag code: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...), all deflated (zlib format:
    the browser's DecompressionStream("deflate")) and base64. A fifth smaller than deflated
    JSON numbers."""
    head = {**data, "series": [{key: value for key, value in entry.items() if key != "v"}
                               for entry in data["series"]]}
    text = json.dumps(head, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    numbers = bytearray()
    for entry in data["series"]:
        for delta in entry["v"]:
            numbers += varint(0 if delta is None else 1 + (2 * delta if delta >= 0
                                                              else -2 * delta - 1))
    packed = text.encode("utf-8") + b"\0" + bytes(numbers)
    return base64.b64encode(zlib.compress(packed, 9)).decode("ascii")


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def unpack(text: str) -> dict[str, Any]:
    """What :func:`pack` packed, read as the player reads it."""
    raw = zlib.decompress(base64.b64decode(text))
    position = raw.index(b"\0") + 1
    data = json.loads(raw[: position - 1].decode("utf-8"))
    for entry in data["series"]:
        deltas: list[int | None] = []
        for _ in range(data["frames"]):
            value, shift = 0, 0
            while True:
                byte = raw[position]
                position += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            zigzag = value - 1
            deltas.append(None if value == 0 else
                          (zigzag >> 1) if zigzag % 2 == 0 else -(zigzag >> 1) - 1)
        entry["v"] = deltas
    return data


# Printable ASCII but for what would need escaping in a script element or a JavaScript string.
ALPHABET = "".join(c for c in map(chr, range(33, 127)) if c not in "\"&'<>\\")[:85]


def base85(data: bytes) -> str:
    """``data`` as text, 5 characters of :data:`ALPHABET` per 4 bytes (big-endian base 85, the
    last group padded with zeros; the page knows the true length): a sixteenth smaller than
    base64, which is most of the page's weight beyond the video."""
    padded = np.frombuffer(data + b"\0" * (-len(data) % 4), dtype=">u4").astype(np.int64)
    digits = np.stack([(padded // 85**power) % 85 for power in range(4, -1, -1)], axis=1)
    table = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
    return table[digits.ravel()].tobytes().decode("ascii")


def from_base85(text: str, length: int) -> bytes:
    """What :func:`base85` encoded (``length`` bytes), read as the player reads it."""
    lookup = np.zeros(128, dtype=np.int64)
    lookup[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(85)
    digits = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)].reshape(-1, 5)
    values = digits @ (85 ** np.arange(4, -1, -1, dtype=np.int64))
    return values.astype(">u4").tobytes()[:length]


def page_colors(background: str) -> dict[str, str]:
    """Page colours that go with the figure's background (light or dark theme)."""
    from matplotlib.colors import to_rgb

    red, green, blue = to_rgb(background)
    dark = 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5
    if dark:
        return {"bg": background, "fg": "#e8e8e8", "muted": "#a0a0a0", "line": "#444444",
                "accent": "#6cb4ff", "scheme": "dark"}
    return {"bg": background, "fg": "#1f1f1f", "muted": "#666666", "line": "#d9d9d9",
            "accent": "#1565c0", "scheme": "light"}


def page_template() -> str:
    """``player.html`` without indentation and whole-line comments (a tenth of the page's
    weight beside the video: the size budget is the base64 video plus a few kB)."""
    text = resources.files("optiviz.render").joinpath("player.html").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines
                     if line and not line.startswith("// ") and
                     not (line.startswith("/* ") and line.endswith(" */")))


def player_page(video: bytes, data: dict[str, Any] | None, *, title: str, fps: float,
                frames: int, width: int, height: int, loop: bool,
                background: str = "#ffffff") -> bytes:
    """The whole page: ``video`` (MP4 bytes), the readout ``data`` (:func:`readout`, or None for
    none), the player. Byte-identical for identical arguments."""
    template = page_template()
    colors = page_colors(background)
    config = {"fps": fps, "frames": int(frames), "loop": bool(loop), "bytes": len(video),
              "alphabet": ALPHABET}
    parts = {
        "@TITLE@": html.escape(title),
        "@BG@": colors["bg"], "@FG@": colors["fg"], "@MUTED@": colors["muted"],
        "@LINE@": colors["line"], "@ACCENT@": colors["accent"], "@SCHEME@": colors["scheme"],
        "@WIDTH@": str(int(width)), "@HEIGHT@": str(int(height)),
        "@CONFIG@": json.dumps(config, separators=(",", ":")),
        "@READOUT@": pack(data) if data is not None else "",
    }
    for token, text in parts.items():
        template = template.replace(token, text)
    # the video last: nothing is searched for in its base64
    head, tail = template.split("@VIDEO@")
    return head.encode("utf-8") + base85(video).encode("ascii") + tail.encode("utf-8")


def page_for(experiment: Any, result: Any, video: bytes) -> bytes:
    """The page of an MP4 already rendered from ``result`` (``video``: its bytes), as
    ``-o page.html`` would write it: the scene is built again, for its frame -> step mapping
    only, no frame is drawn."""
    import matplotlib

    from optiviz.render import build_scene
    from optiviz.render.glyphs import font_families, user_texts

    settings = experiment.render
    with matplotlib.rc_context({"svg.hashsalt": "optiviz", "path.simplify": False,
                                "font.family": font_families(user_texts(experiment))}):
        scene = build_scene(experiment, result)
    figure = scene.figure
    width, height = (int(v) + int(v) % 2 for v in figure.bbox.size)
    return player_page(video, readout(experiment, result, scene),
                       title=page_title(experiment, result), fps=settings.fps,
                       frames=scene.n_frames, width=width, height=height, loop=settings.loop,
                       background=matplotlib.colors.to_hex(figure.get_facecolor()))


def page_title(experiment: Any, result: Any) -> str:
    title = experiment.render.title or experiment.title
    if not title and experiment.kind == "sampling":
        title = getattr(getattr(result, "distribution", None), "title", None)
    return str(title or experiment.name)


@register_writer("html", "one self-contained page: the MP4 with a player and a readout "
                         "of each frame's numbers")
class HtmlWriter:
    """The frames go to an :class:`Mp4Writer` writing a hidden file beside the output (it needs
    a seekable file for +faststart); ``finish`` wraps its bytes into :func:`player_page` and
    removes it. ``attach_run`` (called by the renderer before the first frame) gives the
    readout; without it the page has no readout."""

    animated: ClassVar[bool] = True

    def __init__(self, path: Path, width: int, height: int, *, fps: float = 30,
                 loop: bool = True, background: str = "#ffffff",
                 key_colors: tuple[str, ...] = ()):
        from optiviz.atomic import remove_stale_temporaries, target_of

        self.path = Path(path)
        self.size = (width, height)
        self.fps = fps
        self.loop = loop
        self.background = background
        self.data: dict[str, Any] | None = None
        self.title = target_of(self.path).stem
        self.frames = 0
        # named like the temporary file of an MP4 output, so that a killed run's leftover is
        # removed by the next write (of this page: below; of that MP4: by atomic_output)
        self.video_path = self.path.with_suffix(".mp4")
        remove_stale_temporaries(target_of(self.video_path))
        self.video = Mp4Writer(self.video_path, width, height, fps=fps, loop=loop,
                               background=background, key_colors=key_colors)

    def attach_run(self, experiment: Any, result: Any, scene: Any) -> None:
        self.data = readout(experiment, result, scene)
        self.title = page_title(experiment, result)
        self.frames = int(scene.n_frames)

    def append(self, frame: np.ndarray, repeat: int = 1) -> None:
        self.video.append(frame, repeat)

    def finish(self) -> None:
        try:
            self.video.finish()
            video = self.video_path.read_bytes()
        finally:
            self.video_path.unlink(missing_ok=True)
        if not self.frames:
            raise OptivizError("the HTML player needs the run it shows (attach_run)")
        width, height = (v + v % 2 for v in self.size)
        self.path.write_bytes(player_page(video, self.data, title=self.title, fps=self.fps,
                                          frames=self.frames, width=width, height=height,
                                          loop=self.loop, background=self.background))

    def abort(self) -> None:
        self.video.abort()
        self.video_path.unlink(missing_ok=True)
