"""CodaLab: the data bundle is a dependency linked in as ./data; what is left in the working folder
becomes the run's output bundle, with a flat summary.json for the worksheet's table."""

import json
import os
import pathlib

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


def script_inputs(items):
    """Your own script's --data items: each a dependency of the run, linked in under its name."""
    return [str(pathlib.Path.cwd() / item["name"]) for item in items]
