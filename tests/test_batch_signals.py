"""A batch stops when told, and only then: signals, killed workers, timeouts, a second batch on
the same out-dir, an unreachable Dask scheduler. Real processes and real signals.

A batch runs in its own session (process group), as under CI. "Slow" configs render 4,000
small MP4 frames (tens of seconds): they are interrupted long before they finish, while their
temporary file exists, so each test costs a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from optiviz.atomic import TEMPORARY_MARK

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="inspects processes through /proc")

QUICK = """\
function: booth
start: [-5.0, 5.0]
steps: 6
optimizers:
  - {name: sgd, lr: 0.01}
render: {width: 160, height: 120, frames: 3, hold: 0}
"""
SLOW = """\
function: booth
start: [-5.0, 5.0]
steps: 4000
optimizers:
  - {name: sgd, lr: 0.0001}
render: {width: 160, height: 120, frames: 4000, hold: 0, output: NAME.mp4}
"""


def configs(folder: Path, *names: str) -> list[str]:
    for name in names:
        text = QUICK if name.startswith("quick") else SLOW.replace("NAME", name)
        (folder / f"{name}.yaml").write_text(text)
    return [f"{name}.yaml" for name in names]


class Batch:
    """``optiviz batch`` in its own process group, its stderr in a file."""

    def __init__(self, folder: Path, *args: str):
        self.folder = folder
        self.out_dir = folder / "G"
        self.stderr_path = folder / f"stderr-{time.monotonic_ns()}.txt"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "optiviz", "batch", *args, "--out-dir", "G"],
                cwd=folder, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )
        self.pid = self.process.pid

    def temporaries(self) -> dict[str, int]:
        """Temporary files in the out-dir: name -> the pid writing it."""
        if not self.out_dir.exists():
            return {}
        return {p.name: int(p.name.split(TEMPORARY_MARK)[1].split(".")[0])
                for p in self.out_dir.iterdir() if TEMPORARY_MARK in p.name}

    def group(self) -> list[int]:
        """Living processes of the batch's process group (workers, ffmpeg), the batch too."""
        return [pid for pid, (state, group) in processes().items()
                if group == self.pid and state != "Z"]

    def wait(self, seconds: float = 60) -> int:
        try:
            return self.process.wait(seconds)
        finally:
            if self.process.poll() is None:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def manifest(self) -> dict[str, dict]:
        document = json.loads((self.out_dir / "manifest.json").read_text())
        return {entry["config"]: entry for entry in document["configs"]}

    def kill_all(self) -> None:
        for pid in self.group():
            with _gone():
                os.kill(pid, signal.SIGKILL)
        self.wait()


class _gone:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, trace):
        return kind is ProcessLookupError


def processes() -> dict[int, tuple[str, int]]:
    """Every process: pid -> (state, process group)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            found[int(entry)] = (fields[0], int(fields[2]))
    return found


def wait_until(condition, seconds: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def started():
    """Batches a test starts; whatever is left of them is killed afterwards."""
    batches: list[Batch] = []
    yield batches
    for batch in batches:
        if batch.process.poll() is None or batch.group():
            batch.kill_all()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_group_stops_everything_and_writes_the_manifest(tmp_path, started,
                                                                        signum):
    batch = Batch(tmp_path, *configs(tmp_path, "quick", "slow1", "slow2"), "-j", "1")
    started.append(batch)
    wait_until(lambda: any(n.startswith(".slow1") for n in batch.temporaries()),
               what="slow1 rendering")
    assert (tmp_path / "G" / "quick.gif").exists()
    sent = time.monotonic()
    os.killpg(batch.pid, signum)
    assert batch.wait() == 128 + signum, batch.stderr()
    assert time.monotonic() - sent < 15
    assert batch.group() == [] and batch.temporaries() == {}
    name = signal.Signals(signum).name
    entries = batch.manifest()
    assert entries["quick.yaml"]["status"] == "ok"
    assert entries["slow1.yaml"]["status"] == "cancelled"
    assert entries["slow1.yaml"]["error"] == f"stopped by {name}"
    assert entries["slow2.yaml"]["error"] == f"cancelled by {name}"
    assert not (tmp_path / "G" / "slow1.mp4").exists()
    stderr = batch.stderr()
    assert f"interrupted by {name}: 1 ok, 2 cancelled" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "G" / ".optiviz.lock").exists()


def test_a_worker_killed_fails_only_its_job(tmp_path, started):
    batch = Batch(tmp_path, *configs(tmp_path, "slow1", "slow2", "slow3"), "-j", "2")
    started.append(batch)
    wait_until(lambda: len(batch.temporaries()) == 2, what="two workers rendering")
    victim_file, victim = next((n, p) for n, p in batch.temporaries().items()
                               if n.startswith(".slow1"))
    os.kill(victim, signal.SIGKILL)  # what the out-of-memory killer does
    # its temporary file goes at once; the queue goes on in a new worker, the survivor too
    wait_until(lambda: victim_file not in batch.temporaries(), what="the temporary removed")
    wait_until(lambda: any(n.startswith(".slow3") for n in batch.temporaries()),
               what="slow3 started by a new worker")
    assert any(n.startswith(".slow2") for n in batch.temporaries())
    os.killpg(batch.pid, signal.SIGTERM)
    assert batch.wait() == 143, batch.stderr()
    entries = batch.manifest()
    assert entries["slow1.yaml"]["status"] == "failed"
    assert entries["slow1.yaml"]["error"] == "worker process killed by SIGKILL (out of memory?)"
    assert entries["slow2.yaml"]["status"] == entries["slow3.yaml"]["status"] == "cancelled"
    assert batch.group() == [] and batch.temporaries() == {}
    assert "Traceback" not in batch.stderr()


def test_no_worker_outlives_a_killed_batch_and_its_lock_is_taken_over(tmp_path, started):
    batch = Batch(tmp_path, *configs(tmp_path, "slow1"), "-j", "1")
    started.append(batch)
    wait_until(lambda: batch.temporaries(), what="slow1 rendering")
    os.kill(batch.pid, signal.SIGKILL)  # the batch alone, not its group
    batch.process.wait()
    wait_until(lambda: batch.group() == [], seconds=15, what="the workers to follow")
    assert batch.temporaries() == {}
    lock = tmp_path / "G" / ".optiviz.lock"
    assert lock.read_text().strip() == str(batch.pid)  # left behind by SIGKILL
    again = Batch(tmp_path, *configs(tmp_path, "quick"), "-j", "1")
    started.append(again)
    assert again.wait() == 0, again.stderr()
    assert (tmp_path / "G" / "quick.gif").exists() and not lock.exists()


def test_a_second_batch_on_the_same_out_dir_is_refused(tmp_path, started):
    first = Batch(tmp_path, *configs(tmp_path, "slow1"), "-j", "1")
    started.append(first)
    wait_until(lambda: first.temporaries(), what="the first batch rendering")
    second = Batch(tmp_path, *configs(tmp_path, "quick"), "-j", "1")
    started.append(second)
    assert second.wait() == 2
    assert second.stderr() == (
        f"error: G is in use by another optiviz batch or run (pid {first.pid}); wait for it to "
        "finish, or use another --out-dir (lock file: G/.optiviz.lock)\n"
    )
    assert not (tmp_path / "G" / "quick.gif").exists()
    assert first.process.poll() is None
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait() == 143
    assert set(first.manifest()) == {"slow1.yaml"}


def test_jobs_over_the_timeout_fail_and_the_batch_goes_on(tmp_path, started):
    batch = Batch(tmp_path, *configs(tmp_path, "slow1", "slow2"), "-j", "1", "--timeout", "2")
    started.append(batch)
    assert batch.wait(120) == 1, batch.stderr()
    entries = batch.manifest()
    for name in ("slow1.yaml", "slow2.yaml"):
        assert entries[name]["status"] == "failed"
        assert entries[name]["error"] == "timed out after 2 s (--timeout); stopped"
    assert batch.group() == [] and batch.temporaries() == {}


# Dask ------------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:
        connection.close()


@pytest.mark.parametrize("kind", ["closed port", "silent server", "no port"])
def test_an_unreachable_dask_scheduler_is_one_line_and_quick(tmp_path, silent_server, kind):
    pytest.importorskip("distributed")
    address = {"closed port": f"tcp://127.0.0.1:{closed_port()}",
               "silent server": f"tcp://127.0.0.1:{silent_server}",
               "no port": "nonsense"}[kind]
    configs(tmp_path, "quick")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "optiviz", "batch", "quick.yaml", "--out-dir", "G",
         "--dask", address], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OPTIVIZ_DASK_TIMEOUT": "1"},
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: --dask {address}: cannot reach a Dask scheduler (")
    assert time.monotonic() - started < 30  # imports included; the wait itself is 1 s
    assert not (tmp_path / "G").exists()
