"""A title never runs off the frame: it shrinks a little, then wraps (a formula at its
top-level + and -, each line typeset on its own)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from optiviz.cli import cli
from optiviz.render.scene import _math_terms, _wrapped

LONG = ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2 + 0.1*sin(3*x)*cos(3*y) + 0.05*(x**2 + y**2)"
        " + exp(-(x-1)**2 - (y+1)**2)")


def test_a_formula_is_cut_only_at_its_top_level_signs():
    terms = _math_terms(r"{\left(x - 1\right)}^{2} + \exp\left(-x - y\right) - 3 y")
    assert terms == [r"{\left(x - 1\right)}^{2}", r"+ \exp\left(-x - y\right)", "- 3 y"]
    assert _wrapped("$a + b + c + d$", 2) == "$a + b$\n$+ c + d$"


@pytest.mark.parametrize("width,height", [(960, 540), (480, 300)])
def test_a_long_expression_title_fits_the_frame(tmp_path, width, height, monkeypatch):
    from optiviz.render import scene

    seen = []
    original = scene.fit_title

    def spy(figure, text, **kwargs):
        title = original(figure, text, **kwargs)
        seen.append((title.get_window_extent(figure.canvas.get_renderer()), figure.bbox))
        return title

    monkeypatch.setattr("optiviz.render.landscape.fit_title", spy)
    config = tmp_path / "long.yaml"
    config.write_text(f'function: {{expr: "{LONG}", domain: [[-5, 5], [-5, 5]]}}\n'
                      "start: [[0, 0]]\nsteps: 5\noptimizers: [{name: adam, lr: 0.1}]\n"
                      f"render: {{output: l.png, width: {width}, height: {height}}}\n")
    result = CliRunner().invoke(cli, ["run", str(config), "-q", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ((box, frame),) = seen
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
