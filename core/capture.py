"""Auto-logging for a researcher's own Keras code: hooks installed before the code runs, no edit to it.

    recorder = capture.install(seed=42)        # seeds, deterministic ops, threads, then the hooks
    ...the user's script or notebook cells run...
    record = recorder.finish()                 # a JSON-ready dict; the hooks are removed
    model, fit_kwargs = capture.rebuild(record["first_fit"])   # the first fit's model, fresh, compiled

As MLflow's Keras 3 autolog and Comet's Keras integration do, `keras.Model.fit` is wrapped on the class
and the wrapper adds one callback to the user's own (given positionally, by keyword, or None); so is
`Model.evaluate` (a callback that keeps the metrics it returns; the validation passes `fit` makes through
`evaluate` are not test results and are passed through untouched). Only `fit` trains with a history: a
custom training loop leaves `fits` empty ("no history captured"). Also:
- setup as the built-in experiment does: threads from $PORTABILITY_THREADS, `keras.utils.set_random_seed`,
  TensorFlow op determinism. A seed the script sets itself stands (it is called through) and is recorded.
- `keras.datasets.mnist.load_data()` and `fashion_mnist.load_data()` are served from the verified data
  cache (core/datasets.py: platforms have no internet), with the arrays and dtypes Keras returns.
- `record["first_fit"]` keeps what rebuilds the first fitted model: its serialized config, its compile
  config (`Model.get_compile_config`) and the fit's arguments (epochs, batch_size, ...), for OpenML folds.
Imports TensorFlow only in `install`.
"""

import importlib
import inspect
import time

import numpy as np

from core import environment, experiment, keras_import, seeding, throughput

SEED_CALLS = (("keras.utils", "set_random_seed"), ("tensorflow.random", "set_seed"), ("numpy.random", "seed"),
              ("random", "seed"))
LOADERS = {"mnist": "keras.datasets.mnist", "fashion-mnist": "keras.datasets.fashion_mnist"}
NOT_ARGUMENTS = ("self", "x", "y", "validation_data", "callbacks", "sample_weight", "class_weight")
# Functions (model, fit arguments) -> [Keras callbacks] added to every fit: how a platform's tracker
# (Comet's shim) follows a user's script through the same hook, with no edit to the script
FIT_CALLBACKS = []


def install(seed=42, data_dir=None, allow_network=True, log=print):
    """Set up Keras like the built-in experiment, wrap fit/evaluate/the seed calls/the loaders, and
    return the Recorder that collects what the user's code does. `data_dir`: a folder of the canonical
    IDX files for the Keras loaders (None: the user cache, then the network if `allow_network`)."""
    started = time.perf_counter()
    keras, tf = import_keras()
    keras_import.without_thread_spinning(tf)  # the same kernels, no CPU burnt waiting for work
    threads = experiment.intra_op_threads()
    if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    seeding.seed_everything(keras, seed)  # its own Python stream in a worker thread
    tf.config.experimental.enable_op_determinism()
    recorder = Recorder(keras, tf, seed, data_dir, allow_network, log)
    recorder.patch_all()
    recorder.setup_seconds = round(time.perf_counter() - started, 3)
    return recorder


def import_keras():
    """Keras with all its integrations (a user's code may fit on pandas data): not the lean import."""
    import sys

    if "keras" not in sys.modules:
        keras_import.LEFT_OUT = []
    import keras
    import tensorflow
    return keras, tensorflow


class Recorder:
    """What the user's code did: seed calls, data loaded, each fit and evaluate, the last model trained."""

    def __init__(self, keras, tf, seed, data_dir, allow_network, log):
        self.keras, self.tf, self.log = keras, tf, log
        self.seed, self.data_dir, self.allow_network = seed, data_dir, allow_network
        self.seed_calls, self.datasets, self.fits, self.evaluations = [], [], [], []
        self.first_fit, self.model, self.patched, self.depth = None, None, [], {"fit": 0, "seed": 0}
        self.history = experiment.EpochLog(keras)
        self.started, self.setup_seconds = time.perf_counter(), 0.0

    def patch(self, owner, name, make):
        original = getattr(owner, name)
        self.patched.append((owner, name, original))
        setattr(owner, name, make(original))

    def patch_all(self):
        self.patch(self.keras.Model, "fit", self.fit_hook)
        self.patch(self.keras.Model, "evaluate", self.evaluate_hook)
        owners = {"keras.utils": self.keras.utils, "tensorflow.random": self.tf.random}
        for module, name in SEED_CALLS:
            owner = owners.get(module) or importlib.import_module(module)
            self.patch(owner, name, lambda original, label=f"{module}.{name}": self.seed_hook(original, label))
        for dataset, module in LOADERS.items():
            self.patch(importlib.import_module(module), "load_data", lambda original, name=dataset: self.loader(name))

    def seed_hook(self, original, label):
        def seeded(*args, **kwargs):
            outermost = self.depth["seed"] == 0  # keras' set_random_seed calls the three others
            self.depth["seed"] += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.depth["seed"] -= 1
                if outermost:
                    value = args[0] if args else next(iter(kwargs.values()), None)
                    self.seed_calls.append({"call": label, "value": value if isinstance(value, (int, float, str)) else repr(value)})
        return seeded

    def loader(self, name):
        def load_data(path=None):
            from core import datasets

            data = datasets.locate(name, data_dir=self.data_dir, allow_network=self.allow_network, log=self.log)
            self.datasets.append(dict(data.describe(), via=f"{LOADERS[name]}.load_data() (served from the verified cache)"))
            labels = (data.y_train.astype(np.uint8), data.y_test.astype(np.uint8))  # the dtypes Keras returns
            return (data.x_train[..., 0], labels[0]), (data.x_test[..., 0], labels[1])
        return load_data

    def fit_hook(self, original):
        signature = inspect.signature(original)

        def fit(model, *args, **kwargs):
            if self.depth["fit"]:  # a fit inside a fit (a custom fit calling the base one): once is enough
                return original(model, *args, **kwargs)
            bound = signature.bind(model, *args, **kwargs)
            if self.first_fit is None:
                self.first_fit = recipe(self.keras, model, bound.arguments)
            self.history.phase = "train" if not self.fits else f"fit {len(self.fits) + 1}"
            extra = [callback for make in FIT_CALLBACKS for callback in make(model, bound.arguments)]
            bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []), self.history.callback, *extra]
            rows_before, started, cpu = len(self.history.rows), time.perf_counter(), experiment.cpu_seconds()
            self.depth["fit"] += 1
            try:
                return original(model, **keywords(bound))
            finally:
                self.depth["fit"] -= 1
                self.model = model
                self.fits.append({"phase": self.history.phase, "epochs_run": len(self.history.rows) - rows_before,
                                  "train_images": train_images(bound.arguments),
                                  "seconds": round(time.perf_counter() - started, 3),
                                  "cpu_seconds": round(experiment.cpu_seconds() - cpu, 3)})
        return fit

    def evaluate_hook(self, original):
        outer, signature = self, inspect.signature(original)

        class Keep(self.keras.callbacks.Callback):
            def on_test_end(self, logs=None):
                self.logs = {key: float(value) for key, value in (logs or {}).items()}

        def evaluate(model, *args, **kwargs):
            if self.depth["fit"]:  # fit's validation pass, not a test result
                return original(model, *args, **kwargs)
            keep, started, bound = Keep(), time.perf_counter(), signature.bind(model, *args, **kwargs)
            bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []), keep]
            returned = original(*bound.args, **bound.kwargs)
            outer.evaluations.append({"metrics": getattr(keep, "logs", {}), "samples": samples(bound.arguments.get("x")),
                                      "seconds": round(time.perf_counter() - started, 3)})
            outer.model = outer.model if outer.fits else model  # a custom loop's model: the one evaluated
            return returned
        return evaluate

    def unpatch(self):
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)
        self.patched = []

    def finish(self, path=None):
        """Remove the hooks and return the record (also written to `path` as JSON, for a kernel)."""
        self.unpatch()
        record = describe(self)
        if path:
            from core import results

            results.write_json(path, record)
        return record


def keywords(bound):
    """The bound arguments but the model, all by keyword: another wrapper of fit that adds `callbacks=`
    (Comet's Keras integration) must not find it given positionally too."""
    named = {name: value for name, value in list(bound.arguments.items())[1:]
             if bound.signature.parameters[name].kind is not inspect.Parameter.VAR_KEYWORD}
    return {**named, **{key: value for key, value in bound.kwargs.items() if key not in named}}


def recipe(keras, model, arguments):
    """What rebuilds the first fitted model: its config, compile config and the fit's arguments."""
    kept = {"fit_arguments": {key: value for key, value in arguments.items() if key not in NOT_ARGUMENTS
                              and isinstance(value, (int, float, str, bool, type(None)))},
            "validation_data": arguments.get("validation_data") is not None,
            "callbacks": [type(callback).__name__ for callback in arguments.get("callbacks") or []],
            "x": shape_of(arguments.get("x")), "y": shape_of(arguments.get("y"))}
    try:
        # serialized, not rebuilt here: building a model draws from the seeded generators and would
        # change the weights the script trains
        kept.update(model=keras.saving.serialize_keras_object(model), compile=model.get_compile_config(),
                    initial_weights_sha256=experiment.weights_sha256(model) if model.built else None, rebuildable=True)
    except Exception as error:  # Keras raises several types for models it cannot serialize
        kept.update(model=None, compile=None, rebuildable=False, reason=f"{type(error).__name__}: {error}"[:300])
    return kept


def rebuild(first_fit):
    """(a fresh compiled model built from `first_fit`'s config, the fit's keyword arguments): the caller
    seeds Keras first and passes its own x, y (e.g. one OpenML fold)."""
    import keras

    if not first_fit or not first_fit.get("rebuildable"):
        raise ValueError(f"the first fitted model cannot be rebuilt: {(first_fit or {}).get('reason', 'no fit was captured')}")
    model = keras.saving.deserialize_keras_object(first_fit["model"])
    if first_fit["compile"]:
        model.compile_from_config(first_fit["compile"])
    return model, dict(first_fit["fit_arguments"])


def shape_of(array):
    shape = getattr(array, "shape", None)
    return {"shape": [int(d) if d is not None else None for d in shape], "dtype": str(getattr(array, "dtype", ""))} \
        if shape is not None else ({"type": type(array).__name__} if array is not None else None)


def model_shapes(model):
    """The model's input and output shapes, when it has symbolic inputs (not a subclassed, unbuilt one)."""
    try:
        return {"input_shape": shape_of(model.inputs[0]), "output_shape": shape_of(model.outputs[0])}
    except (AttributeError, ValueError, TypeError, IndexError):
        return {"input_shape": None, "output_shape": None}


def samples(array):
    shape = getattr(array, "shape", None)
    return int(shape[0]) if shape else None


def train_images(arguments):
    """Images one epoch trains on, when countable (arrays: minus validation_split); None for a stream."""
    count = samples(arguments.get("x"))
    if count is None:
        return None
    split = arguments.get("validation_split") or 0.0
    return count - int(count * split) if not arguments.get("validation_data") else count


def describe(recorder):
    """The record: everything captured, JSON-ready, with the environment of the process that trained."""
    tf, keras, model = recorder.tf, recorder.keras, recorder.model
    gpus = throughput.gpu_names(tf)
    record = {"seeds": {"harness": recorder.seed, "script": recorder.seed_calls, "deterministic_ops": True,
                        "process": seeding.current()},
              "datasets": recorder.datasets, "fits": recorder.fits, "history": recorder.history.rows,
              "evaluations": recorder.evaluations, "first_fit": recorder.first_fit,
              "environment": environment.describe("local", gpus, tf.__version__, keras.__version__),
              "seconds": round(time.perf_counter() - recorder.started, 3), "setup_seconds": recorder.setup_seconds,
              "model": None, "throughput": None}
    if model is not None:
        record["model"] = {"name": model.name, "class": type(model).__name__, "params": int(model.count_params()),
                           "weights_sha256": experiment.weights_sha256(model),
                           **model_shapes(model)}
        record["throughput"] = speed(model, recorder, tf, gpus)
    return record


def speed(model, recorder, tf, gpus):
    """core/throughput.py's section, each fit a phase with its own image count."""
    section = None
    for fit in recorder.fits:
        rows = [row for row in recorder.history.rows if row["phase"] == fit["phase"]]
        if not rows:
            continue
        part = throughput.describe(model, rows, fit["train_images"] or 0, tf, gpus)
        if fit["train_images"] is None:  # a stream: time is known, images are not
            part["phases"][fit["phase"]].update(images=None, images_per_second=None, gflops_per_second=None)
        section = part if section is None else {**section, "phases": {**section["phases"], **part["phases"]}}
    if section:
        section["keras_imported_without"] = keras_import.LEFT_OUT
    return section
