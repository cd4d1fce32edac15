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
from tests.kaggle_server import EXPIRED_URL_BODY, KaggleStandIn


@pytest.fixture
def credentials(tmp_path):
    return {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"),
            "HOME": str(tmp_path), "KAGGLE_API_TOKEN": ""}


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def reference_outputs():
    results = json.loads((ROOT / "results/reference/mnist-reference.json").read_text())
    results["platform"] = {"name": "kaggle", "obtained": "emulated", "run_type": "Batch"}  # the pull must relabel it
    return {"results.json": json.dumps(results).encode(), "model.h5": HDF5_MAGIC + b"stand-in",
            "log.txt": b"training log\n"}


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
    def platform_service(self, platform_env, monkeypatch, tiny_config, tmp_path):
        outputs = emulated_outputs("kaggle", tiny_config, tmp_path / "emulated")
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


# the failures the real service produces (issue 30) ------------------------------------------------
def stand_in_env(credentials, server, run_store, **extra):
    return {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url, "PORTABILITY_RUNS_DIR": str(run_store), **extra}


def states_of(run_store):
    run_dir = next(run_store.glob("kaggle/*"))
    return run_dir, store.status_history(run_dir)


@pytest.mark.parametrize("where", ["variable", "file"])
def test_an_access_token_alone_pushes_follows_and_pulls(where, credentials, run_store, tmp_path):
    """kaggle 2.x signs in with a token first (IntrospectToken names its user, then Bearer)."""
    token = {"KAGGLE_USERNAME": "", "KAGGLE_KEY": "", "KAGGLE_API_TOKEN": "kgat_live_token"}
    if where == "file":
        (tmp_path / ".kaggle").mkdir(exist_ok=True)
        (tmp_path / ".kaggle" / "access_token").write_text("kgat_live_token\n")
        token["KAGGLE_API_TOKEN"] = ""
    with KaggleStandIn("tester", "unused-key", reference_outputs(), tokens={"kgat_live_token": True}) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store, **token))
        assert server.violations == []
    assert done.returncode == 0, done.stderr[-2000:]
    methods = [path.rsplit("/", 1)[1] for method, path, _ in server.calls if method == "POST"]
    assert "IntrospectToken" in methods and methods[-1] == "ListKernelSessionOutput"
    assert server.pushed["slug"] == "tester/portability-mnist-reference"  # the token's user, from Kaggle
    assert "kgat_live_token" not in done.stdout + done.stderr


@pytest.mark.parametrize("username", ["tester", None])
def test_an_expired_token_without_a_key_is_one_line_and_no_run_stays_submitting(username, credentials, run_store):
    """With no working credentials the SDK prints its help and calls exit(1), which passes `except
    Exception`: it must become one line, and a run folder made for the push must end "failed"."""
    env = {key: value for key, value in credentials.items() if key not in ("KAGGLE_KEY", "KAGGLE_USERNAME")}
    env.update(KAGGLE_API_TOKEN="kgat_expired", **({"KAGGLE_USERNAME": username} if username else {}))
    with KaggleStandIn("tester", "unused-key", {}, tokens={"kgat_expired": False}) as server:
        done = portability("push", "kaggle", env=stand_in_env(env, server, run_store))
        assert server.violations == [] and server.pushed is None
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert "Authentication required" not in done.stdout  # the SDK's help, printed before its exit(1)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Kaggle rejected the credentials (sign-in)" in errors[0]
    assert "access token from KAGGLE_API_TOKEN is expired or revoked" in errors[0]
    if username is None:  # the kernel's owner is the token's: asked before any run folder exists
        assert not list(run_store.glob("kaggle/*"))
        return
    run_dir, history = states_of(run_store)
    assert history[-1]["state"] == "failed" and "not submitted" in history[-1]["detail"]


def test_credentials_revoked_while_running_are_named_not_the_slug(credentials, run_store):
    """The SDK turns a 401 on status into ValueError("Cannot access kernel ... wrong kernel slug")."""
    with KaggleStandIn("tester", "secret-key", reference_outputs(), statuses=("RUNNING",)) as server:
        env = stand_in_env(credentials, server, run_store)
        pushed = portability("push", "kaggle", env=env)
        assert pushed.returncode == 0, pushed.stderr
        run = pushed.stdout.split("run: ")[1].split()[0]
        server.expected_auth = "Basic revoked"
        status = portability("status", run, env=env)
        pulled = portability("pull", run, env=env)
    for done in (status, pulled):
        assert "Kaggle rejected the credentials (status): check KAGGLE_USERNAME and KAGGLE_KEY" in done.stdout + done.stderr
        assert "wrong kernel slug" not in done.stdout + done.stderr


def test_a_failure_message_reaches_status_output_and_report(credentials, run_store):
    message = "Your notebook tried to allocate more memory than is available. It has restarted."
    with KaggleStandIn("tester", "secret-key", {"log.txt": b"oom\n"}, statuses=("RUNNING", "ERROR"),
                       failure_message=message) as server:
        env = stand_in_env(credentials, server, run_store)
        done = portability("push", "kaggle", "--wait", env=env)
        run_dir, history = states_of(run_store)
        status = portability("status", f"kaggle/{run_dir.name}", env=env).stdout.split(maxsplit=2)[-1].strip()
        assert server.violations == []
    assert done.returncode == 1 and f"ended failed without a results.json (Kaggle: {message})" in done.stderr
    assert status == f"failed (Kaggle: {message})"
    assert history[-1] == {**history[-1], "state": "failed", "detail": f"Kaggle: {message}"}
    report = portability("report", "--out", run_store.parent / "report", env=env)
    assert f"kaggle/{run_dir.name}: no results.json (state: failed: Kaggle: {message})" in report.stdout + \
        (run_store.parent / "report" / "report.md").read_text()


@pytest.mark.parametrize("expired", ["model.h5", "results.json"])
def test_an_expired_signed_url_is_named_and_nothing_is_kept(expired, credentials, run_store):
    with KaggleStandIn("tester", "secret-key", reference_outputs(), expired_files={expired}) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store))
        assert server.violations == []
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (f"{expired}: the signed URL answered with an error instead of the file (ExpiredToken: Invalid argument.: "
            "The provided token has expired.") in done.stderr and "pull again" in done.stderr
    run_dir, history = states_of(run_store)
    assert not (run_dir / expired).exists() and not (run_dir / "results.json").exists()
    assert history[-1]["state"] == "completed"  # the kernel ran; only the download failed
    assert EXPIRED_URL_BODY.startswith(b"<?xml")


def test_output_files_over_several_pages_all_arrive(credentials, run_store):
    outputs = {**reference_outputs(), "model.keras": b"PK\x03\x04stand-in"}
    with KaggleStandIn("tester", "secret-key", outputs, page_size=2) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store))
        assert server.violations == []
    assert done.returncode == 0, done.stderr[-2000:]
    listed = [body for method, path, body in server.calls if path.endswith("/ListKernelSessionOutput")]
    assert [body.get("pageToken") or None for body in listed] == [None, "2"]
    run_dir, _ = states_of(run_store)
    assert all((run_dir / name).read_bytes() == outputs[name] for name in ("model.h5", "model.keras", "log.txt"))


def test_an_unknown_status_is_unknown_and_named(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", reference_outputs(), statuses=("RUNNING", "PAUSED")) as server:
        env = stand_in_env(credentials, server, run_store)
        pushed = portability("push", "kaggle", env=env)
        run = pushed.stdout.split("run: ")[1].split()[0]
        states = [portability("status", run, env=env).stdout.split(maxsplit=2)[-1].strip() for _ in range(2)]
        assert server.violations == []
    assert states[0] == "running" and states[1].startswith("unknown (Kaggle reports the status 'PAUSED', which kaggle")
    _, history = states_of(run_store)
    assert history[-1]["state"] == "unknown" and "Kaggle reports the status 'PAUSED'" in history[-1]["detail"]


def test_a_cancel_request_is_followed_to_cancelled_never_failed(credentials, run_store):
    statuses = ("RUNNING", "CANCEL_REQUESTED", "CANCEL_REQUESTED", "CANCEL_ACKNOWLEDGED")
    with KaggleStandIn("tester", "secret-key", {"log.txt": b"stopped\n"}, statuses=statuses) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store))
        assert server.violations == []
    assert done.returncode == 1 and "ended cancelled without a results.json" in done.stderr
    _, history = states_of(run_store)
    states = [entry["state"] for entry in history]
    assert "cancelling" in states and states[-1] == "cancelled" and "failed" not in states
    assert states.index("cancelling") < states.index("cancelled")


@pytest.mark.parametrize("fault", [429, 503, "drop"])
def test_transient_errors_while_waiting_are_retried_and_said(fault, credentials, run_store):
    faults = {"GetKernelSessionStatus": [fault, fault]}
    with KaggleStandIn("tester", "secret-key", reference_outputs(), faults=faults) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store))
        assert server.violations == []
    assert done.returncode == 0, done.stderr[-2000:]
    retries = [line for line in done.stderr.splitlines() if "retrying in" in line]
    assert len(retries) == 2 and retries[-1].endswith("(2/5)")
    expected = {429: "Kaggle answered HTTP 429 (status): rate limited", 503: "Kaggle answered HTTP 503 (status): a server error",
                "drop": "cannot reach Kaggle (status)"}[fault]
    assert expected in retries[0]
    assert "[executed on kaggle]" in done.stdout


def test_transient_errors_are_retried_only_so_often(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", {}, faults={"GetKernelSessionStatus": [503] * 7}) as server:
        done = portability("push", "kaggle", "--wait", env=stand_in_env(credentials, server, run_store))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "gave up after 5 retries: the run goes on" in done.stderr
    _, history = states_of(run_store)
    assert history[-1]["state"] == "queued"  # nothing known about the run changed


def test_a_gpu_push_asks_for_the_machine_shape(credentials, run_store):
    with KaggleStandIn("tester", "secret-key", reference_outputs(), accelerator="NvidiaTeslaT4") as server:
        env = stand_in_env(credentials, server, run_store, PORTABILITY_KAGGLE_ACCELERATOR="gpu-t4")
        done = portability("push", "kaggle", "--wait", env=env)
        assert server.violations == []
    assert done.returncode == 0, done.stderr[-2000:]
    assert server.pushed["enableGpu"] is True and server.pushed["machineShape"] == "NvidiaTeslaT4"
