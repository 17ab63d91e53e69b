"""The docs name everything the registries and the loader accept, so they cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from optiviz.config import OPTIMIZER_ENTRY_KEYS, RENDER_PARAMS, TOP_LEVEL_KEYS
from optiviz.optimizers import OPTIMIZERS
from optiviz.schedules import SCHEDULES

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "CONFIG.md").read_text()
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("key", TOP_LEVEL_KEYS + OPTIMIZER_ENTRY_KEYS)
def test_config_keys_are_documented(key):
    assert f"`{key}`" in REFERENCE


@pytest.mark.parametrize("param", RENDER_PARAMS, ids=lambda p: p.name)
def test_render_keys_are_documented(param):
    assert f"`{param.name}`" in REFERENCE


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_optimizers_are_documented(name):
    assert name in REFERENCE and f"`{name}`" in README or name in README


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedules_are_documented(name):
    assert f"`{name}`" in REFERENCE


def test_readme_first_screen_has_a_gif_and_the_two_commands():
    first_screen = "\n".join(README.splitlines()[:20])
    assert ".gif)" in first_screen
    assert "make demo" in first_screen and "make test" in first_screen


def test_every_gallery_link_exists():
    import re

    for document in (ROOT / "README.md", ROOT / "examples" / "README.md"):
        text = document.read_text()
        for link in re.findall(r"\]\(([^)#]+?\.(?:gif|mp4|html|ipynb|json|yml|md))\)", text):
            assert (document.parent / link).exists(), f"{document.name}: {link}"


def test_every_curated_config_has_a_gallery_animation():
    names = {p.stem for p in (ROOT / "configs").rglob("*.yaml")}
    rendered = {p.stem for p in (ROOT / "examples" / "gallery").glob("*.gif")}
    assert names <= rendered
