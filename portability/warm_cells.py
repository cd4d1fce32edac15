"""A sweep's local cell in a warm Dask worker: TensorFlow imported once per worker process, each
built-in data set loaded, verified and scaled once, and every cell seeded exactly as a fresh process seeds it
(core/seeding.py), so its weights are a fresh process's bit for bit (tests/test_long_lived.py).

The cell's run folder is made as `portability run` makes it (handle, status, results, models), in the
cell's scratch run store; sweep_cells.run_cell sends it back as files either way."""

import gc
import os
import sys
import threading

import core.config
from core.results import summary_line
from core.warm_model import CompiledModel
from portability import runs, store

_DATASETS = {}  # built-in data set name -> its arrays, verified once per worker
_ONE_AT_A_TIME = threading.Lock()  # a worker with more than one thread still trains one cell at a time
_COMPILED = CompiledModel()  # the last cell's traced model: the next cell of the same shape reuses it


def can_train_here(threads):
    """Whether this process can train a cell with `threads` TensorFlow threads: TensorFlow not yet
    started here, or started with that thread count (it cannot be changed once it has run)."""
    if "tensorflow" not in sys.modules:
        return True
    tf = sys.modules["tensorflow"]
    return tf.config.threading.get_intra_op_parallelism_threads() == (threads or 0)


def dataset_for(config):
    """The cell's data: a built-in data set from this worker's memory (loaded on first use), else None
    (a user's file is read per cell: its split depends on the cell's seed)."""
    from core import experiment

    if config.dataset not in core.config.BUILTIN_DATASETS:
        return None
    if config.dataset not in _DATASETS:
        _DATASETS[config.dataset] = experiment.keep_scaled(experiment.load_data(config, log=lambda message: None))
    return _DATASETS[config.dataset]


def run_local_cell(values, threads, scratch):
    """Train the cell `values` (a config as a dict) here; (exit code, output, run folder or None)."""
    from core import experiment

    if threads:
        os.environ["PORTABILITY_THREADS"] = str(threads)  # read by the core's setup before TensorFlow runs
    lines = []
    with _ONE_AT_A_TIME:
        try:
            config = core.config.config_from_dict(values)
            run_id = experiment.make_run_id(config)
            run = runs.start_in_process(config.to_dict(), run_id, scratch / "runs" / "local" / run_id)
        except Exception as error:  # a config the worker cannot use: the cell's failure, said
            return 2, f"error: {error}", None
        try:
            results = experiment.run(config, run.run_dir, dataset=dataset_for(config), verbose=0, log=lines.append,
                                     compiled=_COMPILED)
        except BaseException as error:  # the cell fails, the worker stays: recorded as `portability run` does
            _COMPILED.forget()
            store.record_status(run.run_dir, "failed", str(error).splitlines()[0][:400] if str(error) else type(error).__name__)
            return 1, "\n".join([*lines, f"error: {type(error).__name__}: {error}"]), run.run_dir
        finally:
            _release_memory()
        store.record_status(run.run_dir, "completed", results["target"]["verdict"])
        return 0, "\n".join([*lines, summary_line(results)]), run.run_dir


def _release_memory():
    """What one cell's graphs hold, freed before the next, all but the compiled model kept for reuse
    (weights are unaffected: tested)."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
    gc.collect()
