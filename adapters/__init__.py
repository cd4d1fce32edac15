"""Platform adapters. Importing this package imports no platform SDK: each adapter module is imported
only when its platform is used, and a missing SDK becomes an error that names the pip package."""

import importlib

from core.errors import UsageError

# name -> (module, class, what to install if the import fails)
REGISTRY = {
    "local": ("adapters.local", "LocalAdapter", None),
    "docker": ("adapters.docker", "DockerAdapter", None),
    "kaggle": ("adapters.kaggle", "KaggleAdapter", "kaggle"),
    "codalab": ("adapters.codalab", "CodaLabAdapter", None),
    "comet": ("adapters.comet", "CometAdapter", "comet-ml"),
    "openml": ("adapters.openml", "OpenMLAdapter", "openml"),
}


def names():
    return list(REGISTRY)


def get(name):
    """The adapter for `name`; UsageError listing the platforms for an unknown name."""
    if name not in REGISTRY:
        raise UsageError(f"unknown platform {name!r}: valid platforms are {', '.join(REGISTRY)}")
    module, cls, _ = REGISTRY[name]
    return getattr(importlib.import_module(module), cls)()
