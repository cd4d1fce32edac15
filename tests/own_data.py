"""Data for the own-experiment tests: a small `mnist.npz` in Keras' layout (x_train, y_train, x_test,
y_test as uint8, images 28x28) cut from the verified MNIST cache, so a run trains in seconds."""

import numpy as np

FIXTURES = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "own"


def small_mnist_npz(folder, train=2000, test=500):
    from core import datasets

    data = datasets.locate("mnist", allow_network=False)
    path = folder / "mnist.npz"
    np.savez_compressed(path, x_train=data.x_train[:train, ..., 0], y_train=data.y_train[:train].astype(np.uint8),
                        x_test=data.x_test[:test, ..., 0], y_test=data.y_test[:test].astype(np.uint8))
    return path
