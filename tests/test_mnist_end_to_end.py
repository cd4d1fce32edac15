"""The reference experiment on the real MNIST, through the command a user runs (about a minute)."""

import pytest

from tests.conftest import portability


@pytest.mark.slow
def test_reference_preset_reaches_98_percent_and_verifies(reference_run):
    run_dir, results, done = reference_run
    assert results["test"]["accuracy"] >= 0.98
    assert results["target"] == {"accuracy": 0.98, "verdict": "pass"}
    assert results["dataset"]["canonical"] and results["model"]["params"] == 225_034
    assert results["artifacts"]["h5"]["reload_identical"] and results["artifacts"]["keras"]["reload_identical"]
    assert "PASS" in done.stdout
    verified = portability("verify", run_dir)
    assert verified.returncode == 0, verified.stdout
    assert "OK   data hashes" in verified.stdout and "OK   test accuracy" in verified.stdout
