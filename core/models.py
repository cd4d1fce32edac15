"""The seed models. Every builder takes the input shape and number of classes from the data."""

import hashlib
import importlib.util
import inspect
import pathlib

import keras
from keras import layers


def reference(input_shape, num_classes):
    """The keras-io MNIST convnet. Flatten comes before Dense 128 (the seed text lists Dense first;
    a Dense on the 5x5x64 maps would act per pixel and give a different parameter count)."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="reference",
    )


def convolutions_then_dense(name, input_shape, num_classes, convolutions, dense, dense_dropout=0.0):
    """The seed's small CNNs: a 3x3 ReLU convolution and its dropout per (filters, dropout) pair, with
    2x2 max pooling after the first; then a ReLU dense layer (and its dropout) and the softmax."""
    stack = [keras.Input(shape=input_shape)]
    for index, (filters, dropout) in enumerate(convolutions):
        stack.append(layers.Conv2D(filters, kernel_size=(3, 3), activation="relu"))
        if index == 0:
            stack.append(layers.MaxPooling2D(pool_size=(2, 2)))
        stack.append(layers.Dropout(dropout))
    stack += [layers.Flatten(), layers.Dense(dense, activation="relu")]
    if dense_dropout:
        stack.append(layers.Dropout(dense_dropout))
    stack.append(layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(stack, name=name)


def one_layer(input_shape, num_classes):
    return convolutions_then_dense("one_layer", input_shape, num_classes, [(32, 0.2)], dense=32)


def two_layer(input_shape, num_classes):
    return convolutions_then_dense("two_layer", input_shape, num_classes, [(32, 0.2), (64, 0.2)], dense=64)


def three_layer(input_shape, num_classes):
    return convolutions_then_dense("three_layer", input_shape, num_classes, [(32, 0.25), (64, 0.25), (128, 0.4)],
                                   dense=128, dense_dropout=0.3)


def vgg(input_shape, num_classes):
    """Two VGG blocks (two 3x3 convolutions each) with batch normalization, then a dense head."""

    def block(filters):
        return [
            layers.Conv2D(filters, kernel_size=(3, 3), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Conv2D(filters, kernel_size=(3, 3), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
        ]

    return keras.Sequential(
        [keras.Input(shape=input_shape), *block(32), *block(64)]
        + [
            layers.Flatten(),
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="vgg",
    )


MODELS = {
    "reference": reference,
    "1-layer": one_layer,
    "2-layer": two_layer,
    "3-layer": three_layer,
    "vgg": vgg,
}


# the smallest image side each model takes: its valid 3x3 convolutions and 2x2 poolings must leave >= 1 pixel
MIN_SIDE = {"reference": 10, "1-layer": 4, "2-layer": 8, "3-layer": 12, "vgg": 4}


def build(name, input_shape, num_classes):
    """The model `name` (a built-in, or a user's `FILE.py:FUNCTION`) for this data; ValueError if it cannot."""
    from core.config import model_file

    if model_file(name):
        return user_model(*model_file(name), tuple(input_shape), num_classes)
    side = min(input_shape[:2])
    if side < MIN_SIDE[name]:
        fitting = [model for model, needed in MIN_SIDE.items() if side >= needed]
        raise ValueError(f"{input_shape[0]}x{input_shape[1]} images are too small for the {name} model (it needs "
                         f"{MIN_SIDE[name]}x{MIN_SIDE[name]} or more); models that fit: {', '.join(fitting) or 'none'}")
    return MODELS[name](input_shape, num_classes)


def user_model(path, function, input_shape, num_classes):
    """`function(input_shape, num_classes)` from the user's file; ValueError naming the fix if its
    signature does not take those two, it raises, or it returns no keras.Model."""
    where = f"{path}:{function}"
    builder = getattr(load_module(path), function, None)
    if not callable(builder):
        raise ValueError(f"{where} is not a function: define def {function}(input_shape, num_classes) returning a keras.Model")
    try:
        inspect.signature(builder).bind(input_shape, num_classes)
    except TypeError:
        raise ValueError(f"{where}{inspect.signature(builder)} cannot be called as {function}(input_shape, num_classes): "
                         "give it those two parameters (the image shape, e.g. (28, 28, 1), and the number of classes)") from None
    except ValueError:  # no signature to read (a builtin): the call below says
        pass
    try:
        model = builder(input_shape, num_classes)
    except Exception as error:  # the user's code: any exception is a message about it
        raise ValueError(f"{where}({input_shape}, {num_classes}) raised {type(error).__name__}: {error}") from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{where} returned {type(model).__name__}, not a keras.Model: return the model it builds, "
                         "e.g. keras.Sequential([...])")
    return model


def load_module(path):
    """The user's model file imported as a module of its own (not on sys.path: no clash with ours)."""
    name = "portability_user_model_" + hashlib.sha256(str(pathlib.Path(path).resolve()).encode()).hexdigest()[:8]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file at import: a message naming it
        raise ValueError(f"importing {path} raised {type(error).__name__}: {error}") from None
    return module
