"""The reference experiment, 1 epoch on the real MNIST, executed by the local adapter and in a real
Docker container (offline mode: locally built Debian base image, host wheelhouse). Several minutes."""

import json

import pytest

from tests.conftest import portability

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def pushed_results(done, store):
    assert done.returncode == 0, done.stderr[-3000:]
    run = done.stdout.split("run: ")[1].split()[0]
    results = json.loads((store / run / "results.json").read_text())
    assert results["platform"]["run_store_id"] == run.split("/")[1]  # the folder it was pulled into
    return results


@pytest.fixture(scope="module")
def local_results(reference_run):
    """The session's reference run on this host (push local runs the same bundle code: see the contract)."""
    return reference_run[1]


def test_local_reference_reaches_98_percent(local_results):
    assert local_results["test"]["accuracy"] >= 0.98
    assert local_results["platform"]["name"] == "local" and local_results["platform"]["obtained"] == "executed"


@pytest.mark.docker
def test_docker_reference_reaches_98_percent_and_is_compared_with_the_host(store, local_results, offline_base_image):
    done = portability("push", "docker", "--wait", "--preset", "mnist-reference", timeout=2400,
                       env={"PORTABILITY_RUNS_DIR": str(store), "PORTABILITY_DOCKER_OFFLINE": "1"})
    results = pushed_results(done, store)
    assert "[executed on docker]" in done.stdout
    assert results["test"]["accuracy"] >= 0.98
    assert results["platform"]["name"] == "docker" and results["platform"]["obtained"] == "executed"
    assert results["platform"]["image"].startswith("portability-experiment:")
    assert results["environment"]["python"].startswith("3.11")
    assert results["environment"]["tensorflow"] == local_results["environment"]["tensorflow"]
    # Same CPU, same pinned packages, same thread count: the container must reproduce the host bit for bit.
    differs = {key: (local_results["environment"].get(key), results["environment"].get(key))
               for key in ("python", "numpy", "packages", "cpu", "cpu_cores", "os")
               if local_results["environment"].get(key) != results["environment"].get(key)}
    assert results["weights_sha256"] == local_results["weights_sha256"], \
        f"docker's weights differ from the host's; the environments differ in {differs}"
    assert results["test"]["accuracy"] == local_results["test"]["accuracy"]
