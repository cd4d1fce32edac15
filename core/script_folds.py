"""A researcher's own script on an OpenML task (the bundle's side): OpenML evaluates a model on its
task's folds, so after the script has run as written, the model captured at its first `fit` is rebuilt
(core/capture.rebuild: same config, same compile settings), seeded as the harness seeds, and trained on
each fold with the script's fit arguments; its class probabilities on each fold's test rows are the
OpenML run's predictions. The flow names the script and its SHA-256.

The task's images are given to the model in the shapes the script's first fit received: reshaped to its
input, scaled to [0, 1] when the script fed floats, labels one-hot when it fed one-hot labels.
"""

import numpy

from core import capture

TASKS = {"mnist": 3573, "fashion-mnist": 146825}  # the tasks of the Keras loaders' data sets
NOT_A_TASK = ("{script}'s data is not an OpenML task's (it read {data}): name the task it comes from with "
              "--openml-task ID (an OpenML task id, e.g. 3573 for MNIST) and run again")


def task_of(task_id, results):
    """The task to run on: the one given, else the Keras loader's data set's; None: say what to add."""
    if task_id:
        return int(task_id)
    return TASKS.get(results["dataset"].get("name")) if results["dataset"].get("canonical") else None


def inputs_like(first_fit, images, labels, classes):
    """(x, y) of the task's rows in the shapes and kinds the script's first fit took."""
    x_shape = (first_fit.get("x") or {}).get("shape") or [None, *images.shape[1:]]
    x = images.reshape(len(images), *x_shape[1:])
    if "float" in (first_fit.get("x") or {}).get("dtype", "float32"):
        x = x.astype("float32") / 255
    y_shape = (first_fit.get("y") or {}).get("shape") or [None]
    y = numpy.eye(classes, dtype="float32")[labels] if len(y_shape) == 2 and y_shape[1] == classes else labels
    return x, y


def train_fold(first_fit, seed, train, test, classes):
    """One fold: the rebuilt model, seeded, trained on `train` with the script's fit arguments; the
    probabilities on `test` and the weights' hash."""
    import keras

    from core import experiment, seeding

    seeding.seed_everything(keras, seed)
    model, fit_arguments = capture.rebuild(first_fit)
    fit_arguments.pop("validation_split", None)  # the fold's test rows are the evaluation
    x, y = inputs_like(first_fit, *train, classes)
    model.fit(x, y, **{**fit_arguments, "verbose": 0})
    probabilities = model.predict(inputs_like(first_fit, *test, classes)[0], verbose=0)
    return probabilities, experiment.weights_sha256(model)


def run_folds(task, images, labels, first_fit, seed):
    """[(fold, test indices, probabilities, weights' hash)] over the task's folds (repeat 0)."""
    _, folds, _ = task.get_split_dimensions()
    classes = len(task.class_labels)
    done = []
    for fold in range(folds):
        train, test = task.get_train_test_split_indices(fold=fold, repeat=0)
        probabilities, weights = train_fold(first_fit, seed, (images[train], labels[train]),
                                            (images[test], labels[test]), classes)
        done.append((fold, test, probabilities, weights))
    return done


def flow_description(own, keras_version):
    """The script as an OpenML flow: its name and SHA-256, its argv and the harness's seed."""
    config = own["config"]
    parameters = {"script_sha256": config["script_sha256"], "args": " ".join(own["args"]), "seed": str(own["seed"])}
    return dict(
        name=f"portability.script.{config['script'].rsplit('.', 1)[0]}",
        description=f"The researcher's own Keras script {config['script']} (sha256 {config['script_sha256']}), "
                    "its first fitted model trained on each fold of the task by the portability suite.",
        parameters=parameters,
        parameters_meta_info={key: {"description": key.replace("_", " "), "data_type": "str"} for key in parameters},
        external_version=f"portability==0.1.0,keras=={keras_version}", language="English",
        dependencies=f"keras=={keras_version}, tensorflow, numpy", tags=["portability", "keras", "own-script"])


def summary(results, task_id, folds, labels):
    """results.json's task section: each fold's accuracy and weights, their mean as the test result
    (the script's own evaluation kept as `script_test`)."""
    accuracies = [float((probabilities.argmax(axis=1) == labels[test]).mean()) for _, test, probabilities, _ in folds]
    results["script_test"] = results["test"]
    results["test"] = {"accuracy": float(numpy.mean(accuracies)), "accuracy_std": float(numpy.std(accuracies)),
                       "measure": f"mean over the {len(folds)} folds of OpenML task {task_id}",
                       "source": "the script's first fitted model, rebuilt and trained on each fold"}
    results["folds"] = [{"fold": fold, "accuracy": accuracy, "weights_sha256": weights}
                        for (fold, _, _, weights), accuracy in zip(folds, accuracies)]
    target = results["target"]["accuracy"]
    results["target"]["verdict"] = "pass" if results["test"]["accuracy"] >= target else "fail"
    return results
