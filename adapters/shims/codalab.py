"""CodaLab: the data bundle is a dependency linked in as ./data; what is left in the working folder
becomes the run's output bundle, with a flat summary.json for the worksheet's table."""

import json
import os
import pathlib
import re

from core import config as configuration

PLATFORM = "codalab"
IMAGE = "tensorflow/tensorflow:2.21.0"  # slot


def data_folder(config):
    return "data" if config.dataset in configuration.BUILTIN_DATASETS else None


def output_folder():
    return pathlib.Path.cwd()


def run_details():
    return {"bundle_uuid": pathlib.Path.cwd().name, "codalab": os.environ.get("CODALAB"), "image": IMAGE}


def export_results(out_dir):
    """CodaLab tables read top-level keys: a flat summary.json beside results.json."""
    results = json.loads((out_dir / "results.json").read_text())
    summary = {"accuracy": results["test"]["accuracy"], "verdict": results["target"]["verdict"],
               "model": results["model"]["name"], "dataset": results["dataset"]["name"],
               "tensorflow": results["environment"]["tensorflow"]}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def dependency_key(name, index):
    """The key (the link in the run's folder) of the index-th --data item: its name where CodaLab takes it
    and the folder has nothing of that name (code, workspace, stdout, ...), else input-INDEX-NAME."""
    own = ("code", "workspace", "stdout", "stderr", "results.json", "summary.json", "model.h5", "model.keras")
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) and name not in own:
        return name
    return f"input-{index}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


def script_inputs(items):
    """Your own script's --data items: each a dependency of the run, linked in under its key."""
    return [str(pathlib.Path.cwd() / dependency_key(item["name"], index)) for index, item in enumerate(items, start=1)]
