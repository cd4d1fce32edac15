"""The user's own data sets: Kaggle-style CSV, IDX files, .npz, or a folder of images per class.

Image size, channels and the number of classes come from the data. A path that holds no test set
gets a seeded hold-out split (`test_split`), recorded in the results.
"""

import hashlib
import math
import pathlib

import numpy as np

from core import datasets
from core.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"}
FORMATS = "a CSV file (label column + pixel columns), a folder of IDX files, a .npz with " \
          "x_train/y_train/x_test/y_test, or a folder of images with one subfolder per class"


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _image_shape(num_pixels, path):
    for channels in (1, 3):
        side = math.isqrt(num_pixels // channels)
        if side * side * channels == num_pixels:
            return side, side, channels
    raise DataError(f"{path}: {num_pixels} pixel columns is not a square grayscale or RGB image; "
                    "each row must be a label followed by side*side (or side*side*3) pixel values")


def read_csv(path):
    """Kaggle-style CSV: a `label` column (or the first column) and pixel columns; header optional."""
    path = pathlib.Path(path)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: the file is empty")
    first = [cell.strip() for cell in lines[0].split(",")]
    has_header = not all(_is_number(cell) for cell in first)
    rows = lines[1:] if has_header else lines
    label_column = first.index("label") if "label" in first else 0
    width = len(first)
    values = []
    for number, line in enumerate(rows, start=2 if has_header else 1):
        cells = line.split(",")
        if len(cells) != width:
            raise DataError(f"{path}, line {number}: {len(cells)} values where the header has {width} "
                            "(ragged row); every row needs a label and the same number of pixels")
        try:
            values.append([float(cell) for cell in cells])
        except ValueError:
            bad = next(cell for cell in cells if not _is_number(cell))
            raise DataError(f"{path}, line {number}: {bad.strip()!r} is not a number; pixels and "
                            "labels must be numeric") from None
    if not values:
        raise DataError(f"{path}: no data rows")
    table = np.asarray(values)
    labels = _labels(table[:, label_column], path)
    pixels = np.delete(table, label_column, axis=1)
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values must lie in 0..255")
    return pixels.astype(np.uint8).reshape((-1, *_image_shape(pixels.shape[1], path))), labels


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _labels(column, path):
    column = np.asarray(column)
    if not np.all(np.equal(np.mod(column, 1), 0)):
        raise DataError(f"{path}: labels must be whole numbers (class indices from 0)")
    if column.min() < 0:
        raise DataError(f"{path}: label {int(column.min())} is out of range; labels are class indices from 0")
    return column.astype(np.int64)


def read_idx_folder(folder):
    """train-images/train-labels and t10k- or test- images/labels, raw or .gz."""
    found = {}
    for split, prefixes in (("train", ("train",)), ("test", ("t10k", "test"))):
        for kind, stem in (("images", "images-idx3-ubyte"), ("labels", "labels-idx1-ubyte")):
            path = next((p for prefix in prefixes if (p := datasets.find_file(folder, f"{prefix}-{stem}"))), None)
            if path is None:
                raise DataError(f"{folder}: no {split} {kind} file ({prefixes[-1]}-{stem}[.gz])")
            found[(split, kind)] = path
    arrays = {key: datasets.parse_idx(datasets.read_bytes(path), path) for key, path in found.items()}
    for split in ("train", "test"):
        if len(arrays[(split, "images")]) != len(arrays[(split, "labels")]):
            raise DataError(f"{folder}: {split} images and labels differ in count")
    images = {split: arrays[(split, "images")] for split in ("train", "test")}
    if images["train"].ndim == 3:
        images = {split: x[..., np.newaxis] for split, x in images.items()}
    files = {path.name: sha256_file(path) for path in found.values()}
    return (images["train"], _labels(arrays[("train", "labels")], folder),
            images["test"], _labels(arrays[("test", "labels")], folder), files)


def read_image_folder(folder):
    """One subfolder per class; all images must share one size. Returns images, labels, class names."""
    from PIL import Image

    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{folder}: no class subfolders; put each class's images in a subfolder named after it")
    images, labels, files = [], [], {}
    for index, class_dir in enumerate(classes):
        paths = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DataError(f"{class_dir}: empty class folder (no {'/'.join(sorted(IMAGE_SUFFIXES))} images)")
        for path in paths:
            try:
                with Image.open(path) as image:
                    mode = "L" if image.mode in ("1", "L", "P", "I", "I;16") else "RGB"
                    images.append(np.asarray(image.convert(mode)))
            except OSError as error:
                raise DataError(f"{path}: not a readable image ({error})") from None
            labels.append(index)
            files[f"{class_dir.name}/{path.name}"] = sha256_file(path)
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise DataError(f"{folder}: images differ in size or channels ({sorted(shapes)[:3]}); resize them to one size")
    x = np.stack(images)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    return x, np.asarray(labels, dtype=np.int64), [c.name for c in classes], files


def _holdout(x, y, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) - max(1, int(round(len(x) * fraction)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def load(path, test_split=0.2, seed=42):
    """Load the user's data set at `path` into a datasets.Dataset."""
    path = pathlib.Path(path)
    reader = _reader(path)
    if reader is None:
        raise DataError(f"{path}: not a data set this tool reads; use {FORMATS}")
    x_train, y_train, x_test, y_test, files, class_names, held_out = reader(path, test_split, seed)
    source = f"user:{path}" + (f" (test = seeded {test_split:.0%} hold-out)" if held_out else "")
    if len(x_train) == 0 or len(x_test) == 0:
        raise DataError(f"{path}: too few images for a train and a test set ({len(x_train)} and {len(x_test)})")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{path}: train images are {x_train.shape[1:]} but test images are {x_test.shape[1:]}")
    num_classes = int(y_train.max()) + 1
    if y_test.max() >= num_classes:
        raise DataError(f"{path}: test label {int(y_test.max())} is out of range; the training labels "
                        f"only go up to {num_classes - 1}")
    if num_classes < 2:
        raise DataError(f"{path}: the training labels hold a single class; a classifier needs at least two")
    return datasets.Dataset(
        name=path.name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, source=source,
        files=files, canonical=False, num_classes=num_classes, class_names=class_names)


def _reader(path):
    if path.suffix == ".npz":
        return _load_npz
    if path.suffix == ".csv":
        return _load_csv
    if path.is_dir() and datasets.find_file(path, "train-images-idx3-ubyte"):
        return lambda folder, test_split, seed: (*read_idx_folder(folder), None, False)
    if path.is_dir():
        return _load_image_folder
    return None


def _load_npz(path, test_split, seed):
    try:
        with np.load(path) as archive:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(archive.files)
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(sorted(missing))}; a .npz needs "
                                "x_train, y_train, x_test and y_test")
            x_train, x_test = archive["x_train"], archive["x_test"]
            y_train, y_test = _labels(archive["y_train"], path), _labels(archive["y_test"], path)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]
    if x_train.dtype != np.uint8:
        if x_train.max() <= 1.0:
            x_train, x_test = x_train * 255, x_test * 255
        x_train, x_test = x_train.round().astype(np.uint8), x_test.round().astype(np.uint8)
    return x_train, y_train, x_test, y_test, {path.name: sha256_file(path)}, None, False


def _load_csv(path, test_split, seed):
    """`x_train.csv` finds `x_test.csv` beside it; otherwise a seeded hold-out is the test set."""
    x_train, y_train = read_csv(path)
    test_path = path.with_name(path.name.replace("train", "test"))
    files = {path.name: sha256_file(path)}
    if "train" in path.name and test_path.is_file():
        x_test, y_test = read_csv(test_path)
        files[test_path.name] = sha256_file(test_path)
        return x_train, y_train, x_test, y_test, files, None, False
    return (*_holdout(x_train, y_train, test_split, seed), files, None, True)


def _load_image_folder(path, test_split, seed):
    """One subfolder per class, optionally split into train/ and test/."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        x_train, y_train, class_names, files = read_image_folder(path / "train")
        x_test, y_test, test_names, test_files = read_image_folder(path / "test")
        if test_names != class_names:
            raise DataError(f"{path}: train and test have different class folders ({class_names} vs {test_names})")
        files.update({f"test/{k}": v for k, v in test_files.items()})
        return x_train, y_train, x_test, y_test, files, class_names, False
    x, y, class_names, files = read_image_folder(path)
    return (*_holdout(x, y, test_split, seed), files, class_names, True)
