"""Kaggle kernels: one self-contained script (the core travels inside it) and kernel-metadata.json,
pushed, followed and pulled through the `kaggle` SDK.

The kernel reads the attached public data set from /kaggle/input (found by searching: both the old
/kaggle/input/<slug>/ and the new /kaggle/input/datasets/<owner>/<slug>/ layouts exist), checks it
against the canonical files, and writes results.json, the models and a log to /kaggle/working.
"""

import contextlib
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile

import adapters
from adapters import bundle, kaggle_outputs
from adapters.base import Adapter, MissingCredentials, MissingSDK, PlatformError, State, explain
from adapters.kaggle_auth import access_token, credentials, credentials_hint
from adapters.kaggle_metadata import slugify, validate_metadata  # noqa: F401 (kaggle.slugify: used by own_platforms)
from adapters.options import Option
from core import config as configuration, datasets
from core.errors import UsageError

PUBLIC_DATASETS = {"mnist": "oddrationale/mnist-in-csv", "fashion-mnist": "zalando-research/fashionmnist"}
CSV_FILES = {"mnist": ("mnist_train.csv", "mnist_test.csv"),
             "fashion-mnist": ("fashion-mnist_train.csv", "fashion-mnist_test.csv")}
KERNEL_TYPES = ("script", "notebook")
ACCELERATORS = {"none": None, "gpu-t4": "NvidiaTeslaT4", "gpu-p100": "NvidiaTeslaP100", "tpu": "TpuV38"}
PLACEHOLDER_OWNER = "your-kaggle-username"
OUTPUT_NAMES = ("results.json", "model.h5", "model.keras", "log.txt")
STATES = {"QUEUED": "queued", "NEW_SCRIPT": "queued", "RUNNING": "running", "COMPLETE": "completed",
          "ERROR": "failed", "CANCEL_REQUESTED": "cancelling", "CANCEL_ACKNOWLEDGED": "cancelled"}

class KaggleAdapter(Adapter):
    name = "kaggle"
    user_data_at = ""  # found by name under /kaggle/input
    single_file = True  # Kaggle receives the code file alone
    network = False  # kernel-metadata.json says enable_internet: false
    emulation_paths = {"/kaggle/working": "output", "/kaggle/temp": "tmp"}
    helper_groups = {"find_csv": "data access", "read_csv_table": "data access", "Tee": "result upload"}

    option_specs = (
        Option("kernel_type", "script", "a script kernel (default) or a notebook kernel", flag="--kernel-type",
               choices=KERNEL_TYPES),
        Option("accelerator", "none", "the kernel's accelerator", choices=tuple(ACCELERATORS)),
        Option("kernel", None, "the kernel's id, owner/slug (default: yours, named after the experiment)"),
        Option("dataset", None, "a Kaggle data set owner/slug holding a user data set"),
        Option("input", None, "the emulation's /kaggle/input folder (default: in the data cache)"),
        Option("layout", "new", "the emulation's input layout", choices=("old", "new"), label="input layout"),
    )

    def __init__(self, **platform_options):
        super().__init__(**platform_options)
        self._api = None  # one authenticated SDK client per adapter

    @property
    def kernel_type(self):
        return self.platform_options["kernel_type"]

    def generated_folder(self):
        return "kaggle-notebook" if self.kernel_type == "notebook" else self.name

    def entry_path(self):
        return "experiment.ipynb" if self.kernel_type == "notebook" else "experiment.py"

    def check(self):
        missing = super().check()
        if missing:
            return missing
        if credentials()[1] is None:
            return ["no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), or put "
                    "kaggle.json from kaggle.com > Settings > API > Create New Token in ~/.kaggle/ "
                    "(or $KAGGLE_CONFIG_DIR)"]
        return []

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.kaggle(self, timeout)

    # package ------------------------------------------------------------------------------
    def kernel_id(self, config):
        if self.for_repository:
            return f"{PLACEHOLDER_OWNER}/{slugify(self.title(config))}"
        if self.platform_options["kernel"]:
            return self.platform_options["kernel"]
        owner = credentials()[0] or self.token_owner() or PLACEHOLDER_OWNER
        return f"{owner}/{slugify(self.title(config))}"

    def token_owner(self):
        """The user an access token belongs to, as the SDK learns it from Kaggle (IntrospectToken)."""
        if access_token()[0] is None or self.missing():
            return None
        return self.api().config_values.get("username")

    def title(self, config):
        return f"Portability {config.preset or config.model + ' ' + pathlib.Path(config.dataset).name}"

    def dataset_sources(self, config):
        if config.dataset in PUBLIC_DATASETS:
            return [PUBLIC_DATASETS[config.dataset]]
        source = self.platform_options["dataset"]
        if not source:
            raise UsageError("your own data set runs on Kaggle from a Kaggle data set: upload it there and set "
                             "PORTABILITY_KAGGLE_DATASET=owner/dataset-slug")
        return [source]

    def metadata(self, config):
        accelerator = self.platform_options["accelerator"]
        values = {
            "id": self.kernel_id(config),
            "title": self.title(config),
            "code_file": self.entry_path(),
            "language": "python",
            "kernel_type": self.kernel_type,
            "is_private": True,
            "enable_gpu": accelerator.startswith("gpu"),
            "enable_tpu": accelerator == "tpu",
            "enable_internet": False,
            "dataset_sources": self.dataset_sources(config),
            "competition_sources": [],
            "kernel_sources": [],
            "model_sources": [],
            "docker_image_pinning_type": "original",
        }
        if ACCELERATORS[accelerator]:
            values["machine_shape"] = ACCELERATORS[accelerator]
        validate_metadata(values)
        return values

    def slots(self, config):
        return {"KERNEL_ID": self.kernel_id(config), "KAGGLE_DATASET": PUBLIC_DATASETS, "KAGGLE_CSV": CSV_FILES}

    def render(self, config):
        """The script kernel (one self-contained file), or a notebook kernel: the same bundle in a
        collapsed cell, the experiment's steps as readable cells."""
        from adapters import notebook, own_experiment

        if self.kernel_type == "script" or own_experiment.is_script(config):  # a user's notebook: its own cells
            return super().render(config)

        text = notebook.for_platform(self.name, self.slots(config), self.bundle_config(config))
        return {self.entry_path(): text, **self.manifests(config)}

    def code_files(self, folder):
        if self.kernel_type == "script":
            return super().code_files(folder)
        from adapters import notebook

        cells, files = notebook.code_of((pathlib.Path(folder) / self.entry_path()).read_text())
        core = bundle.core_lines(files)
        return {"experiment.py": files["experiment.py"], "shim.py": files["shim.py"], "notebook cells": cells}, core

    def manifests(self, config):
        return {"kernel-metadata.json": json.dumps(self.metadata(config), indent=2) + "\n"}

    def describe_push(self, bundle_dir):
        metadata = (pathlib.Path(bundle_dir) / "kernel-metadata.json").read_text()
        code_file = json.loads(metadata)["code_file"]
        size = (pathlib.Path(bundle_dir) / code_file).stat().st_size
        return (f"kaggle: would push the folder {bundle_dir} with kaggle kernels push:\n"
                f"  {code_file} ({size:,} bytes)\n  kernel-metadata.json:\n" + metadata)

    # lifecycle ----------------------------------------------------------------------------
    def api(self):
        """An authenticated SDK client. The SDK ends the process (SystemExit) when no credentials work,
        after printing its help: that becomes one line naming what was rejected."""
        if self._api is not None:
            return self._api
        if self.missing():
            raise MissingCredentials("; ".join(self.missing()))
        _use_endpoint_override()
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                from kaggle.api.kaggle_api_extended import KaggleApi

                api = KaggleApi()
                api.authenticate()
        except ImportError:
            raise MissingSDK(adapters.install_hint(self.name)) from None
        except SystemExit:
            raise PlatformError(f"Kaggle rejected the credentials (sign-in): {credentials_hint()}") from None
        except Exception as error:  # the token's introspection raises requests' types
            raise explain("Kaggle", "sign-in", error, credentials_hint()) from None
        self._api = api
        return api

    def submit(self, handle, run_dir):
        metadata = json.loads((run_dir / "bundle" / "kernel-metadata.json").read_text())
        if metadata["id"].startswith(PLACEHOLDER_OWNER + "/"):
            raise MissingCredentials("the kernel id has no Kaggle user name: set KAGGLE_USERNAME or "
                                     "PORTABILITY_KAGGLE_KERNEL=owner/slug")
        api = self.api()
        from adapters import own_experiment, own_platforms

        if own_experiment.is_script(json.loads((run_dir / "config.json").read_text())):
            handle.details["dataset"] = own_platforms.KaggleScript().deliver(self, run_dir)  # a user's --data
        try:
            response = api.kernels_push(str(run_dir / "bundle"))
        except Exception as error:  # the SDK raises requests and ValueError types
            raise explain("Kaggle", "push", error, credentials_hint(self._api)) from None
        if response.error:
            raise PlatformError(f"Kaggle refused the push: {response.error}")
        invalid = response.invalid_dataset_sources or response.invalid_tags
        if invalid:
            raise PlatformError(f"Kaggle refused these sources: {', '.join(invalid)}")
        handle.remote_id = metadata["id"]
        handle.details.update(url=response.url, version=response.version_number, ref=response.ref)

    def status(self, handle, run_dir):
        api = self.api()
        try:
            response = api.kernels_status(handle.remote_id)
        except KeyError as error:  # the SDK's status enum raises on a value it does not know
            import kaggle

            return State("unknown", f"Kaggle reports the status {error.args[0]!r}, which kaggle {kaggle.__version__} "
                                    "does not know: see the kernel on kaggle.com, or upgrade kaggle")
        except Exception as error:
            raise explain("Kaggle", "status", error, credentials_hint(self._api)) from None
        name = getattr(response.status, "name", str(response.status))
        state = STATES.get(name, "unknown")
        if response.failure_message:
            handle.details["failure_message"] = response.failure_message
            return State(state, f"Kaggle: {response.failure_message}")
        if state == "cancelling":
            return State(state, "Kaggle: cancel requested, the kernel is stopping")
        return state

    def fetch_outputs(self, handle, run_dir, target):
        api = self.api()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                api.kernels_output(handle.remote_id, tmp, force=True, quiet=True)
            except Exception as error:
                raise explain("Kaggle", "output download", error, credentials_hint(self._api)) from None
            kaggle_outputs.check_downloads(pathlib.Path(tmp), OUTPUT_NAMES)
            for name in OUTPUT_NAMES:
                if (pathlib.Path(tmp) / name).is_file():
                    shutil.copyfile(pathlib.Path(tmp) / name, target / name)
            from adapters import own_experiment

            own_experiment.copy_outputs(tmp, target)  # what a user's own script wrote
            kernel_log = pathlib.Path(tmp) / f"{handle.remote_id.split('/')[1]}.log"
            if not (target / "log.txt").is_file() and kernel_log.is_file():
                shutil.copyfile(kernel_log, target / "log.txt")

    # emulation ----------------------------------------------------------------------------
    def emulation_data(self, config):
        """A Kaggle-style input folder: the public data set's CSV files, made from the verified IDX files."""
        if config.dataset not in CSV_FILES:
            return pathlib.Path(config.dataset).resolve().parent
        root = self.platform_options["input"] or datasets.cache_dir() / "kaggle-input"
        folder = pathlib.Path(root) / PUBLIC_DATASETS[config.dataset].split("/")[1]
        if all((folder / name).is_file() for name in CSV_FILES[config.dataset]):
            return folder
        dataset = datasets.locate(config.dataset)
        folder.mkdir(parents=True, exist_ok=True)
        header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
        for name, images, labels in zip(CSV_FILES[config.dataset], (dataset.x_train, dataset.x_test),
                                        (dataset.y_train, dataset.y_test)):
            table = [header] + [f"{label}," + ",".join(map(str, image.ravel().tolist()))
                                for image, label in zip(images, labels)]
            partial = folder / f".{name}.partial"
            partial.write_text("\n".join(table) + "\n")
            os.replace(partial, folder / name)
        return folder

    def sandbox(self, run_dir, data_dir, config):
        """A committed kernel: the attached data set under /kaggle/input, in the old or new layout."""
        box = super().sandbox(run_dir, data_dir, config)
        if self.entry_path().endswith(".ipynb"):  # a notebook kernel: run unmodified by nbclient
            box.argv = [sys.executable, "-m", "adapters.notebook", run_dir / "bundle" / self.entry_path(), "/kaggle/working"]
        slug = self.dataset_sources(configuration.config_from_dict(config))[0]
        layout = self.platform_options["layout"]
        owner, name = slug.split("/")
        if data_dir is not None:
            box.binds.append((data_dir, "/kaggle/input/" + (name if layout == "old" else f"datasets/{owner}/{name}"), True))
        box.env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", KAGGLE_URL_BASE="https://www.kaggle.com")
        return box


def _use_endpoint_override():
    """PORTABILITY_KAGGLE_ENDPOINT points the SDK at another server (a proxy, or a test stand-in)."""
    endpoint = os.environ.get("PORTABILITY_KAGGLE_ENDPOINT")
    if endpoint:
        from kagglesdk import kaggle_env

        kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] = endpoint.rstrip("/")
