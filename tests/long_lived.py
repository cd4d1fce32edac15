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


def train(npz, reuse=False, dataset=None):
    """One training of the tiny config (the reference model: initializers and dropout draw seeds);
    `reuse`: with the process's compiled model, as a sweep's warm worker trains; `dataset`: data loaded
    before (a warm worker's)."""
    global COMPILED
    from core import experiment, warm_model

    if reuse and COMPILED is None:
        COMPILED = warm_model.CompiledModel()
    results = experiment.run(tiny_config(npz), tempfile.mkdtemp(prefix="long-lived-"), dataset=dataset, verbose=0,
                             log=lambda message: None, compiled=COMPILED if reuse else None)
    return outcome(results), results["process"]


SPLIT = 0.2  # the tiny config's validation split; 0 (`whole` on the command line): it trains on every image


def tiny_config(npz):
    from core import config

    return config.build_config(overrides=dict(dataset=str(npz), model="reference", epochs=2, batch_size=64,
                                              validation_split=SPLIT, target_accuracy=0.5))


def kept_data(npz):
    """The tiny data set loaded once, its scaled images kept for every training (as a warm worker keeps them)."""
    from core import experiment

    return experiment.keep_scaled(experiment.load_data(tiny_config(npz), log=lambda message: None))


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
    elif mode == "kept":  # a warm worker's: the compiled model reused, the data loaded and scaled once
        dataset = kept_data(npz)
        hashes = [train(npz, reuse=True, dataset=dataset)[0] for _ in range(times)]
        kept = dataset.scaled_arrays.values()
        print("KEPT", len(kept), " ".join(sorted({type(images).__name__ for images in kept})))
    else:  # worker threads, one after another, while another thread draws from `random`
        hashes = []
        with Busy():
            for _ in range(times):
                worker = threading.Thread(target=lambda: hashes.append(train(npz)[0]))
                worker.start()
                worker.join()
    print("HASHES", " ".join(hashes))


if __name__ == "__main__":
    if sys.argv[4:] == ["whole"]:
        SPLIT = 0
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
