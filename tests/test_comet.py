"""Comet: offline logging end to end, online logging and the later upload of an offline zip with the
real comet_ml SDK against a stand-in server, and an unreachable server that must end offline."""

import json
import zipfile

import pytest

from adapters import comet
from portability import store
from tests.comet_server import CometStandIn
from tests.contract import AdapterContract
from tests.conftest import live, portability

QUIET_COMET = {"COMET_AUTO_LOG_ENV_DETAILS": "false", "COMET_ERROR_TRACKING_ENABLE": "false",
               "COMET_DISABLE_ANNOUNCEMENT": "true"}


def tiny(tiny_npz, *extra):
    return ["--dataset", tiny_npz, "--model", "1-layer", "--epochs", "2", "--batch-size", "64",
            "--target-accuracy", "0.5", *extra]


def messages(archive):
    with zipfile.ZipFile(archive) as opened:
        return [json.loads(line) for line in opened.read("messages.json").decode().splitlines()]


def pushed_run(done, run_store):
    assert done.returncode == 0, done.stderr[-3000:]
    run = done.stdout.split("run: ")[1].split()[0]
    return run_store / run, json.loads((run_store / run / "results.json").read_text())


def check_logged(parameters, metrics, results):
    """What Comet received matches results.json: every parameter, every epoch, the test accuracy."""
    for key, value in results["config"].items():
        assert str(parameters[key]) == str(value), key
    for row in results["history"]:
        for name in ("loss", "accuracy"):
            logged = [m for m in metrics if m["metricName"] == name and int(m["epoch"]) == row["epoch"]]
            assert logged and float(logged[-1]["metricValue"]) == pytest.approx(row[name], rel=1e-6), (name, row)
    test = [float(m["metricValue"]) for m in metrics if m["metricName"] == "test_accuracy"]
    assert test == [pytest.approx(results["test"]["accuracy"], rel=1e-6)]


@pytest.fixture
def offline_env(run_store, tmp_path):
    return {**QUIET_COMET, "PORTABILITY_RUNS_DIR": str(run_store), "COMET_API_KEY": "", "HOME": str(tmp_path)}


@pytest.mark.slow
def test_offline_reference_run_on_real_mnist(mnist_dir, offline_env, run_store):
    # the real data path and everything Comet logs; the accuracy is the reference run's business
    done = portability("push", "comet", "--wait", "--preset", "mnist-reference", "--max-train-samples", "6000",
                       env=offline_env)
    run_dir, results = pushed_run(done, run_store)
    assert results["dataset"]["canonical"] and results["dataset"]["train_samples"] == 60000
    assert results["platform"]["comet_mode"] == "offline" and results["platform"]["compute"] == "local"
    archive = run_dir / results["platform"]["comet_offline_zip"]
    logged = messages(archive)
    parameters = {m["payload"]["param"]["paramName"]: m["payload"]["param"]["paramValue"]
                  for m in logged if m["type"] == "parameter_msg"}
    metrics = [m["payload"]["metric"] for m in logged if m["type"] == "metric_msg"]
    check_logged(parameters, metrics, results)
    uploads = " ".join(json.dumps(m["payload"]) for m in logged if m["type"] == "file_upload")
    assert "model.h5" in uploads and "results.json" in uploads and "experiment.py" in uploads


def test_online_logging_and_read_back(tiny_npz, run_store, tmp_path):
    with CometStandIn("test-key") as server:
        env = {**QUIET_COMET, "PORTABILITY_RUNS_DIR": str(run_store), "COMET_API_KEY": "test-key",
               "COMET_URL_OVERRIDE": server.url, "HOME": str(tmp_path), "COMET_WORKSPACE": "tester"}
        done = portability("push", "comet", "--wait", *tiny(tiny_npz), env=env)
        run_dir, results = pushed_run(done, run_store)
        assert server.violations == [], sorted(set(server.violations))
        assert results["platform"]["comet_mode"] == "online"
        assert server.runs[0]["projectName"] == "portability" and server.runs[0]["teamName"] == "tester"
        check_logged(server.parameters, server.metrics, results)
        assert {"results.json", "model.h5"} <= set(server.files)
        assert results["platform"]["comet_readback"] == {"test_accuracy": pytest.approx(results["test"]["accuracy"])}
    key = results["platform"]["comet_key"]  # the SDK's URL: the add-run reply's focusUrl + the key
    assert results["platform"]["comet_url"] == f"{server.url.removesuffix('/clientlib/')}/tester/portability/{key}"
    assert server.assets["model.h5"] == (run_dir / "model.h5").read_bytes()  # what went up is what the run wrote
    uploaded = json.loads(server.assets["results.json"])
    assert uploaded["weights_sha256"] == results["weights_sha256"] and uploaded["test"] == results["test"]


def test_unreachable_server_ends_in_an_offline_zip_that_uploads_later(tiny_npz, run_store, tmp_path):
    env = {**QUIET_COMET, "PORTABILITY_RUNS_DIR": str(run_store), "COMET_API_KEY": "test-key",
           "COMET_URL_OVERRIDE": "http://127.0.0.1:9/clientlib/", "HOME": str(tmp_path)}
    # The SDK still retries every refused connection, without its backoff sleeps (about 30 s, a user's wait)
    refused = {**env, "COMET_HTTP_SESSION_RETRY_BACKOFF_FACTOR": "0", "COMET_GET_OR_ADD_EXPERIMENT_RETRY_BACKOFF_FACTOR": "0"}
    done = portability("push", "comet", "--wait", *tiny(tiny_npz), env=refused)
    run_dir, results = pushed_run(done, run_store)
    assert results["platform"]["comet_mode"] == "offline"
    assert "did not answer: logging offline" in (run_dir / "log.txt").read_text()
    archive = run_dir / results["platform"]["comet_offline_zip"]
    metrics = [m["payload"]["metric"] for m in messages(archive) if m["type"] == "metric_msg"]
    assert any(m["metricName"] == "test_accuracy" for m in metrics)
    assert comet.pending_zips(run_dir) == [archive]
    assert "[executed here, Comet archive saved (not uploaded)]" in done.stdout
    before = store.status_history(run_dir)
    assert all("label" not in entry for entry in before)

    with CometStandIn("test-key") as server:
        again = portability("push", "comet", *tiny(tiny_npz), env={**env, "COMET_URL_OVERRIDE": server.url})
        assert again.returncode == 0, again.stderr[-3000:]
        assert "uploaded 1 offline experiment" in again.stderr
        assert server.violations == [], sorted(set(server.violations))
        check_logged(server.parameters, server.metrics, results)
        third = portability("push", "comet", *tiny(tiny_npz), env={**env, "COMET_URL_OVERRIDE": server.url})
        assert third.returncode == 0 and "uploaded" not in third.stderr  # nothing left to upload
    assert comet.pending_zips(run_dir) == []
    assert_uploaded_once(run_dir, before, archive)


def assert_uploaded_once(run_dir, before, archive):
    """The label went from 'archive saved' to 'tracked on Comet' once, with the time in status.json; the
    report and `pull` say the new label; nothing else changed it."""
    from report import collect

    platform = json.loads((run_dir / "results.json").read_text())["platform"]
    assert platform["comet_uploaded"] is True
    assert collect.how_it_ran("comet", platform) == "executed here, tracked on Comet"
    history = store.status_history(run_dir)
    assert history[:len(before)] == before and len(history) == len(before) + 1
    entry = history[-1]
    assert entry["state"] == before[-1]["state"] and entry["label"] == "executed here, tracked on Comet"
    assert entry["detail"] == f"Comet archive {archive.name} uploaded (was: executed here, Comet archive saved (not uploaded))"
    assert entry["time"] >= before[-1]["time"] and entry["time"].endswith("Z")
    pulled = portability("pull", f"{run_dir.parent.name}/{run_dir.name}", env={"PORTABILITY_RUNS_DIR": str(run_dir.parents[1])})
    assert pulled.returncode == 0 and "[executed here, tracked on Comet]" in pulled.stdout, pulled.stderr
    assert store.status_history(run_dir) == history


@live("comet", "COMET_API_KEY")
def test_live_logging_to_comet(tiny_npz, run_store):
    done = portability("push", "comet", "--wait", *tiny(tiny_npz), env={"PORTABILITY_RUNS_DIR": str(run_store)})
    run_dir, results = pushed_run(done, run_store)
    assert results["platform"]["comet_mode"] == "online"
    assert results["platform"]["comet_readback"]["test_accuracy"] == pytest.approx(results["test"]["accuracy"])


class TestCometContract(AdapterContract):
    name = "comet"

    @pytest.fixture
    def platform_env(self, monkeypatch):
        for key, value in {**QUIET_COMET, "COMET_API_KEY": ""}.items():
            monkeypatch.setenv(key, value)


# the failures the real service produces (issue 30) ------------------------------------------------
def online_env(server, run_store, tmp_path, key="test-key"):
    return {**QUIET_COMET, "PORTABILITY_RUNS_DIR": str(run_store), "COMET_API_KEY": key,
            "COMET_URL_OVERRIDE": server.url, "HOME": str(tmp_path), "COMET_WORKSPACE": "tester"}


def test_a_wrong_key_is_reported_as_a_wrong_key_not_an_offline_run(tiny_npz, run_store, tmp_path):
    with CometStandIn("test-key") as server:
        done = portability("push", "comet", "--wait", *tiny(tiny_npz), env=online_env(server, run_store, tmp_path, "wrong"))
        assert "POST /clientlib/logger/add/run: api key not registered" in server.violations
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "without a results.json (Comet rejected COMET_API_KEY (InvalidAPIKey" in errors[0]
    run_dir = next(run_store.glob("comet/*"))
    assert "did not answer" not in (run_dir / "log.txt").read_text() and not list(run_dir.rglob("*.zip"))
    history = store.status_history(run_dir)
    assert history[-1]["state"] == "failed" and history[-1]["detail"].startswith("Comet rejected COMET_API_KEY")


def test_an_offline_zip_comet_already_has_counts_as_uploaded(tiny_npz, offline_env, run_store, tmp_path):
    first = portability("push", "comet", "--wait", *tiny(tiny_npz), env=offline_env)
    run_dir, results = pushed_run(first, run_store)
    assert comet.pending_zips(run_dir)
    with CometStandIn("test-key", uploaded={results["platform"]["comet_key"]}) as server:
        again = portability("push", "comet", *tiny(tiny_npz), env=online_env(server, run_store, tmp_path))
        assert server.violations == [], sorted(set(server.violations))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already has" in again.stderr and "counted as uploaded" in again.stderr
    assert comet.pending_zips(run_dir) == []
    assert json.loads((run_dir / "results.json").read_text())["platform"]["comet_uploaded"] is True
    assert store.status_history(run_dir)[-1]["label"] == "executed here, tracked on Comet"


def test_a_wrong_key_at_upload_is_named(tiny_npz, offline_env, run_store, tmp_path):
    first = portability("push", "comet", "--wait", *tiny(tiny_npz), env=offline_env)
    run_dir, _ = pushed_run(first, run_store)
    with CometStandIn("test-key") as server:
        again = portability("push", "comet", *tiny(tiny_npz), env=online_env(server, run_store, tmp_path, "wrong"))
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert "error: Comet rejected COMET_API_KEY (upload)" in again.stderr and comet.pending_zips(run_dir)


def test_a_server_error_on_add_run_and_a_throttled_batch_lose_nothing(tiny_npz, run_store, tmp_path):
    faults = {"/clientlib/logger/add/run": [503], "/clientlib/batch/logger/experiment/metric": [429]}
    with CometStandIn("test-key", faults=faults) as server:
        done = portability("push", "comet", "--wait", *tiny(tiny_npz), env=online_env(server, run_store, tmp_path))
        run_dir, results = pushed_run(done, run_store)
        assert server.violations == [], sorted(set(server.violations))
        assert server.faults == {"/clientlib/logger/add/run": [], "/clientlib/batch/logger/experiment/metric": []}
        assert results["platform"]["comet_mode"] == "online" and results["platform"]["comet_url"]
        check_logged(server.parameters, server.metrics, results)
