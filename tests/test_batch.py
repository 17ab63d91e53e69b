"""optiviz.batch: path expansion, planning and cache, parallel execution, manifest, Dask.

Two layers of tests. Most use a stand-in for ``optiviz.api.run_file`` (and ``config.load``)
installed with monkeypatch; worker processes are forked, so they inherit it. The last group
renders real tiny configs end to end (engine + renderer) in worker processes and on a Dask
LocalCluster.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import optiviz
from optiviz import api, batch
from optiviz import config as config_module
from optiviz.errors import ConfigError, OptivizError
from optiviz.experiment import Experiment, RenderConfig

# A stand-in pipeline --------------------------------------------------------------------------


def fake_load(path, overrides=(), *, render=True):
    text = Path(path).read_text()
    if "broken" in text:
        raise ConfigError("unknown optimizer 'adma'", ("optimizers", 0, "name"), file=str(path),
                          line=3, suggestion="adam")
    output = None
    for line in text.splitlines():
        if line.startswith("output:"):
            output = line.split(":", 1)[1].strip()
    return Experiment(name=Path(path).stem, title=None, source=Path(path),
                      render=RenderConfig(output=output))


def fake_run_file(path, *, output=None, out_dir=None, data=None, render=True, quiet=True,
                  overrides=()):
    text = Path(path).read_text()
    if "explode" in text:
        raise RuntimeError("renderer crashed\nsecond line of the traceback text")
    target = api.output_path(fake_load(path), out_dir=out_dir)
    target.write_bytes(hashlib.sha256(text.encode()).digest() * 8)
    return api.RunReport(config=Path(path), outputs=[target], seconds=0.01,
                         final={"Adam": 0.5, "SGD": None})


@pytest.fixture
def fake_pipeline(monkeypatch):
    monkeypatch.setattr(config_module, "load", fake_load)
    monkeypatch.setattr(api, "run_file", fake_run_file)
    monkeypatch.setattr(batch, "POOL_START_METHOD", "fork")


def write_configs(folder: Path, texts: dict[str, str]) -> list[Path]:
    paths = []
    for name, text in texts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def manifest_entries(out_dir: Path) -> dict[str, dict]:
    document = json.loads((out_dir / "manifest.json").read_text())
    return {Path(e["config"]).name: e for e in document["configs"]}


# expand_paths ---------------------------------------------------------------------------------


def test_expand_folder_recurses_for_yaml_and_yml_only(tmp_path):
    write_configs(tmp_path, {"b.yaml": "", "sub/a.yml": "", "notes.txt": "", "c.json": ""})
    found = batch.expand_paths([str(tmp_path)])
    assert [p.name for p in found] == ["b.yaml", "a.yml"]


def test_expand_skips_hidden_entries_inside_a_folder(tmp_path):
    write_configs(tmp_path, {"a.yaml": "", ".hidden/b.yaml": "", ".c.yaml": ""})
    assert [p.name for p in batch.expand_paths([str(tmp_path)])] == ["a.yaml"]


def test_expand_globs_and_files_sorted_and_deduplicated(tmp_path):
    write_configs(tmp_path, {"z.yaml": "", "m.yaml": "", "deep/x.yaml": ""})
    found = batch.expand_paths(
        [str(tmp_path / "z.yaml"), str(tmp_path / "*.yaml"), str(tmp_path / "**" / "x.yaml"),
         str(tmp_path)]
    )
    assert [p.name for p in found] == ["x.yaml", "m.yaml", "z.yaml"]
    assert found == sorted(found, key=str)


def test_expand_a_named_file_is_kept_whatever_its_suffix(tmp_path):
    (path,) = write_configs(tmp_path, {"experiment.conf": ""})
    assert batch.expand_paths([str(path)]) == [path]


@pytest.mark.parametrize("pattern", ["missing.yaml", "nothing-*.yaml", "empty"])
def test_expand_a_path_matching_nothing_is_an_error_naming_it(tmp_path, pattern):
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptivizError, match="nothing-|missing|empty"):
        batch.expand_paths([str(tmp_path / pattern)])


# Hashes, lines, manifest ----------------------------------------------------------------------


def test_content_hash_depends_on_text_version_and_output(tmp_path):
    base = batch.content_hash(b"steps: 10", tmp_path / "a.gif", "1.0")
    assert base == batch.content_hash(b"steps: 10", tmp_path / "a.gif", "1.0")
    assert base != batch.content_hash(b"steps: 11", tmp_path / "a.gif", "1.0")
    assert base != batch.content_hash(b"steps: 10", tmp_path / "a.gif", "1.1")
    assert base != batch.content_hash(b"steps: 10", tmp_path / "b.gif", "1.0")


def test_one_line_keeps_our_messages_and_names_foreign_errors():
    assert batch.one_line(ConfigError("bad", ("steps",), file="a.yaml", line=2)) == (
        "a.yaml:2: steps: bad"
    )
    assert batch.one_line(ValueError("x\n  y")) == "ValueError: x y"


def test_progress_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = batch.OutputFile(tmp_path / "out" / "beale.gif", 10, "0" * 64)
    ok = batch.JobResult(Path("configs/beale.yaml"), batch.OK, (out,), 1.23)
    line = batch.progress_line(3, 12, ok)
    assert line == "[3/12] ok   configs/beale.yaml -> out/beale.gif (1.2 s)"
    skipped = batch.JobResult(Path("configs/beale.yaml"), batch.SKIPPED, (out,))
    assert batch.progress_line(1, 2, skipped).startswith("[1/2] skip configs/beale.yaml -> ")
    failed = batch.JobResult(Path("configs/x.yaml"), batch.FAILED, error="x.yaml:3: steps: bad")
    assert batch.progress_line(2, 2, failed) == "[2/2] FAIL configs/x.yaml: x.yaml:3: steps: bad"


def test_an_unreadable_manifest_is_an_empty_cache(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    assert batch.read_manifest(tmp_path / "manifest.json") == {}
    assert batch.read_manifest(tmp_path / "absent.json") == {}


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "manifest.json"
    batch.atomic_write_text(target, "one")
    batch.atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


# Batches with the stand-in pipeline -----------------------------------------------------------

GOOD = {f"c{i}.yaml": f"steps: {i}\n" for i in range(4)}


def test_one_broken_config_fails_alone(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path / "configs", {**GOOD, "bad.yaml": "broken: yes\n",
                                                 "boom.yaml": "explode: yes\n"})
    lines: list[str] = []
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2, progress=lines.append)
    assert not report.ok
    assert report.count(batch.OK) == 4 and report.count(batch.FAILED) == 2
    entries = manifest_entries(tmp_path / "out")
    assert entries["bad.yaml"]["error"].endswith("did you mean 'adam'?")
    assert entries["boom.yaml"]["error"] == (
        "RuntimeError: renderer crashed second line of the traceback text"
    )
    for name in GOOD:
        entry = entries[name]
        output = tmp_path / "out" / entry["outputs"][0]["path"]
        assert entry["status"] == "ok" and output.name == name.replace(".yaml", ".gif")
        assert entry["outputs"][0]["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
        assert entry["bytes"] == output.stat().st_size == 256
        assert entry["final"] == {"Adam": 0.5, "SGD": None}
    assert len(lines) == 6
    assert [line.split("]")[0] for line in lines] == [f"[{k}/6" for k in range(1, 7)]
    assert sum("FAIL" in line for line in lines) == 2


def test_all_good_batch_is_ok_and_manifest_lists_every_config(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, GOOD)
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2)
    assert report.ok and report.manifest == tmp_path / "out" / "manifest.json"
    document = json.loads(report.manifest.read_text())
    assert document["optiviz"] == optiviz.__version__
    assert document["summary"] == {"ok": 4, "skipped": 0, "failed": 0, "cancelled": 0}


def test_second_run_skips_unchanged_and_reruns_changed(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, GOOD)
    out_dir = tmp_path / "out"
    batch.run_batch(paths, out_dir=out_dir, jobs=2)
    (tmp_path / "c1.yaml").write_text("steps: 100\n")
    (out_dir / "c2.gif").unlink()
    lines: list[str] = []
    report = batch.run_batch(paths, out_dir=out_dir, jobs=2, progress=lines.append)
    status = {r.config.name: r.status for r in report.results}
    assert status == {"c0.yaml": "skipped", "c1.yaml": "ok", "c2.yaml": "ok", "c3.yaml": "skipped"}
    assert report.ok
    assert manifest_entries(out_dir)["c0.yaml"]["final"] == {"Adam": 0.5, "SGD": None}
    assert sum(" skip " in line for line in lines) == 2


def test_a_tampered_output_is_rendered_again(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, {"c.yaml": "steps: 1\n"})
    batch.run_batch(paths, out_dir=tmp_path / "out", jobs=1)
    (tmp_path / "out" / "c.gif").write_bytes(b"not the render")
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=1)
    assert report.results[0].status == "ok"


def test_force_renders_everything_again(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, GOOD)
    batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2)
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2, force=True)
    assert report.count(batch.OK) == 4


def test_a_failed_config_is_not_cached(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, {"boom.yaml": "explode: yes\n"})
    batch.run_batch(paths, out_dir=tmp_path / "out", jobs=1)
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=1)
    assert report.results[0].status == "failed"


def test_entries_of_other_configs_survive_a_partial_batch(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, GOOD)
    batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2)
    batch.run_batch(paths[:1], out_dir=tmp_path / "out", jobs=1, force=True)
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2)
    assert report.count(batch.SKIPPED) == 4


def test_configs_writing_the_same_output_stop_the_batch_before_computing(tmp_path,
                                                                        fake_pipeline):
    paths = write_configs(tmp_path, {"a/x.yaml": "steps: 1\n", "b/x.yaml": "steps: 2\n",
                                     "c.yaml": "steps: 3\n"})
    with pytest.raises(OptivizError, match="would be written twice") as error:
        batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2)
    assert "a/x.yaml" in str(error.value) and "b/x.yaml" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_fail_fast_cancels_pending_jobs(tmp_path, fake_pipeline):
    texts = {"a.yaml": "explode: yes\n", **{f"z{i}.yaml": f"steps: {i}\n" for i in range(12)}}
    paths = write_configs(tmp_path, texts)
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=1, fail_fast=True)
    assert not report.ok
    assert report.results[0].status == "failed"
    assert report.count(batch.CANCELLED) >= 1
    assert report.count(batch.OK) + report.count(batch.CANCELLED) == 12
    entries = manifest_entries(tmp_path / "out")
    assert {e["status"] for e in entries.values()} <= {"failed", "ok", "cancelled"}
    assert len(entries) == 13


def test_fail_fast_after_a_load_error_runs_nothing(tmp_path, fake_pipeline):
    paths = write_configs(tmp_path, {"a.yaml": "broken: yes\n", **GOOD})
    report = batch.run_batch(paths, out_dir=tmp_path / "out", jobs=2, fail_fast=True)
    assert report.count(batch.CANCELLED) == 4
    assert not list((tmp_path / "out").glob("*.gif"))


# End to end: real configs, real engine and renderer --------------------------------------------

TINY = """\
function: {function}
start: {start}
steps: 20
optimizers:
  - {{name: sgd, lr: 0.0002}}
  - {{name: adam, lr: 0.05}}
render: {{width: 160, height: 120, frames: 10, hold: 0.2, fps: 10}}
"""
REAL = {
    "rosenbrock.yaml": TINY.format(function="rosenbrock", start="[-1.5, 2.0]"),
    "booth.yaml": TINY.format(function="booth", start="[-5.0, 5.0]"),
    "beale.yaml": TINY.format(function="beale", start="[1.0, 1.5]"),
    "broken.yaml": TINY.format(function="rosenbrock", start="[-1.5, 2.0]").replace("adam", "adma"),
}


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory):
    """One parallel batch of three good configs and a broken one, run once for several tests."""
    root = tmp_path_factory.mktemp("real")
    paths = write_configs(root / "configs", REAL)
    lines: list[str] = []
    report = batch.run_batch(paths, out_dir=root / "out", jobs=2, progress=lines.append)
    return root, paths, report, lines


def output_hashes(out_dir: Path) -> dict[str, str]:
    return {name: entry["outputs"][0]["sha256"]
            for name, entry in manifest_entries(out_dir).items() if entry["outputs"]}


def test_real_batch_renders_the_good_configs_and_reports_the_broken(real_batch):
    root, _, report, lines = real_batch
    assert not report.ok
    status = {r.config.name: r.status for r in report.results}
    assert status == {"beale.yaml": "ok", "booth.yaml": "ok", "broken.yaml": "failed",
                      "rosenbrock.yaml": "ok"}
    entries = manifest_entries(root / "out")
    error = entries["broken.yaml"]["error"]
    assert "broken.yaml:6: optimizers[1].name: unknown optimizer 'adma'" in error
    for name in ("beale", "booth", "rosenbrock"):
        gif = root / "out" / f"{name}.gif"
        assert gif.read_bytes()[:6] == b"GIF89a"
        assert entries[f"{name}.yaml"]["bytes"] == gif.stat().st_size
        assert len(entries[f"{name}.yaml"]["final"]) == 2
    # one line per job; what a job warned comes as lines of its own (these frames are small)
    assert len([line for line in lines if not line.startswith("warning: ")]) == 4
    assert all("frame is too small" in line for line in lines if line.startswith("warning: "))


def test_real_batch_second_run_is_all_cache_hits(real_batch):
    root, paths, _, _ = real_batch
    again = batch.run_batch(paths, out_dir=root / "out", jobs=2)
    assert [r.status for r in again.results if r.config.name != "broken.yaml"] == ["skipped"] * 3


def test_outputs_are_byte_identical_with_one_or_two_processes(real_batch):
    root, paths, _, _ = real_batch
    batch.run_batch(paths, out_dir=root / "serial", jobs=1)
    assert output_hashes(root / "serial") == output_hashes(root / "out")
    assert len(output_hashes(root / "out")) == 3


def test_dask_cluster_runs_the_same_jobs(real_batch):
    distributed = pytest.importorskip("distributed")
    root, paths, _, _ = real_batch
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        report = batch.run_batch(paths, out_dir=root / "dask", dask=cluster.scheduler_address)
    assert report.count(batch.OK) == 3 and report.count(batch.FAILED) == 1
    assert output_hashes(root / "dask") == output_hashes(root / "out")


def test_jobs_that_took_longest_last_time_are_submitted_first(tmp_path):
    from optiviz.batch import Job, longest_first

    jobs = [(i, Job(tmp_path / f"{name}.yaml", tmp_path, tmp_path / f"{name}.gif", "h"))
            for i, name in enumerate(["quick", "slow", "new", "medium"])]
    previous = {display: {"seconds": seconds} for display, seconds in [
        (str(tmp_path / "quick.yaml"), 0.5), (str(tmp_path / "slow.yaml"), 9.0),
        (str(tmp_path / "medium.yaml"), 3.0)]}
    order = [job.config.stem for _, job in longest_first(jobs, previous)]
    assert order == ["new", "slow", "medium", "quick"]


def test_dask_local_starts_a_cluster_for_the_batch_like_run_does(real_batch):
    pytest.importorskip("distributed")
    root, paths, _, _ = real_batch
    report = batch.run_batch(paths, out_dir=root / "local", dask="local")
    assert report.count(batch.OK) == 3 and report.count(batch.FAILED) == 1
    assert output_hashes(root / "local") == output_hashes(root / "out")
    from click.testing import CliRunner

    from optiviz.cli import cli

    result = CliRunner().invoke(cli, ["batch", *map(str, paths), "--out-dir",
                                      str(root / "cli-local"), "--dask", "local", "-q"])
    assert result.exit_code == 1  # the broken config fails; the others are the same bytes
    assert output_hashes(root / "cli-local") == output_hashes(root / "out")
