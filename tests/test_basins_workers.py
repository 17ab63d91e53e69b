"""The basin map's forked workers: a finished map lets them exit by themselves (no terminate()
racing their end-of-work sentinels: that hung about one run in 40), SIGTERM kills a worker
whatever Python handler its parent had, and a map stopped by a signal leaves no output and no
worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optiviz import streaming
from optiviz.config import load

MAP = """\
function: himmelblau
start: {{grid: [{side}, {side}]}}
steps: {steps}
optimizers: [{{name: adam, lr: 0.1}}]
render: {{view: basins, output: map.png, width: 320, height: 240}}
"""


def test_a_worker_dies_of_sigterm_whatever_handler_its_parent_had(monkeypatch):
    from optiviz import atomic

    monkeypatch.setattr(atomic, "exit_with_parent", lambda signum=None: None)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a handler that never raises
    try:
        streaming._child_setup()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_finished_map_closes_its_pool_and_an_interrupted_one_terminates_it(
        tmp_path, monkeypatch):
    import multiprocessing.pool

    calls: list[str] = []
    for name in ("close", "terminate"):
        original = getattr(multiprocessing.pool.Pool, name)

        def spy(self, _original=original, _name=name):
            calls.append(_name)
            return _original(self)

        monkeypatch.setattr(multiprocessing.pool.Pool, name, spy)
    path = tmp_path / "map.yaml"
    path.write_text(MAP.format(side=200, steps=5))
    experiment = load(path)
    maps = streaming.run_basins(experiment, still=True, workers=2, block=4096)
    assert calls == ["close"]
    assert maps is not None
    calls.clear()

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        streaming.run_basins(experiment, still=True, workers=2, block=4096, progress=stop)
    assert calls == ["terminate"]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc for the workers")
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_map_and_its_workers(tmp_path, signum, status):
    config = tmp_path / "map.yaml"
    config.write_text(MAP.format(side=1000, steps=400))
    process = subprocess.Popen(
        [sys.executable, "-m", "optiviz", "run", str(config), "-q", "--out-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not children_of(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children_of(process.pid)
    assert workers, "the map never started its workers"
    os.kill(process.pid, signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert not (tmp_path / "map.png").exists()
    time.sleep(0.2)
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or \
            (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z")
