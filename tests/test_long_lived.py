"""Same weights in a long-lived process (issue 29): the same tiny config trained three times in one
process (main thread; worker threads while another thread draws from Python's `random`), in a Dask
worker and in a Jupyter kernel gives one weights hash, a fresh process's. Before core/seeding.py, a
training in a worker thread drew its initializers' seeds from the process's `random` stream, which
Dask's event loop also draws from (`dask.sizeof`), so the weights changed from task to task."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HELPER = ROOT / "tests" / "long_lived.py"


def trainings(npz, mode, times, *split):
    return helper(npz, mode, times, *split).split("HASHES", 1)[1].split()


def helper(npz, mode, times, *split):
    done = subprocess.run([sys.executable, str(HELPER), str(npz), mode, str(times), *split], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PORTABILITY_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def fresh(tiny_npz):
    """The outcome (weights, history, test scores) of one training in a fresh process."""
    (weights,) = trainings(tiny_npz, "main", 1)
    return weights


def test_three_trainings_in_one_process_give_the_fresh_process_weights(tiny_npz, fresh):
    assert trainings(tiny_npz, "main", 3) == [fresh] * 3


def test_a_reused_compiled_model_gives_each_training_the_fresh_process_outcome(tiny_npz, fresh):
    """A warm worker's later trainings of the same shape reuse its traced model (core/warm_model.py):
    every variable reset to the fresh build, the same weights, history and test scores."""
    assert trainings(tiny_npz, "reuse", 3) == [fresh] * 3


@pytest.mark.parametrize("split", [[], ["whole"]], ids=["validation-split", "no-split"])
def test_data_scaled_once_for_a_warm_workers_trainings_gives_each_the_fresh_process_outcome(tiny_npz, fresh, split):
    """A warm worker keeps each built-in data set's scaled images as tensors (core/experiment.keep_scaled),
    shared by its trainings (the training images and the test images), which Keras then uses without
    copying: the same outcome as a fresh process, with a validation split cut from the kept images and
    without one (training on the kept tensor itself)."""
    expected = fresh
    if split:
        expected = trainings(tiny_npz, "main", 1, *split)[0]
        assert expected != fresh  # it trains on all the images, not 80% of them: its own check
    kept, hashes = helper(tiny_npz, "kept", 3, *split).split("HASHES", 1)
    assert kept.split() == ["KEPT", "2", "EagerTensor"]
    assert hashes.split() == [expected] * 3


def test_trainings_in_worker_threads_are_not_moved_by_other_threads(tiny_npz, fresh):
    assert trainings(tiny_npz, "thread", 3) == [fresh] * 3


def test_three_trainings_in_one_dask_worker_give_the_fresh_process_weights(tiny_npz, fresh, monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.setenv("PORTABILITY_THREADS", "1")  # the worker inherits it, as a sweep's workers do
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    import long_lived

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        done = [client.submit(long_lived.train, str(tiny_npz), reuse=True, pure=False).result() for _ in range(3)]
    assert [weights for weights, _ in done] == [fresh] * 3
    assert [process["trainings_before"] for _, process in done] == [0, 1, 2]  # one warm worker trained all three
    assert {process["python_random"] for _, process in done} == {"a stream private to the training thread"}
    assert [process["compiled_model"].split()[0] for _, process in done] == ["built", "reused", "reused"]


AUTOTUNED = """
import numpy as np
from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
from core import keras_import

def autotuned():
    adapter = ArrayDataAdapter(np.zeros((8, 2), "float32"), np.zeros(8), batch_size=4, shuffle=True)
    return adapter.get_tf_dataset().options().autotune.enabled

print("BEFORE", autotuned())
assert keras_import.without_autotuning() == keras_import.without_autotuning()  # once per process
print("AFTER", autotuned())
"""


def test_keras_array_pipelines_run_without_the_autotuning_thread():
    """tf.data's autotuning thread, waited for when Keras drops an epoch's iterator, held a worker
    thread's training up to 5 s after its last epoch (core/keras_import.py): every training turns it off
    (the same batches: the weights tests above, and the reference run's hash, run with it off)."""
    done = subprocess.run([sys.executable, "-c", AUTOTUNED], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["BEFORE", "None", "AFTER", "False"]  # None: unset, tf.data's default (on)


SPINNING = """
import sys
from core import keras_import
keras, tf = keras_import.import_keras()
from tensorflow.python.eager import context
if sys.argv[1] == "late":
    tf.constant(1.0) + 1  # an op before the experiment's setup starts TensorFlow's runtime
print(keras_import.without_thread_spinning(tf).split()[0], tf.reduce_sum(tf.ones((64, 64))).numpy(),
      context.context().config.experimental.disable_thread_spinning)
"""


@pytest.mark.parametrize("when, expected", [("early", ["off", "4096.0", "True"]), ("late", ["on", "4096.0", "False"])])
def test_thread_pools_are_made_without_spinning_and_a_late_call_says_it_came_too_late(when, expected):
    """TensorFlow's pools spin for work after each op (CPU burnt, no result): the experiment's setup
    switches that off before TensorFlow starts (the weights tests above run with it off); where
    TensorFlow had already started, the record says spinning stayed on."""
    done = subprocess.run([sys.executable, "-c", SPINNING, when], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == expected


def test_three_reruns_in_a_jupyter_kernel_give_the_fresh_process_weights(tiny_npz, fresh, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("PORTABILITY_THREADS", "1")
    cells = [nbformat.v4.new_code_cell(f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
                                       "import long_lived")]
    cells += [nbformat.v4.new_code_cell(f"print('HASH', long_lived.train({str(tiny_npz)!r})[0])") for _ in range(3)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    printed = [output.get("text", "") for cell in notebook.cells[1:] for output in cell.outputs if output.get("name") == "stdout"]
    assert [text.split("HASH", 1)[1].split()[0] for text in printed if "HASH" in text] == [fresh] * 3


def test_a_sweep_on_one_warm_worker_gives_each_seed_the_fresh_processes_outcome(tiny_npz, tmp_path):
    """`portability run --seeds` with its cells in one warm Dask worker (the later ones reusing its
    compiled model) and with a fresh process per cell: per seed, the same weights, history, test scores."""
    from tests.conftest import portability
    from tests.long_lived import outcome

    options = ["--dataset", tiny_npz, "--model", "reference", "--epochs", "2", "--batch-size", "64",
               "--validation-split", "0.2", "--target-accuracy", "0.5", "--seeds", "1-3", "--workers", "1"]
    outcomes = {}
    for way, extra in (("warm", []), ("fresh", ["--fresh-processes"])):
        store = tmp_path / way
        done = portability("run", *options, *extra, env={"PORTABILITY_RUNS_DIR": str(store)})
        assert done.returncode == 0, done.stderr[-3000:]
        runs = [json.loads(path.read_text()) for path in store.glob("local/*/results.json")]
        outcomes[way] = {run["config"]["seed"]: outcome(run) for run in runs}
        records = sorted((run["process"]["trainings_before"], run["process"].get("compiled_model", "").split(" ")[0])
                         for run in runs)
        handles = [json.loads(path.read_text())["details"]["process"] for path in store.glob("local/*/handle.json")]
        if way == "warm":
            assert records == [(0, "built"), (1, "reused"), (2, "reused")] and set(handles) == {"warm worker"}
        else:
            assert records == [(0, "")] * 3 and set(handles) == {"fresh process"}
    assert sorted(outcomes["warm"]) == [1, 2, 3] and outcomes["warm"] == outcomes["fresh"]
