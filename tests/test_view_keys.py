"""A render key the chosen view draws nothing with is refused at its line, naming the view that
uses it — never silently ignored (the camera of a contour map, the levels of a surface, the
trail of a particle cloud)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from optiviz.cli import cli

CONFIG = ("function: himmelblau\nstart: {start}\nsteps: 5\noptimizers: [{{name: adam, lr: 0.1}}]"
          "\nrender: {{view: {view}, {key}, output: x.png, width: 240, height: 180}}\n")


@pytest.mark.parametrize("view,key,start,message", [
    ("contour", "orbit: true", "[[1, 1]]", "render.orbit: not used by the contour view (only by "
                                           "view: surface)"),
    ("contour", "azim: 30", "[[1, 1]]", "render.azim: not used by the contour view"),
    ("surface", "levels: 12", "[[1, 1]]", "render.levels: not used by the surface view (only "
                                          "by view: contour)"),
    ("contour", "trail: 5", "{random: 40}", "render.trail: not used by the particle-cloud view"),
])
def test_a_render_key_the_view_does_not_draw_is_refused(tmp_path, view, key, start, message):
    config = tmp_path / "v.yaml"
    config.write_text(CONFIG.format(view=view, key=key, start=start))
    for command in (["validate", str(config)],
                    ["run", str(config), "--out-dir", str(tmp_path / "out")]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2
        assert result.output.strip() == f"error: {config}:5: {message}" or \
            result.output.startswith(f"error: {config}:5: {message}")
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "x.png").exists()


@pytest.mark.parametrize("view,key", [("surface", "orbit: true"), ("contour", "levels: 12"),
                                      ("contour", "trail: 5")])
def test_the_view_that_draws_a_key_takes_it(tmp_path, view, key):
    config = tmp_path / "v.yaml"
    config.write_text(CONFIG.format(view=view, key=key, start="[[1, 1]]"))
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 0, result.output
