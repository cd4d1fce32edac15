"""BEAT: the data comes from the BEAT database's view as arrays (the training block hands them over),
the config from the experiment's block parameters, and the results go back as the block's output.

Only the hooks BEAT changes are here; the training block (algorithm.py) fills BLOCK and runs the entry.
"""

import json
import pathlib

import numpy

from core import config as configuration, datasets, userdata
from core.errors import DataError

PLATFORM = "beat"
BLOCK = {}  # filled by the training block: the block's parameters and the train and test samples
UNSET = -1  # a block parameter cannot be null: this value stands for an unset optional key


def prepare_config(values):
    """The experiment declaration's block parameters win over the bundled config.json; a user's data
    set is the database's samples, saved as a .npz under its own name for the core's loader."""
    plain = {key: value.item() if hasattr(value, "item") else value  # BEAT hands numpy scalars
             for key, value in BLOCK.get("parameters", {}).items() if key in configuration.FIELDS}
    given = {key: None if value == UNSET and configuration.FIELDS[key].default is None else value for key, value in plain.items()}
    values = {**values, **given}
    if values["dataset"] not in datasets.CANONICAL:
        files = json.loads(BLOCK["train"].files)
        path = pathlib.Path(__file__).resolve().parent / "data" / files["name"]
        path.parent.mkdir(exist_ok=True)
        numpy.savez(path, x_train=BLOCK["train"].images, y_train=BLOCK["train"].labels,
                    x_test=BLOCK["test"].images, y_test=BLOCK["test"].labels)
        values["dataset"] = str(path)
    return values


def samples_dataset(config):
    """The database's train and test samples as the core's Dataset: the built-in ones checked against
    the canonical SHA-256 of each file the view read, a user's read by the core's own loader."""
    train, test = BLOCK["train"], BLOCK["test"]
    files = json.loads(train.files)
    source = f"beat:database {BLOCK.get('database')}"
    if config.dataset not in datasets.CANONICAL:
        dataset = userdata.load(config.dataset, test_split=config.test_split, seed=config.seed)
        dataset.files, dataset.source = {files["name"]: files[files["name"]]}, source
        return dataset
    if files != datasets.CANONICAL[config.dataset]:
        raise DataError(f"the BEAT database's files are not the canonical {config.dataset} files "
                        f"({sorted(files)}): point the database at a folder from `portability data fetch`")
    return datasets.Dataset(name=config.dataset, x_train=train.images, y_train=train.labels.astype("int64"),
                            x_test=test.images, y_test=test.labels.astype("int64"), source=source, files=files,
                            canonical=True, num_classes=10)


def run_experiment(config, out_dir):
    """One training and evaluation on the database's samples."""
    from core import experiment

    experiment.run(config, out_dir, platform=PLATFORM, dataset=samples_dataset(config),
                   extra={"database": BLOCK.get("database"), "block": "training"})


def export_results(out_dir):
    """The block writes the files into its output; nothing to do here."""


def script_inputs(items):
    """Your own script's --data items: the database's files (the training block's input), written under
    data/<name> beside the bundle, each item where the script's entry lays it out from."""
    root = pathlib.Path(__file__).resolve().parent / "data"
    for item, path, content in BLOCK["files"]:
        target = root / item if path == "." else root / item / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return [str(root / item["name"]) for item in items]


def run_details():
    return {"database": BLOCK.get("database"), "block": "training"}
