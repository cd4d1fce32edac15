"""Kaggle kernels: one self-contained script (the core travels inside it) and kernel-metadata.json,
pushed, followed and pulled through the `kaggle` SDK.

The kernel reads the attached public data set from /kaggle/input (found by searching: both the old
/kaggle/input/<slug>/ and the new /kaggle/input/datasets/<owner>/<slug>/ layouts exist), checks it
against the canonical files, and writes results.json, the models and a log to /kaggle/working.
"""

import json
import os
import pathlib
import re
import shutil
import tempfile

from adapters.base import CORE_FILES, ROOT, Adapter, bundle_hash, sdk_installed, MissingCredentials, MissingSDK, PlatformError
from core import config as configuration, datasets
from core.errors import UsageError

PUBLIC_DATASETS = {"mnist": "oddrationale/mnist-in-csv", "fashion-mnist": "zalando-research/fashionmnist"}
CSV_FILES = {"mnist": ("mnist_train.csv", "mnist_test.csv"),
             "fashion-mnist": ("fashion-mnist_train.csv", "fashion-mnist_test.csv")}
ACCELERATORS = {"none": None, "gpu-t4": "NvidiaTeslaT4", "gpu-p100": "NvidiaTeslaP100", "tpu": "TpuV38"}
PLACEHOLDER_OWNER = "your-kaggle-username"
STATES = {"QUEUED": "queued", "NEW_SCRIPT": "queued", "RUNNING": "running", "COMPLETE": "completed",
          "ERROR": "failed", "CANCEL_REQUESTED": "cancelled", "CANCEL_ACKNOWLEDGED": "cancelled"}

SHIM = '''

def find_inputs(values):
    """Your own data set: the file of that name in the attached Kaggle data set."""
    if values["dataset"] not in config.BUILTIN_DATASETS:
        found = sorted(pathlib.Path("/kaggle/input").rglob(values["dataset"]))
        if not found:
            raise SystemExit(f"{values['dataset']} is not under /kaggle/input: attach the Kaggle data set that holds it")
        values["dataset"] = str(found[0])
    return values


def data_folder(settings):
    """The attached data set, found by searching /kaggle/input, as verified IDX files in /kaggle/temp."""
    if settings.dataset not in config.BUILTIN_DATASETS:
        return None
    for images in sorted(pathlib.Path("/kaggle/input").rglob("train-images-idx3-ubyte*")):
        if not datasets.check_folder(settings.dataset, images.parent)[1]:
            DETAILS["data_check"] = f"canonical IDX files in {images.parent}"
            return str(images.parent)
    train_name, test_name = KAGGLE_CSV[settings.dataset]
    train_csv = sorted(pathlib.Path("/kaggle/input").rglob(train_name))
    test_csv = sorted(pathlib.Path("/kaggle/input").rglob(test_name))
    if not train_csv or not test_csv:
        raise SystemExit(f"{train_name} / {test_name} not found under /kaggle/input: attach the data set "
                         f"{KAGGLE_DATASET[settings.dataset]}")
    folder = pathlib.Path(tempfile.mkdtemp(dir="/kaggle/temp" if os.path.isdir("/kaggle/temp") else None))
    for split, path in (("train", train_csv[0]), ("t10k", test_csv[0])):
        table = read_csv_table(path)
        datasets.write_idx(folder / f"{split}-images-idx3-ubyte", table[:, 1:].reshape(-1, 28, 28))
        datasets.write_idx(folder / f"{split}-labels-idx1-ubyte", table[:, 0])
    problems = datasets.check_folder(settings.dataset, folder)[1]
    DETAILS["data_source"] = f"{train_csv[0]}, {test_csv[0]}"
    if not problems:
        DETAILS["data_check"] = "canonical: the decoded CSV arrays hash to the canonical IDX files"
        return str(folder)
    DETAILS["data_check"] = "NOT canonical: " + "; ".join(problems)
    x_train, y_train, x_test, y_test, files = userdata.read_idx_folder(folder)
    numpy.savez(folder / f"{settings.dataset}-kaggle.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    settings.dataset = str(folder / f"{settings.dataset}-kaggle.npz")
    return None


def read_csv_table(path):
    try:
        import pandas

        return pandas.read_csv(path).to_numpy(dtype="uint8")
    except ImportError:
        return numpy.loadtxt(path, delimiter=",", skiprows=1, dtype="uint8")


def output_folder():
    out_dir = pathlib.Path("/kaggle/working")
    log = open(out_dir / "log.txt", "a", buffering=1)
    sys.stdout, sys.stderr = Tee(sys.stdout, log), Tee(sys.stderr, log)
    return out_dir


class Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()

    def isatty(self):
        return False


def training_callbacks(settings):
    return []


def run_details():
    DETAILS.update(run_type=os.environ.get("KAGGLE_KERNEL_RUN_TYPE"), kernel=KERNEL_ID)
    return DETAILS


def export_results(out_dir):
    print(f"results in {out_dir}: Kaggle saves /kaggle/working as the kernel's output")
'''

CORE_LOADER = '''
import os
import tempfile

import numpy


def install_core():
    """Kaggle runs a single file: the core experiment travels at the end of it, verbatim."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="portability-core-"))
    (folder / "core").mkdir()
    for name, source in CORE_SOURCES.items():
        (folder / "core" / name).write_text(source)
    sys.path.insert(0, str(folder))


CORE_SOURCES = {{}}  # filled at the end of the file
KERNEL_ID = "{kernel_id}"
KAGGLE_DATASET = {kaggle_datasets}
KAGGLE_CSV = {kaggle_csv}
CONFIG = {config}
DETAILS = {{}}
'''


def slugify(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def credentials():
    """(username, how it was found) from the environment or kaggle.json; (None, None) if absent."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return os.environ["KAGGLE_USERNAME"], "KAGGLE_USERNAME/KAGGLE_KEY"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return os.environ.get("KAGGLE_USERNAME"), "KAGGLE_API_TOKEN"
    folder = pathlib.Path(os.environ.get("KAGGLE_CONFIG_DIR") or pathlib.Path.home() / ".kaggle")
    try:
        values = json.loads((folder / "kaggle.json").read_text())
        if values.get("username") and values.get("key"):
            return values["username"], str(folder / "kaggle.json")
    except (OSError, ValueError):
        pass
    return None, None


class KaggleAdapter(Adapter):
    name = "kaggle"
    user_data_at = ""  # found by name under /kaggle/input
    sdk = ("kaggle", "kaggle")
    emulation_paths = {"/kaggle/working": "output", "/kaggle/temp": "tmp"}

    def check(self):
        if not sdk_installed("kaggle"):
            return ["the kaggle adapter needs the Python package kaggle: pip install kaggle six"]
        if credentials()[1] is None:
            return ["no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), or put "
                    "kaggle.json from kaggle.com > Settings > API > Create New Token in ~/.kaggle/ "
                    "(or $KAGGLE_CONFIG_DIR)"]
        return []

    # package ------------------------------------------------------------------------------
    def kernel_id(self, settings):
        if os.environ.get("PORTABILITY_KAGGLE_KERNEL"):
            return os.environ["PORTABILITY_KAGGLE_KERNEL"]
        owner = credentials()[0] or PLACEHOLDER_OWNER
        return f"{owner}/{slugify(self.title(settings))}"

    def title(self, settings):
        return f"Portability {settings.preset or settings.model + ' ' + pathlib.Path(settings.dataset).name}"

    def dataset_sources(self, settings):
        if settings.dataset in PUBLIC_DATASETS:
            return [PUBLIC_DATASETS[settings.dataset]]
        source = os.environ.get("PORTABILITY_KAGGLE_DATASET")
        if not source:
            raise UsageError("your own data set runs on Kaggle from a Kaggle data set: upload it there and set "
                             "PORTABILITY_KAGGLE_DATASET=owner/dataset-slug")
        return [source]

    def metadata(self, settings):
        accelerator = os.environ.get("PORTABILITY_KAGGLE_ACCELERATOR", "none")
        if accelerator not in ACCELERATORS:
            raise UsageError(f"unknown Kaggle accelerator {accelerator!r}: valid ones are {', '.join(ACCELERATORS)}")
        values = {
            "id": self.kernel_id(settings),
            "title": self.title(settings),
            "code_file": self.entry_file,
            "language": "python",
            "kernel_type": "script",
            "is_private": True,
            "enable_gpu": accelerator.startswith("gpu"),
            "enable_tpu": accelerator == "tpu",
            "enable_internet": False,
            "dataset_sources": self.dataset_sources(settings),
            "competition_sources": [],
            "kernel_sources": [],
            "model_sources": [],
            "docker_image_pinning_type": "original",
        }
        if ACCELERATORS[accelerator]:
            values["machine_shape"] = ACCELERATORS[accelerator]
        validate_metadata(values)
        return values

    def shim(self, settings):
        loader = CORE_LOADER.format(kernel_id=self.kernel_id(settings), kaggle_datasets=repr(PUBLIC_DATASETS),
                                    kaggle_csv=repr(CSV_FILES), config=repr(self.bundle_config(settings)))
        return loader, SHIM

    def render(self, settings):
        files = super().render(settings)
        entry = files[self.entry_file]
        # the core must be importable before `from core import ...`: install it first
        entry = entry.replace("from core import config, experiment\n", "", 1)  # imported below, once unpacked
        # Kaggle receives the code file alone: the config travels inside it too
        entry = entry.replace('json.loads((HERE / "config.json").read_text())', "find_inputs(CONFIG)", 1)
        head, tail = entry.split('\nif __name__ == "__main__":', 1)
        embedded = "".join(f"CORE_SOURCES[{name!r}] = r'''{(ROOT / 'core' / name).read_text()}'''\n\n"
                           for name in CORE_FILES)
        files[self.entry_file] = (
            head + "\n# The core experiment, verbatim from core/ (Kaggle runs one file).\n" + embedded
            + "install_core()\nfrom core import config, datasets, experiment, userdata  # noqa: E402\n\n"
            + 'if __name__ == "__main__":' + tail)
        files["kernel-metadata.json"] = json.dumps(self.metadata(settings), indent=2) + "\n"
        del files["config.json"]
        return files

    def package(self, settings, bundle_dir):
        """Kaggle takes the code file and the metadata only: no core/ folder beside them."""
        super().package(settings, bundle_dir)
        shutil.rmtree(pathlib.Path(bundle_dir) / "core")
        return bundle_hash(bundle_dir)

    def describe_push(self, bundle_dir):
        metadata = (pathlib.Path(bundle_dir) / "kernel-metadata.json").read_text()
        size = (pathlib.Path(bundle_dir) / self.entry_file).stat().st_size
        return (f"kaggle: would push the folder {bundle_dir} with kaggle kernels push:\n"
                f"  {self.entry_file} ({size:,} bytes)\n  kernel-metadata.json:\n" + metadata)

    # lifecycle ----------------------------------------------------------------------------
    def api(self):
        if self.check():
            raise MissingCredentials("; ".join(self.check()))
        _use_endpoint_override()
        try:
            from kaggle.api.kaggle_api_extended import KaggleApi
        except ImportError:
            raise MissingSDK("the kaggle adapter needs the Python package kaggle: pip install kaggle six") from None
        api = KaggleApi()
        api.authenticate()
        return api

    def submit(self, handle, run_dir):
        metadata = json.loads((run_dir / "bundle" / "kernel-metadata.json").read_text())
        if metadata["id"].startswith(PLACEHOLDER_OWNER + "/"):
            raise MissingCredentials("the kernel id has no Kaggle user name: set KAGGLE_USERNAME or "
                                     "PORTABILITY_KAGGLE_KERNEL=owner/slug")
        try:
            response = self.api().kernels_push(str(run_dir / "bundle"))
        except Exception as error:  # the SDK raises requests and ValueError types
            raise PlatformError(f"kaggle push failed: {error}") from None
        if response.error:
            raise PlatformError(f"Kaggle refused the push: {response.error}")
        invalid = response.invalid_dataset_sources or response.invalid_tags
        if invalid:
            raise PlatformError(f"Kaggle refused these sources: {', '.join(invalid)}")
        handle.remote_id = metadata["id"]
        handle.details.update(url=response.url, version=response.version_number, ref=response.ref)

    def status(self, handle, run_dir):
        try:
            response = self.api().kernels_status(handle.remote_id)
        except Exception as error:
            raise PlatformError(f"kaggle status failed: {error}") from None
        name = getattr(response.status, "name", str(response.status))
        if response.failure_message:
            handle.details["failure_message"] = response.failure_message
        return STATES.get(name, "unknown")

    def fetch_outputs(self, handle, run_dir, target):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                self.api().kernels_output(handle.remote_id, tmp, force=True, quiet=True)
            except Exception as error:
                raise PlatformError(f"kaggle output download failed: {error}") from None
            for name in ("results.json", "model.h5", "model.keras", "log.txt"):
                if (pathlib.Path(tmp) / name).is_file():
                    shutil.copyfile(pathlib.Path(tmp) / name, target / name)
            kernel_log = pathlib.Path(tmp) / f"{handle.remote_id.split('/')[1]}.log"
            if not (target / "log.txt").is_file() and kernel_log.is_file():
                shutil.copyfile(kernel_log, target / "log.txt")

    # emulation ----------------------------------------------------------------------------
    def emulation_data(self, settings):
        """A Kaggle-style input folder: the public data set's CSV files, made from the verified IDX files."""
        if settings.dataset not in CSV_FILES:
            return pathlib.Path(settings.dataset).resolve().parent
        folder = datasets.cache_dir() / "kaggle-input" / PUBLIC_DATASETS[settings.dataset].split("/")[1]
        if all((folder / name).is_file() for name in CSV_FILES[settings.dataset]):
            return folder
        dataset = datasets.locate(settings.dataset)
        folder.mkdir(parents=True, exist_ok=True)
        header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
        for name, images, labels in zip(CSV_FILES[settings.dataset], (dataset.x_train, dataset.x_test),
                                        (dataset.y_train, dataset.y_test)):
            table = [header] + [f"{label}," + ",".join(map(str, image.ravel().tolist()))
                                for image, label in zip(images, labels)]
            partial = folder / f".{name}.partial"
            partial.write_text("\n".join(table) + "\n")
            os.replace(partial, folder / name)
        return folder

    def data_mount_point(self, settings):
        settings = configuration.config_from_dict(settings)
        slug = self.dataset_sources(settings)[0]
        layout = os.environ.get("PORTABILITY_KAGGLE_LAYOUT", "new")
        if layout not in ("old", "new"):
            raise UsageError(f"unknown Kaggle input layout {layout!r}: valid ones are old, new")
        owner, name = slug.split("/")
        return "/kaggle/input/" + (name if layout == "old" else f"datasets/{owner}/{name}")

    def emulation_env(self):
        return {"KAGGLE_KERNEL_RUN_TYPE": "Batch", "KAGGLE_URL_BASE": "https://www.kaggle.com"}


def validate_metadata(values):
    """The checks `kaggle kernels push` makes, done before anything is sent."""
    if len(values["title"]) < 5:
        raise UsageError("the Kaggle title must be at least 5 characters")
    owner_slug = values["id"].split("/")
    if len(owner_slug) != 2 or not all(owner_slug):
        raise UsageError(f"the Kaggle kernel id {values['id']!r} must be owner/slug")
    if owner_slug[1] != slugify(values["title"]):
        raise UsageError(f"the Kaggle kernel slug {owner_slug[1]!r} does not match the title "
                         f"{values['title']!r} (its slug is {slugify(values['title'])!r})")
    if not re.fullmatch(r"[a-z0-9-]{5,50}", owner_slug[1]):
        raise UsageError(f"the Kaggle kernel slug {owner_slug[1]!r} must be 5-50 lowercase letters, digits or dashes")
    for source in values["dataset_sources"]:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", source):
            raise UsageError(f"the Kaggle data set {source!r} must be owner/dataset-slug")
    if values["language"] != "python" or values["kernel_type"] not in ("script", "notebook"):
        raise UsageError("the Kaggle kernel must be a python script or notebook")
    for key in ("is_private", "enable_gpu", "enable_tpu", "enable_internet"):
        if not isinstance(values[key], bool):
            raise UsageError(f"the Kaggle metadata field {key} must be true or false")


def _use_endpoint_override():
    """PORTABILITY_KAGGLE_ENDPOINT points the SDK at another server (a proxy, or a test stand-in)."""
    endpoint = os.environ.get("PORTABILITY_KAGGLE_ENDPOINT")
    if endpoint:
        from kagglesdk import kaggle_env

        kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.PROD] = endpoint.rstrip("/")
