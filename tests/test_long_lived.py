"""Same weights in a long-lived process (issue 29): the same tiny config trained three times in one
process (main thread; worker threads while another thread draws from Python's `random`), in a Dask
worker and in a Jupyter kernel gives one weights hash, a fresh process's. Before core/seeding.py, a
training in a worker thread drew its initializers' seeds from the process's `random` stream, which
Dask's event loop also draws from (`dask.sizeof`), so the weights changed from task to task."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HELPER = ROOT / "tests" / "long_lived.py"


def trainings(npz, mode, times):
    done = subprocess.run([sys.executable, str(HELPER), str(npz), mode, str(times)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PORTABILITY_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split("HASHES", 1)[1].split()


@pytest.fixture(scope="module")
def fresh(tiny_npz):
    """The weights of one training in a fresh process."""
    (weights,) = trainings(tiny_npz, "main", 1)
    return weights


def test_three_trainings_in_one_process_give_the_fresh_process_weights(tiny_npz, fresh):
    assert trainings(tiny_npz, "main", 3) == [fresh] * 3


def test_trainings_in_worker_threads_are_not_moved_by_other_threads(tiny_npz, fresh):
    assert trainings(tiny_npz, "thread", 3) == [fresh] * 3


def test_three_trainings_in_one_dask_worker_give_the_fresh_process_weights(tiny_npz, fresh, monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.setenv("PORTABILITY_THREADS", "1")  # the worker inherits it, as a sweep's workers do
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    import long_lived

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        done = [client.submit(long_lived.train, str(tiny_npz), pure=False).result() for _ in range(3)]
    assert [weights for weights, _ in done] == [fresh] * 3
    assert [process["trainings_before"] for _, process in done] == [0, 1, 2]  # one warm worker trained all three
    assert {process["python_random"] for _, process in done} == {"a stream private to the training thread"}


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
