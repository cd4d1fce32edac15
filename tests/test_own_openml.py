"""A researcher's own script on OpenML (emulated, the real `openml` client reading a task cache built here,
no network): the script runs as written, then its first fitted model is rebuilt with the same compile
settings and trained on each of the task's folds with the script's fit arguments; the OpenML run's flow
names the script and its hash. A script whose data is no OpenML task's is told to name one."""

import json

import pytest

from core import workspace
from tests import openml_cache
from tests.conftest import portability, synthetic_images
from tests.own_data import FIXTURES, small_mnist_npz

TRAIN = FIXTURES / "train.py"
TASK, DATASET = 990011, 990012
NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}


@pytest.fixture
def task_cache(tmp_path):
    images, labels = synthetic_images(200, seed=3)
    openml_cache.build(tmp_path / "openml-cache", TASK, DATASET, "tiny-digits", images[..., 0], labels)
    return tmp_path / "openml-cache"


def emulate(tmp_path, cache, *options, task=str(TASK)):
    """The task through the command line's --openml-task (none: the script's data names no task)."""
    env = {**NO_NETWORK, "PORTABILITY_RUNS_DIR": str(tmp_path / "runs"), "OPENML_CACHE_DIR": str(cache),
           "OPENML_APIKEY": "", "PORTABILITY_OPENML_TASK": "", "PORTABILITY_THREADS": "1"}
    flag = ["--openml-task", task] if task else []
    return portability("emulate", "openml", "--script", TRAIN, *flag, *options, env=env, timeout=900)


def test_the_scripts_first_model_is_trained_on_each_fold_of_the_task(task_cache, tmp_path):
    data = small_mnist_npz(tmp_path, train=1000, test=200)
    done = emulate(tmp_path, task_cache, "--data", data, "--", "1", "128")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    run_dir = next((tmp_path / "runs" / "openml").iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "completed" and results["platform"]["task_id"] == TASK
    assert results["script_test"]["source"] == "the script's last Model.evaluate"  # the script, as written
    assert len(results["folds"]) == 10 and len({fold["weights_sha256"] for fold in results["folds"]}) == 10
    mean = sum(fold["accuracy"] for fold in results["folds"]) / 10
    assert results["test"]["accuracy"] == pytest.approx(mean) and "10 folds of OpenML task" in results["test"]["measure"]
    saved = run_dir / "work" / "output" / "openml-run"
    flow = json.loads((saved / "flow.json").read_text())
    assert flow["name"] == "portability.script.train"
    assert flow["parameters"]["script_sha256"] == workspace.sha256_file(TRAIN)
    predictions = (saved / "predictions.arff").read_text()
    assert predictions.count("\n") > 200  # one row per task row


def test_a_script_whose_data_is_no_tasks_is_told_to_name_one(task_cache, tmp_path):
    data = small_mnist_npz(tmp_path, train=300, test=100)
    done = emulate(tmp_path, task_cache, "--data", data, "--", "1", "128", task="")
    assert done.returncode == 1
    results = json.loads(next((tmp_path / "runs" / "openml").glob("*/results.json")).read_text())
    assert results["status"] == "failed" and "--openml-task ID" in results["message"]
    assert "mnist.npz" in results["message"]
