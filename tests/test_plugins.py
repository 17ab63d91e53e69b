"""NumPy optimizer plugins: the docs/PLUGINS.md example, named by import path and registered as
an entry point, is validated, listed, offered by init, swept, scheduled and rendered.

The entry-point tests run in a subprocess whose sys.path holds a ``*.dist-info`` folder made from
tests/plugin_pkg/pyproject.toml (what ``pip install -e tests/plugin_pkg`` writes), so the plugin
exists only there: installing it into the shared test venv would make ``signum`` a registry name
in every other test (those that check every optimizer is documented, for one)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optiviz.cli import cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "plugin_pkg"
EXAMPLE = PACKAGE / "optiviz_signum" / "__init__.py"


def test_the_docs_example_is_the_file_the_tests_run():
    doc = (ROOT / "docs" / "PLUGINS.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert EXAMPLE.read_text() in blocks
    code_lines = [line for line in EXAMPLE.read_text().splitlines() if line.strip()]
    assert len(code_lines) <= 25


@pytest.fixture
def on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(PACKAGE))
    yield
    sys.modules.pop("optiviz_signum", None)


def signum_reference(start, lr, beta, steps):
    """Signum by hand on Rosenbrock's closed-form gradient."""
    from optiviz.functions import make_function

    function = make_function("rosenbrock")
    p, m, path = np.array(start, dtype=float), np.zeros(2), [np.array(start, dtype=float)]
    for _ in range(steps):
        gx, gy = function.grad(np.array([p[0]]), np.array([p[1]]))
        m = beta * m + (1 - beta) * np.array([gx[0], gy[0]])
        p = p - lr * np.sign(m)
        path.append(p)
    return np.array(path)


def run(tmp_path, optimizers, *args):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"function": "rosenbrock", "start": [[-1.2, 1.0], [0.5, -0.5]],
                                    "steps": 12, "optimizers": optimizers}))
    return CliRunner().invoke(cli, ["run", str(path), *args])


def test_plugin_by_import_path_runs_and_matches_its_update_rule(tmp_path, on_path):
    data = tmp_path / "runs.npz"
    result = run(tmp_path, [{"name": "optiviz_signum:signum", "lr": 0.05, "momentum": 0.5}],
                 "--no-render", "--data", str(data))
    assert result.exit_code == 0, result.output
    with np.load(data) as npz:
        positions, labels = npz["positions"], npz["label"]
    for r, start in enumerate([[-1.2, 1.0], [0.5, -0.5]]):
        np.testing.assert_array_equal(positions[r], signum_reference(start, 0.05, 0.5, 12))
    assert labels[0] == "optiviz_signum:signum lr=0.05"


@pytest.mark.parametrize("entry, message", [
    ({"name": "optiviz_signum:signum", "lrr": 0.1}, "optimizers[0].lrr: unknown key; did you "
                                                    "mean 'lr'?"),
    ({"name": "optiviz_signum:signum", "momentum": 1.5}, "optimizers[0].momentum: must be in"),
    ({"name": "optiviz_signum:nothing"}, "optimizers[0].name: 'optiviz_signum' has no 'nothing'"),
    ({"name": "no_such_pkg.opt:signum"}, "optimizers[0].name: cannot import 'no_such_pkg.opt': "
                                         "no module named 'no_such_pkg'"),
    ({"name": "optiviz_signum:np"}, "optimizers[0].name: optiviz_signum:np is not an optimizer: "
                                    "it has no 'params', 'init', 'step' (see docs/PLUGINS.md)"),
    ({"name": "optiviz_signum:init"}, "is not an optimizer: it has no 'params'"),
])
def test_bad_plugin_entries_fail_with_one_line(tmp_path, on_path, entry, message):
    out = tmp_path / "out.gif"
    result = run(tmp_path, [entry], "-o", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


ENTRY_POINT_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from click.testing import CliRunner
    from optiviz.cli import cli

    out = {}
    runner = CliRunner()
    out["list"] = runner.invoke(cli, ["list", "optimizers"]).output
    init = runner.invoke(cli, ["init", "--function", "rosenbrock", "--optimizers", "signum,adam"])
    out["init"] = init.output
    folder = sys.argv[1]
    open(folder + "/init.yaml", "w").write(init.output)
    out["validate_init"] = runner.invoke(cli, ["validate", folder + "/init.yaml"]).exit_code
    result = runner.invoke(cli, ["run", folder + "/race.yaml", "-o", folder + "/race.gif",
                                 "--data", folder + "/race.npz"])
    out["run"] = [result.exit_code, result.output]
    result = runner.invoke(cli, ["validate", folder + "/bad.yaml"])
    out["bad"] = [result.exit_code, result.output]
    result = runner.invoke(cli, ["validate", folder + "/broken.yaml"])
    out["broken"] = [result.exit_code, result.output]
    print(json.dumps(out))
""")


def dist_info(folder: Path, name: str, points: dict[str, str]) -> None:
    """What an installed package leaves for importlib.metadata: METADATA and entry_points.txt."""
    info = folder / f"{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = ["[optiviz.optimizers]"] + [f"{k} = {v}" for k, v in points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_entry_point_plugin_is_a_registry_name(tmp_path):
    # The entry points tests/plugin_pkg/pyproject.toml declares (tomllib needs Python 3.11).
    section = (PACKAGE / "pyproject.toml").read_text().split(
        '[project.entry-points."optiviz.optimizers"]')[1].split("\n[")[0]
    points = dict(re.findall(r'^(\w+) = "([\w.:]+)"$', section, flags=re.M))
    assert points == {"signum": "optiviz_signum:signum"}
    site = tmp_path / "site"
    dist_info(site, "optiviz_signum", points)
    dist_info(site, "broken_plugins", {"broken": "no_such_module:thing",
                                       "adam": "optiviz_signum:signum"})
    (tmp_path / "race.yaml").write_text(yaml.safe_dump({
        "function": "rosenbrock", "start": [[-1.2, 1.0], [0.5, -0.5]], "steps": 12,
        "optimizers": [{"name": "signum", "lr": [0.02, 0.05], "schedule": {"name": "cosine"}},
                       {"name": "adam", "lr": 0.05}],
        "render": {"width": 240, "height": 180, "frames": 4, "hold": 0},
    }))
    (tmp_path / "bad.yaml").write_text(
        "function: rosenbrock\nstart: [0, 0]\noptimizers:\n  - {name: signum, lrr: 0.1}\n")
    (tmp_path / "broken.yaml").write_text(
        "function: rosenbrock\nstart: [0, 0]\noptimizers:\n  - {name: broken}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(PACKAGE), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", ENTRY_POINT_SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    listing = out["list"]
    assert re.search(r"^signum\s+lr: 0.01, momentum: 0.9\s+SGD on the sign of momentum", listing,
                     flags=re.M), listing
    assert "[plugin optiviz_signum:signum]" in " ".join(listing.split())
    assert "plugin broken not loaded: entry point broken = no_such_module:thing failed to load: " \
           "ModuleNotFoundError" in listing
    assert "plugin adam not loaded: entry point optiviz_signum:signum clashes with the " \
           "built-in optimizer 'adam'" in listing
    assert "name: signum" in out["init"] and out["validate_init"] == 0
    assert out["run"][0] == 0, out["run"][1]
    assert (tmp_path / "race.gif").stat().st_size > 0
    with np.load(tmp_path / "race.npz") as npz:
        assert sorted(set(npz["label"].tolist())) == ["Adam lr=0.05", "signum lr=0.02",
                                                      "signum lr=0.05"]
    assert out["bad"][0] == 2
    assert "bad.yaml:4: optimizers[0].lrr: unknown key; did you mean 'lr'?" in out["bad"][1]
    assert out["broken"][0] == 2
    assert "optimizers[0].name: optimizer plugin 'broken': entry point broken = " \
           "no_such_module:thing failed to load" in out["broken"][1]


def test_torch_entry_keys_are_documented():
    reference = (ROOT / "docs" / "CONFIG.md").read_text()
    for key in ("torch", "batched"):
        assert f"`{key}`" in reference
    assert "exact only for elementwise optimizers" in reference
    assert "optiviz.optimizers" in (ROOT / "docs" / "PLUGINS.md").read_text()
