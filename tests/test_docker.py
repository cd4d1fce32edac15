"""Docker: the adapter contract with the real engine (offline mode: a locally built Debian base image
and the host's wheelhouse, since no registry is reachable)."""

import pytest

from tests.conftest import portability
from tests.contract import AdapterContract, docker_engine_or_skip


@pytest.fixture(scope="session")
def offline_base_image():
    docker_engine_or_skip()
    setup = portability("setup", "docker", timeout=1800)
    assert setup.returncode == 0, setup.stderr[-3000:]


@pytest.mark.docker
class TestDockerContract(AdapterContract):
    name = "docker"
    missing_when_bare = ("no Docker engine is reachable",)

    @pytest.fixture
    def platform_service(self, platform_env, offline_base_image, monkeypatch):
        monkeypatch.setenv("PORTABILITY_DOCKER_OFFLINE", "1")
        yield
