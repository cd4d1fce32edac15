"""Shared fixtures for the adapter tests: a tiny user data set, an isolated run store, a Docker check."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from core import config
from tests.conftest import synthetic_images


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-data")
    x_train, y_train = synthetic_images(300, seed=1)
    x_test, y_test = synthetic_images(100, seed=2)
    np.savez(folder / "tiny.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return folder / "tiny.npz"


@pytest.fixture
def tiny_settings(tiny_npz):
    return config.build_config(overrides=dict(dataset=str(tiny_npz), model="1-layer", epochs=1, batch_size=64,
                                              target_accuracy=0.5))


@pytest.fixture
def run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTABILITY_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def docker_engine_or_skip():
    """In CI the engine is installed and started by .ci/run, so a missing one fails there."""
    reachable = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail("no Docker engine reachable in CI: .ci/run should have installed and started dockerd")
        pytest.skip("no Docker engine reachable here: install docker.io and start dockerd to run the Docker tests")
