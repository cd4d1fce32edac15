"""Seeds that hold in a long-lived process: the same config gives the same weights in a fresh Python,
a notebook kernel's tenth rerun or a Dask worker's hundredth task.

What broke it (docs/experiment.md, "Same weights in a long-lived process"): Keras draws the seed of
every initializer and dropout layer built without one from Python's global `random` module
(`keras.src.random.seed_generator.make_default_seed`). `keras.utils.set_random_seed` seeds that module,
but any other thread of the process draws from the same stream: on a Dask worker the event loop's
`dask.sizeof` calls `random.sample` while the task thread builds its model, so the initial weights
depended on the timing of the worker's own bookkeeping. Here a training thread other than the main one
gets a `random` stream of its own (seeded by the same `random.seed` calls), so nothing outside the
thread can move it; the main thread keeps the module's stream, exactly as in a fresh process.
"""

import random
import threading

_local = threading.local()
_shared = random._inst  # the module's own stream: what every thread uses unless it has its own
_installed = threading.Lock()
_TRAININGS = {"count": 0}


def _stream():
    return getattr(_local, "stream", _shared)


def _dispatcher(name):
    def call(*args, **kwargs):
        return getattr(_stream(), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(random.Random, name).__doc__
    return call


def _install():
    """Point the `random` module's functions at the calling thread's stream (once per process)."""
    with _installed:
        if getattr(random, "_portability_streams", False):
            return
        for name in dir(random.Random):
            if not name.startswith("_") and getattr(random, name, None) == getattr(_shared, name, None):
                setattr(random, name, _dispatcher(name))
        random._portability_streams = True


def confine():
    """Give this thread its own `random` stream when it is not the main thread; return what the run
    records about its process (how many trainings came before it, which thread, which stream)."""
    main = threading.current_thread() is threading.main_thread()
    if not main:
        _install()
        _local.stream = random.Random()
    _TRAININGS["count"] += 1
    _local.record = {"trainings_before": _TRAININGS["count"] - 1, "thread": "main" if main else "worker",
                     "python_random": "the process's stream" if main else "a stream private to the training thread"}
    return _local.record


def current():
    """What `confine()` recorded last in this thread (None before any training)."""
    return getattr(_local, "record", None)


def seed_everything(keras, seed):
    """Seed Python, NumPy, TensorFlow and Keras as `keras.utils.set_random_seed` does, with the Python
    stream confined to this thread first; return `confine()`'s record."""
    record = confine()
    keras.utils.set_random_seed(seed)
    return record
