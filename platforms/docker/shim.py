"""Docker: the data is mounted read-only at /data, the results go to the /results volume."""

import os
import pathlib
import socket

from core import config as configuration

PLATFORM = "docker"


def data_folder(config):
    return "/data" if config.dataset in configuration.BUILTIN_DATASETS else None


def output_folder():
    return pathlib.Path("/results")  # a volume: the files outlive the container


def run_details():
    return {"image": os.environ.get("PORTABILITY_IMAGE"), "container": socket.gethostname()}


def script_inputs(items):
    """Your own script's --data items: each mounted read-only at /data/<name>."""
    return [f"/data/{item['name']}" for item in items]
