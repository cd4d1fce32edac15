"""The experiment every platform runs: setup, data, model, train, evaluate, record, save.

    results = experiment.run(config, out_dir="results/runs/local/my-run")
"""

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import resource
import threading
import time

import numpy as np

from core import environment, keras_import, results as results_file, seeding, throughput
from core.callbacks import EpochLog, History, StepLog, stop_at_a_step  # noqa: F401 (EpochLog: part of this module's interface)
from core.config import BUILTIN_DATASETS, model_file
from core.errors import UsageError

STEPS_PER_EXECUTION = 32
ALIGNMENT = 64  # bytes: where TensorFlow's CPU tensors start (Eigen's widest vectors)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_run_id(config):
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:6]
    user_model = model_file(config.model)
    model = f"{pathlib.Path(user_model[0]).stem}-{user_model[1]}" if user_model else config.model
    label = config.preset or f"{pathlib.Path(config.dataset).name}-{model}"
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{label}-{digest}"


def load_data(config, data_dir=None, log=print):
    from core import datasets, userdata

    if config.dataset in BUILTIN_DATASETS:
        return datasets.locate(config.dataset, data_dir=data_dir, log=log)
    return userdata.load(config.dataset, test_split=config.test_split, seed=config.seed)


def weights_sha256(model):
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode() + str(weights.dtype).encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def make_optimizer(keras, name, learning_rate):
    try:
        optimizer = keras.optimizers.get({"class_name": name, "config": {}})
    except (ValueError, TypeError):
        valid = sorted(n.lower() for n in dir(keras.optimizers)
                       if isinstance(getattr(keras.optimizers, n), type)
                       and issubclass(getattr(keras.optimizers, n), keras.optimizers.Optimizer)
                       and n not in ("Optimizer", "LossScaleOptimizer"))
        raise UsageError(f"unknown optimizer {name!r}: valid optimizers are {', '.join(valid)}") from None
    optimizer.learning_rate = learning_rate
    return optimizer


def augmenter(keras, seed):
    from keras import layers

    return keras.Sequential([
        layers.RandomRotation(0.1, seed=seed),
        layers.RandomTranslation(0.1, 0.1, seed=seed + 1),
        layers.RandomZoom(0.1, seed=seed + 2),
    ], name="augmentation")


class Clock:
    """Wall and CPU seconds per step, kept apart from the steps themselves: `with clock("training"): ...`."""

    def __init__(self):
        self.timings, self.cpu = {}, {}

    @contextlib.contextmanager
    def __call__(self, step):
        started, cpu_started = time.perf_counter(), cpu_seconds()
        yield
        self.timings[step] = round(time.perf_counter() - started, 3)
        self.cpu[step] = round(cpu_seconds() - cpu_started, 3)


@dataclasses.dataclass
class Prepared:
    """The arrays one run trains and tests on, scaled to [0, 1] (its images as tensors: `as_tensor`)."""

    dataset: object
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    validation: tuple | None


def run(config, out_dir, platform="local", obtained=None, data_dir=None, dataset=None,
        verbose=2, log=print, extra=None, callbacks=(), compiled=None):
    """Train and evaluate `config`, write the model and results.json into `out_dir`, return results.

    `obtained` says how: executed (on the platform) or emulated; by default $PORTABILITY_OBTAINED,
    which the adapters set, else executed. `compiled`: a long-lived process's core.warm_model.CompiledModel,
    whose traced model this training reuses when it has the same shape (the same weights either way)."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_file.write_json(out_dir / "config.json", config.to_dict())
    clock = Clock()
    with clock("import"):
        keras, tf = setup(config)
    optimizer = make_optimizer(keras, config.optimizer, config.learning_rate)
    with clock("data"):
        data = prepare_data(config, dataset or load_data(config, data_dir=data_dir, log=log))
    log(describe_data(data))
    with clock("model"):
        model = build_model(keras, config, data, optimizer, log)
        if compiled is not None:
            model = compiled.use(config, data, model)
    with clock("training"):
        history = train(keras, tf, model, config, data, callbacks, verbose)
    with clock("evaluation"):
        test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=1000, verbose=0)
    with clock("record"):
        results = record(config, out_dir, model, data, history, (test_loss, test_accuracy), clock.timings,
                         platform=dict(name=platform, obtained=obtained or os.environ.get("PORTABILITY_OBTAINED", "executed"),
                                       **(extra or {})), versions=(tf, keras))
    log(f"test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}): {results['target']['verdict'].upper()} "
        f"against target {results['target']['accuracy']:.2%}")
    with clock("saving"):
        results["artifacts"] = save_models_safely(keras, model, data.x_test[:500], out_dir)
    results_file.write_json(out_dir / "results.json", close_timings(results, clock))
    return results


def close_timings(results, clock):
    """The timings of every form alike (script, notebook, each fold): wall and CPU seconds per step,
    `total` the sum of the steps, and the process's CPU seconds so far."""
    process = round(cpu_seconds(), 3)
    steps = {step: seconds for step, seconds in clock.timings.items() if step not in ("total", "process_cpu_seconds")}
    results["timings"] = dict(steps, total=round(sum(steps.values()), 3), process_cpu_seconds=process)
    results["cpu_seconds"] = dict(clock.cpu, process=process)
    return results


def setup(config):
    """TensorFlow and Keras, seeded, with deterministic ops: same config, same machine, same weights."""
    keras, tf = keras_import.import_keras()
    logging.getLogger("absl").setLevel(logging.ERROR)  # Keras 3 calls HDF5 "legacy" on every save
    keras_import.without_thread_spinning(tf)  # before the first op starts TensorFlow's runtime
    threads = intra_op_threads()
    if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)  # changes the weights: recorded
    seeding.seed_everything(keras, config.seed)  # its own Python stream in a worker thread
    tf.config.experimental.enable_op_determinism()
    keras_import.without_autotuning()  # the same batches, no autotuning thread to wait for
    return keras, tf


def intra_op_threads():
    """TensorFlow's intra-op threads from $PORTABILITY_THREADS (a sweep sizes it to its workers); 0: default."""
    value = os.environ.get("PORTABILITY_THREADS", "").strip()
    if value in ("", "default"):
        return 0
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"PORTABILITY_THREADS={value!r}: set a number of threads >= 1, or unset it for TensorFlow's default")
    return int(value)


def prepare_data(config, dataset):
    """Scale to [0, 1], keep the first `max_train_samples`, split off a seeded validation set. The images
    a run trains and tests on are handed to Keras as tensors on the scaled arrays' own memory
    (`as_tensor`): Keras copies a NumPy array into TensorFlow at every `fit` and `evaluate`."""
    x_train, y_train = dataset.x_train, dataset.y_train
    if config.max_train_samples:
        x_train, y_train = x_train[: config.max_train_samples], y_train[: config.max_train_samples]
    x_train = _scaled_from(dataset, "x_train", x_train)  # only what is used
    validation = None
    if config.validation_split:
        pixels = np.asarray(x_train)  # the tensor's own memory, not a copy
        order = np.random.default_rng(config.seed).permutation(len(pixels))
        cut = len(pixels) - int(len(pixels) * config.validation_split)
        validation = (pixels[order[cut:]], y_train[order[cut:]])
        x_train, y_train = pixels[order[:cut]], y_train[order[:cut]]
    return Prepared(dataset, x_train, y_train, _scaled_from(dataset, "x_test", dataset.x_test), dataset.y_test, validation)


def keep_scaled(dataset):
    """Mark a data set loaded once for several runs (a warm worker's): `prepare_data` then scales each
    of its image arrays once and keeps its tensor, immutable and shared by the runs (on MNIST 0.1 CPU s
    and 220 MB of fresh pages a run)."""
    dataset.scaled_arrays = {}
    return dataset


def _scaled_from(dataset, name, images):
    kept = getattr(dataset, "scaled_arrays", None)
    if kept is None:
        return as_tensor(scaled(images))
    key = (name, len(images))  # `max_train_samples` keeps the first N: the length names the slice
    if key not in kept:
        kept[key] = as_tensor(scaled(images))
    return kept[key]


def scaled(images):
    """`images / 255` as float32, bit for bit, divided in place in one array that starts on a 64-byte
    boundary (TensorFlow's alignment, so that `as_tensor` need not copy it)."""
    count = int(np.prod(images.shape))
    raw = np.empty(count * 4 + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    pixels = raw[start:start + count * 4].view(np.float32).reshape(images.shape)
    pixels[...] = images
    np.divide(pixels, np.float32(255), out=pixels)
    return pixels


def as_tensor(pixels):
    """A TensorFlow tensor on `pixels`' own memory (DLPack, no copy; `pixels` must not change afterwards),
    or `pixels` itself where this NumPy or TensorFlow cannot share it (Keras then copies it, as before).
    The same values either way: Keras slices the same batches from either."""
    import tensorflow as tf  # imported by `setup` before the data

    try:
        return tf.experimental.dlpack.from_dlpack(pixels.__dlpack__())
    except (AttributeError, TypeError, ValueError, RuntimeError, tf.errors.OpError):
        return pixels


def describe_data(data):
    return (f"data: {data.dataset.name} from {data.dataset.source}: {len(data.x_train)} train, "
            f"{0 if data.validation is None else len(data.validation[0])} validation, {len(data.x_test)} test, "
            f"images {data.dataset.input_shape}, {data.dataset.num_classes} classes")


def build_model(keras, config, data, optimizer, log):
    from core import models

    try:
        model = models.build(config.model, data.dataset.input_shape, data.dataset.num_classes)
    except ValueError as error:
        raise UsageError(str(error)) from None
    # 32 steps per call into TensorFlow: less Python between batches, the same weights bit for bit
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"],
                  steps_per_execution=STEPS_PER_EXECUTION)
    log(f"model: {config.model}, {model.count_params():,} parameters; optimizer {config.optimizer}, "
        f"learning rate {config.learning_rate}, batch {config.batch_size}, seed {config.seed}")
    return model


def train(keras, tf, model, config, data, callbacks, verbose):
    """The schedule: `epochs`, then `fine_tune_epochs` at a tenth of the learning rate, then
    `augmentation_epochs` on augmented data. Returns one history row per epoch, and the training
    loss and accuracy of every step chunk as the rows' `.steps`."""
    with stop_at_a_step(keras) as stop:
        return _schedule(keras, tf, model, config, data, [*callbacks, *(stop[:1] if stop else ())], verbose,
                         stop[1] if stop else threading.Event())


def _schedule(keras, tf, model, config, data, callbacks, verbose, stopped):
    history = EpochLog(keras)
    steps = StepLog(keras, history)
    fit = dict(batch_size=config.batch_size, validation_data=data.validation, verbose=verbose,
               callbacks=[history.callback, steps.callback, *callbacks])
    if config.epochs:
        model.fit(data.x_train, data.y_train, epochs=config.epochs, **fit)
    if config.fine_tune_epochs and not stopped.is_set():
        history.phase = "fine-tune"
        model.optimizer.learning_rate.assign(config.learning_rate * 0.1)
        model.fit(data.x_train, data.y_train, epochs=config.fine_tune_epochs, **fit)
    if config.augmentation_epochs and not stopped.is_set():
        history.phase = "augmented"
        augment = augmenter(keras, config.seed)
        stream = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
                  .shuffle(len(data.x_train), seed=config.seed).batch(config.batch_size)
                  .map(lambda x, y: (augment(x, training=True), y)).prefetch(2)
                  .with_options(keras_import.pipeline_options(tf)))
        fit.pop("batch_size")
        model.fit(stream, epochs=config.augmentation_epochs, shuffle=False, **fit)  # the stream is shuffled
    rows = History(history.rows)
    rows.steps = steps.rows
    return rows


def record(config, out_dir, model, data, history, test, timings, platform, versions):
    """results.json, written before the models are saved: a failed save loses no result."""
    tf, keras = versions
    target = config.effective_target()
    gpus = throughput.gpu_names(tf)
    results = {
        "schema_version": results_file.SCHEMA_VERSION, "run_id": out_dir.name, "platform": platform,
        "config": config.to_dict(), "dataset": data.dataset.describe(),
        "model": {"name": config.model, "params": int(model.count_params())}, "history": list(history),
        "history_steps": list(getattr(history, "steps", ())),
        "test": {"loss": float(test[0]), "accuracy": float(test[1])},
        "target": {"accuracy": target, "verdict": "pass" if test[1] >= target else "fail"},
        "timings": timings, "environment": environment.describe(platform["name"], gpus, tf.__version__, keras.__version__),
        "weights_sha256": weights_sha256(model), "artifacts": {"status": "saving"}, "process": seeding.current(),
        "throughput": dict(throughput.describe(model, history, len(data.x_train), tf, gpus), steps_per_execution=STEPS_PER_EXECUTION),
    }
    if config.model_sha256:  # a user's model function: what ran, for the report and the code diff
        path, function = model_file(config.model)
        results["experiment"] = {"kind": "model", "path": path, "function": function, "sha256": config.model_sha256,
                                 "args": [], "data": []}
    results_file.write_json(out_dir / "results.json", results)
    return results


def save_models_safely(keras, model, sample, out_dir):
    try:
        return save_models(keras, model, sample, out_dir)
    except Exception as error:  # a failed save must not lose the trained results
        return {"status": "failed", "error": f"{type(error).__name__}: {error}"}


def save_models(keras, model, sample, out_dir):
    """Save as HDF5 (the seeds' format) and native .keras; reload each and compare predictions.
    Predictions are direct calls, not `predict`: nothing to trace for three models."""
    expected = model(sample, training=False).numpy()
    artifacts = {"status": "saved"}
    for kind, name in (("h5", "model.h5"), ("keras", "model.keras")):
        partial = out_dir / f"partial-{name}"
        model.save(partial)
        os.replace(partial, out_dir / name)
        reloaded = keras.models.load_model(out_dir / name, compile=False)
        predicted = reloaded(sample, training=False).numpy()
        artifacts[kind] = {
            "file": name,
            "reload_identical": bool(np.array_equal(predicted, expected)),
            "max_abs_difference": float(np.max(np.abs(predicted - expected))),
        }
    return artifacts
