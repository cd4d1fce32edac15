"""The compiled model of a long-lived process, reused by its next training of the same shape.

Keras traces a model's training and test steps into TensorFlow functions the first time they run: on
the 1-layer MNIST model that is about 1.5 s of a 9 s training, paid again by every new model object. A
warm worker (a sweep's cells, OpenML's folds) keeps the last training's compiled model; when the next
training has the same architecture, data shape, optimizer and batch, each of its variables (weights,
dropout seed states) and its optimizer's (step count, learning rate, moments) takes the value of that
training's freshly built model and optimizer, so the traced steps start from exactly what a fresh
process starts from: the same weights, history and test accuracy (tests/test_long_lived.py). Only the
built-in models are reused (a user's model file may change between trainings)."""

from core import seeding


class CompiledModel:
    """One reusable compiled model: `use(config, data, fresh)` returns the model to train."""

    def __init__(self):
        self.key, self.model = None, None

    def use(self, config, data, fresh):
        key = _key(config, data)
        record = seeding.current()
        if key is not None and key == self.key and _load(self.model, fresh):
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


def _load(model, fresh):
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
