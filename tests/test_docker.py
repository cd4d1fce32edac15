"""Docker: the adapter contract with the real engine (offline mode: a locally built Debian base image
and the host's wheelhouse, since no registry is reachable), and the Dockerfile's online branch built
from a package index and run."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, portability, serve_folder
from tests.contract import AdapterContract


@pytest.mark.docker
class TestDockerContract(AdapterContract):
    name = "docker"
    missing_when_bare = ("no Docker engine is reachable",)

    @pytest.fixture
    def platform_service(self, platform_env, offline_base_image, monkeypatch):
        monkeypatch.setenv("PORTABILITY_DOCKER_OFFLINE", "1")
        yield

    def after_pull(self, run):
        """No exited container left behind; its log and exit state stay with the run, and a second pull
        and the status still have them."""
        gone = subprocess.run(["docker", "container", "inspect", run.handle.remote_id], capture_output=True)
        assert gone.returncode != 0
        log = (run.run_dir / "log.txt").read_text()
        assert "test accuracy" in log
        assert run.adapter.status(run.handle, run.run_dir) == "completed"
        (run.run_dir / "log.txt").unlink()
        run.pull()
        assert (run.run_dir / "log.txt").read_text() == log


def simple_index(wheels, root):
    """A PEP 503 package index of the wheelhouse: simple/<project>/ pages linking the wheel files."""
    for wheel in sorted(wheels.glob("*.whl")):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        (root / "simple" / project).mkdir(parents=True, exist_ok=True)
        (root / "files").mkdir(exist_ok=True)
        os.link(wheel, root / "files" / wheel.name) if wheel.stat().st_dev == root.stat().st_dev \
            else shutil.copy(wheel, root / "files")
        with open(root / "simple" / project / "index.html", "a") as page:
            page.write(f'<a href="../../files/{wheel.name}">{wheel.name}</a>\n')
    return root


@pytest.mark.docker
@pytest.mark.slow
def test_the_online_dockerfile_builds_from_a_package_index_and_runs(offline_base_image, tiny_npz, local_tiny_results,
                                                                      tmp_path):
    """The Dockerfile's online branch (no wheels in the context: pip installs from an index), with a
    local index of the same wheels standing in for PyPI, which containers here cannot reach."""
    from adapters import docker

    bundle = tmp_path / "bundle"
    done = portability("package", "docker", "--out", bundle, "--dataset", tiny_npz, "--model", "1-layer", "--epochs", "1",
                       "--batch-size", "64", "--target-accuracy", "0.5")
    assert done.returncode == 0 and not list((bundle / "wheels").glob("*.whl"))  # the online branch
    (tmp_path / "index").mkdir()
    index = simple_index(docker.wheelhouse(), tmp_path / "index")
    tag = "portability-online-test:latest"
    with serve_folder(index) as url:
        built = subprocess.run(["docker", "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={docker.OFFLINE_BASE}",
                                "--build-arg", f"PIP_INDEX_URL={url}simple/", "-t", tag, str(bundle)],
                               capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        (tmp_path / "out").mkdir()
        ran = subprocess.run(["docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
                              "-v", f"{tiny_npz.parent}:/data:ro", "-v", f"{tmp_path / 'out'}:/results", tag],
                             capture_output=True, text=True, timeout=900)
        assert ran.returncode == 0, ran.stderr[-3000:]
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["environment"]["in_container"] and results["platform"]["name"] == "docker"
    assert results["weights_sha256"] == local_tiny_results["weights_sha256"]  # same wheels, same weights


def test_two_processes_building_the_same_image_take_turns(tmp_path, monkeypatch):
    """Two pushes at once (two terminals, a sweep's cells) that both need an image, the base image or the
    wheelhouse: the second waits for the first's build, says so, and then finds it built."""
    from adapters import docker

    monkeypatch.setenv("PORTABILITY_CACHE_DIR", str(tmp_path))
    second = ("from adapters import docker\n"
              "with docker.cache_lock('portability-experiment:0123abcd', log=print):\n"
              "    print('building', flush=True)\n")
    with docker.cache_lock("portability-experiment:0123abcd"):
        other = subprocess.Popen([sys.executable, "-c", second], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert other.stdout.readline() == "waiting for another process building portability-experiment:0123abcd\n"
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=1)  # still waiting while this process holds the build
    assert other.communicate(timeout=60)[0] == "building\n" and other.returncode == 0
    with docker.cache_lock("portability-experiment:0123abcd"):  # free again, for anyone
        pass
