"""Kaggle kernels: the attached data set is found by searching /kaggle/input (both its old and new
layouts), decoded and checked against the canonical files; /kaggle/working is the saved output."""

import os
import pathlib
import sys
import tempfile

import numpy

from core import config as configuration, datasets, userdata

PLATFORM = "kaggle"
KERNEL_ID = "your-kaggle-username/portability"  # slot
KAGGLE_DATASET = {}  # slot: built-in data set -> Kaggle data set
KAGGLE_CSV = {}  # slot: built-in data set -> (train CSV, test CSV)
DETAILS = {}


def prepare_config(values):
    """Your own data set: the file of that name in the attached Kaggle data set."""
    if values["dataset"] not in configuration.BUILTIN_DATASETS:
        found = sorted(pathlib.Path("/kaggle/input").rglob(values["dataset"]))
        if not found:
            raise SystemExit(f"{values['dataset']} is not under /kaggle/input: attach the Kaggle data set that holds it")
        values["dataset"] = str(found[0])
    return values


def data_folder(config):
    """The attached data set as verified IDX files: as found, or decoded from its CSV files."""
    if config.dataset not in configuration.BUILTIN_DATASETS:
        return None
    for images in sorted(pathlib.Path("/kaggle/input").rglob("train-images-idx3-ubyte*")):
        if not datasets.check_folder(config.dataset, images.parent)[1]:
            DETAILS["data_check"] = f"canonical IDX files in {images.parent}"
            return str(images.parent)
    train_csv, test_csv = find_csv(config.dataset)
    folder = pathlib.Path(tempfile.mkdtemp(dir="/kaggle/temp" if os.path.isdir("/kaggle/temp") else None))
    for split, path in (("train", train_csv), ("t10k", test_csv)):
        table = read_csv_table(path)
        datasets.write_idx(folder / f"{split}-images-idx3-ubyte", table[:, 1:].reshape(-1, 28, 28))
        datasets.write_idx(folder / f"{split}-labels-idx1-ubyte", table[:, 0])
    problems = datasets.check_folder(config.dataset, folder)[1]
    DETAILS["data_source"] = f"{train_csv}, {test_csv}"
    if not problems:
        DETAILS["data_check"] = "canonical: the decoded CSV arrays hash to the canonical IDX files"
        return str(folder)
    DETAILS["data_check"] = "NOT canonical: " + "; ".join(problems)
    x_train, y_train, x_test, y_test, files = userdata.read_idx_folder(folder)
    numpy.savez(folder / f"{config.dataset}-kaggle.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    config.dataset = str(folder / f"{config.dataset}-kaggle.npz")
    return None


def find_csv(dataset):
    train_name, test_name = KAGGLE_CSV[dataset]
    train_csv = sorted(pathlib.Path("/kaggle/input").rglob(train_name))
    test_csv = sorted(pathlib.Path("/kaggle/input").rglob(test_name))
    if not train_csv or not test_csv:
        raise SystemExit(f"{train_name} / {test_name} not found under /kaggle/input: attach the data set "
                         f"{KAGGLE_DATASET[dataset]}")
    return train_csv[0], test_csv[0]


def read_csv_table(path):
    try:
        import pandas

        return pandas.read_csv(path).to_numpy(dtype="uint8")
    except ImportError:
        return numpy.loadtxt(path, delimiter=",", skiprows=1, dtype="uint8")


def output_folder():
    """/kaggle/working, with everything printed also kept in its log.txt (a notebook kernel keeps its
    outputs in the executed notebook instead: its cells' streams must stay the kernel's)."""
    out_dir = pathlib.Path("/kaggle/working")
    if "ipykernel" not in sys.modules:
        log = open(out_dir / "log.txt", "a", buffering=1)
        sys.stdout, sys.stderr = Tee(sys.stdout, log), Tee(sys.stderr, log)
    return out_dir


class Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()

    def isatty(self):
        return False


def run_details():
    DETAILS.update(run_type=os.environ.get("KAGGLE_KERNEL_RUN_TYPE"), kernel=KERNEL_ID)
    return DETAILS


def export_results(out_dir):
    print(f"results in {out_dir}: Kaggle saves /kaggle/working as the kernel's output")


def script_inputs(items):
    """Your own script's --data items: in the attached data set, found by name under /kaggle/input
    (whatever the layout)."""
    found = []
    for item in items:
        matches = sorted(path for path in pathlib.Path("/kaggle/input").rglob(item["name"])
                         if path.is_file() == (item["kind"] == "file"))
        if not matches:
            raise SystemExit(f"{item['name']} is not under /kaggle/input: attach the Kaggle data set that holds it")
        found.append(str(matches[0]))
    return found
