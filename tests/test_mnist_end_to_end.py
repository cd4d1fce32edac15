"""The reference experiment on the real MNIST, through the command a user runs (about a minute)."""

import json

import pytest

from tests.conftest import portability


@pytest.mark.slow
def test_reference_preset_reaches_98_percent_and_verifies(mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    done = portability("run", "--preset", "mnist-reference", "--quiet", "--out", run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.98
    assert results["target"] == {"accuracy": 0.98, "verdict": "pass"}
    assert results["dataset"]["canonical"] and results["model"]["params"] == 225_034
    assert results["artifacts"]["h5"]["reload_identical"] and results["artifacts"]["keras"]["reload_identical"]
    assert "PASS" in done.stdout
    verified = portability("verify", run_dir)
    assert verified.returncode == 0, verified.stdout
    assert "OK   data hashes" in verified.stdout and "OK   test accuracy" in verified.stdout
