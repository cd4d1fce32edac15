"""Platform adapters. Importing this package imports no platform SDK: each adapter module is imported
only when its platform is used, and a missing SDK becomes an error that names the pip package."""

import collections
import importlib

from core.errors import UsageError

Platform = collections.namedtuple("Platform", "module cls sdk pip")

# name -> where its adapter is, the SDK module it drives, and what to pip install for that SDK
REGISTRY = {
    "local": Platform("adapters.local", "LocalAdapter", None, None),
    "docker": Platform("adapters.docker", "DockerAdapter", None, None),
    "kaggle": Platform("adapters.kaggle", "KaggleAdapter", "kaggle", "kaggle six"),
    "codalab": Platform("adapters.codalab", "CodaLabAdapter", None, None),
    "comet": Platform("adapters.comet", "CometAdapter", "comet_ml", "comet-ml"),
    "openml": Platform("adapters.openml", "OpenMLAdapter", "openml", "openml"),
}


def names():
    return list(REGISTRY)


def get(name):
    """The adapter for `name`; UsageError listing the platforms for an unknown name."""
    if name not in REGISTRY:
        raise UsageError(f"unknown platform {name!r}: valid platforms are {', '.join(REGISTRY)}")
    entry = REGISTRY[name]
    return getattr(importlib.import_module(entry.module), entry.cls)()


def install_hint(name):
    """What a user runs to get the platform's SDK: the one source of these messages."""
    return f"the {name} adapter needs the Python package {REGISTRY[name].pip}: pip install {REGISTRY[name].pip}"
