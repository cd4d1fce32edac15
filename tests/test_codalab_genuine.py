"""CodaLab against the genuine CodaLab Worksheets 1.7.5 server (tests/codalab_genuine.py): the real `cl`,
REST server, bundle manager and a real worker running the bundles in Docker, in the project's CodaLab
image, with the network off. Each test that shows one of the differences the genuine server revealed
(issue 26) names it. The root user's password is "codalab", the platform's name (difference 8)."""

import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from adapters import codalab, codalab_script
from core import workspace
from tests import codalab_genuine
from tests.contract import AdapterContract
from tests.conftest import portability, synthetic_images
from tests.own_data import FIXTURES, small_mnist_npz

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


@pytest.fixture(scope="module")  # stopped when this file is done: its worker polls
def codalab_server():
    yield from codalab_genuine.server_fixture()


@pytest.fixture
def genuine(codalab_server, run_store, tmp_path):
    """A user of the server: a fresh CODALAB_HOME and a worksheet the server does not have yet."""
    return {**codalab_server.env, "PORTABILITY_RUNS_DIR": str(run_store), "CODALAB_HOME": str(tmp_path / "cl"),
            "PORTABILITY_CODALAB_WORKSHEET": f"{codalab_server.url}::portability-{secrets.token_hex(3)}"}


def cl(env, *args, check=True):
    """The real `cl` (in the server's namespace) as the same user; its output (checked: it succeeded)."""
    done = subprocess.run([env["PORTABILITY_CODALAB_CL"], *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0 or not check, done.stderr[-2000:]
    return done.stdout.strip()


def bundle_state(env, uuid, fields="state"):
    home = env["PORTABILITY_CODALAB_WORKSHEET"].rsplit("::", 1)[0] + "::"  # any worksheet finds a bundle by uuid
    return cl(env, "info", "-f", fields, "-w", home, uuid)


def until(condition, timeout=180, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def state_of(run, env):
    """What `portability status RUN` says of the run's state (its last word)."""
    done = portability("status", run, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-1]


def handle_of(run_store, run):
    return json.loads((run_store / run / "handle.json").read_text())


def test_a_run_survives_its_worker_going_offline_and_can_be_killed(codalab_server, genuine, tiny_npz, run_store):
    """Difference 4: worker_offline is not final. A long run, its worker stopped (SIGSTOP) until CodaLab
    says worker_offline: our status stays running; the worker resumes, the run goes on; then it is
    killed mid-way (cl kill): cancelled, and pull says so."""
    pushed = portability("push", "codalab", "--dataset", tiny_npz, *TINY[:2], "--epochs", "1000000", env=genuine)
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    run = pushed.stdout.split("run: ")[1].split()[0]
    uuid = handle_of(run_store, run)["remote_id"]
    until(lambda: bundle_state(genuine, uuid) == "running", what="the run starting")
    worker = dict(codalab_server.processes)["worker"]
    try:
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            until(lambda: bundle_state(genuine, uuid) == "worker_offline", timeout=120, what="worker_offline")
            assert state_of(run, genuine) == "running"  # not failed: CodaLab resumes the run
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        until(lambda: bundle_state(genuine, uuid) == "running", timeout=120, what="the run coming back")
        kill_acknowledged(genuine, uuid)
        until(lambda: state_of(run, genuine) in ("cancelled", "completed", "failed"), what="the kill")
        assert state_of(run, genuine) == "cancelled"
        pulled = portability("pull", run, env=genuine)
        assert pulled.returncode == 1 and "Traceback" not in pulled.stderr
        assert f"CodaLab: run {uuid} killed" in pulled.stderr or "killed" in (run_store / run / "log.txt").read_text()
    finally:  # a run of a million epochs left behind by a failure here would hold the worker from the next tests
        subprocess.run(["docker", "rm", "-f", f"codalab_run_{uuid}"], capture_output=True)


KILLED_OR_ENDING = ("finalizing", "killed", "ready", "failed")


def kill_acknowledged(env, uuid, attempts=6):
    """`cl kill`, again while the bundle neither ends nor finalizes, as a user whose kill did nothing
    would. CodaLab 1.7.5's worker can lose a kill: its websocket thread's check-in calls `Worker.kill`,
    which replaces `self.runs[uuid]` without the lock that `process_runs` holds while it replaces the
    same entry from the state it read before (under load, most of the time: each pass asks Docker for
    the container's stats). And the bundle may flap to `worker_offline` meanwhile (its worker checks in
    late), which is not an acknowledgement either."""
    for _ in range(attempts):
        if bundle_state(env, uuid) in KILLED_OR_ENDING:
            return
        # not checked: a kill refused because the bundle ended meanwhile, or "Unable to reach worker" (the
        # server sent it to a worker record it has since replaced), is followed by the state and another kill
        cl(env, "kill", "-w", env["PORTABILITY_CODALAB_WORKSHEET"], uuid, check=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if bundle_state(env, uuid) in KILLED_OR_ENDING:
                return
            time.sleep(1)
    raise AssertionError(f"CodaLab kept running {uuid} after {attempts} kills")


def test_failed_runs_say_what_codalab_said(genuine, tmp_path, run_store):
    """Difference 3: a run that failed before its command ran (its image does not exist) has no contents
    (download: 404); the user sees CodaLab's failure message instead. A run whose program fails: its exit
    code and log tail come back. Both pushed first, then followed, so that they fail side by side."""
    x_train, y_train = synthetic_images(64, seed=1)
    np.savez(tmp_path / "broken.npz", x_train=x_train, y_train=y_train)  # no test split: fails in the run
    runs = {}
    for image in (genuine["PORTABILITY_CODALAB_IMAGE"], "portability/no-such-image:1"):
        pushed = portability("push", "codalab", "--force", "--dataset", tmp_path / "broken.npz", *TINY,
                             env={**genuine, "PORTABILITY_CODALAB_IMAGE": image})
        assert pushed.returncode == 0, pushed.stderr[-2000:]
        runs[image] = pushed.stdout.split("run: ")[1].split()[0]
    for run in runs.values():
        until(lambda: state_of(run, genuine) in ("failed", "completed"), what=f"{run} ending")
        assert state_of(run, genuine) == "failed", bundle_state(genuine, handle_of(run_store, run)["remote_id"],
                                                                "state,exitcode,failure_message")
    program, no_image = (portability("pull", run, env=genuine) for run in runs.values())
    for pulled in (program, no_image):
        assert pulled.returncode == 1 and "Traceback (most recent" not in pulled.stderr, pulled.stderr[-2000:]
        assert "without a results.json" in pulled.stderr
    assert "exit code 1" in program.stderr and "missing arrays x_test" in program.stderr  # the program's last line
    assert "x_test" in (run_store / runs[genuine["PORTABILITY_CODALAB_IMAGE"]] / "log.txt").read_text()
    assert "Failed to download Docker image" in no_image.stderr and "portability/no-such-image:1" in no_image.stderr
    assert "Path ''" not in no_image.stderr  # not the 404 of the empty bundle


def test_an_image_without_python_on_path_is_refused_before_anything_is_sent(genuine, tiny_npz, run_store):
    """Difference 2: the worker runs `python ...` with the entrypoint cleared; an image without `python` on
    PATH (the Debian base has only python3) is refused at push, naming the fix."""
    done = portability("push", "codalab", "--dataset", tiny_npz, *TINY,
                       env={**genuine, "PORTABILITY_CODALAB_IMAGE": "portability/debian-python:bookworm"})
    assert done.returncode != 0 and "no `python` on PATH" in done.stderr and "portability setup codalab" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_credentials(genuine, tiny_npz):
    done = portability("push", "codalab", "--dataset", tiny_npz, *TINY, env={**genuine, "CODALAB_PASSWORD": "not-the-password"})
    assert done.returncode == 1 and "Traceback (most recent" not in done.stderr
    assert "CodaLab rejected the credentials" in done.stderr and "CODALAB_PASSWORD" in done.stderr


def interrupting_cl(codalab_server, folder):
    """`cl` whose Python kills the push (its parent) as it is about to create the run."""
    folder.mkdir()
    real = codalab_server.folder / "bin"
    (folder / "python").write_text(f'#!/bin/sh\ncase "$1" in *cl_network_off.py) kill -KILL $PPID; exit 1;; esac\n'
                                   f'exec {real / "python"} "$@"\n')
    (folder / "cl").write_text(f"#!{folder / 'python'}\n" + (real / "cl").read_text().split("\n", 1)[1])
    for program in ("python", "cl"):
        (folder / program).chmod(0o755)
    return folder / "cl"


def test_an_interrupted_push_resumes_then_status_and_pull_from_another_home(codalab_server, genuine, tiny_npz, run_store,
                                                                         tmp_path, local_tiny_results):
    """Differences 1, 2, 5, 6, 7 and 8 on one run. A failed bundle with the data bundle's very name exists (as
    an interrupted upload leaves one). The push (to a worksheet the server does not have: it is created)
    is killed as it is about to create the run: `status` says submitting, not a TypeError. The next push
    resumes it, reusing the data it uploaded and never the failed bundle; status and pull then run from
    a CODALAB_HOME that never saw the server (the handle names it). The password "codalab" leaves the
    platform's name alone."""
    (tmp_path / "data").mkdir()
    shutil.copy(tiny_npz, tmp_path / "data")
    name = f"portability-data-tiny-{codalab.content_hash(tmp_path / 'data')[:16]}"
    home = f"{codalab_server.url}::"
    # a run bundle of that name that can never be ready (its image does not exist: it fails without a container)
    decoy = cl(genuine, "run", "-w", home, "exit 3", "-n", name, "--request-docker-image", "portability/no-such-image:1")
    decoy = decoy.splitlines()[-1]
    killed = portability("push", "codalab", "--wait", "--dataset", tiny_npz, *TINY,
                         env={**genuine, "PORTABILITY_CODALAB_CL": str(interrupting_cl(codalab_server, tmp_path / "bin"))})
    assert killed.returncode == -signal.SIGKILL
    run = next(run_store.glob("codalab/*")).relative_to(run_store).as_posix()
    other = {**genuine, "CODALAB_HOME": str(tmp_path / "elsewhere")}
    status = portability("status", run, env=other)
    assert status.returncode == 0 and status.stdout.split()[2] == "submitting", status.stdout + status.stderr
    resumed = portability("push", "codalab", "--dataset", tiny_npz, *TINY, env=genuine)
    assert resumed.returncode == 0 and "resuming the interrupted push" in resumed.stderr, resumed.stderr[-3000:]
    until(lambda: state_of(run, other) in ("completed", "failed"), what="the run's end")
    pulled = portability("pull", run, env=other)
    assert pulled.returncode == 0 and f"{run}: [executed]" in pulled.stdout, pulled.stderr[-2000:]
    results = json.loads((run_store / run / "results.json").read_text())
    assert results["weights_sha256"] == local_tiny_results["weights_sha256"]  # the local run's weights
    assert results["platform"]["obtained"] == "executed" and results["platform"]["codalab"] == "true"
    assert results["platform"]["image"] == genuine["PORTABILITY_CODALAB_IMAGE"]
    details = handle_of(run_store, run)["details"]
    assert details["request_network"] == "False" and details["image_checked"].startswith("runs `python`")
    assert details["worksheet"] == genuine["PORTABILITY_CODALAB_WORKSHEET"]
    assert details["data_uuid"] != decoy and bundle_state(genuine, details["data_uuid"]) == "ready"
    same_name = cl(genuine, "search", "-w", home, f"name={name}", ".mine", "-u").split()
    assert sorted(same_name) == sorted([decoy, details["data_uuid"]])  # the killed push's upload was reused
    for text in (killed.stderr, resumed.stdout, resumed.stderr, pulled.stdout, (run_store / run / "results.json").read_text()):
        assert "[redacted]" not in text
    assert "codalab" in pulled.stdout and results["platform"]["name"] == "codalab"


def test_a_researchers_own_script_runs_with_each_data_item_a_bundle_at_its_dest(genuine, run_store, tmp_path, monkeypatch):
    """push codalab --script: the seed-style script (it imports pandas), unmodified. Each --data item is
    uploaded as its own bundle (a file, and a folder whose name CodaLab refuses as a key), a dependency of
    the run that the shim lays out at its DEST; the image gets pandas; status, wait and pull as for the
    built-in experiment; the outputs come back and the weights are the local run's. The ready uploads are
    reused."""
    npz = small_mnist_npz(tmp_path, train=1000, test=200)
    (tmp_path / "notes v1").mkdir()
    (tmp_path / "notes v1" / "readme.txt").write_text("not read by the script\n")
    script = ["--script", FIXTURES / "train.py", "--data", npz, "--data", f"{tmp_path / 'notes v1'}:../input/notes"]
    local = portability("run", *script, "--quiet", "--", "1", "128", env={**genuine, "PORTABILITY_RUNS_DIR": str(tmp_path / "l")})
    assert local.returncode == 0, local.stderr[-2000:]
    local_results = json.loads(next((tmp_path / "l").glob("local/*/results.json")).read_text())
    pushed = portability("push", "codalab", "--wait", *script, "--", "1", "128", env=genuine)
    assert pushed.returncode == 0 and "[executed on codalab]" in pushed.stdout, pushed.stdout[-2000:] + pushed.stderr[-3000:]
    run = next(run_store.glob("codalab/*")).relative_to(run_store).as_posix()
    results, details = json.loads((run_store / run / "results.json").read_text()), handle_of(run_store, run)["details"]
    assert results["weights_sha256"] == local_results["weights_sha256"] and results["test"] == local_results["test"]
    assert results["platform"]["obtained"] == "executed" and results["experiment"]["kind"] == "script"
    assert [item["dest"] for item in results["experiment"]["data"]] == ["mnist.npz", "../input/notes/readme.txt"]
    uuid = handle_of(run_store, run)["remote_id"]
    assert [item["path"] for item in results["experiment"]["data"]] == [
        f"/{uuid}/mnist.npz", f"/{uuid}/input-2-notes_v1/readme.txt"]  # each dependency's link, by its key
    assert sorted(details["input_uuids"]) == ["input-2-notes_v1", "mnist.npz"]
    assert all(bundle_state(genuine, item) == "ready" for item in details["input_uuids"].values())
    assert "pandas" in details["script_image"] and results["platform"]["image"] == details["image"]
    for output in results["artifacts"]["outputs"]:  # predictions.csv and model.h5, pulled
        assert workspace.sha256_file(run_store / run / "outputs" / output["path"]) == output["sha256"]
    assert sorted(output["path"] for output in results["artifacts"]["outputs"]) == ["model.h5", "predictions.csv"]
    for key, value in genuine.items():  # the same user again, in this process: the uploads are found, not sent
        monkeypatch.setenv(key, value)
    again = functools.partial(codalab.CodaLabAdapter().cl, session=details["session"])
    assert codalab_script.upload_inputs(again, run_store / run) == details["input_uuids"]


class TestCodaLabContract(AdapterContract):
    name = "codalab"
    missing_when_bare = ("CODALAB_USERNAME and CODALAB_PASSWORD",)

    @pytest.fixture
    def adapter(self):
        if codalab.cl_path() is None:
            pytest.fail("the CodaLab CLI is missing: `make codalab-cli`") if os.environ.get("CI") else \
                pytest.skip("the CodaLab CLI is not installed here: run `make codalab-cli` (needs Python 3.9)")
        return codalab.CodaLabAdapter()

    @pytest.fixture
    def platform_service(self, platform_env, monkeypatch, codalab_server, tmp_path):
        for key, value in {**codalab_server.env, "CODALAB_HOME": str(tmp_path / "cl"),
                           "PORTABILITY_CODALAB_WORKSHEET": f"{codalab_server.url}::portability-contract"}.items():
            monkeypatch.setenv(key, value)
        yield codalab_server


def test_platforms_online_signs_in_and_lists_your_worksheets_creating_nothing(codalab_server, genuine, tmp_path):
    """`portability platforms --online` runs `cl wls .mine` on the worksheet's server as the user: the right
    password works; a wrong one is CodaLab's own refusal, and the command exits 1. The server holds the
    same worksheets before and after (the check makes no home or dashboard worksheet)."""
    others = {"HOME": str(tmp_path), "KAGGLE_USERNAME": "", "KAGGLE_KEY": "", "KAGGLE_API_TOKEN": "",
              "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"), "COMET_API_KEY": "", "OPENML_APIKEY": "", "BEAT_TOKEN": ""}
    def listing():  # every worksheet on the server (as its root user), by uuid
        listed = cl({**genuine, "CODALAB_HOME": str(tmp_path / "lister")}, "wls", "-a", codalab_server.url, ".limit=100000", "-u")
        return [word for word in listed.split() if word.startswith("0x")]

    before = listing()
    good = portability("platforms", "--online", env={**genuine, **others}, timeout=120)
    bad = portability("platforms", "--online", env={**genuine, **others, "CODALAB_HOME": str(tmp_path / "wrong"),
                                                    "CODALAB_PASSWORD": "not-the-password"}, timeout=120)
    assert listing() == before
    line = lambda done: next(line for line in done.stdout.splitlines() if line.startswith("codalab "))  # noqa: E731
    assert good.returncode == 0 and "Traceback" not in good.stderr, good.stdout + good.stderr[-2000:]
    assert line(good).startswith(f"codalab  credentials work: CodaLab listed your worksheets on {codalab_server.url} "
                                 "(as codalab) (")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert line(bad) == ('codalab  FAILED: CodaLab refused the credentials: "Invalid username or password."; check '
                         "CODALAB_USERNAME and CODALAB_PASSWORD (or run `cl login`)")
