"""`portability push --all` and `push A B C`: every platform in turn; one that is not ready is skipped
(with --all) or fails (when named), and a failure does not stop the platforms after it."""

import json

from tests.conftest import portability
from tests.test_comet import QUIET_COMET
from tests.test_local_adapter import tiny_args


def isolated(run_store, tmp_path):
    """No platform credentials, no Docker engine: only local, comet (offline), openml and beat (its local
    executor) are ready."""
    return {**QUIET_COMET, "PORTABILITY_RUNS_DIR": str(run_store), "HOME": str(tmp_path), "COMET_API_KEY": "",
            "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"), "CODALAB_HOME": str(tmp_path / "codalab"),
            "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock", "OPENML_APIKEY": ""}


def summary(stdout):
    lines = stdout.split("push summary:\n")[1].splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in lines}


def test_push_all_skips_what_is_not_ready_and_goes_on_after_a_failure(tiny_npz, run_store, tmp_path):
    done = portability("push", "--all", "--wait", "--timeout", "600", *tiny_args(tiny_npz),
                       env=isolated(run_store, tmp_path))
    outcomes = summary(done.stdout)
    assert list(outcomes) == ["local", "docker", "kaggle", "codalab", "comet", "openml", "beat"]
    assert outcomes["local"] == outcomes["comet"] == outcomes["beat"] == "completed", done.stderr[-3000:]
    assert outcomes["docker"].startswith("skipped: no Docker engine is reachable")
    assert outcomes["kaggle"].startswith("skipped:") and "KAGGLE_USERNAME" in outcomes["kaggle"]
    assert outcomes["codalab"].startswith("skipped:") and "CODALAB_USERNAME" in outcomes["codalab"]
    # your own data set on OpenML needs a task: a clear failure, after which nothing else is lost
    assert outcomes["openml"].startswith("failed:") and "--openml-task" in outcomes["openml"]
    assert done.returncode == 1 and "Traceback" not in done.stderr
    for platform in ("local", "comet", "beat"):
        results = json.loads(next((run_store / platform).glob("*/results.json")).read_text())
        assert results["platform"]["name"] == platform and results["test"]["accuracy"] >= 0.5
    assert not (run_store / "kaggle").exists() and not (run_store / "docker").exists()


def test_named_platforms_that_are_not_ready_fail_and_the_rest_still_runs(tiny_npz, run_store, tmp_path):
    env = {**isolated(run_store, tmp_path), "PORTABILITY_KAGGLE_DATASET": "tester/tiny"}  # so only credentials lack
    done = portability("push", "kaggle", "local", "--wait", *tiny_args(tiny_npz), env=env)
    outcomes = summary(done.stdout)
    assert outcomes["kaggle"].startswith("failed: cannot push to kaggle") and outcomes["local"] == "completed"
    assert done.returncode == 1 and "KAGGLE_USERNAME" in done.stderr
    assert len(list((run_store / "local").glob("*/handle.json"))) == 1


def test_push_all_dry_run_sends_nothing(run_store, tmp_path):
    done = portability("push", "--all", "--dry-run", env=isolated(run_store, tmp_path))
    assert done.returncode == 0, done.stderr
    assert set(summary(done.stdout).values()) == {"dry run: nothing sent"} and len(summary(done.stdout)) == 7
    assert not run_store.exists() or not any(run_store.iterdir())


def test_push_needs_platforms_or_all(run_store):
    for args in ([], ["--all", "local"]):
        done = portability("push", *args)
        assert done.returncode == 2 and "or pass --all" in done.stderr
    unknown = portability("push", "local", "colab")
    assert unknown.returncode == 2 and "valid platforms are local, docker" in unknown.stderr
    assert not run_store.exists() or not any(run_store.iterdir())  # nothing was pushed to local
