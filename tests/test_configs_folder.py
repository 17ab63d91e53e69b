"""The curated experiments users copy from configs/ are valid and run."""

from __future__ import annotations

from pathlib import Path

import pytest

from optiviz.api import compute, load
from optiviz.config import validate_files

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").rglob("*.yaml"))


def test_there_is_a_curated_set():
    names = {p.stem for p in CONFIGS}
    assert {"rosenbrock", "beale", "saddle", "narrow_valley", "rosenbrock_adaptive",
            "himmelblau_cloud"} <= names
    assert {"bernoulli", "binomial", "uniform", "normal", "multivariate_normal", "dirichlet",
            "importance", "mh_1d", "mh_banana"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_curated_config_is_valid_and_computes(path):
    if "torch:" in path.read_text():  # races torch optimizers: needs the torch extra
        pytest.importorskip("torch", reason="torch is not installed (optiviz[torch])")
        pytest.importorskip("pytorch_optimizer", reason="pytorch-optimizer is not installed")
    assert validate_files([path]) == []
    experiment = load(path)
    result = compute(experiment)
    if experiment.kind == "optimizers":
        # Curated races end in a sensible state: nobody diverges unless the config says so.
        expected_divergence = "diverg" in path.read_text().lower()
        assert expected_divergence or not result.diverged.any(), path.name
