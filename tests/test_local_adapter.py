"""The local adapter through the CLI: push, status, pull, resume after a kill, no duplicates."""

import json
import os
import signal
import subprocess
import time

import pytest

from portability import runs, store
from tests.contract import AdapterContract
from tests.conftest import BIN, ROOT, portability


def tiny_args(tiny_npz):
    return ["--dataset", tiny_npz, "--model", "1-layer", "--epochs", "1", "--batch-size", "64",
            "--target-accuracy", "0.5"]


def run_folders(run_store):
    return sorted((run_store / "local").glob("*/handle.json"))


def test_push_status_pull_from_a_fresh_process(tiny_npz, run_store):
    env = {"PORTABILITY_RUNS_DIR": str(run_store)}
    pushed = portability("push", "local", *tiny_args(tiny_npz), env=env)
    assert pushed.returncode == 0, pushed.stderr
    run = pushed.stdout.split("run: ")[1].split()[0]
    deadline = time.monotonic() + 300
    while "completed" not in (state := portability("status", run, env=env).stdout):
        assert "failed" not in state and time.monotonic() < deadline, state
        time.sleep(1)
    pulled = portability("pull", run, env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert "[executed]" in pulled.stdout
    results = json.loads((run_store / run / "results.json").read_text())
    assert results["platform"]["obtained"] == "executed" and results["platform"]["name"] == "local"
    assert "pulled" in portability("status", env=env).stdout
    again = portability("push", "local", *tiny_args(tiny_npz), env=env)
    assert "already pushed" in again.stderr and len(run_folders(run_store)) == 1
    forced = portability("push", "local", "--force", *tiny_args(tiny_npz), env=env)
    assert forced.returncode == 0 and len(run_folders(run_store)) == 2


def test_killed_push_resumes_without_a_duplicate(tiny_npz, run_store):
    env = {**os.environ, "PORTABILITY_RUNS_DIR": str(run_store)}
    process = subprocess.Popen([str(BIN / "portability"), "push", "local", "--wait", *map(str, tiny_args(tiny_npz))],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not run_folders(run_store):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # killed while it follows the run
    process.wait()
    resumed = portability("push", "local", "--wait", *tiny_args(tiny_npz), env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert resumed.returncode == 0, resumed.stderr
    assert len(run_folders(run_store)) == 1
    assert "[executed on local]" in resumed.stdout


def test_push_killed_during_submit_is_resumed(tiny_config, run_store, monkeypatch):
    from adapters import local

    def dies(self, handle, run_dir):
        raise KeyboardInterrupt  # as if the process died between writing the handle and submitting

    with monkeypatch.context() as patch:
        patch.setattr(local.LocalAdapter, "submit", dies)
        with pytest.raises(KeyboardInterrupt):
            runs.push("local", tiny_config, log=lambda m: None)
    assert store.last_state(run_folders(run_store)[0].parent) == "submitting"
    messages = []
    run = runs.push("local", tiny_config, log=messages.append)
    assert any("resuming the interrupted push" in m for m in messages)
    assert run.wait(timeout=300, interval=0.5) == "completed"
    assert len(run_folders(run_store)) == 1


def test_interrupted_pull_is_completed_by_the_next_pull(tiny_config, run_store):
    run = runs.push("local", tiny_config, log=lambda m: None)
    run_dir = run.run_dir
    run.wait(timeout=300, interval=0.5)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / f".pull-{dead.pid}-x").mkdir()  # a pull killed mid-copy: its process is gone
    (run_dir / f".pull-{dead.pid}-x" / "results.json").write_text("{half")
    (run_dir / f".pull-{os.getpid()}-y").mkdir()  # a pull still running in another process: left alone
    results = run.pull()
    assert results["test"]["accuracy"] >= 0.5 and not (run_dir / f".pull-{dead.pid}-x").exists()
    assert (run_dir / f".pull-{os.getpid()}-y").is_dir()
    assert json.loads((run_dir / "results.json").read_text())["run_id"] == results["run_id"]


def test_a_failing_run_is_reported_with_its_log(tmp_path, run_store):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    done = portability("push", "local", "--wait", "--dataset", bad, env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 1
    assert "failed" in done.stderr and "log.txt" in done.stderr and "Traceback" not in done.stderr
    log = next(run_store.glob("local/*/log.txt")).read_text()
    assert "bad.npz: not a readable .npz file" in log


def test_dry_run_sends_nothing(run_store):
    done = portability("push", "docker", "--dry-run", env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 0
    assert "would run experiment.py" in done.stderr and "Dockerfile" in done.stderr and "nothing was sent" in done.stderr
    assert not run_store.exists()


def test_status_and_pull_messages(run_store):
    env = {"PORTABILITY_RUNS_DIR": str(run_store)}
    assert "no runs yet" in portability("status", env=env).stdout
    missing = portability("pull", "local/nope", env=env)
    assert missing.returncode == 1 and "no run 'local/nope'" in missing.stderr
    assert portability("pull", env=env).returncode == 2


class TestLocalContract(AdapterContract):
    name = "local"


@pytest.mark.parametrize("stop_after", ["status", "handle"])
def test_a_push_killed_before_its_first_state_is_resumed(stop_after, tiny_config, run_store, monkeypatch):
    """Killed between writing the run's first files: the next push submits it, it never waits forever."""
    real = store.write_handle if stop_after == "handle" else runs.record_status

    def dies(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(runs.store if stop_after == "handle" else runs, "write_handle" if stop_after == "handle" else "record_status", dies)
        with pytest.raises(KeyboardInterrupt):
            runs.push("local", tiny_config, log=lambda m: None)
    messages = []
    run = runs.push("local", tiny_config, log=messages.append)
    if stop_after == "handle":
        assert any("resuming the interrupted push" in m for m in messages)
    assert run.wait(timeout=300, interval=0.5) == "completed"
    assert run.pull()["test"]["accuracy"] >= 0.5
