"""OpenML: the real client reading tasks from a cache built here (no network), the task's 10-fold CV
run written to disk and scored back, publishing against a strict stand-in server, and the holdout
protocol on the real MNIST."""

import json
import os

import numpy as np
import pytest

from tests import openml_cache
from tests.conftest import live, portability, synthetic_images
from tests.contract import AdapterContract
from tests.openml_server import OpenMLStandIn

TASK, DATASET = 990001, 990002
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "32", "--target-accuracy", "0.3"]


@pytest.fixture
def no_network(monkeypatch):
    """Any call of the client to a server fails the test."""
    import openml._api_calls

    def refuse(*args, **kwargs):
        raise AssertionError(f"network call from the openml client: {args[:2]}")

    for name in ("_perform_api_call", "_download_minio_file", "_send_request"):
        monkeypatch.setattr(openml._api_calls, name, refuse)


@pytest.fixture
def small_task(tmp_path):
    images, labels = synthetic_images(200, seed=3)
    root = tmp_path / "openml-cache"
    openml_cache.build(root, TASK, DATASET, "tiny-digits", images[..., 0], labels)
    return root, labels


def env_for(run_store, cache, **extra):
    return {**NO_NETWORK, "PORTABILITY_RUNS_DIR": str(run_store), "PORTABILITY_OPENML_TASK": str(TASK),
            "OPENML_CACHE_DIR": str(cache), "OPENML_APIKEY": "", **extra}


def pushed(done, run_store):
    assert done.returncode == 0, done.stderr[-3000:]
    run = done.stdout.split("run: ")[1].split()[0]
    return run_store / run, json.loads((run_store / run / "results.json").read_text())


def test_real_client_reads_the_cached_tasks_without_network(small_task, no_network, tmp_path):
    import openml

    root, labels = small_task
    openml_cache.build(root, 3573, 554, "mnist_784", np.zeros((20, 28, 28), "uint8"), np.arange(20) % 10,
                       with_splits=False)
    openml.config.set_root_cache_directory(str(root))
    task = openml.tasks.get_task(TASK, download_splits=True, download_data=True, download_qualities=False)
    features, target, _, _ = task.get_dataset().get_data(target=task.target_name)
    assert features.shape == (200, 784) and task.class_labels == [str(c) for c in range(10)]
    assert task.get_split_dimensions() == (1, 10, 1)
    train, test = task.get_train_test_split_indices(fold=3, repeat=0)
    assert len(train) + len(test) == 200 and not set(train) & set(test)
    mnist = openml.tasks.get_task(3573, download_splits=False, download_data=False, download_qualities=False)
    assert (mnist.dataset_id, mnist.target_name, mnist.estimation_procedure["parameters"]["number_folds"]) == (554, "class", "10")


def test_cv_task_run_written_offline_scores_back_the_same(small_task, run_store):
    import openml
    import sklearn.metrics

    root, labels = small_task
    env = env_for(run_store, root, PORTABILITY_THREADS="1")
    run_dir, results = pushed(portability("push", "openml", "--wait", *TINY, env=env), run_store)
    platform = results["platform"]
    assert platform["protocol"] == "10-fold CV" and platform["openml_run_id"] is None
    assert platform["openml_pending_publish"] == "openml-run"
    assert len(results["folds"]) == 10 and results["test"]["measure"] == "mean over folds"
    openml.config.set_root_cache_directory(str(root))
    run = openml.runs.OpenMLRun.from_filesystem(str(run_dir / "openml-run"), expect_model=False)
    per_fold = run.get_metric_fn(sklearn.metrics.accuracy_score)
    assert np.mean(per_fold) == pytest.approx(results["test"]["accuracy"], abs=1e-6)
    assert [round(a, 6) for a in per_fold] == [round(f["accuracy"], 6) for f in results["folds"]]
    # the folds are independent trainings: on a Dask LocalCluster of 2 workers (each fold in a fresh
    # process) they give, fold by fold, these weights (the same thread count)
    _, on_dask = pushed(portability("push", "openml", "--wait", "--force", *TINY,
                                    env={**env, "PORTABILITY_FOLD_WORKERS": "2"}), run_store)
    assert platform["fold_engine"] == "one after another"
    assert on_dask["platform"]["fold_engine"] == "Dask LocalCluster, 2 workers x 1 thread(s)"
    assert on_dask["throughput"]["intra_op_threads"] == 1
    assert [f["weights_sha256"] for f in on_dask["folds"]] == [f["weights_sha256"] for f in results["folds"]]


def test_publish_against_the_stand_in_then_evaluation(tmp_path, run_store):
    images, labels = synthetic_images(200, seed=3)
    with OpenMLStandIn("test-key", TASK, [str(c) for c in range(10)], rows=200) as server:
        openml_cache.build(tmp_path / "c", TASK, DATASET, "tiny-digits", images[..., 0], labels, server=server.url)
        env = env_for(run_store, tmp_path / "c", OPENML_APIKEY="test-key", OPENML_SERVER=server.url)
        run_dir, results = pushed(portability("push", "openml", "--wait", *TINY, env=env), run_store)
        assert server.violations == []
        platform = results["platform"]
        assert platform["openml_run_id"] == 4000 and platform["openml_flow_id"] == 100
        assert platform["openml_evaluation"] == "pending"
        assert ("POST", "/api/v1/xml/flow/exists") in server.calls and ("GET", "/api/v1/xml/flow/100") in server.calls
        server.engine = True  # OpenML's evaluation engine: accuracy pooled over all rows
        again = portability("pull", f"openml/{run_dir.name}", env=env)
        assert again.returncode == 0, again.stderr
        pulled = json.loads((run_dir / "results.json").read_text())
        pooled = server.scores(4000)["predictive_accuracy"]
        assert pulled["platform"]["openml_evaluation"] == {"predictive_accuracy": pooled,
                                                           "measure": "pooled over all rows (OpenML)"}
        assert abs(pooled - pulled["test"]["accuracy"]) < 0.05  # ours is the mean over folds


def test_offline_run_is_published_later_and_errors_are_kept(small_task, tmp_path, run_store):
    images, labels = synthetic_images(200, seed=3)
    with OpenMLStandIn("test-key", TASK, [str(c) for c in range(10)], rows=200) as server:
        openml_cache.build(tmp_path / "c", TASK, DATASET, "tiny-digits", images[..., 0], labels, server=server.url)
        wrong = env_for(run_store, tmp_path / "c", OPENML_APIKEY="wrong-key", OPENML_SERVER=server.url)
        run_dir, results = pushed(portability("push", "openml", "--wait", *TINY, env=wrong), run_store)
        assert "Authentication failed" in results["platform"]["openml_publish_error"]
        assert results["platform"]["openml_pending_publish"] == "openml-run" and server.runs == {}
        right = {**wrong, "OPENML_APIKEY": "test-key"}
        later = portability("push", "openml", *TINY, env=right)
        assert later.returncode == 0, later.stderr[-2000:]
        assert "published 1 offline run" in later.stderr and server.violations == []
        assert json.loads((run_dir / "results.json").read_text())["platform"]["openml_run_id"] == 4000


def test_bad_options(run_store):
    bad = portability("push", "openml", "--dry-run", env={"PORTABILITY_OPENML_PROTOCOL": "bootstrap"})
    assert bad.returncode == 2 and "unknown OpenML protocol 'bootstrap': valid ones are cv, holdout" in bad.stderr
    own = portability("push", "openml", "--dry-run", "--dataset", "/tmp", env={"PORTABILITY_OPENML_TASK": "x"})
    assert own.returncode == 2 and "must be a task id" in own.stderr


def test_the_task_is_a_flag_and_a_config_files_platform_option(tmp_path):
    """`--openml-task ID` (declared by the adapter as an Option) and `platform_options: {openml: {task: ID}}`
    reach the bundle's task slot; a bad value or the flag with another platform is one clear line."""
    def task_slot(*options, env=None):
        done = portability("package", "openml", "--out", tmp_path / "b", "--force", *options,
                           env={"PORTABILITY_OPENML_TASK": "", **(env or {})})
        assert done.returncode == 0, done.stderr
        return next(line for line in (tmp_path / "b" / "shim.py").read_text().splitlines() if line.startswith("TASK_ID"))

    assert task_slot("--openml-task", "990011") == "TASK_ID = 990011  # slot"
    config = tmp_path / "openml.yaml"
    config.write_text("preset: mnist-reference\nplatform_options: {openml: {task: 990012}}\n")
    assert task_slot("--config", config) == "TASK_ID = 990012  # slot"
    assert task_slot("--config", config, "--openml-task", "990013") == "TASK_ID = 990013  # slot"  # the flag wins
    assert task_slot(env={"PORTABILITY_OPENML_TASK": "990014"}) == "TASK_ID = 990014  # slot"
    bad = portability("package", "openml", "--out", tmp_path / "c", "--openml-task", "x", "--dataset", "/tmp")
    assert bad.returncode == 2 and "--openml-task must be a task id (a number), got 'x'" in bad.stderr
    elsewhere = portability("push", "local", "--dry-run", "--openml-task", "3573")
    assert elsewhere.returncode == 2 and "--openml-task is OpenML's: use it with the openml platform alone" in elsewhere.stderr
    assert "--openml-task" in portability("push", "--help").stdout


def test_a_seeds_sweep_gives_every_cell_the_task_flag(small_task, run_store):
    """`push openml --seeds 1,2 --openml-task ID`: each cell (a Dask task here, `push openml` in its own
    process) runs on that task; the task is part of the cells' identity, so another task gives other
    cells, not the same ones skipped."""
    root, _ = small_task
    env = env_for(run_store, root, PORTABILITY_OPENML_TASK="")
    done = portability("push", "openml", "--seeds", "1,2", "--openml-task", str(TASK), *TINY, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [json.loads(path.read_text()) for path in run_store.glob("openml/*/results.json")]
    assert sorted(run["config"]["seed"] for run in runs) == [1, 2]
    assert {run["platform"]["task_id"] for run in runs} == {TASK} and {len(run["folds"]) for run in runs} == {10}
    [manifest] = [json.loads(path.read_text()) for path in run_store.glob("_sweeps/*/manifest.json")]
    assert [cell["options"] for cell in manifest["cells"].values()] == [{"task": str(TASK)}] * 2
    again = portability("push", "openml", "--seeds", "1,2", "--openml-task", str(TASK), *TINY, env=env)
    assert again.returncode == 0 and "2 done (2 skipped)" in again.stderr
    other = portability("push", "openml", "--seeds", "1,2", "--openml-task", "990099", "--dry-run", *TINY, env=env)
    assert other.returncode == 0 and "2 cells, 0 complete, 2 to run" in other.stdout
    assert other.stdout.count("seed=1 openml.task=990099") == 1  # the plan names the cells' option


def test_a_task_that_is_neither_cached_nor_reachable_is_named(tmp_path, run_store):
    env = env_for(run_store, tmp_path / "empty-cache", OPENML_SERVER="http://127.0.0.1:9/api/v1/xml")
    done = portability("push", "openml", "--wait", "--timeout", "300", *TINY, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"its last line: cannot reach the OpenML server (http://127.0.0.1:9/api/v1/xml) for task {TASK}" in done.stderr
    assert "OPENML_CACHE_DIR" in done.stderr


@pytest.mark.slow
def test_holdout_reference_on_real_mnist_through_the_openml_client(mnist_dir, tmp_path, run_store):
    from core import datasets

    mnist = datasets.locate("mnist", data_dir=mnist_dir)
    images = np.concatenate([mnist.x_train, mnist.x_test])[..., 0]
    labels = np.concatenate([mnist.y_train, mnist.y_test])
    openml_cache.build(tmp_path / "c", 3573, 554, "mnist_784", images, labels, with_splits=False)
    env = env_for(run_store, tmp_path / "c", PORTABILITY_OPENML_TASK="3573", PORTABILITY_OPENML_PROTOCOL="holdout")
    run_dir, results = pushed(portability("push", "openml", "--wait", "--preset", "mnist-reference",
                                          "--max-train-samples", "6000", env=env), run_store)
    assert results["dataset"]["train_samples"] == 60000 and results["test"]["accuracy"] >= 0.85  # chance is 0.1
    assert results["platform"]["protocol"].startswith("holdout") and "openml_run_id" not in results["platform"]
    assert results["platform"]["data_check"].startswith("canonical")


@live("openml", "OPENML_TEST_APIKEY")
def test_live_publish_on_the_openml_test_server(run_store):
    env = {"PORTABILITY_RUNS_DIR": str(run_store), "OPENML_APIKEY": os.environ["OPENML_TEST_APIKEY"],
           "OPENML_SERVER": "https://test.openml.org/api/v1/xml", "PORTABILITY_OPENML_PROTOCOL": "cv"}
    run_dir, results = pushed(portability("push", "openml", "--wait", "--timeout", "7200", *TINY, env=env,
                                          timeout=7500), run_store)
    assert results["platform"]["openml_run_id"]


@pytest.fixture(scope="module")
def tiny_task_cache(tmp_path_factory):
    images, labels = synthetic_images(200, seed=3)
    return openml_cache.build(tmp_path_factory.mktemp("openml-cache"), 990001, 990002, "tiny-digits", images[..., 0], labels)


class TestOpenMLContract(AdapterContract):
    name = "openml"

    @pytest.fixture
    def platform_env(self, monkeypatch, tiny_task_cache):
        monkeypatch.setenv("PORTABILITY_OPENML_TASK", "990001")  # your own data set runs on OpenML as a task
        monkeypatch.setenv("OPENML_CACHE_DIR", str(tiny_task_cache))
        monkeypatch.setenv("OPENML_APIKEY", "")  # written offline, published later

