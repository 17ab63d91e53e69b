"""Fixed costs every command (and every batch) pays once: each is work skipped, never a
behaviour changed. Plugins are still found when a name needs them, a bad formula is still
refused with its message, and the interpreter still exits with the command's status."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from optiviz import config
from optiviz.errors import ConfigError

CONFIG = """\
function: rosenbrock
start: [-1.5, 2.0]
steps: 20
optimizers: [{name: adam, lr: 0.05}, {name: SGD, lr: 0.001}]
"""


def test_built_in_optimizers_are_looked_up_without_reading_entry_points(tmp_path, monkeypatch):
    import importlib.metadata

    from optiviz.optimizers import OPTIMIZERS

    read = []
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: read.append(kw) or [])
    monkeypatch.setattr(OPTIMIZERS, "_discovered", False)
    path = tmp_path / "race.yaml"
    path.write_text(CONFIG)
    experiment = config.load(path)
    assert [o.name for o in experiment.optimizers] == ["adam", "sgd"]
    assert "adam" in OPTIMIZERS and "Adam" in OPTIMIZERS
    assert read == []
    # a name that is not built in still looks for plugins (and then names the nearest)
    path.write_text(CONFIG.replace("SGD", "sgdd"))
    with pytest.raises(ConfigError, match="sgd"):
        config.load(path)
    assert read == [{"group": "optiviz.optimizers"}]


def test_a_formula_is_parsed_once_and_a_bad_one_refused_every_time(tmp_path):
    text = r"$x^2 + \frac{y}{3}$"
    config._typeset_problem.cache_clear()
    config.check_typeset(text, ("title",))
    config.check_typeset(text, ("render", "title"))
    info = config._typeset_problem.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    bad = r"$\frac{a}{b$"
    for path in (("title",), ("optimizers", 0, "label")):
        with pytest.raises(ConfigError, match="cannot be typeset") as caught:
            config.check_typeset(bad, path)
        assert caught.value.path == path


def test_the_command_line_freezes_the_collector_only_when_the_command_is_over(monkeypatch):
    from optiviz import cli

    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(sys, "argv", ["optiviz", "list", "functions"])
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 0
    assert calls == ["freeze"]


def test_exit_status_and_output_survive_the_frozen_shutdown(tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text(CONFIG)
    ok = subprocess.run([sys.executable, "-m", "optiviz", "validate", str(path)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout + ok.stderr
    path.write_text(CONFIG.replace("adam", "adamm"))
    bad = subprocess.run([sys.executable, "-m", "optiviz", "validate", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "adam" in bad.stderr
    assert "Traceback" not in bad.stderr

