"""Run folders in odd states: a Docker run stopped while `submitting` (no container yet), and handles
with a key too many or too few. `status` and `pull` say what is wrong and what to do, never a Python
error, and never "no run" for a folder that is there."""

import json

import pytest

from tests.conftest import portability


def write_handle(store, platform, run_id, state, **extra):
    folder = store / platform / run_id
    folder.mkdir(parents=True)
    handle = {"platform": platform, "run_id": run_id, "bundle_hash": "abc", "mode": "executed", "remote_id": None,
              "details": {}, **extra}
    (folder / "handle.json").write_text(json.dumps(handle))
    (folder / "status.json").write_text(json.dumps([{"time": "2026-01-01T00:00:00Z", "state": state}]))
    return folder


def test_a_docker_run_stopped_while_submitting(run_store):
    write_handle(run_store, "docker", "20260101-000000-stopped", "submitting")
    for command in (["status"], ["status", "docker/20260101-000000-stopped"]):
        done = portability(*command)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "submitting (not submitted yet, or its push stopped: the same `portability push` resumes it)" in done.stdout
        assert "Error" not in done.stdout
    pulled = portability("pull", "docker/20260101-000000-stopped")
    assert pulled.returncode == 1 and "Traceback" not in pulled.stderr
    assert "stopped while it was being submitted: nothing to pull; the same `portability push` resumes it" in pulled.stderr


def test_docker_status_without_a_container_is_unknown_not_a_type_error(tmp_path):
    import adapters
    from portability.store import Handle

    handle = Handle(platform="docker", run_id="r", bundle_hash="abc")  # no remote_id: never started
    assert adapters.get("docker").status(handle, tmp_path) == "unknown"


@pytest.mark.parametrize("change, problem", [
    ({"colour": "blue"}, "unexpected key colour"),
    ({"bundle_hash": None}, "bundle_hash of the wrong type"),
    ("drop bundle_hash", "missing key bundle_hash"),
])
def test_a_handle_with_a_key_too_many_or_too_few(run_store, change, problem):
    folder = write_handle(run_store, "local", "20260101-000000-odd", "completed")
    handle = json.loads((folder / "handle.json").read_text())
    if change == "drop bundle_hash":
        del handle["bundle_hash"]
    else:
        handle.update(change)
    (folder / "handle.json").write_text(json.dumps(handle))
    for command in (["status", "local/20260101-000000-odd"], ["pull", "20260101-000000-odd"]):
        done = portability(*command)
        assert done.returncode == 1 and "Traceback" not in done.stderr and "no run " not in done.stderr, done.stderr
        assert f"handle.json is damaged ({problem})" in done.stderr and "delete its folder" in done.stderr
    listed = portability("status")
    assert listed.returncode == 0 and f"local/20260101-000000-odd: {folder / 'handle.json'} is damaged ({problem})" in listed.stderr


@pytest.mark.parametrize("status", ['{"x":', "[1]", '[{"state": ["a"]}]', "null"])
def test_a_damaged_status_file_hides_no_other_run(run_store, tmp_path, local_tiny_results, status):
    good = write_handle(run_store, "local", "20260101-000000-good", "completed")
    (good / "results.json").write_text(json.dumps(local_tiny_results))
    bad = write_handle(run_store, "kaggle", "20260101-000000-bad", "running")
    (bad / "status.json").write_text(status)
    listed = portability("status")
    assert listed.returncode == 0 and "local/20260101-000000-good" in listed.stdout
    assert "kaggle/20260101-000000-bad" in listed.stdout and "status.json is damaged" in listed.stdout
    report = portability("report", "--out", tmp_path / "out")
    assert report.returncode == 0 and "local    executed" in report.stdout
    assert "kaggle/20260101-000000-bad: no results.json (state: status.json unreadable)" in report.stderr


def test_a_training_child_that_ended_without_its_exit_code_is_failed_not_running(tmp_path):
    """A zombie (ended, not yet reaped) still answers `kill(pid, 0)`: it must not be followed as running
    until the timeout."""
    import subprocess
    import time

    import adapters
    from adapters.handle import Handle
    from adapters.trains_here import alive

    child = subprocess.Popen(["sleep", "0"])
    for _ in range(100):  # until it has ended (a zombie: this test has not waited for it)
        if open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    handle = Handle(platform="comet", run_id="r", bundle_hash="abc", details={"pid": child.pid})
    (tmp_path / "work").mkdir()
    assert adapters.get("comet").status(handle, tmp_path) == "failed"
    assert not alive(child.pid)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert alive(sleeper.pid) and adapters.get("comet").status(
            Handle(platform="comet", run_id="s", bundle_hash="abc", details={"pid": sleeper.pid}), tmp_path) == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
