"""The BEAT database view: the train or test split of the data set in the database's root folder, as
one sample holding every image and label, with the SHA-256 of each file read. It reads the four
canonical IDX files (plain or .gz) or a .npz with x_train, y_train, x_test and y_test."""

import collections
import gzip
import hashlib
import json
import os

import numpy

from beat.backend.python.database import View

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(folder, stem):
    """(array, sha256 of the uncompressed bytes) of an IDX file, plain or gzipped."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as stream:
                content = stream.read()
            dimensions = content[3]
            shape = [int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(dimensions)]
            array = numpy.frombuffer(content, numpy.uint8, offset=4 + 4 * dimensions).reshape(shape)
            return array, hashlib.sha256(content).hexdigest()
    raise IOError(f"{os.path.join(folder, stem)}[.gz] is missing: point the database at a folder that holds it")


def pixels(images):
    """uint8 images with a channel axis, from uint8, whole numbers 0..255, or floats in [0, 1]."""
    images = numpy.asarray(images)
    if images.dtype != numpy.uint8:
        if images.size and (images.min() < 0 or images.max() > 255 or not numpy.all(numpy.isfinite(images))):
            raise ValueError("pixel values must lie in 0..255 (or 0..1 for floats)")
        if images.dtype.kind == "f" and images.max() <= 1.0:
            images = images * 255
        images = images.round().astype(numpy.uint8)
    return images[..., numpy.newaxis] if images.ndim == 3 else images


class Samples(View):
    def index(self, root_folder, parameters):
        Entry = collections.namedtuple("Entry", ["samples", "split", "file"])  # `samples`: the output's data unit
        return [Entry(parameters["split"], parameters["split"], parameters.get("file", ""))]

    def get(self, output, index):
        entry = self.objs[index]
        if entry.file:  # a .npz
            path = os.path.join(self.root_folder, entry.file)
            with open(path, "rb") as stream:
                digest = hashlib.sha256(stream.read()).hexdigest()
            with numpy.load(path, allow_pickle=False) as archive:
                images, labels = pixels(archive[f"x_{entry.split}"]), archive[f"y_{entry.split}"]
            files = {entry.file: digest, "name": entry.file}
        else:
            (images, image_hash), (labels, label_hash) = (read_idx(self.root_folder, s) for s in FILES[entry.split])
            images = images[..., numpy.newaxis]
            files = {s: read_idx(self.root_folder, s)[1] for s in FILES["train"] + FILES["test"]}
        return {"images": numpy.ascontiguousarray(images), "labels": numpy.asarray(labels, dtype=numpy.int64),
                "files": json.dumps(files, sort_keys=True)}
