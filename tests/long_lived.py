"""Trainings in a long-lived process, for tests/test_long_lived.py: run in the test's subprocesses, a
Dask worker and a Jupyter kernel. Each prints or returns the outcome of one tiny training: the weights'
hash and a hash of its history and test scores."""

import hashlib
import json
import random
import sys
import tempfile
import threading
import time


COMPILED = None  # the process's core.warm_model.CompiledModel, made on first use by `train(npz, reuse=True)`


def train(npz, reuse=False):
    """One training of the tiny config (the reference model: initializers and dropout draw seeds);
    `reuse`: with the process's compiled model, as a sweep's warm worker trains."""
    global COMPILED
    from core import config, experiment, warm_model

    if reuse and COMPILED is None:
        COMPILED = warm_model.CompiledModel()
    tiny = config.build_config(overrides=dict(dataset=str(npz), model="reference", epochs=2, batch_size=64,
                                              validation_split=0.2, target_accuracy=0.5))
    results = experiment.run(tiny, tempfile.mkdtemp(prefix="long-lived-"), verbose=0, log=lambda message: None,
                             compiled=COMPILED if reuse else None)
    return outcome(results), results["process"]


def outcome(results):
    """The weights' hash, then a hash of every epoch's and step chunk's losses and the test scores (their
    seconds left out)."""
    rows = [{key: value for key, value in row.items() if "seconds" not in key}
            for row in [*results["history"], *results["history_steps"]]]
    scores = json.dumps([rows, results["test"]], sort_keys=True)
    return f"{results['weights_sha256']}/{hashlib.sha256(scores.encode()).hexdigest()[:16]}"


class Busy:
    """Another thread of the process drawing from Python's `random`, as a Dask worker's event loop does
    (`dask.sizeof` samples with `random.sample` while a task builds its model)."""

    def __enter__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._draw, daemon=True)
        self.thread.start()
        return self

    def _draw(self):
        while not self.stop.is_set():
            random.sample(range(100), 5)
            time.sleep(0.0002)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def main(npz, mode, times):
    if mode in ("main", "reuse"):  # the process's main thread, as a script or a notebook kernel trains
        hashes = [train(npz, reuse=mode == "reuse")[0] for _ in range(times)]
    else:  # worker threads, one after another, while another thread draws from `random`
        hashes = []
        with Busy():
            for _ in range(times):
                worker = threading.Thread(target=lambda: hashes.append(train(npz)[0]))
                worker.start()
                worker.join()
    print("HASHES", " ".join(hashes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
