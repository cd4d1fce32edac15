"""Platform adapters. Importing this package imports no platform SDK: each adapter module is imported
only when its platform is used, and a missing SDK becomes an error that names the pip package."""

import collections
import importlib

from core.errors import UsageError

Platform = collections.namedtuple("Platform", "module cls sdk pip credentials")

# name -> where its adapter is, the SDK module it drives, what to pip install for that SDK, and where
# its credentials live (variables, and files or folders: ~ is the home folder, $VAR a variable's path)
REGISTRY = {
    "local": Platform("adapters.local", "LocalAdapter", None, None, ()),
    "docker": Platform("adapters.docker", "DockerAdapter", None, None, ("~/.docker/config.json",)),
    "kaggle": Platform("adapters.kaggle", "KaggleAdapter", "kaggle", "kaggle six",
                       ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "$KAGGLE_CONFIG_DIR", "~/.kaggle")),
    "codalab": Platform("adapters.codalab", "CodaLabAdapter", None, None,
                        ("CODALAB_USERNAME", "CODALAB_PASSWORD", "$CODALAB_HOME", "~/.codalab")),
    "comet": Platform("adapters.comet", "CometAdapter", "comet_ml", "comet-ml", ("COMET_API_KEY", "~/.comet.config")),
    "openml": Platform("adapters.openml", "OpenMLAdapter", "openml", "openml", ("OPENML_APIKEY", "~/.config/openml")),
    "beat": Platform("adapters.beat", "BeatAdapter", None, None, ("BEAT_TOKEN", "~/.beatrc")),
}

# what each adapter was tested against, i.e. how sure a result obtained through it is: the one place
# the report's rows, `portability platforms` and the README's table take it from
TESTED_AGAINST = {
    "local": "local",
    "docker": "real engine (Docker)",
    "kaggle": "stand-in from the SDK's source",
    "codalab": "genuine server (CodaLab Worksheets 1.7.5)",
    "comet": "stand-in from the SDK's source",
    "openml": "stand-in checked against recorded genuine responses",
    "beat": "local executor (BEAT's own); remote: stand-in from the SDK's source",
}


def tested_against(name):
    return TESTED_AGAINST.get(name, "not tested")


def names():
    return list(REGISTRY)


def adapter_class(name):
    """The adapter class for `name` (its module imported, no SDK); UsageError for an unknown name."""
    if name not in REGISTRY:
        raise UsageError(f"unknown platform {name!r}: valid platforms are {', '.join(REGISTRY)}")
    entry = REGISTRY[name]
    return getattr(importlib.import_module(entry.module), entry.cls)


def get(name, **platform_options):
    """An adapter for `name`, with its platform options (see adapters.options)."""
    return adapter_class(name)(**platform_options)


def credential_files(names=None):
    """The existing credential files and folders of the named platforms (default: all)."""
    import os
    import pathlib

    found = []
    for name in names or REGISTRY:
        for entry in REGISTRY[name].credentials:
            if entry.startswith("$"):
                entry = os.environ.get(entry[1:], "")
            elif entry.startswith("~"):
                entry = os.path.expanduser(entry)
            else:
                continue  # a variable: cleared with the environment
            if entry and pathlib.Path(entry).exists():
                found.append(pathlib.Path(entry).resolve())
    return sorted(set(found))


def install_hint(name):
    """What a user runs to get the platform's SDK: the one source of these messages."""
    return f"the {name} adapter needs the Python package {REGISTRY[name].pip}: pip install {REGISTRY[name].pip}"
