"""Nothing already computed is lost and no damaged folder hides the others: bundles never replace a
user's files, a finished run is never overwritten, concurrent commands do not collide, an incomplete
or failed run is never shown as a result, and one damaged run folder is one problem line."""

import json
import subprocess

from portability import store
from tests.conftest import BIN, ROOT, portability

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


def test_package_never_empties_a_folder_of_the_users_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    done = portability("package", "local", "--out", tmp_path / "mine")
    assert done.returncode == 2 and "thesis.tex" in done.stderr and "--force" in done.stderr
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"
    assert portability("package", "local", "--out", tmp_path / "bundle").returncode == 0
    assert portability("package", "local", "--out", tmp_path / "bundle", "--seed", "7").returncode == 0  # a bundle: replaced
    assert json.loads((tmp_path / "bundle" / "config.json").read_text())["seed"] == 7
    forced = portability("package", "local", "--out", tmp_path / "mine", "--force")
    assert forced.returncode == 0 and not (tmp_path / "mine" / "thesis.tex").exists()


def test_a_finished_run_is_never_overwritten(tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    first = portability("run", "--dataset", tiny_npz, *TINY, "--out", tmp_path / "run", "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "run" / "results.json").read_text()
    again = portability("run", "--dataset", tiny_npz, *TINY, "--seed", "3", "--out", tmp_path / "run", env=env)
    assert again.returncode == 1 and "already holds a run's results" in again.stderr
    assert (tmp_path / "run" / "results.json").read_text() == before
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 42  # config and results agree


def test_identical_runs_started_together_get_their_own_folders(tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    command = [str(BIN / "portability"), "run", "--dataset", str(tiny_npz), *TINY, "--quiet"]
    processes = [subprocess.Popen(command, cwd=ROOT, env={**__import__("os").environ, **env},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err[-1500:] for _, err in outputs]
    folders = sorted((tmp_path / "runs" / "local").iterdir())
    assert len(folders) == 3 and len({f.name for f in folders}) == 3
    weights = {json.loads((f / "results.json").read_text())["weights_sha256"] for f in folders}
    assert len(weights) == 1  # same config, same weights, three complete runs
    status = portability("status", env=env)
    assert status.stdout.count(" completed") == 3 and "problem" not in status.stderr


def test_concurrent_pulls_do_not_collide(tiny_config, run_store):
    from portability import runs

    run = runs.push("local", tiny_config, log=lambda m: None)
    handle, run_dir = run.handle, run.run_dir
    run.wait(timeout=300, interval=0.5)
    env = {"PORTABILITY_RUNS_DIR": str(run_store)}
    command = [str(BIN / "portability"), "pull", f"local/{handle.run_id}"]
    processes = [subprocess.Popen(command, cwd=ROOT, env={**__import__("os").environ, **env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    assert not list(run_dir.glob(".pull-*")) and json.loads((run_dir / "results.json").read_text())["run_id"]


def test_incomplete_and_failed_runs_are_problems_not_results(tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    done = portability("run", "--dataset", tiny_npz, *TINY, "--quiet", env=env)
    assert done.returncode == 0
    run_dir = next((tmp_path / "runs" / "local").iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    results["artifacts"] = {"status": "saving"}  # as a run killed while saving its model leaves it
    (run_dir / "results.json").write_text(json.dumps(results))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    failed = portability("run", "--dataset", bad, env=env)
    assert failed.returncode == 1 and "not a readable .npz file" in failed.stderr
    failed_dir = next(d for d in (tmp_path / "runs" / "local").iterdir() if d != run_dir)
    assert [s["state"] for s in store.status_history(failed_dir)] == ["running", "failed"]  # recorded once, as failed
    report = portability("report", "--out", tmp_path / "report", env=env)
    assert report.returncode == 0, report.stderr
    assert "local    failed, no result" in report.stdout  # the incomplete run is no result
    assert "stopped while saving its model" in report.stderr
    failure = next(line for line in report.stderr.splitlines() if failed_dir.name in line)
    assert "no results.json (state: failed: " in failure and "not a readable .npz file" in failure  # and why


def test_one_damaged_folder_is_one_problem_line(tiny_npz, tmp_path):
    env = {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}
    for seed in ("1", "2", "3", "4"):
        assert portability("run", "--dataset", tiny_npz, *TINY, "--seed", seed, "--quiet", env=env).returncode == 0
    folders = sorted((tmp_path / "runs" / "local").iterdir())
    (folders[0] / "status.json").write_text('[{"time": "2026-')  # truncated by a crash
    (folders[1] / "handle.json").write_text('{"platform": "lo')
    (folders[2] / "results.json").write_text('{"schema_version": 1, "run')
    status = portability("status", env=env)
    assert status.returncode == 0 and "Traceback" not in status.stderr
    assert folders[3].name in status.stdout and f"{folders[0].name}" in status.stdout  # listed, state unknown
    assert f"problem: local/{folders[1].name}" in status.stderr and "handle.json is damaged" in status.stderr
    pulled = portability("pull", "--all", env=env)
    assert pulled.returncode == 1 and "Traceback" not in pulled.stderr and folders[3].name in pulled.stdout
    report = portability("report", "--out", tmp_path / "report", env=env)
    assert report.returncode == 0 and "results.json unreadable" in report.stderr and "Traceback" not in report.stderr
    verify = portability("verify", folders[2], env=env)
    assert verify.returncode == 1 and "cannot read" in verify.stderr and "Traceback" not in verify.stderr
    unwritable = portability("run", "--dataset", tiny_npz, *TINY, "--out", "/dev/null/x", env=env)
    assert unwritable.returncode == 1 and "/dev/null/x" in unwritable.stderr and "Traceback" not in unwritable.stderr
