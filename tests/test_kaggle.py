"""Kaggle: metadata, the single-file kernel run unmodified in an emulated kernel runtime (both input
layouts), and push/status/pull with the real `kaggle` SDK against a strict stand-in server."""

import json

import pytest

from adapters import kaggle
from portability import store
from core import config
from core.errors import UsageError
from tests.conftest import ROOT, live, live_push, portability
from tests.contract import AdapterContract, emulated_outputs
from tests.kaggle_server import KaggleStandIn


@pytest.fixture
def credentials(tmp_path):
    return {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"),
            "HOME": str(tmp_path), "KAGGLE_API_TOKEN": ""}


def reference_outputs():
    results = json.loads((ROOT / "results/reference/mnist-reference.json").read_text())
    results["platform"] = {"name": "kaggle", "obtained": "emulated", "run_type": "Batch"}  # the pull must relabel it
    return {"results.json": json.dumps(results).encode(), "model.h5": b"HDF5 stand-in", "log.txt": b"training log\n"}


def test_metadata_sets_every_field(monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "tester")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    values = kaggle.KaggleAdapter().metadata(config.build_config("fashion-mnist-4epochs"))
    assert values["id"] == "tester/portability-fashion-mnist-4epochs"
    assert kaggle.slugify(values["title"]) == values["id"].split("/")[1]
    assert values["dataset_sources"] == ["zalando-research/fashionmnist"]
    assert values["enable_internet"] is False and values["kernel_type"] == "script" and values["is_private"] is True
    monkeypatch.setenv("PORTABILITY_KAGGLE_ACCELERATOR", "gpu-t4")
    gpu = kaggle.KaggleAdapter().metadata(config.build_config("mnist-reference"))
    assert gpu["enable_gpu"] is True and gpu["machine_shape"] == "NvidiaTeslaT4"


@pytest.mark.parametrize("change, message", [
    ({"title": "Port"}, "at least 5 characters"),
    ({"id": "tester/other-slug"}, "does not match the title"),
    ({"id": "no-owner"}, "must be owner/slug"),
    ({"dataset_sources": ["not a slug"]}, "must be owner/dataset-slug"),
    ({"enable_internet": "no"}, "must be true or false"),
    ({"language": "r"}, "python script or notebook"),
])
def test_bad_metadata_is_rejected_before_sending(change, message, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "tester")
    monkeypatch.setenv("KAGGLE_KEY", "k")
    values = kaggle.KaggleAdapter().metadata(config.build_config("mnist-reference"))
    values.update(change)
    with pytest.raises(UsageError, match=message):
        kaggle.validate_metadata(values)


def test_bad_options_are_clear(monkeypatch, tiny_npz):
    monkeypatch.setenv("PORTABILITY_KAGGLE_ACCELERATOR", "h100")
    done = portability("push", "kaggle", "--dry-run")
    assert done.returncode == 2 and "unknown Kaggle accelerator 'h100': valid ones are none, gpu-t4" in done.stderr
    monkeypatch.delenv("PORTABILITY_KAGGLE_ACCELERATOR")
    own = portability("push", "kaggle", "--dry-run", "--dataset", tiny_npz)
    assert own.returncode == 2 and "PORTABILITY_KAGGLE_DATASET=owner/dataset-slug" in own.stderr


def test_missing_credentials_name_the_variables_and_file(tmp_path):
    done = portability("push", "kaggle", env={"HOME": str(tmp_path), "KAGGLE_USERNAME": "", "KAGGLE_KEY": "",
                                              "KAGGLE_API_TOKEN": "", "KAGGLE_CONFIG_DIR": str(tmp_path / "k")})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in done.stderr and "kaggle.json" in done.stderr


def test_push_status_pull_against_the_stand_in(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", reference_outputs()) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        done = portability("push", "kaggle", "--wait", "--timeout", "120", env=env)
        assert server.violations == []
        assert done.returncode == 0, done.stderr[-2000:]
        assert "[executed on kaggle]" in done.stdout and "0.9814" in done.stdout
        methods = [path.rsplit("/", 1)[1] for method, path, _ in server.calls if method == "POST"]
        assert methods[0] == "SaveKernel" and methods[-1] == "ListKernelSessionOutput"
        assert methods.count("GetKernelSessionStatus") >= 3
        assert server.pushed["text"] == (next(run_store.glob("kaggle/*/bundle/experiment.py"))).read_text()
    run_dir = next(run_store.glob("kaggle/*"))
    handle = store.read_handle(run_dir)
    assert handle.remote_id == "tester/portability-mnist-reference" and handle.details["version"] == 1
    states = [entry["state"] for entry in store.status_history(run_dir)]
    assert states[0] == "submitting" and "running" in states and states[-1] == "pulled"
    pulled = json.loads((run_dir / "results.json").read_text())
    assert pulled["platform"]["obtained"] == "executed" and pulled["platform"]["run_store_id"] == run_dir.name
    assert (run_dir / "model.h5").is_file() and (run_dir / "log.txt").read_text() == "training log\n"
    report = portability("report", "--out", run_store.parent / "report", env={"PORTABILITY_RUNS_DIR": str(run_store)})
    row = next(line for line in report.stdout.splitlines() if line.strip().startswith("kaggle"))
    assert row.split()[:4] == ["kaggle", "executed", "98.14%", "PASS"]  # obtained as the handle says, not the file


def test_push_wait_checks_once_and_authenticates_one_client(credentials, run_store, monkeypatch):
    """One adapter serves the whole command: one readiness check, one authenticated SDK client for the
    push, every status poll and the pull."""
    from kaggle.api.kaggle_api_extended import KaggleApi  # the SDK authenticates once at import: not ours

    from portability import cli

    counts = {"check": 0, "authenticate": 0}
    real_check, real_authenticate = kaggle.KaggleAdapter.check, KaggleApi.authenticate

    def check(self):
        counts["check"] += 1
        return real_check(self)

    def authenticate(self):
        counts["authenticate"] += 1
        return real_authenticate(self)

    monkeypatch.setattr(kaggle.KaggleAdapter, "check", check)
    monkeypatch.setattr(KaggleApi, "authenticate", authenticate)
    with KaggleStandIn("tester", "secret-key", reference_outputs()) as server:
        for key, value in {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url,
                           "PORTABILITY_RUNS_DIR": str(run_store)}.items():
            monkeypatch.setenv(key, value)
        assert cli.main(["push", "kaggle", "--wait", "--timeout", "120"]) == 0
        polls = [path for method, path, _ in server.calls if path.endswith("GetKernelSessionStatus")]
        assert server.violations == []
    assert len(polls) >= 3 and counts == {"check": 1, "authenticate": 1}


def test_push_error_in_the_response_is_shown(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", {}, push_error="Notebook title is already in use") as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        done = portability("push", "kaggle", env=env)
        assert server.violations == []  # a well-formed push that the platform refused
    assert done.returncode == 1 and "Kaggle refused the push: Notebook title is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_failed_kernel_and_timeout(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", {}, statuses=("RUNNING", "ERROR")) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        failed = portability("push", "kaggle", "--wait", env=env)
        assert server.violations == []
    assert failed.returncode == 1 and "without a results.json" in failed.stderr
    with KaggleStandIn("tester", "secret-key", {}, statuses=("RUNNING",)) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        slow = portability("push", "kaggle", "--wait", "--timeout", "3", "--force", env=env)
    assert slow.returncode == 1 and "still running after 3 s" in slow.stderr


def test_wrong_key_is_a_platform_error(credentials, run_store):
    with KaggleStandIn("tester", "another-key", {}) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        done = portability("push", "kaggle", env=env)
        assert server.violations == ["POST /v1/kernels.KernelsApiService/SaveKernel: Unauthenticated"]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Kaggle rejected the credentials (push): check KAGGLE_USERNAME and KAGGLE_KEY" in done.stderr


def test_an_unreachable_server_is_not_a_credentials_problem(credentials, run_store):
    env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": "http://127.0.0.1:9", "PORTABILITY_RUNS_DIR": str(run_store)}
    done = portability("push", "kaggle", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "cannot reach Kaggle (push): check the network or proxy" in done.stderr and "credentials" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["old", "new"])
def test_emulated_kernel_reference_on_real_mnist(layout, reference_run, run_store, monkeypatch):
    """The generated script, unmodified, in /kaggle/input (CSV from the real data), /kaggle/working. The
    new layout trains fully and must give the host's weights; the old one checks the data path only."""
    monkeypatch.setenv("PORTABILITY_KAGGLE_LAYOUT", layout)
    quick = ["--max-train-samples", "6000"] if layout == "old" else []
    done = portability("emulate", "kaggle", "--preset", "mnist-reference", *quick, env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = next(run_store.glob("kaggle/*"))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["platform"]["obtained"] == "emulated" and results["dataset"]["train_samples"] == 60000
    if not quick:
        assert results["test"]["accuracy"] >= 0.98
        assert results["weights_sha256"] == reference_run[1]["weights_sha256"]  # bit-identical to the host run
    assert results["platform"]["run_type"] == "Batch"
    assert results["platform"]["data_check"].startswith("canonical")
    expected = "/kaggle/input/" + ("mnist-in-csv" if layout == "old" else "datasets/oddrationale/mnist-in-csv")
    assert results["platform"]["data_source"].startswith(expected)
    assert (run_dir / "model.h5").is_file() and "test accuracy" in (run_dir / "log.txt").read_text()


@live("kaggle", "KAGGLE_USERNAME", "KAGGLE_KEY")
def test_live_push_to_kaggle(run_store):
    results = live_push("kaggle", 3600, run_store)
    assert results["platform"]["run_type"] == "Batch" and results["platform"]["data_check"].startswith("canonical")


class TestKaggleContract(AdapterContract):
    name = "kaggle"
    missing_when_bare = ("KAGGLE_USERNAME and KAGGLE_KEY",)

    @pytest.fixture
    def platform_env(self, monkeypatch, tmp_path):
        monkeypatch.setenv("PORTABILITY_KAGGLE_DATASET", "tester/tiny")  # your own data set, as a Kaggle data set
        for key, value in {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_API_TOKEN": "",
                           "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle")}.items():
            monkeypatch.setenv(key, value)

    @pytest.fixture
    def platform_service(self, platform_env, monkeypatch, tiny_settings, tmp_path):
        outputs = emulated_outputs("kaggle", tiny_settings, tmp_path / "emulated")
        with KaggleStandIn("tester", "secret-key", outputs, dataset_sources=(["tester/tiny"],)) as server:
            monkeypatch.setenv("PORTABILITY_KAGGLE_ENDPOINT", server.url)
            yield server
        assert server.violations == []


def test_status_and_pull_as_separate_commands(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", reference_outputs()) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store)}
        pushed = portability("push", "kaggle", env=env)
        assert pushed.returncode == 0, pushed.stderr
        run = pushed.stdout.split("run: ")[1].split()[0]
        states = [portability("status", run, env=env).stdout.split()[-1] for _ in range(3)]
        assert states == ["queued", "running", "completed"]  # each call asks the platform again
        pulled = portability("pull", run, env=env)
        assert server.violations == []
    assert pulled.returncode == 0 and f"{run}: [executed]" in pulled.stdout
    assert "pulled" in portability("status", run, env=env).stdout
