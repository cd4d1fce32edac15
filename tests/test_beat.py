"""BEAT: the generated prefix run by BEAT's own local executor (in BEAT's Python 3.11 environment),
its output cache, the reference experiment on real MNIST at >= 98%, and push/status/pull of the
prefix's objects with the real `beat` command line against a strict stand-in of a BEAT platform."""

import json

import pytest

import adapters
from adapters import bundle
from core import config
from tests.beat_server import BeatStandIn
from tests.conftest import portability
from tests.contract import AdapterContract, emulated_outputs


@pytest.fixture
def beat_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTABILITY_BEAT_CACHE", str(tmp_path / "beat-cache"))
    return tmp_path / "beat-cache"


class TestBeatContract(AdapterContract):
    name = "beat"
    missing_when_bare = ()  # BEAT's local executor needs no account

    @pytest.fixture
    def platform_env(self, monkeypatch, beat_cache, tmp_path):
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.beatrc

    @pytest.fixture
    def platform_service(self, platform_env, monkeypatch, tiny_config, tmp_path):
        outputs = emulated_outputs("beat", tiny_config, tmp_path / "emulated")
        database = adapters.get("beat").names(tiny_config)["database"]
        with BeatStandIn("tester", "secret-token", outputs, hosted_databases=[database]) as server:
            monkeypatch.setenv("BEAT_PLATFORM", server.url)
            monkeypatch.setenv("BEAT_TOKEN", "secret-token")
            monkeypatch.setenv("BEAT_USER", "tester")
            yield server
        assert server.violations == []
        assert sorted(server.objects["algorithms"]) == ["tester/portability_analyzer/1", "tester/portability_train/1"]
        assert list(server.objects["libraries"]) == ["tester/portability_bundle/1"] and len(server.started) == 1


def test_the_prefix_declares_the_experiment_for_a_researcher(tiny_config, tmp_path):
    adapter = adapters.get("beat")
    adapter.package(config.build_config("mnist-reference"), tmp_path / "b")
    prefix = tmp_path / "b" / "prefix"
    experiment = json.loads(next(prefix.glob("experiments/*/*/portability/1/mnist_reference.json")).read_text())
    parameters = experiment["blocks"]["training"]["parameters"]
    assert parameters["learning_rate"] == 0.001 and parameters["epochs"] == 1 and parameters["model"] == "reference"
    assert parameters["max_train_samples"] == -1  # unset: a block parameter cannot be null
    assert experiment["datasets"]["train"]["database"].startswith("portability_mnist_")
    library = next(prefix.glob("libraries/*/portability_bundle/1.py")).read_text()
    assert (bundle.ROOT / "core" / "experiment.py").read_text() in library  # the core, verbatim
    assert parameters["bundle"] in next(prefix.glob("algorithms/*/portability_train/1.json")).read_text()


def test_a_data_set_beats_view_cannot_read_is_refused_with_the_fix(tmp_path):
    (tmp_path / "digits.csv").write_text("label,p1,p2,p3,p4\n0,0,0,0,0\n1,255,255,255,255\n")
    done = portability("package", "beat", "--dataset", tmp_path / "digits.csv", "--out", tmp_path / "b")
    assert done.returncode == 2 and "save" in done.stderr and ".npz" in done.stderr and "Traceback" not in done.stderr


def test_the_reference_experiment_on_beats_local_executor(reference_run, beat_cache, run_store, tmp_path):
    """The reference experiment on real MNIST through BEAT's executor: >= 98%, the local weights;
    then the same experiment again comes from BEAT's cache."""
    env = {"HOME": str(tmp_path), "BEAT_TOKEN": ""}
    first = portability("push", "beat", "--wait", "--timeout", "1200", env=env, timeout=1500)
    assert first.returncode == 0, first.stderr[-3000:]
    run = first.stdout.split("run: ")[1].split()[0]
    results = json.loads((run_store / run / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.98 and results["target"]["verdict"] == "pass"
    assert results["platform"]["obtained"] == "executed"
    assert results["platform"]["engine"].startswith("BEAT local executor (beat.core 1.13.5)")
    assert results["dataset"]["canonical"] is True and results["dataset"]["source"].startswith("beat:database portability_mnist_")
    assert results["weights_sha256"] == reference_run[1]["weights_sha256"]  # BEAT's Python, the same weights
    assert "Running `portability/portability_train/1'" in (run_store / run / "log.txt").read_text()

    again = portability("push", "beat", "--wait", "--force", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = again.stdout.split("run: ")[1].split()[0]
    assert "Skipping execution of `portability/portability_train/1'" in (run_store / rerun / "log.txt").read_text()
    assert json.loads((run_store / rerun / "results.json").read_text())["weights_sha256"] == results["weights_sha256"]
    report = portability("report", "--out", tmp_path / "report")
    assert report.returncode == 0
    assert "| executed by BEAT's local executor |" in (tmp_path / "report" / "report.md").read_text()  # no nested brackets


def test_platform_errors_are_messages(tiny_npz, tmp_path, beat_cache):
    options = ["--dataset", tiny_npz, "--model", "1-layer", "--batch-size", "64"]
    unreachable = portability("push", "beat", *options, env={"HOME": str(tmp_path), "BEAT_TOKEN": "t",
                                                             "BEAT_PLATFORM": "http://127.0.0.1:9/"})
    assert unreachable.returncode == 1 and "cannot reach the BEAT platform at http://127.0.0.1:9/" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr and "t" not in unreachable.stderr.split("BEAT_TOKEN")[0].split()
    with BeatStandIn("tester", "right-token", {}) as server:
        rejected = portability("push", "beat", *options, "--force", env={
            "HOME": str(tmp_path), "BEAT_TOKEN": "wrong-token", "BEAT_USER": "tester", "BEAT_PLATFORM": server.url})
    assert rejected.returncode == 1 and "rejected the token: check BEAT_TOKEN" in rejected.stderr
    assert "wrong-token" not in rejected.stderr
    ready = portability("platforms", env={"HOME": str(tmp_path), "BEAT_TOKEN": ""})
    assert "beat     ready, BEAT local executor" in ready.stdout
