"""Characters the font cannot draw: borrow them from an installed font, else say so once.

Matplotlib draws a character its font lacks as an empty box and warns once per glyph and draw,
in a multi-line block. Before a scene is built, :func:`font_families` checks the texts the user
wrote (title, labels, the estimate) against the font the theme uses. For characters it lacks it
appends installed fonts that have them to ``font.family``, and Matplotlib then takes each
character from the first font in the list that has it; characters that no installed font has
are reported by one :class:`MissingGlyphs` warning per text (the CLI prints it as one line).
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from collections.abc import Iterable
from typing import Any

# Matplotlib's own last-resort font "has" every character, drawn as a box: never a fallback.
NOT_FALLBACKS = ("Last Resort",)
_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$", re.DOTALL)


class MissingGlyphs(UserWarning):
    """Characters of a text that no installed font can draw. ``glyphs``: the characters."""

    def __init__(self, where: str, glyphs: Iterable[str], font: str):
        self.where = where
        self.glyphs = tuple(glyphs)
        self.font = font
        shown = ", ".join(f"'{g}'" for g in self.glyphs)
        plural = len(self.glyphs) > 1
        super().__init__(
            f"{where}: {'glyphs' if plural else 'glyph'} {shown} {'are' if plural else 'is'} "
            f"missing from {font} and every other installed font; "
            f"{'they are' if plural else 'it is'} drawn as {'boxes' if plural else 'a box'}"
        )


def user_texts(experiment: Any) -> dict[str, tuple[str, str]]:
    """The texts a config's author wrote and a frame shows, by the key they came from, each
    with the weight it is drawn at (titles are bold)."""
    texts: dict[str, tuple[str, str]] = {}
    if experiment.title:
        texts["title"] = (experiment.title, "bold")
    if getattr(experiment.render, "title", None):
        texts["render.title"] = (experiment.render.title, "bold")
    for index, entry in enumerate(experiment.optimizers):
        texts[f"optimizers[{index}].label"] = (entry.label, "normal")
    if experiment.sampling is not None and experiment.sampling.options.get("estimate_text"):
        texts["sampling.estimate"] = (experiment.sampling.options["estimate_text"], "normal")
    return texts


def font_families(texts: dict[str, tuple[str, str]]) -> list[str]:
    """``font.family`` for drawing ``texts`` (key -> (text, weight)): the current families,
    then installed font families that have the characters the first font lacks. Warns
    (:class:`MissingGlyphs`, one per text) about characters that no installed font has."""
    import matplotlib

    families = list(matplotlib.rcParams["font.family"])
    primary = _font_name(_font_path(tuple(families), "normal"))
    wanted: dict[str, set[tuple[str, str]]] = {}
    for key, (text, weight) in texts.items():
        covered = _charmap(_font_path(tuple(families), weight))
        wanted[key] = {(weight, c) for c in _drawn_characters(text) if ord(c) not in covered}
    missing = set().union(*wanted.values()) if wanted else set()
    if not missing:
        return families
    chosen, left = _fallbacks(missing, exclude={primary, *families})
    for key, (text, weight) in texts.items():
        lost = [c for c in dict.fromkeys(_drawn_characters(text)) if (weight, c) in left]
        if lost:
            warnings.warn(MissingGlyphs(key, lost, primary), stacklevel=2)
    return families + chosen


def _drawn_characters(text: str) -> str:
    """The characters drawn in the text font: ``$...$`` mathtext and whitespace left out."""
    plain = _MATH.sub("", text) if text.count("$") - text.count(r"\$") >= 2 else text
    return "".join(c for c in plain if c.isprintable() and not c.isspace())


@functools.cache
def _font_path(families: tuple[str, ...], weight: str) -> str | None:
    """The file Matplotlib draws ``families`` at ``weight`` from (None: no such family)."""
    from matplotlib import font_manager

    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)  # "failed to find font weight bold" is what we are asking
    try:
        return font_manager.findfont(
            font_manager.FontProperties(family=list(families), weight=weight),
            fallback_to_default=False)
    except ValueError:
        return None
    finally:
        log.setLevel(level)


def _font_name(path: str | None) -> str:
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if entry.fname == path:
            return entry.name
    return "the default font"


@functools.cache
def _charmap(path: str | None) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    if path is None:
        return frozenset()
    try:
        font = FT2Font(path)
        if not font.face_flags & type(font.face_flags).SCALABLE:
            return frozenset()  # bitmap-only (colour emoji) fonts cannot be drawn at any size
        return frozenset(font.get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _fallbacks(missing: set[tuple[str, str]], *, exclude: set[str]
               ) -> tuple[list[str], set[tuple[str, str]]]:
    """Installed families chosen greedily, each drawing the most still-missing (weight,
    character) pairs, ties broken by name so that the choice is reproducible; and the pairs
    that no family draws."""
    from matplotlib import font_manager

    names = sorted({entry.name for entry in font_manager.fontManager.ttflist
                    if entry.name not in exclude
                    and not any(entry.name.startswith(bad) for bad in NOT_FALLBACKS)})
    weights = sorted({weight for weight, _ in missing})

    def draws(name: str) -> set[tuple[str, str]]:
        return {(weight, c) for weight in weights
                for c in (ch for w, ch in missing if w == weight)
                if ord(c) in _charmap(_font_path((name,), weight))}

    left, chosen = set(missing), []
    coverage = {name: draws(name) for name in names}
    while left:
        best = max(names, key=lambda name: len(coverage[name] & left), default=None)
        if best is None or not coverage[best] & left:
            break
        chosen.append(best)
        left -= coverage[best]
    return chosen, left
