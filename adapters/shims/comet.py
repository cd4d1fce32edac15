"""Comet: tracking, not compute. The experiment runs here and logs parameters, per-epoch metrics,
test metrics, the model, the code, tags, the environment and results.json; online when COMET_API_KEY
is set and the server answers, else offline to a zip that `portability push comet` uploads later."""

import json
import logging
import os
import pathlib
import re

import comet_ml  # noqa: F401 (before keras, so Comet's Keras integration is in place)
import keras

from core import results as core_results

PLATFORM = "comet"
TRACKER = {}
OPTIONS = dict(log_env_details=False, log_code=False, log_git_metadata=False, log_git_patch=False,
               auto_metric_logging=False, auto_param_logging=False, auto_histogram_weight_logging=False)


def start_comet(config, out_dir, tags=None):
    """Online if COMET_API_KEY is set and the server answers, else offline: nothing logged is lost."""
    options = dict(OPTIONS, tags=tags or [config.dataset, config.model, config.preset or "custom", "portability"])
    project = os.environ.get("COMET_PROJECT_NAME", "portability")
    if os.environ.get("COMET_API_KEY"):
        with SDKErrors() as errors:
            tracker = comet_ml.start(project_name=project, online=True,
                                     experiment_config=comet_ml.ExperimentConfig(**options))
        if tracker.alive:
            return tracker, "online"
        tracker.end()
        refused(errors.caught)
        print("Comet server did not answer: logging offline instead (upload later with portability push comet)")
    offline_dir = out_dir / "comet-offline"
    offline_dir.mkdir(parents=True, exist_ok=True)
    tracker = comet_ml.start(project_name=project, online=False, experiment_config=comet_ml.ExperimentConfig(
        offline_directory=str(offline_dir), **options))
    return tracker, "offline"


class SDKErrors(logging.Handler):
    """The exceptions the SDK logs and swallows while it creates an experiment (it then hands back a
    dead one, as it does when the server cannot be reached)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.caught = []

    def emit(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            self.caught.append(record.exc_info[1])

    def __enter__(self):
        logging.getLogger("comet_ml").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("comet_ml").removeHandler(self)


def refused(caught):
    """Stop the run when the server answered and refused (a wrong key, an unknown workspace): going
    offline would only fail again at upload."""
    from comet_ml import exceptions

    for error in caught:
        if isinstance(error, exceptions.InvalidAPIKey):
            raise SystemExit(f"Comet rejected COMET_API_KEY (InvalidAPIKey on {error.args[1]}): copy your key from "
                             "comet.com > Account settings > API Keys, or unset COMET_API_KEY to log offline")
        if isinstance(error, exceptions.InvalidWorkspace):
            raise SystemExit(f"Comet has no workspace {error.args[0]!r} for this key: check COMET_WORKSPACE")


class EpochMetrics(keras.callbacks.Callback):
    """Per-epoch loss/accuracy and validation metrics, whatever the import order of comet_ml and keras."""

    def on_epoch_end(self, epoch, logs=None):
        TRACKER["experiment"].log_metrics(logs or {}, step=epoch + 1, epoch=epoch + 1)


def training_callbacks(config, out_dir):
    tracker, mode = start_comet(config, out_dir)
    TRACKER.update(experiment=tracker, mode=mode)
    tracker.log_parameters(config.to_dict())
    return [EpochMetrics()]


def before_script(own, out_dir):
    """Your own script: tracked through the fit hook (core/capture.py), as the built-in experiment is, at
    its first fit; a script that made its own comet_ml experiment is left to it (never tracked twice)."""
    from core import capture

    capture.FIT_CALLBACKS.append(lambda model, arguments: track_script(own, out_dir))


def track_script(own, out_dir):
    if "experiment" in TRACKER:
        return [EpochMetrics()]
    running = comet_ml.get_running_experiment()
    if running is not None:  # the script's own Experiment(...): its logging stands, none added
        TRACKER.update(own_experiment_key=running.get_key())
        return []
    tags = [own["config"]["script"], "own-experiment", "portability"]
    tracker, mode = start_comet(None, out_dir, tags=tags)
    TRACKER.update(experiment=tracker, mode=mode)
    tracker.log_parameters({"script": own["config"]["script"], "script_sha256": own["config"]["script_sha256"],
                            "args": " ".join(own["args"]), "seed": own["seed"]})
    return [EpochMetrics()]


def track_notebook(out_dir, results):
    """Your own notebook: its cells ran in a Jupyter kernel (another process), where the fit hook kept
    each epoch's metrics; it is tracked here as a script is at its first fit, its epochs logged from them."""
    config = results["config"]
    track_script({"config": config, "args": config["args"], "seed": config["seed"]}, out_dir)
    for row in results["history"]:
        metrics = {k: v for k, v in row.items() if k not in ("epoch", "phase", "seconds", "validation_seconds")}
        TRACKER["experiment"].log_metrics(metrics, step=row["epoch"], epoch=row["epoch"])


def makes_its_own_experiment(path):
    """Whether a notebook's cells make their own comet_ml experiment: read from its code, since its kernel
    is another process, where `comet_ml.get_running_experiment()` cannot be asked from here."""
    try:
        cells = json.loads(pathlib.Path(path).read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    code = "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")
    return "comet_ml" in code and re.search(r"\b(Experiment|OfflineExperiment|start)\s*\(", code) is not None


def run_details():
    if "experiment" not in TRACKER:  # your own script: filled in at export, once it has trained
        return {"compute": "local"}
    tracker = TRACKER["experiment"]
    return {"compute": "local", "comet_mode": TRACKER["mode"], "comet_key": tracker.get_key(),
            "comet_url": tracker.url if TRACKER["mode"] == "online" else None}


def export_results(out_dir):
    results = json.loads((out_dir / "results.json").read_text())
    if "experiment" in results:
        return export_script_results(out_dir, results)
    tracker = TRACKER["experiment"]
    tracker.log_metrics({"test_loss": results["test"]["loss"], "test_accuracy": results["test"]["accuracy"]},
                        step=len(results["history"]), epoch=len(results["history"]))
    tracker.log_others({"weights_sha256": results["weights_sha256"], "verdict": results["target"]["verdict"],
                        **{f"env_{k}": v for k, v in results["environment"].items() if isinstance(v, (str, int))}})
    if (out_dir / "model.h5").is_file():
        tracker.log_model(results["model"]["name"], str(out_dir / "model.h5"))
    here = pathlib.Path(__file__).resolve().parent
    tracker.log_code(file_name=str(here / "experiment.py"))
    tracker.log_code(file_name=str(here / "shim.py"))
    tracker.log_code(folder=str(here / "core"))
    tracker.log_asset(str(out_dir / "results.json"), file_name="results.json")
    tracker.end()
    zips = sorted(str(p.relative_to(out_dir)) for p in (out_dir / "comet-offline").glob("*.zip")) \
        if TRACKER["mode"] == "offline" else []
    results["platform"]["comet_offline_zip"] = zips[0] if zips else None
    core_results.write_json(out_dir / "results.json", results)
    print(f"logged to Comet ({TRACKER['mode']}), experiment {tracker.get_key()}")


def export_script_results(out_dir, results):
    """Your own script's run: its test metrics, outputs and code (the script itself) logged to Comet."""
    notebook = results["experiment"]["kind"] == "notebook"
    own = notebook and makes_its_own_experiment(results["experiment"]["path"])
    if "experiment" not in TRACKER and notebook and results["history"] and not own:
        track_notebook(out_dir, results)
    if "experiment" not in TRACKER:
        by = "the script's own comet_ml experiment" if TRACKER.get("own_experiment_key") else \
            "the notebook's own comet_ml experiment (made in its cells)" if own else "nothing: the script never called fit"
        results["platform"].update(comet_mode=None, comet_key=TRACKER.get("own_experiment_key"), comet_tracked_by=by)
        core_results.write_json(out_dir / "results.json", results)
        return
    tracker = TRACKER["experiment"]
    test = {f"test_{key}": value for key, value in (results["test"].get("all") or {}).items()}
    tracker.log_metrics(test or {"test_accuracy": results["test"]["accuracy"]}, step=len(results["history"]))
    tracker.log_others({"weights_sha256": results["weights_sha256"], "verdict": results["target"]["verdict"]})
    working = out_dir / "workspace" / "working"
    for item in results["artifacts"]["outputs"]:
        tracker.log_asset(str(working / item["path"]), file_name=item["path"])
    tracker.log_code(file_name=results["experiment"]["path"])
    tracker.log_asset(str(out_dir / "results.json"), file_name="results.json")
    tracker.end()
    zips = sorted(str(p.relative_to(out_dir)) for p in (out_dir / "comet-offline").glob("*.zip")) \
        if TRACKER["mode"] == "offline" else []
    results["platform"].update(compute="local", comet_mode=TRACKER["mode"], comet_key=tracker.get_key(),
                               comet_url=tracker.url if TRACKER["mode"] == "online" else None,
                               comet_offline_zip=zips[0] if zips else None)
    core_results.write_json(out_dir / "results.json", results)
    print(f"logged to Comet ({TRACKER['mode']}), experiment {tracker.get_key()}")
