"""A researcher's own script or notebook as a platform's bundle (host side; core/script_entry.py is the
bundle's side).

    experiment = own_experiment.ScriptExperiment(spec)         # checked, hashed; what runs.push takes
    runs.push("docker", experiment, ...)                       # like an ExperimentConfig

The bundle is the one every platform gets (the entry, the platform's shim, the core) plus the user's
file, verbatim, at script/<name>, and a config.json whose `own_experiment` says what to run: the
identity (`config`, as config.json of the run store), the script's argv, metric, seed, and the --data
items (name, DEST, files and hashes). How the items reach the platform is the platform's: the adapter's
`script_*` hooks (see own_platforms.py) and the shim's `script_inputs(items)`.
"""

import json
import pathlib

from adapters import bundle
from core import script

SCRIPT_FOLDER = "script"


class ScriptExperiment:
    """A checked ScriptSpec where the platforms take an experiment's config: `to_dict()` is the run's
    identity, `run_id()` its store name; `requirements` the packages the script needs besides the
    runtime (own_requirements.py), given or read from the script."""

    own_experiment = True

    def __init__(self, spec, requirements_file=None):
        self.spec = spec
        self.checked = script.check(spec)
        self.requirements_file = requirements_file
        self._requirements = None

    @property
    def path(self):
        return self.checked.path

    @property
    def kind(self):
        return self.checked.kind

    def to_dict(self):
        return self.checked.config()

    def run_id(self):
        return self.checked.run_id()

    def requirements(self):
        """(requirement lines, where they came from): the script's packages, the runtime left out."""
        if self._requirements is None:
            from adapters import docker, own_requirements

            self._requirements = own_requirements.needed(self.path, self.requirements_file,
                                                         runtime=(*docker.RUNTIME_PACKAGES, "tensorflow"))
        return self._requirements

    def items(self, with_sources=False):
        """The --data items as the bundle names them: a unique `name` each (the delivery's file or folder
        name), DEST, kind, files; `source` (the path here) only for platforms that read it here."""
        found, names = [], set()
        for index, item in enumerate(self.checked.data, start=1):
            name = item.source.resolve().name
            if name in names:
                name = f"{index}-{name}"
            names.add(name)
            entry = {"name": name, "dest": item.dest, "kind": "file" if item.source.is_file() else "folder",
                     "files": [{"path": f["path"], "dest": f["dest"], "sha256": f["sha256"]} for f in item.files]}
            if with_sources:
                entry["source"] = str(item.source.resolve())
            found.append(entry)
        return found

    def sources(self):
        """{item name: its path here}: what a platform uploads or mounts."""
        return {entry["name"]: item.source.resolve() for entry, item in zip(self.items(), self.checked.data)}

    def bundle_config(self, with_sources=False):
        spec = self.spec
        return {"own_experiment": {
            "config": self.to_dict(), "kind": self.kind, "script": f"{SCRIPT_FOLDER}/{self.path.name}",
            "args": [str(arg) for arg in spec.args], "metric": spec.metric, "seed": spec.seed,
            "target_accuracy": spec.target_accuracy, "items": self.items(with_sources)}}


def is_script(config):
    """Whether `config` (an experiment, or a run's config.json as a dict) is a user's own script's."""
    if isinstance(config, dict):
        return config.get("kind") in script.KINDS.values() and "script_sha256" in config
    return getattr(config, "own_experiment", False)


def render(adapter, experiment):
    """The generated files of a script's bundle for `adapter` (all but core/, unless a single file)."""
    from adapters import own_platforms

    platform = own_platforms.of(adapter)
    config = experiment.bundle_config(with_sources=platform.reads_here(adapter))
    config_text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    code = bundle.code_files(adapter.name, platform.slots(adapter, experiment), config_text)
    code[config["own_experiment"]["script"]] = experiment.path.read_text()
    if adapter.single_file:
        code = platform.single_file(adapter, experiment, {**code, **bundle.core_files()})
    else:
        code = {str(pathlib.PurePosixPath(adapter.code_dir, path)): text for path, text in code.items()}
    return {**code, **platform.manifests(adapter, experiment)}


def copy_outputs(source, target):
    """The files the script wrote (results.json's artifacts.outputs, under source/workspace/working)
    into target/outputs/, beside the results: they are the run's outputs, pulled like model.h5."""
    source, target = pathlib.Path(source), pathlib.Path(target)
    try:
        results = json.loads((source / "results.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(results, dict) or "experiment" not in results:
        return []
    copied = []
    for item in (results.get("artifacts") or {}).get("outputs") or []:
        path = source / "workspace" / "working" / item["path"]
        if path.is_file():
            (target / "outputs" / item["path"]).parent.mkdir(parents=True, exist_ok=True)
            (target / "outputs" / item["path"]).write_bytes(path.read_bytes())
            copied.append(item["path"])
    return copied
