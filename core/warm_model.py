"""The compiled model of a long-lived process, reused by its next training of the same shape.

Keras traces a model's training and test steps into TensorFlow functions the first time they run: on
the 1-layer MNIST model that is about 1.5 s of a 9 s training, paid again by every new model object. A
warm worker (a sweep's cells, OpenML's folds) keeps the last training's compiled model; when the next
training has the same architecture, data shape, optimizer and batch, each of its variables (weights,
dropout seed states) and its optimizer's (step count, learning rate, moments) takes the value of that
training's freshly built model and optimizer, so the traced steps start from exactly what a fresh
process starts from: the same weights, history and test accuracy (tests/test_long_lived.py). Only the
built-in models are reused (a user's model file may change between trainings).

A long-lived process also trains in a worker thread, where tf.data's autotuning thread made the end of
a training wait: when Keras drops an epoch's iterator, its destructor waits for that thread, which
sleeps out its optimisation period (doubling from 10 ms: up to 5 s after a 5 s epoch) instead of waking
on cancellation (seen in about one cell in three, never in a main thread). Keras's array pipelines here
run without autotuning: the same batches in the same order (the parallel map stays deterministic), no
thread to wait for."""

from core import seeding


class CompiledModel:
    """One reusable compiled model: `use(keras, config, data, fresh)` returns the model to train."""

    def __init__(self):
        self.key, self.model = None, None

    def use(self, keras, config, data, fresh):
        key = _key(config, data)
        record = seeding.current()
        if _without_autotuning() and record is not None:
            record["data_pipeline"] = "tf.data autotuning off in this long-lived process (same batches, no thread to wait for)"
        if key is not None and key == self.key and _load(keras, self.model, fresh):
            if record is not None:
                record["compiled_model"] = "reused from an earlier training in this process, every variable set to this training's fresh build"
            return self.model
        self.key, self.model = key, (fresh if key is not None else None)
        if record is not None:
            record["compiled_model"] = "built and traced for this training"
        return fresh

    def forget(self):
        """After a failed training: the next one builds its own."""
        self.key, self.model = None, None


def _key(config, data):
    from core import models  # imports Keras: only once a training runs

    if config.model not in models.MODELS:
        return None
    return (config.model, tuple(data.dataset.input_shape), data.dataset.num_classes, config.optimizer.lower(),
            config.batch_size)


def _load(keras, model, fresh):
    """Every variable of `fresh` (built, compiled, not trained) into `model`; False where they differ."""
    fresh.optimizer.build(fresh.trainable_variables)
    pairs = [*zip(model.variables, fresh.variables), *zip(model.optimizer.variables, fresh.optimizer.variables)]
    if (len(model.variables), len(model.optimizer.variables)) != (len(fresh.variables), len(fresh.optimizer.variables)) \
            or any(old.shape != new.shape or old.dtype != new.dtype for old, new in pairs):
        return False
    for old, new in pairs:
        old.assign(new)
    model.stop_training = False
    return True


def _without_autotuning():
    """Keras's array pipelines without tf.data's autotuning thread (see above), once per process; False
    where this Keras has no such pipeline to change."""
    try:
        from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter
    except ImportError:
        return False
    made = ArrayDataAdapter.get_tf_dataset
    if not getattr(made, "without_autotuning", False):
        import tensorflow as tf

        def get_tf_dataset(self):
            options = tf.data.Options()
            options.autotune.enabled = False
            return made(self).with_options(options)

        get_tf_dataset.without_autotuning = True
        ArrayDataAdapter.get_tf_dataset = get_tf_dataset
    return True
