"""The user's own data sets: Kaggle-style CSV, IDX files, .npz, or a folder of images per class.

Image size, channels and the number of classes come from the data. A path that holds no test set
gets a seeded hold-out split (`test_split`), recorded in the results.
"""

import hashlib
import math
import pathlib
import zipfile

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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save it as a UTF-8 CSV") from None
    lines = [line for line in text.splitlines() if line.strip()]
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
    if table.shape[1] < 2:
        raise DataError(f"{path}: one column only; each row needs a label and the image's pixel values")
    labels = _labels(table[:, label_column], path)
    pixels = np.delete(table, label_column, axis=1)
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values must be numbers in 0..255 (found NaN, infinite or out-of-range values)")
    return pixels.round().astype(np.uint8).reshape((-1, *_image_shape(pixels.shape[1], path))), labels


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _labels(column, path):
    column = np.asarray(column)
    if column.ndim == 2 and column.shape[1] > 1:
        raise DataError(f"{path}: the labels look one-hot ({column.shape[1]} columns); give one class index per "
                        "image instead (numpy.argmax(labels, axis=1))")
    column = column.reshape(-1) if column.ndim == 2 else column
    if column.ndim != 1 or column.size == 0:
        raise DataError(f"{path}: labels must be one class index per image, got an array of shape {column.shape}")
    if not np.issubdtype(column.dtype, np.number) or np.issubdtype(column.dtype, np.complexfloating):
        raise DataError(f"{path}: labels must be numbers (class indices from 0), got {column.dtype}")
    if not np.all(np.isfinite(column)) or not np.all(np.equal(np.mod(column, 1), 0)):
        raise DataError(f"{path}: labels must be whole numbers (class indices from 0)")
    if column.min() < 0:
        raise DataError(f"{path}: label {int(column.min())} is out of range; labels are class indices from 0")
    return column.astype(np.int64)


def _pixels(x, path, split):
    """Images as uint8 0..255, from uint8, from whole numbers 0..255, or from floats in [0, 1]."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating) or x.ndim not in (3, 4):
        raise DataError(f"{path}: x_{split} must be images (N, height, width[, channels]) of numbers, "
                        f"got {x.dtype} of shape {x.shape}")
    if x.dtype == np.uint8:
        return x[..., np.newaxis] if x.ndim == 3 else x
    if x.size and not np.all(np.isfinite(x)):
        raise DataError(f"{path}: x_{split} holds NaN or infinite pixel values")
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if low < 0 or high > 255:
        raise DataError(f"{path}: x_{split} pixel values run from {low:g} to {high:g}; they must lie in 0..255 "
                        "(or 0..1 for floats)")
    if np.issubdtype(x.dtype, np.floating) and high <= 1.0:
        x = x * 255
    x = x.round().astype(np.uint8)
    return x[..., np.newaxis] if x.ndim == 3 else x


def _check_classes(y_train, path):
    """Labels are class indices 0..K-1 and every class has training images (one stray 999 would
    otherwise make a 1000-class model)."""
    present = np.unique(y_train)
    missing = sorted(set(range(int(present.max()) + 1)) - set(present.tolist()))
    if missing:
        raise DataError(f"{path}: labels must be class indices 0..K-1 with every class in the training set; "
                        f"{len(present)} classes are present but the largest label is {int(present.max())} "
                        f"(no training images of class {', '.join(map(str, missing[:5]))}"
                        f"{', ...' if len(missing) > 5 else ''})")


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
    if len({shape[:2] for shape in shapes}) > 1:
        raise DataError(f"{folder}: images differ in size ({sorted(shapes)[:3]}); resize them to one size")
    if len(shapes) != 1:
        raise DataError(f"{folder}: grayscale and color images are mixed; convert them all to grayscale or all to RGB")
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
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise DataError(f"{path}: {len(x)} {split} images but {len(y)} {split} labels; they must pair up")
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
    _check_classes(y_train, path)
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
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(archive.files)
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(sorted(missing))}; a .npz needs "
                                "x_train, y_train, x_test and y_test")
            x_train, x_test = _pixels(archive["x_train"], path, "train"), _pixels(archive["x_test"], path, "test")
            y_train, y_test = _labels(archive["y_train"], path), _labels(archive["y_test"], path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
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
