"""OpenML: the data comes through the OpenML client, and what runs is what the task defines. For
tasks 3573 (MNIST) and 146825 (Fashion-MNIST) that is 10-fold cross-validation over all 70,000 rows:
one training per fold, a prediction with class probabilities for every row. The `holdout` protocol
trains on the canonical 60k/10k split and is recorded as such, never as a task run. The run is
published with an API key, else written to openml-run/ for `portability push openml` to publish."""

import json
import math
import os
import pathlib
import shutil
import tempfile

import numpy
import openml
import requests
from openml.runs.functions import format_prediction

from core import datasets, experiment, folds as folds_runner, results as core_results

PLATFORM = "openml"
TASK_ID = 3573  # slot
PROTOCOL = 'cv'  # slot: "cv", what the task defines; "holdout", the canonical 60k/10k split
DETAILS = {}


def configure_openml():
    """The client's server, key and cache from the environment; no long retries when offline."""
    if os.environ.get("OPENML_SERVER"):
        openml.config.server = os.environ["OPENML_SERVER"]
    if os.environ.get("OPENML_APIKEY"):
        openml.config.apikey = os.environ["OPENML_APIKEY"]
    if os.environ.get("OPENML_CACHE_DIR"):
        openml.config.set_root_cache_directory(os.environ["OPENML_CACHE_DIR"])
    openml.config.set_retry_policy("human", 1)
    return openml


def load_task():
    try:
        task = openml.tasks.get_task(TASK_ID, download_splits=PROTOCOL == "cv", download_data=True,
                                     download_qualities=False)
        features, target = read_data(task)
    except requests.exceptions.ConnectionError as error:
        raise SystemExit(f"cannot reach the OpenML server ({openml.config.server}) for task {TASK_ID}: "
                         f"{type(error).__name__}. The task's data comes from there: connect to the internet, "
                         "or set OPENML_CACHE_DIR to an OpenML cache that holds it") from None
    except openml.exceptions.OpenMLServerError as error:
        raise SystemExit(explain(error)) from None
    pixels = features.to_numpy(dtype="float64")
    side = math.isqrt(pixels.shape[1])
    if side * side != pixels.shape[1]:
        raise SystemExit(f"task {TASK_ID}: {pixels.shape[1]} features are not a square grayscale image")
    images = pixels.round().clip(0, 255).astype("uint8").reshape(-1, side, side, 1)
    labels = numpy.array([task.class_labels.index(str(value)) for value in target], dtype="int64")
    return task, images, labels


def read_data(task):
    """The task's features and target. A server may advertise a parquet URL it does not serve: the
    client then saves the error page as the parquet file; that file is removed and the data set's
    ARFF read instead (OPENML_SKIP_PARQUET=true), and the run says so."""
    dataset = task.get_dataset()
    try:
        features, target, _, _ = dataset.get_data(target=task.target_name)
        DETAILS["data_file"] = "parquet" if dataset.parquet_file else "ARFF"
        return features, target
    except Exception as error:  # pyarrow's errors, wrapped by the client in a bare Exception
        if not dataset.parquet_file or os.environ.get("OPENML_SKIP_PARQUET", "").lower() == "true":
            raise
        cause = error.__cause__ or error
        print(f"OpenML: the data set's parquet file ({dataset._parquet_url}) is not readable "
              f"({type(cause).__name__}: {str(cause).splitlines()[0][:200]}); reading its ARFF instead "
              "(OPENML_SKIP_PARQUET=true)", flush=True)
        pathlib.Path(dataset.parquet_file).unlink(missing_ok=True)
        os.environ["OPENML_SKIP_PARQUET"] = "true"
        features, target, _, _ = openml.datasets.get_dataset(task.dataset_id, download_data=True).get_data(
            target=task.target_name)
        DETAILS["data_file"] = "ARFF (the server's parquet file was not readable)"
        return features, target


# what OpenML's error codes mean for this run, and what to do (the server's own message follows)
ANSWERS = {
    103: "OpenML rejected the API key: set OPENML_APIKEY to your key for {server} (openml.org > your profile > API key)",
    151: "OpenML ({server}) has no such task: pass --openml-task with an existing task id",
    171: "OpenML already holds this flow (same name and external version) but did not report it as existing: "
         "push again to reuse it",
    273: "OpenML has not processed the task's data set yet (its features are not computed): try again later",
    542: "OpenML has no evaluation for this run yet: its evaluation engine has not scored it; pull again later",
}


def explain(error, upload_bytes=None):
    """One line for an error of the openml client: what the server answered (its code and message) and
    what to do. Code 102 ("no API key received") to an upload that carried one means the server dropped
    the body, as PHP does above its upload limit: the size is said, not the credentials blamed."""
    server = openml.config.server
    if isinstance(error, openml.exceptions.OpenMLNotAuthorizedError) or getattr(error, "code", None) == 102:
        if openml.config.apikey:
            size = f"an upload of {upload_bytes / 1e6:.1f} MB" if upload_bytes else "the request"
            return (f"OpenML ({server}) answered code 102 (no API key received) to {size} that carried one: "
                    "the server dropped the request body, most likely because it is over the server's upload "
                    "limit (PHP's post_max_size / upload_max_filesize); ask its operator, or publish a smaller run")
        return f"OpenML ({server}) needs an API key to publish (code 102): set OPENML_APIKEY"
    if isinstance(error, requests.exceptions.ConnectionError):
        return f"cannot reach the OpenML server ({server}): check the network, or try again later ({type(error).__name__}: {error})"
    code = getattr(error, "code", None)
    said = f"code {code}: {getattr(error, 'message', error)}" if code else f"{type(error).__name__}: {error}"
    advice = ANSWERS.get(code, "OpenML refused the request").format(server=server)
    return f"{advice} ({said})"


def canonical_check(config, images, labels):
    """Whether the task's rows are the canonical files: first 60000 = train, last 10000 = test."""
    if config.dataset not in datasets.CANONICAL or len(images) != 70000:
        return "not a canonical data set"
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        for split, rows in (("train", slice(0, 60000)), ("t10k", slice(60000, None))):
            datasets.write_idx(folder / f"{split}-images-idx3-ubyte", images[rows, ..., 0])
            datasets.write_idx(folder / f"{split}-labels-idx1-ubyte", labels[rows])
        problems = datasets.check_folder(config.dataset, folder)[1]
    return "canonical: rows hash to the canonical IDX files" if not problems else "NOT canonical: " + "; ".join(problems)


def subset(task, images, labels, train, test):
    return datasets.Dataset(name=f"openml-task-{TASK_ID}", x_train=images[train], y_train=labels[train],
                            x_test=images[test], y_test=labels[test], source=f"openml:task/{TASK_ID}",
                            files={}, canonical=False, num_classes=len(task.class_labels),
                            class_names=list(task.class_labels))


def run_experiment(config, out_dir):
    """What the task defines: one training per fold (or the holdout split), then the OpenML run."""
    configure_openml()
    task, images, labels = load_task()
    DETAILS.update(task_id=TASK_ID, dataset_id=task.dataset_id, data_check=canonical_check(config, images, labels))
    if PROTOCOL == "holdout":
        if len(images) != 70000:
            raise SystemExit("the holdout protocol needs the 70,000 rows of MNIST or Fashion-MNIST")
        DETAILS["protocol"] = "holdout (canonical 60k/10k split, not an OpenML task run)"
        dataset = subset(task, images, labels, numpy.arange(60000), numpy.arange(60000, 70000))
        experiment.run(config, out_dir, platform=PLATFORM, dataset=dataset, extra=DETAILS)
        return
    repeats, folds, _ = task.get_split_dimensions()
    DETAILS["protocol"] = f"{folds}-fold CV"
    splits = [task.get_train_test_split_indices(fold=fold, repeat=0) for fold in range(folds)]
    per_fold = folds_runner.train_folds(config, [(out_dir / "folds" / f"fold-{fold}", subset(task, images, labels, train, test))
                                                 for fold, (train, test) in enumerate(splits)], PLATFORM, DETAILS)
    rows = []
    for fold, (_, test) in enumerate(splits):
        rows += fold_predictions(task, fold, out_dir / "folds" / f"fold-{fold}", images, labels, test)
    summary = combine_folds(per_fold, out_dir)
    upload(config, task, rows, summary, out_dir)


def fold_predictions(task, fold, fold_dir, images, labels, test):
    """One OpenML prediction row (label and class probabilities) per test row of the fold."""
    import keras

    model = keras.models.load_model(fold_dir / "model.keras", compile=False)
    probabilities = model.predict(images[test].astype("float32") / 255, batch_size=1000, verbose=0)
    return [format_prediction(task, 0, fold, int(index), task.class_labels[int(row.argmax())],
                              task.class_labels[labels[index]],
                              proba={label: float(p) for label, p in zip(task.class_labels, row)})
            for index, row in zip(test, probabilities)]


def combine_folds(per_fold, out_dir):
    """One results.json for the task run: the mean of the folds, each fold listed; fold 0's model."""
    summary = dict(per_fold[0])
    accuracies = [r["test"]["accuracy"] for r in per_fold]
    summary["test"] = {"accuracy": float(numpy.mean(accuracies)), "loss": float(numpy.mean([r["test"]["loss"] for r in per_fold])),
                       "accuracy_std": float(numpy.std(accuracies)), "measure": "mean over folds"}
    summary["folds"] = [{"fold": k, "accuracy": r["test"]["accuracy"], "loss": r["test"]["loss"],
                         "weights_sha256": r["weights_sha256"]} for k, r in enumerate(per_fold)]
    summary["target"] = dict(summary["target"], verdict="pass" if summary["test"]["accuracy"] >= summary["target"]["accuracy"] else "fail")
    elapsed = ("process_cpu_seconds", "process")  # since the process started: the last fold's
    for section in ("timings", "cpu_seconds"):  # per phase the sum over the folds
        summary[section] = {k: per_fold[-1][section][k] if k in elapsed else round(sum(r[section].get(k, 0) for r in per_fold), 3)
                            for k in per_fold[0].get(section, {})}
    summary["run_id"] = out_dir.name
    for name in ("model.h5", "model.keras"):
        shutil.copyfile(out_dir / "folds" / "fold-0" / name, out_dir / name)
    core_results.write_json(out_dir / "results.json", summary)
    return summary


def flow_description(config):
    """The Keras model and its hyperparameters as an OpenML flow (published once, then reused)."""
    import keras

    parameters = {k: json.dumps(v) for k, v in config.to_dict().items() if k not in ("dataset", "preset")}
    return dict(
        name=f"portability.keras.{config.model}",
        description=f"Keras CNN '{config.model}' of the portability suite, trained with {config.optimizer}.",
        parameters=parameters,
        parameters_meta_info={k: {"description": k.replace("_", " "), "data_type": declared_type(k)} for k in parameters},
        # flow==2: data types as declared (version 0.1.0's flows took them from the values: NoneType)
        external_version=f"portability==0.1.0,flow==2,keras=={keras.__version__}",
        language="English", dependencies=f"keras=={keras.__version__}, tensorflow, numpy",
        tags=["portability", "keras"])


def declared_type(name):
    """A setting's type as the config declares it ("int | None"), never the type of this run's value:
    the flow is reused across runs, and OpenML refuses a flow whose parameter types changed."""
    from core import config as configuration

    kind = configuration.FIELDS[name].type
    return kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))


def upload(config, task, rows, summary, out_dir):
    """The built-in experiment's flow and run: see publish."""
    publish(flow_description(config), task, rows, summary, out_dir, config.preset or "custom")


def publish(description, task, rows, summary, out_dir, tag):
    """Publish the flow and run with an API key; always keep the run on disk for a later publish."""
    flow = openml.flows.OpenMLFlow(model=None, components={}, **description)
    run = openml.runs.OpenMLRun(task_id=task.task_id, flow_id=None, dataset_id=task.dataset_id, flow=flow,
                                parameter_settings=[{"oml:name": k, "oml:value": v} for k, v in description["parameters"].items()],
                                data_content=rows, tags=["portability", tag])
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
            why = explain(error, (run_dir / "predictions.arff").stat().st_size)
            summary["platform"]["openml_publish_error"] = why
            print(f"OpenML did not accept the run: {why}. It is saved in openml-run/: "
                  "`portability push openml` publishes it later")
    core_results.write_json(out_dir / "results.json", summary)


def after_script(own, out_dir):
    """Your own script: its first fitted model trained on each fold of the task (core/script_folds.py),
    the predictions an OpenML run of a flow naming the script; the task is the one given, else the
    Keras loader's data set's."""
    global TASK_ID
    from core import script, script_folds

    results = core_results.read_json(out_dir / "results.json")
    TASK_ID = script_folds.task_of(TASK_ID, results)
    if TASK_ID is None:
        message = script_folds.NOT_A_TASK.format(script=own["config"]["script"], data=results["dataset"]["name"])
        results.update(status="failed", message=message)
        core_results.write_json(out_dir / "results.json", results)
        raise script.ScriptError(message)
    configure_openml()
    task, images, labels = load_task()
    folds = script_folds.run_folds(task, images, labels, results["capture"]["first_fit"], own["seed"])
    rows = [format_prediction(task, 0, fold, int(index), task.class_labels[int(row.argmax())],
                              task.class_labels[labels[index]], proba=dict(zip(task.class_labels, map(float, row))))
            for fold, test, probabilities, _ in folds for index, row in zip(test, probabilities)]
    results = script_folds.summary(results, TASK_ID, folds, labels)
    results["platform"].update(task_id=TASK_ID, dataset_id=task.dataset_id, protocol=f"{len(folds)}-fold CV")
    publish_script_run(own, task, rows, results, out_dir)


def publish_script_run(own, task, rows, results, out_dir):
    """Your own script's flow (naming the script and its SHA-256) and run: see publish."""
    import keras

    from core import script_folds

    publish(script_folds.flow_description(own, keras.__version__), task, rows, results, out_dir, "own-script")
