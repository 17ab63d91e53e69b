"""simulate() spreads its run groups over the cores for large work: the forked workers write
into shared memory, and the result is the one-process result bit for bit (noise, sweeps,
diverged runs, non-contiguous groups included); a worker's error is raised in the caller."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optiviz import config, engine

CONFIG = """
function: rosenbrock
start: {random: 30, seed: 1, box: [[-2, 2], [-1, 3]]}
steps: 40
seed: 3
optimizers:
  - {name: adam, lr: 0.05}
  - {name: sgd, lr: 0.002, momentum: 0.9, noise: 0.5}
  - {name: adam, lr: 0.2}
  - {name: sgd, lr: 0.5}
  - {name: rmsprop, lr: 0.01}
  - {name: lbfgs, lr: 1}
"""


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(CONFIG)
    return config.load(path, render=False)


def arrays(result):
    return (np.asarray(result.positions), np.asarray(result.loss), np.asarray(result.lr),
            np.asarray(result.diverged_step))


def test_forked_groups_equal_one_process_bit_for_bit(experiment, monkeypatch):
    monkeypatch.setattr(engine, "PARALLEL_MIN_WORK", 10**12)
    alone = arrays(engine.simulate(experiment))
    monkeypatch.setattr(engine, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    seen = []
    spread = arrays(engine.simulate(experiment, progress=lambda done, total: seen.append(
        (done, total))))
    assert (alone[3] >= 0).any()  # sgd lr 0.5 diverges
    for a, b in zip(alone, spread, strict=True):
        np.testing.assert_array_equal(a, b)
    assert seen[-1] == (6 * 40, 6 * 40) and all(d <= t for d, t in seen)


def test_a_workers_error_is_raised_in_the_caller(experiment, monkeypatch):
    monkeypatch.setattr(engine, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    real = engine.run_group

    def failing(configs, *args, **kwargs):
        if configs[0].name == "rmsprop":
            raise ValueError("boom in a worker")
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(engine, "run_group", failing)
    shares = engine.group_entries(experiment.optimizers)
    assert len(shares) > 2
    with pytest.raises(ValueError, match="boom in a worker"):
        engine.simulate(replace(experiment))
