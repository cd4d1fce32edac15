"""OpenML: the experiment on an OpenML task, published as an OpenML run.

The bundle runs here (like the local adapter) and reads its data through the `openml` client. What it
runs is what the task defines: for tasks 3573 (MNIST) and 146825 (Fashion-MNIST) that is 10-fold
cross-validation over all 70,000 rows, one training per fold, a prediction with class probabilities for
every row. The quicker `holdout` protocol trains on the canonical 60k/10k split and is reported as
such, never as a task run. With an API key the flow and run are published; without one the run is
written to the run folder and `portability push openml` publishes it later.
"""

import json
import os

from adapters.base import MissingSDK, PlatformError, sdk_installed
from adapters.local import LocalAdapter
from core.errors import UsageError

TASKS = {"mnist": 3573, "fashion-mnist": 146825}
PROTOCOLS = ("cv", "holdout")

IMPORTS = '''import math
import os
import shutil
import tempfile

import keras
import numpy
import requests
import openml
from openml.runs.functions import format_prediction

from core import datasets, results as core_results
'''

SHIM = '''
TASK_ID = {task_id}
PROTOCOL = "{protocol}"  # "cv": what the task defines; "holdout": the canonical 60k/10k split
DETAILS = {{}}


def data_folder(settings):
    return None  # the data comes through the OpenML client (see run_task)


def output_folder():
    return pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path.cwd() / "output"


def training_callbacks(settings):
    return []


def run_details():
    return DETAILS


def export_results(out_dir):
    print(f"results in {{out_dir}}")  # published to OpenML by run_task, or saved in openml-run/


def configure_openml():
    if os.environ.get("OPENML_SERVER"):
        openml.config.server = os.environ["OPENML_SERVER"]
    if os.environ.get("OPENML_APIKEY"):
        openml.config.apikey = os.environ["OPENML_APIKEY"]
    if os.environ.get("OPENML_CACHE_DIR"):
        openml.config.set_root_cache_directory(os.environ["OPENML_CACHE_DIR"])
    openml.config.set_retry_policy("human", 1)


def load_task():
    try:
        task = openml.tasks.get_task(TASK_ID, download_splits=PROTOCOL == "cv", download_data=True,
                                     download_qualities=False)
        features, target, _, _ = task.get_dataset().get_data(target=task.target_name)
    except requests.exceptions.ConnectionError as error:
        raise SystemExit(f"cannot reach the OpenML server ({{openml.config.server}}) for task {{TASK_ID}}: "
                         f"{{type(error).__name__}}. The task's data comes from there: connect to the internet, "
                         "or set OPENML_CACHE_DIR to an OpenML cache that holds it") from None
    pixels = features.to_numpy(dtype="float64")
    side = math.isqrt(pixels.shape[1])
    if side * side != pixels.shape[1]:
        raise SystemExit(f"task {{TASK_ID}}: {{pixels.shape[1]}} features are not a square grayscale image")
    images = pixels.round().clip(0, 255).astype("uint8").reshape(-1, side, side, 1)
    labels = numpy.array([task.class_labels.index(str(value)) for value in target], dtype="int64")
    return task, images, labels


def canonical_check(settings, images, labels):
    """Whether the task's rows are the canonical files: first 60000 = train, last 10000 = test."""
    if settings.dataset not in datasets.CANONICAL or len(images) != 70000:
        return "not a canonical data set"
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        for split, rows in (("train", slice(0, 60000)), ("t10k", slice(60000, None))):
            datasets.write_idx(folder / f"{{split}}-images-idx3-ubyte", images[rows, ..., 0])
            datasets.write_idx(folder / f"{{split}}-labels-idx1-ubyte", labels[rows])
        problems = datasets.check_folder(settings.dataset, folder)[1]
    return "canonical: rows hash to the canonical IDX files" if not problems else "NOT canonical: " + "; ".join(problems)


def subset(task, images, labels, train, test):
    return datasets.Dataset(name=f"openml-task-{{TASK_ID}}", x_train=images[train], y_train=labels[train],
                            x_test=images[test], y_test=labels[test], source=f"openml:task/{{TASK_ID}}",
                            files={{}}, canonical=False, num_classes=len(task.class_labels),
                            class_names=list(task.class_labels))


def run_task(settings, out_dir):
    configure_openml()
    task, images, labels = load_task()
    DETAILS.update(task_id=TASK_ID, dataset_id=task.dataset_id, data_check=canonical_check(settings, images, labels))
    if PROTOCOL == "holdout":
        if len(images) != 70000:
            raise SystemExit("the holdout protocol needs the 70,000 rows of MNIST or Fashion-MNIST")
        DETAILS["protocol"] = "holdout (canonical 60k/10k split, not an OpenML task run)"
        dataset = subset(task, images, labels, numpy.arange(60000), numpy.arange(60000, 70000))
        experiment.run(settings, out_dir, platform="openml", dataset=dataset, extra=DETAILS)
        return
    repeats, folds, _ = task.get_split_dimensions()
    DETAILS["protocol"] = f"{{folds}}-fold CV"
    rows, per_fold = [], []
    for fold in range(folds):
        train, test = task.get_train_test_split_indices(fold=fold, repeat=0)
        print(f"fold {{fold + 1}}/{{folds}}: {{len(train)}} train, {{len(test)}} test rows", flush=True)
        fold_dir = out_dir / "folds" / f"fold-{{fold}}"
        result = experiment.run(settings, fold_dir, platform="openml", dataset=subset(task, images, labels, train, test),
                                extra=DETAILS)
        model = keras.models.load_model(fold_dir / "model.keras", compile=False)
        probabilities = model.predict(images[test].astype("float32") / 255, batch_size=1000, verbose=0)
        for index, row in zip(test, probabilities):
            rows.append(format_prediction(task, 0, fold, int(index), task.class_labels[int(row.argmax())],
                                          task.class_labels[labels[index]],
                                          proba={{label: float(p) for label, p in zip(task.class_labels, row)}}))
        per_fold.append(result)
    summary = combine_folds(per_fold, out_dir)
    upload(settings, task, rows, summary, out_dir)


def combine_folds(per_fold, out_dir):
    """One results.json for the task run: the mean of the folds, each fold listed; fold 0's model."""
    summary = dict(per_fold[0])
    accuracies = [r["test"]["accuracy"] for r in per_fold]
    summary["test"] = {{"accuracy": float(numpy.mean(accuracies)), "loss": float(numpy.mean([r["test"]["loss"] for r in per_fold])),
                       "accuracy_std": float(numpy.std(accuracies)), "measure": "mean over folds"}}
    summary["folds"] = [{{"fold": k, "accuracy": r["test"]["accuracy"], "loss": r["test"]["loss"],
                         "weights_sha256": r["weights_sha256"]}} for k, r in enumerate(per_fold)]
    summary["target"] = dict(summary["target"], verdict="pass" if summary["test"]["accuracy"] >= summary["target"]["accuracy"] else "fail")
    elapsed = ("import", "total", "process_cpu_seconds")  # since the process started: the last fold's
    summary["timings"] = {{k: per_fold[-1]["timings"][k] if k in elapsed else round(sum(r["timings"].get(k, 0) for r in per_fold), 3)
                          for k in per_fold[0]["timings"]}}
    summary["run_id"] = out_dir.name
    for name in ("model.h5", "model.keras"):
        shutil.copyfile(out_dir / "folds" / "fold-0" / name, out_dir / name)
    core_results.write_json(out_dir / "results.json", summary)
    return summary


def flow_description(settings):
    """The Keras model and its hyperparameters as an OpenML flow (published once, then reused)."""
    parameters = {{k: json.dumps(v) for k, v in settings.to_dict().items() if k not in ("dataset", "preset")}}
    return dict(
        name=f"portability.keras.{{settings.model}}",
        description=f"Keras CNN '{{settings.model}}' of the portability suite, trained with {{settings.optimizer}}.",
        parameters=parameters,
        parameters_meta_info={{k: {{"description": k.replace("_", " "), "data_type": type(v).__name__}}
                              for k, v in settings.to_dict().items() if k in parameters}},
        external_version=f"portability==0.1.0,keras=={{keras.__version__}}",
        language="English", dependencies=f"keras=={{keras.__version__}}, tensorflow, numpy",
        tags=["portability", "keras"])


def upload(settings, task, rows, summary, out_dir):
    description = flow_description(settings)
    flow = openml.flows.OpenMLFlow(model=None, components={{}}, **description)
    run = openml.runs.OpenMLRun(task_id=task.task_id, flow_id=None, dataset_id=task.dataset_id, flow=flow,
                                parameter_settings=[{{"oml:name": k, "oml:value": v}} for k, v in description["parameters"].items()],
                                data_content=rows, tags=["portability", settings.preset or "custom"])
    run.model = "keras"  # to_filesystem wants a model object; the flow describes the real one
    run_dir = out_dir / "openml-run"
    run.to_filesystem(str(run_dir))
    core_results.write_json(run_dir / "flow.json", description)
    summary["platform"].update(openml_run_id=None, openml_pending_publish=str(run_dir.relative_to(out_dir)))
    if not openml.config.apikey:
        print("no OpenML API key: the run is saved in openml-run/; `portability push openml` publishes it later")
    else:
        try:
            flow.publish()
            run.flow_id = flow.flow_id
            run.publish()
            summary["platform"].update(openml_run_id=run.run_id, openml_url=run.openml_url,
                                       openml_flow_id=flow.flow_id, openml_pending_publish=None)
        except Exception as error:  # the computed run stays on disk for a later publish
            summary["platform"]["openml_publish_error"] = f"{{type(error).__name__}}: {{error}}"
            print(f"OpenML did not accept the run ({{error}}); it is saved in openml-run/: "
                  "`portability push openml` publishes it later")
    core_results.write_json(out_dir / "results.json", summary)
'''


def settings_from_environment(settings):
    protocol = os.environ.get("PORTABILITY_OPENML_PROTOCOL", "cv")
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown OpenML protocol {protocol!r}: valid ones are {', '.join(PROTOCOLS)}")
    task = os.environ.get("PORTABILITY_OPENML_TASK") or TASKS.get(settings.dataset)
    if task is None:
        raise UsageError("your own data set runs on OpenML as a task: set PORTABILITY_OPENML_TASK to an "
                         "image-like classification task id")
    try:
        return int(task), protocol
    except ValueError:
        raise UsageError(f"PORTABILITY_OPENML_TASK must be a task id (a number), got {task!r}") from None


class OpenMLAdapter(LocalAdapter):
    name = "openml"
    sdk = ("openml", "openml")

    def check(self):
        if not sdk_installed("openml"):
            return ["the openml adapter needs the Python package openml: pip install openml"]
        return []  # without an API key the run is written to disk, to publish later

    def mode_note(self):
        return "publishes" if os.environ.get("OPENML_APIKEY") else \
            "offline (set OPENML_APIKEY from openml.org > your profile > API key, to publish)"

    def shim(self, settings):
        task_id, protocol = settings_from_environment(settings)
        return IMPORTS, SHIM.format(task_id=task_id, protocol=protocol)

    def render(self, settings):
        files = super().render(settings)
        entry = files[self.entry_file]
        old = ('    experiment.run(settings, out_dir, platform="openml", data_dir=data_folder(settings),\n'
               '                   callbacks=training_callbacks(settings), extra=run_details())\n')
        if old not in entry:
            raise RuntimeError("the entry template changed: update the OpenML render")
        files[self.entry_file] = entry.replace(old, "    run_task(settings, out_dir)  # one training per fold of the task\n")
        return files

    def fetch_outputs(self, handle, run_dir, target):
        super().fetch_outputs(handle, run_dir, target)
        work_run = run_dir / "work" / "output" / "openml-run"
        if work_run.is_dir():
            import shutil

            shutil.copytree(work_run, run_dir / "openml-run", dirs_exist_ok=True)
        results_path = target / "results.json"
        if results_path.is_file():
            results = json.loads(results_path.read_text())
            run_id = results["platform"].get("openml_run_id")
            if run_id:
                results["platform"]["openml_evaluation"] = server_evaluation(run_id)
                results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def configure():
    import openml

    if os.environ.get("OPENML_SERVER"):
        openml.config.server = os.environ["OPENML_SERVER"]
    if os.environ.get("OPENML_APIKEY"):
        openml.config.apikey = os.environ["OPENML_APIKEY"]
    if os.environ.get("OPENML_CACHE_DIR"):
        openml.config.set_root_cache_directory(os.environ["OPENML_CACHE_DIR"])
    openml.config.set_retry_policy("human", 1)
    return openml


def server_evaluation(run_id):
    """The server's predictive_accuracy for a published run, or "pending" until it has computed it."""
    try:
        run = configure().runs.get_run(run_id, ignore_cache=True)
    except Exception as error:  # openml raises its own and requests' types
        return {"error": f"{type(error).__name__}: {error}"}
    value = (run.evaluations or {}).get("predictive_accuracy")
    return {"predictive_accuracy": value} if value is not None else "pending"


def publish_pending(runs, log=print):
    """Publish every run written offline: the flow first (reused if it exists), then the run."""
    if not os.environ.get("OPENML_APIKEY"):
        return 0
    if not sdk_installed("openml"):
        raise MissingSDK("the openml adapter needs the Python package openml: pip install openml")
    published = 0
    for handle, run_dir in runs:
        results_path = run_dir / "results.json"
        if not results_path.is_file():
            continue
        results = json.loads(results_path.read_text())
        pending = results["platform"].get("openml_pending_publish")
        if not pending or results["platform"].get("openml_run_id"):
            continue
        openml = configure()
        log(f"openml: publishing the offline run of {handle.run_id}")
        try:
            description = json.loads((run_dir / pending / "flow.json").read_text())
            flow = openml.flows.OpenMLFlow(model=None, components={}, **description).publish()
            run = openml.runs.OpenMLRun.from_filesystem(str(run_dir / pending), expect_model=False)
            run.flow_id, run.flow = flow.flow_id, flow
            # written before the flow had an id, the saved description holds no parameter settings
            run.parameter_settings = [{"oml:name": k, "oml:value": v} for k, v in description["parameters"].items()]
            run.publish()
        except Exception as error:
            raise PlatformError(f"OpenML did not accept the run in {run_dir / pending} ({type(error).__name__}: "
                                f"{error}); it stays there: run `portability push openml` again later") from None
        results["platform"].update(openml_run_id=run.run_id, openml_url=run.openml_url, openml_flow_id=flow.flow_id)
        results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        published += 1
    return published
