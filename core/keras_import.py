"""Import Keras and TensorFlow without the optional integrations the experiment never uses.

At import, Keras 3 also imports pandas (DataFrame inputs), matplotlib (image galleries) and
scikit-learn with SciPy (its sklearn wrappers) when they are installed, each behind a
`try: import ... except ImportError`. On this project's machines that is about 1 of the 3 CPU
seconds an import costs, in every run, cell and fold. Those imports are refused while Keras loads, so
Keras takes its own "not installed" path; the modules stay importable afterwards for any other code.
Modules already imported are left alone (the OpenML shim imports pandas and scikit-learn first).
Set PORTABILITY_FULL_IMPORT=1 to import Keras with everything (e.g. to fit on pandas DataFrames).

The import also runs without Python's garbage collector (it creates a few million objects and frees
almost none: each collection pass is wasted), and the objects it made are then frozen out of later
collections (`gc.freeze`), so they are not walked again during training. About 0.3 to 0.7 CPU seconds.

`without_autotuning()` runs Keras's array pipelines (fit, evaluate and predict on NumPy arrays) without
tf.data's autotuning. Its thread re-tunes the pipeline while training runs, and when Keras drops an
epoch's iterator, the iterator's destructor waits for that thread, which sleeps out its current
optimisation period (doubling from 10 ms) instead of waking at cancellation: in a worker thread up to
5 s after a 5 s epoch. Without it the batches are the same and in the same order (the parallel map stays
deterministic; the reference run's weights hash is unchanged), and the reference run's epoch takes
about 9.6 s of wall time instead of 12 s on 2 cores.

`without_thread_spinning()` lets TensorFlow's thread pools sleep when they run out of work instead of
spinning for more (`ConfigProto.experimental.disable_thread_spinning`, set before TensorFlow starts its
runtime). Spinning only burns CPU while waiting: the same kernels run, with the same weights. It matters
most where two processes share the cores (a sweep's workers), where one's spinning takes the core the
other is training on.
"""

import gc
import importlib.abc
import os
import sys

OPTIONAL = ("pandas", "pyarrow", "matplotlib", "sklearn", "scipy")
LEFT_OUT = None  # what Keras was imported without, once this module imported it: results.json records it
SPINNING = None  # "off" once without_thread_spinning() set it before TensorFlow started: results.json records it
AUTOTUNING = None  # "off ..." once without_autotuning() changed Keras's array pipelines: results.json records it


class _Refuse(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (not needed by the experiment)", name=name)
        return None


def import_keras():
    """(keras, tensorflow), imported without the optional integrations unless already present."""
    global LEFT_OUT
    if "keras" in sys.modules:  # imported before (an earlier fold, or a shim's own import): as it is
        import keras
        import tensorflow
        return keras, tensorflow
    full = os.environ.get("PORTABILITY_FULL_IMPORT") == "1"
    LEFT_OUT = [] if full else [name for name in OPTIONAL if name not in sys.modules]
    finder = _Refuse(LEFT_OUT)
    sys.meta_path.insert(0, finder)
    collecting = gc.isenabled()
    gc.disable()
    try:
        import keras
        import tensorflow
    finally:
        sys.meta_path.remove(finder)
        if collecting:
            gc.enable()
    gc.freeze()  # once: what the import made stays, later collections skip it
    return keras, tensorflow


def pipeline_options(tf):
    """tf.data options without autotuning, for a pipeline the experiment builds itself."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def without_autotuning():
    """Keras's array pipelines without tf.data's autotuning (see above), once per process; returns what
    `AUTOTUNING` says (on where this Keras builds its array pipelines elsewhere)."""
    global AUTOTUNING
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        AUTOTUNING = "on (this Keras has no array_data_adapter to change)"
        return AUTOTUNING
    made = ArrayDataAdapter.get_tf_dataset
    if not getattr(made, "without_autotuning", False):
        import tensorflow as tf

        def get_tf_dataset(self):
            return made(self).with_options(pipeline_options(tf))

        get_tf_dataset.without_autotuning = True
        ArrayDataAdapter.get_tf_dataset = get_tf_dataset
    AUTOTUNING = "off in Keras's array pipelines and the augmentation stream (the same batches)"
    return AUTOTUNING


def without_thread_spinning(tf):
    """TensorFlow's thread pools without spinning (see above), when its runtime has not started yet;
    returns what `SPINNING` says."""
    global SPINNING
    try:
        from tensorflow.python.eager import context

        runtime = context.context()
        if runtime._context_handle is None:  # not started: the thread pools are made with this config
            config = runtime._config or tf.compat.v1.ConfigProto()
            config.experimental.disable_thread_spinning = True
            runtime._config = config
        spinning = not runtime.config.experimental.disable_thread_spinning
    except (ImportError, AttributeError):  # a TensorFlow without this private runtime handle
        SPINNING = "on (this TensorFlow's runtime could not be configured)"
        return SPINNING
    SPINNING = ("on (TensorFlow had started before the experiment could switch it off)" if spinning else
                "off (thread pools sleep when out of work; the same kernels)")
    return SPINNING
