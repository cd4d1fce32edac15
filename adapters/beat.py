"""BEAT (Idiap's platform for reproducible evaluation): the experiment as a BEAT prefix (dataformats,
a database whose view serves the verified data set, the bundle as a library, a training block, an
analyzer, a toolchain and the experiment declaration), run by BEAT's own executor.

Without a platform token, a push runs the prefix with BEAT's local executor in BEAT's environment
(`make beat-env`: Python 3.11 with beat.core, beat.backend.python, beat.cmdline and TensorFlow) and
reads the analyzer's result from BEAT's output cache, which makes a rerun of the same experiment free.
With a token (BEAT_TOKEN or `beat config set token`), the prefix's objects are pushed to the platform
with `beat ... push`, started, followed with `runstatus`, and the analyzer's results pulled.
"""

import hashlib
import json
import os
import pathlib
import re
import shutil

from adapters import beat_remote, beat_script, bundle, emulation, own_experiment
from adapters.base import PlatformError
from adapters.base import Adapter
from adapters.options import Option
from adapters.trains_here import TrainsHere
from core import config as configuration, datasets
from core.errors import UsageError

ROOT = bundle.ROOT
SHIMS = bundle.SHIMS
PLACEHOLDER_USER = "portability"
DATA_ROOT = "/data/portability"  # the database's root folder as declared; the run sets the real one
TYPES = {int: "int64", float: "float64", str: "string"}
PARAMETERS = ("model", "epochs", "optimizer", "learning_rate", "batch_size", "seed", "validation_split",
              "fine_tune_epochs", "augmentation_epochs", "target_accuracy", "test_split", "max_train_samples")


def identifier(text):
    return re.sub(r"[^a-zA-Z0-9_]+", "_", text).strip("_")


class BeatAdapter(TrainsHere, Adapter):
    name = "beat"
    display_name = "BEAT"
    computes_here = True  # the local executor trains here
    user_data_at = ""  # the database's root folder holds the user's file
    single_file = True  # the code travels as one file: the prefix's library
    tool = ("beat", "make beat-env (BEAT's packages and TensorFlow in .beat-venv, on Python 3.11)")
    helper_groups = {"samples_dataset": "data access", "Samples": "data access", "read_idx": "data access",
                     "pixels": "data access", "encoded": "result upload"}
    network = False
    option_specs = (Option("venv", None, "the environment holding BEAT's packages (default .beat-venv)"),
                    Option("cache", None, "BEAT's cache of data set outputs (default: in the data cache)"))

    # where BEAT is --------------------------------------------------------------------------------
    def find_tool(self):
        for folder in (self.platform_options["venv"], ROOT / ".beat-venv"):
            if folder and (pathlib.Path(folder) / "bin" / "beat").is_file():
                return str(pathlib.Path(folder) / "bin" / "beat")
        return shutil.which("beat")

    def python(self):
        return str(pathlib.Path(self.find_tool()).parent / "python")

    def platform_url(self):
        return os.environ.get("BEAT_PLATFORM") or beat_remote.beat_config().get("platform")

    def token(self):
        return os.environ.get("BEAT_TOKEN") or beat_remote.beat_config().get("token")

    def mode_note(self):
        if self.token():
            return f"remote, on {self.platform_url() or 'the default BEAT platform'}"
        return "BEAT local executor (set BEAT_TOKEN to push to a BEAT platform)"

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.beat(self, timeout)

    @property
    def user(self):
        if self.for_repository:
            return PLACEHOLDER_USER
        return identifier(os.environ.get("BEAT_USER") or beat_remote.beat_config().get("user") or PLACEHOLDER_USER)

    # the prefix -------------------------------------------------------------------------------------
    def names(self, config):
        """The BEAT objects' names. BEAT caches a data set's outputs by its database's *name*, so the name
        carries a digest of the data's files and of the view that reads them."""
        label = identifier(config.preset or f"{pathlib.Path(config.dataset).stem}_{config.model}")
        if config.dataset in configuration.BUILTIN_DATASETS:
            data, files = config.dataset, datasets.CANONICAL[config.dataset]
        else:
            data = f"user_{pathlib.Path(config.dataset).stem}"
            files = {pathlib.Path(config.dataset).name: hashlib.sha256(pathlib.Path(config.dataset).read_bytes()).hexdigest()}
        digest = hashlib.sha256(((SHIMS / "beat_view.py").read_text() + json.dumps(files, sort_keys=True)).encode())
        user = self.user
        return {"user": user, "experiment": f"{user}/{user}/portability/1/{label}",
                "database": f"portability_{identifier(data)}_{digest.hexdigest()[:8]}/1",
                "samples": f"{user}/portability_samples/1", "run": f"{user}/portability_run/1",
                "library": f"{user}/portability_bundle/1", "train": f"{user}/portability_train/1",
                "analyzer": f"{user}/portability_analyzer/1", "toolchain": f"{user}/portability/1"}

    def entry_path(self):
        return f"prefix/libraries/{self.user}/portability_bundle/1.py"

    def bundle_config(self, config):
        values = super().bundle_config(config)
        if values["dataset"] not in configuration.BUILTIN_DATASETS:
            values["dataset"] = pathlib.Path(values["dataset"]).name
        return values

    def render(self, config):
        if own_experiment.is_script(config):  # your own script: its --data items as a database
            return beat_script.render(self, config)
        if config.dataset not in configuration.BUILTIN_DATASETS and not (
                pathlib.Path(config.dataset).suffix == ".npz"):
            raise UsageError(f"BEAT's database view reads MNIST, Fashion-MNIST or a .npz with x_train, y_train, "
                             f"x_test and y_test; save {config.dataset} as such a .npz to run it on BEAT")
        names = self.names(config)
        config_text = json.dumps(self.bundle_config(config), indent=2, sort_keys=True) + "\n"
        library = bundle.single_file({**bundle.code_files(self.name, {}, config_text), **bundle.core_files()})
        # BEAT hashes a block by its own code, not its libraries': the library's hash is a parameter
        names["bundle"] = hashlib.sha256(library.encode()).hexdigest()[:16]
        declarations = {
            f"dataformats/{names['samples']}.json": {"images": [0, 0, 0, 0, "uint8"], "labels": [0, "int64"],
                                                      "files": "string"},
            f"dataformats/{names['run']}.json": {"results_json": "string", "model_h5": "string",
                                                  "model_keras": "string", "log": "string"},
            f"databases/{names['database']}.json": self.database(config, names),
            f"libraries/{names['library']}.json": {"schema_version": 1, "language": "python",
                                                    "description": "The portability experiment: core, entry and BEAT shim"},
            f"algorithms/{names['train']}.json": self.training_block(config, names),
            f"algorithms/{names['analyzer']}.json": self.analyzer(names),
            f"toolchains/{names['toolchain']}.json": toolchain(),
            f"experiments/{names['experiment']}.json": self.experiment(config, names),
        }
        files = {f"prefix/{path}": json.dumps(value, indent=2, sort_keys=True) + "\n" for path, value in declarations.items()}
        files.update({
            f"prefix/libraries/{names['library']}.py": library,
            f"prefix/databases/{names['database']}.py": (SHIMS / "beat_view.py").read_text(),
            f"prefix/algorithms/{names['train']}.py": (SHIMS / "beat_train.py").read_text(),
            f"prefix/algorithms/{names['analyzer']}.py": (SHIMS / "beat_analyzer.py").read_text(),
        })
        return files

    def database(self, config, names):
        file = {} if config.dataset in configuration.BUILTIN_DATASETS else {"file": pathlib.Path(config.dataset).name}
        sets = [{"name": split, "template": split, "view": "Samples", "parameters": {"split": split, **file},
                 "outputs": {"samples": names["samples"]}} for split in ("train", "test")]
        return {"description": f"{pathlib.Path(config.dataset).name[:40]}: train and test sets, one sample each",
                "root_folder": f"{DATA_ROOT}/{names['database'].split('/')[0]}",
                "protocols": [{"name": "holdout", "template": "holdout", "sets": sets}]}

    def training_block(self, config, names):
        values = config.to_dict()
        parameters = {key: {"type": TYPES[type(values[key])] if values[key] is not None else
                            TYPES[configuration.FIELDS[key].type.__args__[0]],
                            "default": -1 if values[key] is None else values[key]} for key in PARAMETERS}
        parameters["database"] = {"type": "string", "default": names["database"]}
        parameters["bundle"] = {"type": "string", "default": names["bundle"]}
        groups = [{"name": "train", "inputs": {"train": {"type": names["samples"]}},
                   "outputs": {"run": {"type": names["run"]}}},
                  {"name": "test", "inputs": {"test": {"type": names["samples"]}}}]
        return {"schema_version": 2, "language": "python", "api_version": 2, "type": "autonomous",
                "splittable": False, "groups": groups, "parameters": parameters,
                "uses": {"bundle": names["library"]},
                "description": "Trains and evaluates the portability experiment (the core, through the bundle library)"}

    def analyzer(self, names):
        results = {"accuracy": {"type": "float32", "display": True}, "loss": {"type": "float32", "display": True},
                   "verdict": {"type": "string", "display": True}}
        results.update({key: {"type": "string", "display": False} for key in ("results_json", "model_h5", "model_keras", "log")})
        return {"schema_version": 2, "language": "python", "api_version": 2, "type": "autonomous",
                "groups": [{"name": "main", "inputs": {"run": {"type": names["run"]}}}], "results": results,
                "description": "The run's test accuracy, loss and verdict, with results.json and the models"}

    def experiment(self, config, names):
        values = config.to_dict()
        parameters = {key: -1 if values[key] is None else values[key] for key in PARAMETERS}
        parameters.update(database=names["database"], bundle=names["bundle"])
        return {
            "schema_version": 1,
            "datasets": {split: {"database": names["database"], "protocol": "holdout", "set": split}
                         for split in ("train", "test")},
            "blocks": {"training": {"algorithm": names["train"], "inputs": {"train": "train", "test": "test"},
                                    "outputs": {"run": "run"}, "parameters": parameters}},
            "analyzers": {"analysis": {"algorithm": names["analyzer"], "inputs": {"run": "run"}}},
            "globals": {"queue": "queue", "environment": {"name": "Python 3.11 (portability)", "version": "1.0.0"}},
        }

    def code_files(self, folder):
        """The entry and shim (carried in the library), and the blocks and view BEAT needs."""
        folder = pathlib.Path(folder)
        library = next((folder / "prefix" / "libraries").glob("*/portability_bundle/1.py"))
        files, loader = bundle.unpack_single_file(library.read_text())
        core = bundle.core_lines(files)
        code = {name: files[name] for name in ("experiment.py", "shim.py")}
        for kind, pattern in (("database view", "databases/*/1.py"), ("training block", "algorithms/*/portability*_train/1.py"),
                              ("analyzer block", "algorithms/*/portability*_analyzer/1.py")):
            code[kind] = next((folder / "prefix").glob(pattern)).read_text()
        return {**code, "library loader": loader}, core

    def code_paths(self, folder):
        return {str(p.relative_to(folder)) for p in pathlib.Path(folder).glob("prefix/**/*.py")}

    def describe_push(self, bundle_dir):
        files = sorted(str(p.relative_to(bundle_dir)) for p in pathlib.Path(bundle_dir).rglob("*") if p.is_file())
        return (f"beat: would run the experiment of a prefix of {len(files)} files "
                f"({self.mode_note()}):\n  " + "\n  ".join(files))

    # running it -------------------------------------------------------------------------------------
    def cache_dir(self):
        """BEAT's output cache, kept across runs: the same experiment again is read, not recomputed."""
        return pathlib.Path(self.platform_options["cache"] or datasets.cache_dir() / "beat-cache")

    def declared(self, run_dir):
        """(experiment name, database name) as the bundle's prefix declares them."""
        prefix = run_dir / "bundle" / "prefix"
        experiment = next(prefix.glob("experiments/*/*/*/*/*.json")).relative_to(prefix / "experiments")
        database = next(prefix.glob("databases/*/*.json")).relative_to(prefix / "databases")
        return str(experiment.with_suffix("")), str(database.with_suffix(""))

    def prepare_work(self, run_dir, data_dir):
        """Point the run's copy of the database declaration at the data's folder. (BEAT's `experiments run`
        loads the databases before it applies .beatrc's database paths, so those are not used; BEAT
        keys its cache by the database's name, not its folder, so the outputs stay shared.)"""
        (run_dir / "work" / "output").mkdir(parents=True, exist_ok=True)
        _, database = self.declared(run_dir)
        path = run_dir / "bundle" / "prefix" / "databases" / f"{database}.json"
        declaration = json.loads(path.read_text())
        declaration["root_folder"] = str(pathlib.Path(data_dir).resolve())
        path.write_text(json.dumps(declaration, indent=2, sort_keys=True) + "\n")
        self.cache_dir().mkdir(parents=True, exist_ok=True)

    def data_folder(self, run_dir):
        values = json.loads((run_dir / "config.json").read_text())
        if own_experiment.is_script(values):
            beat_script.check_packages(self, run_dir)
            return beat_script.data_folder(run_dir)
        if values["dataset"] in configuration.BUILTIN_DATASETS:
            return datasets.fetch(values["dataset"])
        return pathlib.Path(values["dataset"]).resolve().parent

    def run_command(self, run_dir):
        """BEAT's executor on the prefix, then the analyzer's result from BEAT's cache into output/."""
        if self.find_tool() is None:
            raise PlatformError("BEAT is not installed: make beat-env")
        experiment, _ = self.declared(run_dir)
        return [self.python(), str(ROOT / "adapters" / "shims" / "beat_run.py"), str(run_dir / "bundle" / "prefix"),
                str(self.cache_dir()), experiment, "output"]

    def submit(self, handle, run_dir):
        if self.token():
            if own_experiment.is_script(json.loads((run_dir / "config.json").read_text())):
                raise UsageError("your own script's --data reaches BEAT as a database, which a BEAT platform hosts "
                                 "itself: unset BEAT_TOKEN to run it with BEAT's local executor")
            return beat_remote.submit(self, handle, run_dir)
        self.prepare_work(run_dir, self.data_folder(run_dir))
        super().submit(handle, run_dir)
        handle.details.update(engine="BEAT local executor", python=self.python())

    def sandbox(self, run_dir, data_dir, config):
        """The emulation: BEAT's executor in a clean environment, no network but loopback (BEAT's
        executor talks to its blocks over zmq on 127.0.0.1), the cache writable."""
        self.prepare_work(run_dir, data_dir or self.data_folder(run_dir))
        box = emulation.Sandbox(argv=self.run_command(run_dir), cwd=str(run_dir / "work"), network=False,
                                hidden=self.hidden_credentials(),
                                env={**emulation.environment(), "PORTABILITY_OBTAINED": "emulated"})
        box.binds.append((self.cache_dir(), str(self.cache_dir()), False))
        return box

    def emulation_data(self, config):
        if config.dataset in configuration.BUILTIN_DATASETS:
            return datasets.fetch(config.dataset)
        return pathlib.Path(config.dataset).resolve().parent

    def how_it_ran(self, platform, mode):
        if mode == "executed" and str(platform.get("engine", "")).startswith("BEAT local executor"):
            return "executed by BEAT's local executor"
        return None

    def status(self, handle, run_dir):
        if handle.details.get("remote"):
            return beat_remote.status(self, handle, run_dir)
        return super().status(handle, run_dir)

    def fetch_outputs(self, handle, run_dir, target):
        if handle.details.get("remote"):
            return beat_remote.fetch_outputs(self, handle, run_dir, target)
        return super().fetch_outputs(handle, run_dir, target)

def toolchain():
    """Two data sets (train, test) into the training block; its run into the analyzer."""
    connections = [{"from": "train.samples", "to": "training.train", "channel": "train"},
                   {"from": "test.samples", "to": "training.test", "channel": "test"},
                   {"from": "training.run", "to": "analysis.run", "channel": "train"}]
    return {"datasets": [{"name": "train", "outputs": ["samples"]}, {"name": "test", "outputs": ["samples"]}],
            "blocks": [{"name": "training", "inputs": ["train", "test"], "outputs": ["run"], "synchronized_channel": "train"}],
            "analyzers": [{"name": "analysis", "inputs": ["run"], "synchronized_channel": "train"}],
            "connections": connections, "representation": {"connections": {}, "blocks": {}, "channel_colors": {}}}
