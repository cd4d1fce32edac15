"""How each platform carries a researcher's own script: its bundle's slots and manifests, how the --data
items reach it (`inputs(run_dir)` here; the shim's `script_inputs(items)` there) and its emulation.

    platform = own_platforms.of(adapter)
    platform.manifests(adapter, experiment)      # {path: text} besides the code
    platform.sandbox(adapter, run_dir)           # the emulated runtime, the items where the platform puts them

A platform not listed in PLATFORMS refuses a script with a message naming the platforms that take one.
"""

import json
import pathlib
import shutil
import sys
import tempfile
import time

from adapters.base import Adapter
from adapters.trains_here import TrainsHere
from core.errors import UsageError

NOTEBOOK_ENTRY = "experiment.ipynb"  # a notebook kernel's file (Kaggle)
INPUTS = "inputs.json"  # in a pushed run's folder: {item name: its path here}, what the platform delivers


def record_inputs(run_dir, experiment):
    """Keep where the items are here, for the submission and the emulation (not in the bundle)."""
    (pathlib.Path(run_dir) / INPUTS).write_text(json.dumps({k: str(v) for k, v in experiment.sources().items()},
                                                           indent=2, sort_keys=True) + "\n")


def inputs(run_dir):
    """{item name: path here} recorded at push."""
    path = pathlib.Path(run_dir) / INPUTS
    return json.loads(path.read_text()) if path.is_file() else {}


class ScriptPlatform:
    """The default: a platform that runs the bundle here reads the items where they are."""

    pushable = True
    delivery = "the run computes here: the files are copied into the run's workspace, each at its DEST"

    def reads_here(self, adapter):
        return isinstance(adapter, TrainsHere)

    def slots(self, adapter, experiment):
        return {}

    def manifests(self, adapter, experiment):
        return {}

    def sandbox(self, adapter, run_dir):
        """The platform's runtime as the built-in experiment's emulation makes it, no built-in data."""
        return Adapter.sandbox(adapter, run_dir, None, {})

    def after_emulation(self, adapter, run_dir):
        """Clean what the emulated runtime left that is not the run's output."""

    def single_file(self, adapter, experiment, files):
        """{the entry: the bundle in one file}, for a platform that runs one file."""
        from adapters import bundle

        return {adapter.entry_path(): bundle.single_file(files)}


class CodaLabScript(ScriptPlatform):
    """CodaLab: each --data item an uploaded bundle, a dependency of the run under its key (a link in the
    run's working folder, which is also its output bundle); the shim hands them to the workspace. The push
    is adapters/codalab_script.py; the image gets the script's packages (requirements.txt)."""

    delivery = ("each --data item is uploaded as its own bundle (reused when one of yours has its content), a "
                "dependency of the run linked in under its name; the shim lays it out at its DEST")

    def requirements(self, experiment):
        from adapters import docker

        lines, source = experiment.requirements()
        note = f"# the script's packages, from {source}: the run's image gets them\n" if lines else ""
        return docker.pinned_requirements() + note + "".join(f"{line}\n" for line in lines)

    def slots(self, adapter, experiment):
        from adapters import codalab_script

        return {"IMAGE": codalab_script.run_image(adapter.platform_options["image"], self.requirements(experiment))}

    def manifests(self, adapter, experiment):
        from adapters import bundle, codalab

        files = {"requirements.txt": self.requirements(experiment)}
        if adapter.platform_options["network"] == "off":
            files[codalab.LAUNCHER] = (bundle.SHIMS / codalab.LAUNCHER).read_text()
        return files

    def sandbox(self, adapter, run_dir):
        box = adapter.sandbox(run_dir, None, {})
        uuid = box.cwd.lstrip("/")
        for key, path in self.keyed(run_dir).items():
            box.binds.append((pathlib.Path(path), f"/bundles/{uuid}-{key}", True))
            box.links.append((f"/bundles/{uuid}-{key}", f"{box.cwd}/{key}"))
        return box

    def keyed(self, run_dir):
        """{dependency key: the item's path here}, the keys the shim reads."""
        from adapters.shims import codalab as shim

        items = json.loads((pathlib.Path(run_dir) / "bundle" / "code" / "config.json").read_text())["own_experiment"]["items"]
        return {shim.dependency_key(item["name"], index): inputs(run_dir)[item["name"]]
                for index, item in enumerate(items, start=1)}

    def after_emulation(self, adapter, run_dir):
        for key in self.keyed(run_dir):  # the worker's links, not part of the output bundle
            if (pathlib.Path(run_dir) / "work" / "output" / key).is_symlink():
                (pathlib.Path(run_dir) / "work" / "output" / key).unlink()


class DockerScript(ScriptPlatform):
    """Docker: the items mounted read-only at /data/<name>; the image gets the script's packages."""

    delivery = ("each --data item is mounted read-only at /data/NAME; the shim lays it out at its DEST; the image "
                "gets the script's packages (requirements.txt, --requirements, or its imports pinned to here)")

    def manifests(self, adapter, experiment):
        from adapters import bundle, docker

        lines, source = experiment.requirements()
        extra = "".join(f"{line}\n" for line in lines)
        note = f"# the script's packages, from {source}\n" if extra else ""
        return {"Dockerfile": bundle.render_template("Dockerfile", base=docker.DEFAULT_BASE, script=True),
                "requirements.txt": docker.pinned_requirements() + note + extra,
                "wheels/README": "Offline builds: put the wheels of requirements.txt here.\n"}

    def mounts(self, run_dir):
        return [(pathlib.Path(path), f"/data/{name}") for name, path in sorted(inputs(run_dir).items())]

    def sandbox(self, adapter, run_dir):
        box = super().sandbox(adapter, run_dir)
        box.binds += [(path, inside, True) for path, inside in self.mounts(run_dir)]
        return box


class KaggleScript(ScriptPlatform):
    """Kaggle: a script kernel (the bundle in one file) with the data as a private data set attached."""

    delivery = ("the --data items become a private Kaggle data set (created, then versioned, through the SDK), "
                "attached to the kernel: it appears under /kaggle/input/; the shim finds each item by name")

    def kernel_slug(self, experiment):
        from adapters import kaggle

        return kaggle.slugify(self.title(experiment))

    def title(self, experiment):
        return f"Portability {experiment.path.stem}"[:50]

    def owner(self, adapter):
        from adapters import kaggle

        return kaggle.PLACEHOLDER_OWNER if adapter.for_repository else (kaggle.credentials()[0] or kaggle.PLACEHOLDER_OWNER)

    def kernel_id(self, adapter, experiment):
        return adapter.platform_options["kernel"] or f"{self.owner(adapter)}/{self.kernel_slug(experiment)}"

    def dataset_id(self, adapter, experiment):
        """The private data set holding the items: the --kaggle dataset option, else one per script."""
        return adapter.platform_options["dataset"] or f"{self.owner(adapter)}/{self.kernel_slug(experiment)}-data"

    def slots(self, adapter, experiment):
        return {"KERNEL_ID": self.kernel_id(adapter, experiment)}

    def kernel_type(self, adapter, experiment):
        """A notebook kernel for a notebook (its cells as they are), a script kernel for a script."""
        if experiment.kind == "notebook":
            return "notebook"
        if adapter.kernel_type != "script":
            raise UsageError("your own .py script runs on Kaggle as a script kernel: drop --kernel-type notebook "
                             "(a .ipynb runs as a notebook kernel)")
        return "script"

    def single_file(self, adapter, experiment, files):
        if self.kernel_type(adapter, experiment) == "script":
            return super().single_file(adapter, experiment, files)
        from adapters import script_notebook

        return {NOTEBOOK_ENTRY: script_notebook.render(files, experiment.path)}

    def manifests(self, adapter, experiment):
        from adapters import kaggle

        kind = self.kernel_type(adapter, experiment)
        values = {"id": self.kernel_id(adapter, experiment), "title": self.title(experiment),
                  "code_file": NOTEBOOK_ENTRY if kind == "notebook" else adapter.entry_path(),
                  "language": "python", "kernel_type": kind,
                  "is_private": True, "enable_gpu": False, "enable_tpu": False, "enable_internet": False,
                  "dataset_sources": [self.dataset_id(adapter, experiment)] if experiment.checked.data else [],
                  "competition_sources": [], "kernel_sources": [], "model_sources": [],
                  "docker_image_pinning_type": "original"}
        kaggle.validate_metadata(values)
        return {"kernel-metadata.json": json.dumps(values, indent=2) + "\n"}

    def deliver(self, adapter, run_dir):
        """The items as the kernel's private data set, through the SDK: created, or a new version of it,
        then waited for until Kaggle has processed it (a kernel sees only a ready version)."""
        from adapters import kaggle

        metadata = json.loads((pathlib.Path(run_dir) / "bundle" / "kernel-metadata.json").read_text())
        if not metadata["dataset_sources"]:
            return None
        dataset, api = metadata["dataset_sources"][0], adapter.api()
        with tempfile.TemporaryDirectory() as folder:
            for name, path in inputs(run_dir).items():
                (shutil.copytree if pathlib.Path(path).is_dir() else shutil.copyfile)(path, pathlib.Path(folder, name))
            title = f"{metadata['title']} data"[:50]
            (pathlib.Path(folder) / "dataset-metadata.json").write_text(json.dumps(
                {"title": title, "id": dataset, "licenses": [{"name": "unknown"}]}))
            try:
                response = self.upload(api, dataset, folder)
            except Exception as error:  # the SDK raises requests' and ValueError types
                raise kaggle.explain("Kaggle", "data set upload", error, kaggle.CREDENTIALS_HINT) from None
        if response.error:
            raise kaggle.PlatformError(f"Kaggle refused the data set {dataset}: {response.error}")
        self.wait_ready(api, dataset)
        return dataset

    def upload(self, api, dataset, folder):
        import requests

        try:
            api.dataset_status(dataset)
        except requests.exceptions.HTTPError as error:
            if getattr(error.response, "status_code", None) != 404:
                raise
            return api.dataset_create_new(folder, public=False, quiet=True, dir_mode="zip")
        return api.dataset_create_version(folder, "pushed by portability", quiet=True, dir_mode="zip")

    def wait_ready(self, api, dataset, timeout=600):
        from adapters import kaggle

        deadline = time.monotonic() + timeout
        while (status := api.dataset_status(dataset)) != "ready":
            if status == "failed" or time.monotonic() > deadline:
                raise kaggle.PlatformError(f"Kaggle did not make the data set {dataset} ready ({status}): "
                                           "check it on kaggle.com, then push again")
            time.sleep(2)

    def input_folder(self, adapter, dataset):
        owner, slug = dataset.split("/")
        return "/kaggle/input/" + (slug if adapter.platform_options["layout"] == "old" else f"datasets/{owner}/{slug}")

    def sandbox(self, adapter, run_dir):
        """A committed kernel: the attached data set's files under /kaggle/input (old or new layout)."""
        box = super().sandbox(adapter, run_dir)
        metadata = json.loads((pathlib.Path(run_dir) / "bundle" / "kernel-metadata.json").read_text())
        if metadata["kernel_type"] == "notebook":  # run unmodified by nbclient, as Kaggle runs a notebook
            box.argv = [sys.executable, "-m", "adapters.notebook", pathlib.Path(run_dir) / "bundle" / metadata["code_file"],
                        "/kaggle/working"]
        for dataset in metadata["dataset_sources"]:
            folder = self.input_folder(adapter, dataset)
            box.binds += [(pathlib.Path(path), f"{folder}/{name}", True) for name, path in sorted(inputs(run_dir).items())]
        box.env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", KAGGLE_URL_BASE="https://www.kaggle.com")
        return box


class BeatScript(ScriptPlatform):
    """BEAT: the items are a database whose view serves each file; the training block runs the script
    (adapters/beat_script.py). No path of this machine travels in the library."""

    delivery = ("the --data items become a BEAT database whose view serves each file's bytes; the training block "
                "hands them to the shim, which writes them out for the entry to lay out at each DEST")

    def reads_here(self, adapter):
        return False

    def sandbox(self, adapter, run_dir):
        """BEAT's executor, as the built-in experiment's emulation runs it, on the items' database."""
        return adapter.sandbox(run_dir, None, {})


class OpenMLScript(ScriptPlatform):
    """OpenML: the script runs here as written, then its first fitted model is trained on each fold of
    the task (the one given with --openml-task, else its Keras loader's data set's)."""

    delivery = ("the script reads its files here; OpenML's task data comes through the openml client for the "
                "folds its first fitted model is trained on")

    def slots(self, adapter, experiment):
        task = adapter.platform_options["task"] or None
        if task is not None and not str(task).isdigit():
            raise UsageError(f"--openml-task must be a task id (a number), got {task!r}")
        return {"TASK_ID": int(task) if task else None, "PROTOCOL": "cv"}


PLATFORMS = {"local": ScriptPlatform(), "comet": ScriptPlatform(), "docker": DockerScript(), "kaggle": KaggleScript(),
             "codalab": CodaLabScript(), "openml": OpenMLScript(), "beat": BeatScript()}


def of(adapter):
    """The script side of `adapter`'s platform; UsageError for one that does not take scripts yet."""
    if adapter.name not in PLATFORMS:
        raise UsageError(f"your own script does not run on {adapter.name} yet: use one of {', '.join(PLATFORMS)}")
    if getattr(adapter, "jupyter", False):
        raise UsageError("--jupyter serves the built-in experiment's notebook: drop it to run your own script")
    return PLATFORMS[adapter.name]
