"""Independent trainings of one config on several folds of a data set (OpenML's cross-validation):
one after another in this process, or as tasks on a Dask LocalCluster of warm workers, each fold seeded
as a fresh process seeds it (core/seeding.py) and each later fold reusing the process's traced model
(core/warm_model.py), so both ways give each fold a fresh process's weights (tested)."""

import contextlib
import os
import pathlib

import numpy

from core import datasets, experiment, results as core_results
from core.warm_model import CompiledModel

COMPILED = CompiledModel()  # this process's traced model: each later fold of the same shape reuses it


def train_folds(config, folds, platform, details):
    """[each fold's results] for `folds`, [(fold folder, Dataset)]: one after another, or with
    PORTABILITY_FOLD_WORKERS=N on N Dask workers of one TensorFlow thread (the count changes the weights:
    recorded in `details["fold_engine"]`)."""
    workers = int(os.environ.get("PORTABILITY_FOLD_WORKERS") or 1)
    if workers <= 1:
        details["fold_engine"] = "one after another"
        return [experiment.run(config, fold_dir, platform=platform, extra=details, dataset=dataset, compiled=COMPILED)
                for fold_dir, dataset in folds]
    from dask.distributed import Client, LocalCluster

    os.environ.setdefault("PORTABILITY_THREADS", "1")
    details["fold_engine"] = f"Dask LocalCluster, {workers} workers x {os.environ['PORTABILITY_THREADS']} thread(s)"
    for fold_dir, dataset in folds:  # what a fold's worker reads
        fold_dir.mkdir(parents=True, exist_ok=True)
        numpy.savez(fold_dir / "fold.npz", x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test,
                    y_test=dataset.y_test)
        core_results.write_json(fold_dir / "fold.json", {"config": config.to_dict(), "details": details,
                                                        "platform": platform, "name": dataset.name,
                                                        "source": dataset.source, "class_names": dataset.class_names})
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        codes = client.gather(client.map(fold_process, [str(fold_dir) for fold_dir, _ in folds], pure=False))
    for fold_dir, _ in folds:
        (fold_dir / "fold.npz").unlink(missing_ok=True)  # the data again: not worth keeping
    if any(codes):
        raise SystemExit(f"folds {[k for k, code in enumerate(codes) if code]} failed: see their folders")
    return [core_results.read_json(fold_dir / "results.json") for fold_dir, _ in folds]


def fold_process(fold_dir):
    """On a Dask worker: one fold in this warm worker (TensorFlow imported once per worker); its output
    goes to the fold's log. 0 when it trained, 1 when it failed (the worker stays for the next)."""
    with open(pathlib.Path(fold_dir) / "fold-log.txt", "w") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            train_saved_fold(fold_dir)
        except BaseException as error:
            COMPILED.forget()
            print(f"fold failed: {type(error).__name__}: {error}")
            return 1
    return 0


def train_saved_fold(fold_dir):
    from core import config as configuration

    fold_dir = pathlib.Path(fold_dir)
    saved = core_results.read_json(fold_dir / "fold.json")
    with numpy.load(fold_dir / "fold.npz") as arrays:
        dataset = datasets.Dataset(name=saved["name"], x_train=arrays["x_train"], y_train=arrays["y_train"],
                                   x_test=arrays["x_test"], y_test=arrays["y_test"], source=saved["source"], files={},
                                   canonical=False, num_classes=len(saved["class_names"]), class_names=saved["class_names"])
    experiment.run(configuration.config_from_dict(saved["config"]), fold_dir, platform=saved["platform"],
                   extra=saved["details"], dataset=dataset, compiled=COMPILED)
