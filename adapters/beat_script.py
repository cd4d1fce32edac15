"""A researcher's own script on BEAT: the prefix that runs it unmodified inside a training block.

BEAT lets data into an experiment only through a database, so the --data items become one: its view
(shims/beat_files_view.py) serves every file of every item as one data unit (the item's name, the file's
path in it, its bytes); the training block (shims/beat_script_train.py) hands them to the BEAT shim,
whose `script_inputs` writes them out and core/script_entry.py lays them out at their DEST in the
workspace's working/ (`np.load("mnist.npz")` works as written). The block's output is the run:
results.json, the log and the files the script wrote; the analyzer shows its metric and verdict.

    files = beat_script.render(adapter, experiment)     # {path in the bundle: text}
    beat_script.data_folder(run_dir)                     # the database's root: a link per item here
"""

import hashlib
import json
import pathlib
import subprocess

from adapters import bundle, own_experiment
from adapters.base import PlatformError
from core.errors import UsageError

SHIMS = bundle.SHIMS
REQUIREMENTS = "requirements.txt"  # beside the prefix: the packages BEAT's environment must hold


def names(adapter, experiment):
    """The BEAT objects' names; the database's carries a digest of the items' files and of its view, as
    BEAT caches a data set's outputs by its database's name."""
    from adapters.beat import identifier

    user = adapter.user
    files = [[item["name"], entry["path"], entry["sha256"]] for item in experiment.items() for entry in item["files"]]
    digest = hashlib.sha256(((SHIMS / "beat_files_view.py").read_text() + json.dumps(files)).encode()).hexdigest()
    return {"user": user, "experiment": f"{user}/{user}/portability_script/1/{identifier(experiment.path.stem)}",
            "database": f"portability_files_{digest[:8]}/1", "file": f"{user}/portability_file/1",
            "run": f"{user}/portability_script_run/1", "library": f"{user}/portability_bundle/1",
            "train": f"{user}/portability_script_train/1", "analyzer": f"{user}/portability_script_analyzer/1",
            "toolchain": f"{user}/portability_script/1"}


def render(adapter, experiment):
    """The prefix (declarations, the view, the blocks, the bundle as a library) and requirements.txt."""
    if not experiment.checked.data:
        raise UsageError("BEAT's blocks read data only through a database: give the files your script reads "
                         "with --data SRC[:DEST]")
    found = names(adapter, experiment)
    config_text = json.dumps(experiment.bundle_config(with_sources=False), indent=2, sort_keys=True) + "\n"
    code = bundle.code_files(adapter.name, {}, config_text)
    code[f"{own_experiment.SCRIPT_FOLDER}/{experiment.path.name}"] = experiment.path.read_text()
    library = bundle.single_file({**code, **bundle.core_files()})
    found["bundle"] = hashlib.sha256(library.encode()).hexdigest()[:16]  # BEAT hashes a block, not its libraries
    declarations = {
        f"dataformats/{found['file']}.json": {"item": "string", "path": "string", "content": [0, "uint8"]},
        f"dataformats/{found['run']}.json": {"results_json": "string", "log": "string", "outputs": "string"},
        f"databases/{found['database']}.json": database(experiment, found),
        f"libraries/{found['library']}.json": {"schema_version": 1, "language": "python", "description":
                                                "Your own script, verbatim, with the core, entry and BEAT shim"},
        f"algorithms/{found['train']}.json": training_block(found),
        f"algorithms/{found['analyzer']}.json": analyzer(found),
        f"toolchains/{found['toolchain']}.json": toolchain(),
        f"experiments/{found['experiment']}.json": declaration(found),
    }
    files = {f"prefix/{path}": json.dumps(value, indent=2, sort_keys=True) + "\n" for path, value in declarations.items()}
    files.update({
        f"prefix/libraries/{found['library']}.py": library,
        f"prefix/databases/{found['database']}.py": (SHIMS / "beat_files_view.py").read_text(),
        f"prefix/algorithms/{found['train']}.py": (SHIMS / "beat_script_train.py").read_text(),
        f"prefix/algorithms/{found['analyzer']}.py": (SHIMS / "beat_script_analyzer.py").read_text(),
    })
    lines, source = experiment.requirements()
    files[REQUIREMENTS] = f"# the packages {experiment.path.name} needs in BEAT's environment, from {source}\n" + \
        "".join(f"{line}\n" for line in lines)
    return files


def database(experiment, found):
    """One set: every file of every item, one data unit each, in the order of the items."""
    files = [[item["name"], entry["path"]] for item in experiment.items() for entry in item["files"]]
    sets = [{"name": "files", "template": "files", "view": "Files", "parameters": {"files": json.dumps(files)},
             "outputs": {"file": found["file"]}}]
    from adapters.beat import DATA_ROOT

    return {"description": f"The files {experiment.path.name} reads (--data), one data unit each",
            "root_folder": f"{DATA_ROOT}/{found['database'].split('/')[0]}",
            "protocols": [{"name": "files", "template": "files", "sets": sets}]}


def training_block(found):
    return {"schema_version": 2, "language": "python", "api_version": 2, "type": "autonomous", "splittable": False,
            "groups": [{"name": "files", "inputs": {"files": {"type": found["file"]}},
                        "outputs": {"run": {"type": found["run"]}}}],
            "parameters": {"database": {"type": "string", "default": found["database"]},
                           "bundle": {"type": "string", "default": found["bundle"]}},
            "uses": {"bundle": found["library"]},
            "description": "Runs your own script, unmodified, on the database's files (through the bundle library)"}


def analyzer(found):
    results = {"accuracy": {"type": "float32", "display": True}, "loss": {"type": "float32", "display": True},
               "verdict": {"type": "string", "display": True}}
    results.update({key: {"type": "string", "display": False} for key in ("results_json", "outputs", "log")})
    return {"schema_version": 2, "language": "python", "api_version": 2, "type": "autonomous",
            "groups": [{"name": "main", "inputs": {"run": {"type": found["run"]}}}], "results": results,
            "description": "The script's test metric and verdict, with results.json, its output files and the log"}


def declaration(found):
    parameters = {"database": found["database"], "bundle": found["bundle"]}
    return {"schema_version": 1,
            "datasets": {"files": {"database": found["database"], "protocol": "files", "set": "files"}},
            "blocks": {"training": {"algorithm": found["train"], "inputs": {"files": "files"},
                                    "outputs": {"run": "run"}, "parameters": parameters}},
            "analyzers": {"analysis": {"algorithm": found["analyzer"], "inputs": {"run": "run"}}},
            "globals": {"queue": "queue", "environment": {"name": "Python 3.11 (portability)", "version": "1.0.0"}}}


def toolchain():
    """The files into the training block; its run into the analyzer."""
    connections = [{"from": "files.file", "to": "training.files", "channel": "files"},
                   {"from": "training.run", "to": "analysis.run", "channel": "files"}]
    return {"datasets": [{"name": "files", "outputs": ["file"]}],
            "blocks": [{"name": "training", "inputs": ["files"], "outputs": ["run"], "synchronized_channel": "files"}],
            "analyzers": [{"name": "analysis", "inputs": ["run"], "synchronized_channel": "files"}],
            "connections": connections, "representation": {"connections": {}, "blocks": {}, "channel_colors": {}}}


def data_folder(run_dir):
    """The database's root folder for a run here: a link to each item (where it is on this machine,
    recorded at push) under its name, as the view reads them."""
    from adapters import own_platforms

    folder = pathlib.Path(run_dir) / "work" / "database"
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in own_platforms.inputs(run_dir).items():
        link = folder / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(path)
    return folder


def check_packages(adapter, run_dir):
    """BEAT runs a block in a fixed environment and installs nothing: each package the script needs must
    be there already. Raises PlatformError naming the missing ones and how to add them."""
    path = pathlib.Path(run_dir) / "bundle" / REQUIREMENTS
    wanted = [line.split("#")[0].strip() for line in path.read_text().splitlines()] if path.is_file() else []
    wanted = [line for line in wanted if line]
    if not wanted:
        return
    probe = ("import importlib.metadata as m, re, sys\n"
             "for line in sys.argv[1:]:\n"
             "    name = re.split('[<>=!~; \\\\[]', line)[0]\n"
             "    try: m.version(name)\n"
             "    except m.PackageNotFoundError: print(line)\n")
    done = subprocess.run([adapter.python(), "-c", probe, *wanted], capture_output=True, text=True, timeout=120)
    missing = done.stdout.split()
    if done.returncode != 0 or missing:
        raise PlatformError(f"BEAT's environment ({pathlib.Path(adapter.python()).parents[1]}) lacks "
                            f"{', '.join(missing) or 'what the script needs'}: BEAT installs nothing for a block; "
                            f"add it with `{adapter.python()} -m pip install {' '.join(missing)}` and run again")
