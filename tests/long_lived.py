"""Trainings in a long-lived process, for tests/test_long_lived.py: run in the test's subprocesses, a
Dask worker and a Jupyter kernel. Each prints or returns the weights' hash of one tiny training."""

import random
import sys
import tempfile
import threading
import time


def train(npz):
    """One training of the tiny config (the reference model: initializers and dropout draw seeds)."""
    from core import config, experiment

    tiny = config.build_config(overrides=dict(dataset=str(npz), model="reference", epochs=1, batch_size=64,
                                              target_accuracy=0.5))
    results = experiment.run(tiny, tempfile.mkdtemp(prefix="long-lived-"), verbose=0, log=lambda message: None)
    return results["weights_sha256"], results["process"]


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
    if mode == "main":  # the process's main thread, as a script or a notebook kernel trains
        hashes = [train(npz)[0] for _ in range(times)]
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
