"""The user's own data sets: every format, and the bad inputs each must reject clearly."""

import numpy as np
import pytest
from PIL import Image

from core import datasets, userdata
from core.errors import DataError
from tests.conftest import synthetic_images


def write_csv(path, images, labels, header=True, label_first=True):
    pixels = images.reshape(len(images), -1)
    lines = []
    if header:
        names = [f"pixel{i}" for i in range(pixels.shape[1])]
        lines.append(",".join(["label", *names] if label_first else [*names, "label"]))
    for image, label in zip(pixels, labels):
        cells = [str(v) for v in image]
        lines.append(",".join([str(label), *cells] if label_first else [*cells, str(label)]))
    path.write_text("\n".join(lines) + "\n")


def test_kaggle_style_csv_pair(tmp_path):
    x_train, y_train = synthetic_images(40, seed=1)
    x_test, y_test = synthetic_images(10, seed=2)
    write_csv(tmp_path / "fashion-mnist_train.csv", x_train, y_train)
    write_csv(tmp_path / "fashion-mnist_test.csv", x_test, y_test)
    dataset = userdata.load(tmp_path / "fashion-mnist_train.csv")
    assert np.array_equal(dataset.x_train, x_train) and np.array_equal(dataset.y_test, y_test)
    assert dataset.input_shape == (28, 28, 1) and set(dataset.files) == {"fashion-mnist_train.csv", "fashion-mnist_test.csv"}


def test_csv_without_header_label_last_column_named_and_holdout(tmp_path):
    x, y = synthetic_images(50, num_classes=4, shape=(8, 8, 3), seed=3)
    write_csv(tmp_path / "plain.csv", x, y, header=False)
    dataset = userdata.load(tmp_path / "plain.csv", test_split=0.2, seed=0)
    assert dataset.input_shape == (8, 8, 3) and dataset.num_classes == 4
    assert len(dataset.x_train) == 40 and len(dataset.x_test) == 10 and "hold-out" in dataset.source
    write_csv(tmp_path / "named.csv", x, y, header=True, label_first=False)
    named = userdata.load(tmp_path / "named.csv", test_split=0.2, seed=0)
    assert np.array_equal(named.y_train, dataset.y_train)


@pytest.mark.parametrize("content, message", [
    ("label,a,b,c,d\n1,0,0,0,0\n2,0,0,0\n", "line 3: 4 values where the header has 5 .ragged row."),
    ("label,a,b,c,d\n1,0,x,0,0\n", "line 2: 'x' is not a number"),
    ("label,a,b,c,d\n-1,0,0,0,0\n1,0,0,0,0\n", "label -1 is out of range"),
    ("label,a,b,c,d\n1.5,0,0,0,0\n", "labels must be whole numbers"),
    ("label,a,b,c,d,e\n1,0,0,0,0,0\n", "5 pixel columns is not a square"),
    ("label,a,b,c,d\n1,0,0,0,0\n", "too few images"),
    ("", "the file is empty"),
])
def test_bad_csv_is_rejected_with_file_and_line(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError, match=message) as error:
        userdata.load(tmp_path / "bad.csv")
    assert "bad.csv" in str(error.value)


def test_test_label_out_of_range(tmp_path):
    x, y = synthetic_images(20, num_classes=3, seed=1)
    write_csv(tmp_path / "d_train.csv", x, y)
    write_csv(tmp_path / "d_test.csv", x[:2], np.array([0, 7]))
    with pytest.raises(DataError, match="test label 7 is out of range"):
        userdata.load(tmp_path / "d_train.csv")


def test_npz(tmp_path):
    x_train, y_train = synthetic_images(30, seed=1)
    x_test, y_test = synthetic_images(10, seed=2)
    np.savez(tmp_path / "data.npz", x_train=x_train[..., 0] / 255.0, y_train=y_train,
             x_test=x_test[..., 0] / 255.0, y_test=y_test)
    dataset = userdata.load(tmp_path / "data.npz")
    assert dataset.x_train.dtype == np.uint8 and np.array_equal(dataset.x_train, x_train)
    np.savez(tmp_path / "partial.npz", x_train=x_train, y_train=y_train)
    with pytest.raises(DataError, match="missing arrays x_test, y_test"):
        userdata.load(tmp_path / "partial.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="broken.npz: not a readable .npz"):
        userdata.load(tmp_path / "broken.npz")


def test_idx_folder_with_test_prefix(tmp_path):
    x_train, y_train = synthetic_images(30, seed=1)
    x_test, y_test = synthetic_images(10, seed=2)
    datasets.write_idx(tmp_path / "train-images-idx3-ubyte", x_train[..., 0])
    datasets.write_idx(tmp_path / "train-labels-idx1-ubyte", y_train)
    datasets.write_idx(tmp_path / "test-images-idx3-ubyte", x_test[..., 0])
    datasets.write_idx(tmp_path / "test-labels-idx1-ubyte", y_test)
    dataset = userdata.load(tmp_path)
    assert np.array_equal(dataset.x_test, x_test) and len(dataset.files) == 4
    (tmp_path / "test-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no test labels file"):
        userdata.load(tmp_path)


def _image_folder(root, counts, size=(12, 12), mode="L"):
    for index, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new(mode, size, color=(index * 60 if mode == "L" else (index * 60, i, 0))).save(root / name / f"{i}.png")


def test_image_folder_train_test_and_rgb(tmp_path):
    _image_folder(tmp_path / "train", {"cat": 6, "dog": 6, "owl": 4}, mode="RGB")
    _image_folder(tmp_path / "test", {"cat": 2, "dog": 2, "owl": 2}, mode="RGB")
    dataset = userdata.load(tmp_path)
    assert dataset.input_shape == (12, 12, 3) and dataset.num_classes == 3
    assert dataset.class_names == ["cat", "dog", "owl"] and len(dataset.x_test) == 6


def test_image_folder_bad_inputs(tmp_path):
    _image_folder(tmp_path / "a", {"one": 3, "two": 3})
    (tmp_path / "a" / "three").mkdir()
    with pytest.raises(DataError, match="three: empty class folder"):
        userdata.load(tmp_path / "a")
    _image_folder(tmp_path / "b", {"one": 3})
    Image.new("L", (20, 20)).save(tmp_path / "b" / "one" / "big.png")
    with pytest.raises(DataError, match="images differ in size"):
        userdata.load(tmp_path / "b")
    (tmp_path / "c" / "one").mkdir(parents=True)
    (tmp_path / "c" / "one" / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="x.png: not a readable image"):
        userdata.load(tmp_path / "c")


def test_unknown_format(tmp_path):
    (tmp_path / "data.parquet").write_bytes(b"x")
    with pytest.raises(DataError, match="not a data set this tool reads"):
        userdata.load(tmp_path / "data.parquet")
