"""The seed models. Every builder takes the input shape and number of classes from the data."""

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


def one_layer(input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu", padding="valid"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="one_layer",
    )


def two_layer(input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.2),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="two_layer",
    )


def three_layer(input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.Dropout(0.25),
            layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
            layers.Dropout(0.4),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="three_layer",
    )


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


def build(name, input_shape, num_classes):
    return MODELS[name](input_shape, num_classes)
