"""Comet: experiment tracking, not compute. The bundle runs where the user runs it (here: like the
local adapter, in a subprocess) and logs to Comet: parameters, per-epoch metrics, test metrics,
the model, the bundle's source, tags, the environment and our results.json.

Online when COMET_API_KEY is set and the server answers; otherwise (or when the SDK gives back a dead
experiment) offline to a zip in the run folder, which `portability push comet` uploads later.
"""

import json
import os
import pathlib
import shutil

from adapters.base import MissingSDK, PlatformError, sdk_installed
from adapters.local import LocalAdapter

SHIM = '''

TRACKER = {}


def data_folder(settings):
    return None  # Comet tracks; the data comes from wherever the experiment runs (here the core's chain)


def output_folder():
    return pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path.cwd() / "output"


def start_comet(settings):
    """Online if COMET_API_KEY is set and the server answers, else offline: nothing logged is lost."""
    options = dict(log_env_details=False, log_code=False, log_git_metadata=False, log_git_patch=False,
                   auto_metric_logging=False, auto_param_logging=False, auto_histogram_weight_logging=False,
                   tags=[settings.dataset, settings.model, settings.preset or "custom", "portability"])
    project = os.environ.get("COMET_PROJECT_NAME", "portability")
    if os.environ.get("COMET_API_KEY"):
        tracker = comet_ml.start(project_name=project, online=True,
                                 experiment_config=comet_ml.ExperimentConfig(**options))
        if tracker.alive:
            return tracker, "online"
        print("Comet server did not answer: logging offline instead (upload later with portability push comet)")
        tracker.end()
    offline_dir = output_folder() / "comet-offline"
    offline_dir.mkdir(parents=True, exist_ok=True)
    tracker = comet_ml.start(project_name=project, online=False, experiment_config=comet_ml.ExperimentConfig(
        offline_directory=str(offline_dir), **options))
    return tracker, "offline"


class EpochMetrics(keras.callbacks.Callback):
    """Per-epoch loss/accuracy and validation metrics, whatever the import order of comet_ml and keras."""

    def on_epoch_end(self, epoch, logs=None):
        TRACKER["experiment"].log_metrics(logs or {}, step=epoch + 1, epoch=epoch + 1)


def training_callbacks(settings):
    tracker, mode = start_comet(settings)
    TRACKER.update(experiment=tracker, mode=mode)
    tracker.log_parameters(settings.to_dict())
    return [EpochMetrics()]


def run_details():
    tracker = TRACKER["experiment"]
    return {"compute": "local", "comet_mode": TRACKER["mode"], "comet_key": tracker.get_key(),
            "comet_url": tracker.url if TRACKER["mode"] == "online" else None}


def export_results(out_dir):
    tracker = TRACKER["experiment"]
    results = json.loads((out_dir / "results.json").read_text())
    tracker.log_metrics({"test_loss": results["test"]["loss"], "test_accuracy": results["test"]["accuracy"]},
                        step=len(results["history"]), epoch=len(results["history"]))
    tracker.log_others({"weights_sha256": results["weights_sha256"], "verdict": results["target"]["verdict"],
                        **{f"env_{k}": v for k, v in results["environment"].items() if isinstance(v, (str, int))}})
    if (out_dir / "model.h5").is_file():
        tracker.log_model(results["model"]["name"], str(out_dir / "model.h5"))
    tracker.log_code(file_name=str(HERE / "experiment.py"))
    tracker.log_code(folder=str(HERE / "core"))
    tracker.log_asset(str(out_dir / "results.json"), file_name="results.json")
    tracker.end()
    zips = sorted(str(p.relative_to(out_dir)) for p in (out_dir / "comet-offline").glob("*.zip")) \\
        if TRACKER["mode"] == "offline" else []
    results["platform"]["comet_offline_zip"] = zips[0] if zips else None
    core_results.write_json(out_dir / "results.json", results)
    print(f"logged to Comet ({TRACKER['mode']}), experiment {tracker.get_key()}")
'''

IMPORTS = '''import os

import comet_ml  # noqa: F401 (before keras, so Comet's Keras integration is in place)
import keras

from core import results as core_results
'''


def pending_zips(run_dir):
    """Offline zips of a run that have not been uploaded yet."""
    results_path = pathlib.Path(run_dir) / "results.json"
    if not results_path.is_file():
        return []
    platform = json.loads(results_path.read_text())["platform"]
    if platform.get("comet_mode") != "offline" or platform.get("comet_uploaded"):
        return []
    return sorted((pathlib.Path(run_dir) / "comet-offline").glob("*.zip"))


class CometAdapter(LocalAdapter):
    name = "comet"
    sdk = ("comet_ml", "comet-ml")

    def check(self):
        if not sdk_installed("comet_ml"):
            return ["the comet adapter needs the Python package comet-ml: pip install comet-ml"]
        return []  # without COMET_API_KEY it logs offline, which is a supported mode

    def mode_note(self):
        return "online" if os.environ.get("COMET_API_KEY") else \
            "offline (set COMET_API_KEY to log online)"

    def shim(self, settings):
        return IMPORTS, SHIM

    def submit(self, handle, run_dir):
        handle.details["comet_online_requested"] = bool(os.environ.get("COMET_API_KEY"))
        super().submit(handle, run_dir)

    def fetch_outputs(self, handle, run_dir, target):
        super().fetch_outputs(handle, run_dir, target)
        offline = run_dir / "work" / "output" / "comet-offline"
        if offline.is_dir():
            shutil.copytree(offline, run_dir / "comet-offline", dirs_exist_ok=True)
        results_path = target / "results.json"
        if results_path.is_file():
            results = json.loads(results_path.read_text())
            key = results["platform"].get("comet_key")
            if results["platform"].get("comet_mode") == "online" and key:
                results["platform"]["comet_readback"] = read_back(key)
                results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def read_back(key):
    """The test accuracy as Comet stores it, through the Comet API."""
    import comet_ml

    try:
        experiment = comet_ml.API().get_experiment_by_key(key)
        values = experiment.get_metrics("test_accuracy") if experiment else []
    except Exception as error:  # the API raises its own and requests' types
        return {"error": f"{type(error).__name__}: {error}"}
    return {"test_accuracy": float(values[-1]["metricValue"]) if values else None}


def upload_pending(runs, log=print):
    """Upload every offline zip still waiting in the run store; returns how many went up."""
    if not os.environ.get("COMET_API_KEY"):
        return 0
    if not sdk_installed("comet_ml"):
        raise MissingSDK("the comet adapter needs the Python package comet-ml: pip install comet-ml")
    from comet_ml.offline import upload_single_offline_experiment

    uploaded = 0
    for handle, run_dir in runs:
        for archive in pending_zips(run_dir):
            log(f"comet: uploading the offline experiment {archive.name} of {handle.run_id}")
            try:
                accepted = upload_single_offline_experiment(str(archive), os.environ["COMET_API_KEY"], False)
            except Exception as error:  # the SDK raises requests', ValueError and its own types
                accepted, reason = False, f"{type(error).__name__}: {error}"
            else:
                reason = "see the messages above"
            if not accepted:
                raise PlatformError(f"Comet did not accept {archive} ({reason}); it stays in the run folder: "
                                    "run `portability push comet` again later")
            results_path = run_dir / "results.json"
            results = json.loads(results_path.read_text())
            results["platform"]["comet_uploaded"] = True
            results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
            uploaded += 1
    return uploaded
