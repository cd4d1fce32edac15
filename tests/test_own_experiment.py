"""A researcher's own experiment, unmodified: the seed-style script and the same experiment as a Kaggle-style
notebook (tests/fixtures/own/), run with core/capture.py's hooks through core/script.py; bad input; a user's
model function in the built-in experiment (core/models.py)."""

import json
import os
import re
import textwrap

import pytest

from core import capture, config as configuration, experiment, results, script, workspace
from core.errors import UsageError
from tests.conftest import ROOT, portability
from tests.own_data import FIXTURES, small_mnist_npz

TRAIN, NOTEBOOK, MODELS = FIXTURES / "train.py", FIXTURES / "kaggle-style.ipynb", FIXTURES / "my_models.py"
QUIET = dict(log=lambda message: None)


@pytest.fixture(scope="module")
def mnist_npz(tmp_path_factory):
    return small_mnist_npz(tmp_path_factory.mktemp("own-data"))


def run_here(run_dir, source, *options):
    """`portability run --script` in a fresh process, one thread, the run folder given."""
    done = portability("run", "--script", source, "--out", run_dir, *options, env={"PORTABILITY_THREADS": "1"},
                       timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((run_dir / "results.json").read_text()), done.stdout + done.stderr  # the notebook's cell outputs come through the log (stderr)


@pytest.fixture(scope="module")
def script_runs(tmp_path_factory, mnist_npz):
    folder = tmp_path_factory.mktemp("own-script")
    return [run_here(folder / name, TRAIN, "--data", mnist_npz, "--", "1", "128") for name in ("a", "b")], folder


def test_the_seed_style_script_runs_unmodified_and_twice_gives_the_same_weights(script_runs, mnist_npz):
    (first, printed), (second, _) = script_runs[0]
    assert results.problems(first) == [] and first["status"] == "completed"
    assert first["weights_sha256"] == second["weights_sha256"] and len(first["weights_sha256"]) == 64
    assert "Test accuracy:" in printed and results.summary_line(first) in printed
    assert first["test"]["source"] == "the script's last Model.evaluate" and first["test"]["metric"] == "accuracy"
    assert first["test"]["accuracy"] == pytest.approx(first["test"]["all"]["accuracy"]) and first["test"]["accuracy"] > 0.5
    assert first["model"]["params"] == 225_034 and len(first["history"]) == 1  # the seed's CNN, one epoch
    assert first["history"][0]["val_accuracy"] == first["test"]["accuracy"]  # validation_data is the test set
    assert first["experiment"] == {
        "kind": "script", "path": str(TRAIN), "sha256": workspace.sha256_file(TRAIN), "args": ["1", "128"],
        "data": [{"path": str(mnist_npz), "dest": "mnist.npz", "sha256": workspace.sha256_file(mnist_npz)}]}
    assert first["capture"]["first_fit"]["fit_arguments"] == {"batch_size": 128, "epochs": 1, "verbose": 2}
    assert first["throughput"]["phases"]["train"]["images"] == 2000 and first["dataset"]["train_samples"] == 2000


def test_what_the_script_wrote_is_the_run_output(script_runs):
    (first, _), _ = script_runs[0]
    working = script_runs[1] / "a" / "workspace" / "working"
    outputs = {item["path"]: item for item in first["artifacts"]["outputs"]}
    assert sorted(outputs) == ["model.h5", "predictions.csv"]  # not the input, not the script's copy
    for name, item in outputs.items():
        assert item["sha256"] == workspace.sha256_file(working / name) and item["bytes"] == (working / name).stat().st_size
    assert (working / "predictions.csv").read_text().startswith("ImageId,Label\n1,")


def test_the_notebook_gives_the_scripts_weights(script_runs, mnist_npz, tmp_path):
    (from_script, _), _ = script_runs[0]
    before = NOTEBOOK.read_bytes()
    notebook, printed = run_here(tmp_path / "nb", NOTEBOOK, "--data", f"{mnist_npz}:../input/mnist.npz")
    assert NOTEBOOK.read_bytes() == before  # the user's file is never written
    assert results.problems(notebook) == [] and notebook["experiment"]["kind"] == "notebook"
    assert notebook["weights_sha256"] == from_script["weights_sha256"]  # same seed, same threads, same code
    assert notebook["test"] == from_script["test"]
    assert (tmp_path / "nb" / "workspace" / "input" / "mnist.npz").is_file()
    assert "Test accuracy:" in printed
    executed = json.loads((tmp_path / "nb" / "notebook.executed.ipynb").read_text())
    assert executed["cells"][0]["metadata"]["tags"] == ["portability"]
    assert {item["path"] for item in notebook["artifacts"]["outputs"]} == {"model.h5", "predictions.csv"}
    assert notebook["config"]["script_sha256"] != from_script["config"]["script_sha256"]
    assert notebook["dataset"]["name"] == from_script["dataset"]["name"] == "mnist.npz"


def test_a_failing_cell_is_a_failed_run_with_the_cells_traceback(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in
                      ("open('first.txt', 'w').write('kept')", "raise ValueError('the cell\\'s mistake')", "print('never')")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    printed = []
    with pytest.raises(script.ScriptError) as raised:
        script.run(script.ScriptSpec(str(path)), tmp_path / "run", log=printed.append)
    first, label, *tail = str(raised.value).splitlines()
    assert first.startswith("broken.ipynb raised ValueError: the cell's mistake in code cell 2: fix the script")
    assert label == "--- broken.ipynb's traceback (last lines) ---" and "ValueError: the cell's mistake" in tail[-1]
    recorded = json.loads((tmp_path / "run" / "results.json").read_text())
    assert recorded["status"] == "failed" and recorded["artifacts"]["outputs"][0]["path"] == "first.txt"
    assert "never" not in printed and (tmp_path / "run" / "notebook.executed.ipynb").is_file()


def test_a_bad_thread_count_is_refused_before_anything_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTABILITY_THREADS", "many")
    with pytest.raises(UsageError, match="PORTABILITY_THREADS='many'"):
        script.run(script.ScriptSpec(str(TRAIN)), tmp_path / "run", **QUIET)
    assert not (tmp_path / "run").exists()


def test_the_identity_holds_the_script_data_and_args(mnist_npz, tmp_path):
    base = script.check(script.ScriptSpec(str(TRAIN), ["1"], [str(mnist_npz)]))
    assert base.config()["data"] == [{"dest": "mnist.npz", "sha256": workspace.sha256_file(mnist_npz)}]
    changed = tmp_path / "train.py"
    changed.write_text(TRAIN.read_text() + "\n# a comment changes the file\n")
    other_data = tmp_path / "other.npz"
    other_data.write_bytes(mnist_npz.read_bytes() + b"\0")
    variants = [script.ScriptSpec(str(TRAIN), ["2"], [str(mnist_npz)]), script.ScriptSpec(str(changed), ["1"], [str(mnist_npz)]),
                script.ScriptSpec(str(TRAIN), ["1"], [f"{other_data}:mnist.npz"]), script.ScriptSpec(str(TRAIN), ["1"], [str(mnist_npz)], seed=1)]
    identities = {base.identity()} | {script.check(spec).identity() for spec in variants}
    assert len(identities) == 5


@pytest.mark.parametrize("spec, message", [
    (dict(script="missing.py"), "missing.py: no such file"),
    (dict(script="data.csv"), "a script is a .py file or a .ipynb notebook"),
    (dict(script=str(TRAIN), data=["nowhere.npz"]), "nowhere.npz does not exist"),
    (dict(script=str(TRAIN), data=["{npz}:../../x.npz"]), "leaves the run's workspace"),
    (dict(script=str(TRAIN), data=["{npz}:/tmp/x.npz"]), "is an absolute path"),
    (dict(script=str(TRAIN), data=["{npz}", "{npz}:mnist.npz"]), "is already the DEST of"),
])
def test_bad_input_is_one_line_and_nothing_runs(spec, message, mnist_npz, tmp_path):
    spec["data"] = [item.format(npz=mnist_npz) for item in spec.get("data", [])]
    with pytest.raises(UsageError) as raised:
        script.run(script.ScriptSpec(**spec), tmp_path / "run", **QUIET)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "run").exists()


def test_a_syntax_error_names_the_line(tmp_path):
    broken = tmp_path / "train.py"
    broken.write_text("import numpy as np\n\ndef run_model(:\n    pass\n")
    with pytest.raises(UsageError, match=r"train.py line 3: invalid syntax in `def run_model\(:`: fix the syntax"):
        script.run(script.ScriptSpec(str(broken)), tmp_path / "run", **QUIET)
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "%matplotlib inline\nx = (1,"}
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(UsageError, match=r"n.ipynb code cell 1 line 2"):  # the magic is fine, the tuple is not
        script.check(script.ScriptSpec(str(notebook)))


def test_a_notebook_that_is_not_json_is_refused(tmp_path):
    notebook = tmp_path / "kaggle.ipynb"
    notebook.write_text("# %%\nprint('a script saved with the wrong name')\n")
    with pytest.raises(UsageError, match=r"kaggle.ipynb is not a notebook: not JSON .*save it from Jupyter"):
        script.run(script.ScriptSpec(str(notebook)), tmp_path / "run", **QUIET)
    notebook.write_text('{"cells": 3}')
    with pytest.raises(UsageError, match="is JSON but not a valid notebook"):
        script.check(script.ScriptSpec(str(notebook)))


TINY = """
import numpy as np
import keras

data = np.load("mnist.npz")
x, y = data["x_train"][:256, ..., None] / 255.0, data["y_train"][:256]
model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""


def run_inline(tmp_path, body, mnist_npz, name="own.py"):
    """A small script run in this process: (results.json, the ScriptError's message or None)."""
    source = tmp_path / name
    source.write_text(TINY + textwrap.dedent(body))
    try:
        script.run(script.ScriptSpec(str(source), data=[str(mnist_npz)]), tmp_path / "run", **QUIET)
        message = None
    except script.ScriptError as error:
        message = str(error)
    return json.loads((tmp_path / "run" / "results.json").read_text()), message


def test_a_script_that_raises_is_a_failed_run_with_its_own_traceback(tmp_path, mnist_npz):
    recorded, message = run_inline(tmp_path, """
        model.fit(x, y, epochs=1, verbose=0)
        open("partial.txt", "w").write("written before the error")
        raise ValueError("the script's own mistake")
    """, mnist_npz)
    first, *tail = message.splitlines()
    assert first.startswith("own.py raised ValueError: the script's own mistake: fix the script")
    assert tail[0] == "--- own.py's traceback (last lines) ---" and 'own.py", line 12, in <module>' in message
    assert "runpy" not in message and "core/script.py" not in message  # the harness's frames left out
    assert recorded["status"] == "failed" and results.problems(recorded) != []  # a record, not a result
    assert len(recorded["history"]) == 1 and recorded["weights_sha256"]  # what it trained is kept
    assert recorded["artifacts"]["outputs"][0]["path"] == "partial.txt"
    assert os.getcwd() != str(tmp_path / "run" / "workspace" / "working")  # the harness put everything back


def test_a_script_that_never_trains_nor_evaluates(tmp_path, mnist_npz):
    recorded, message = run_inline(tmp_path, "print(model.count_params())\n", mnist_npz)
    assert "never trained nor evaluated a Keras model" in message and "model.evaluate(x_test, y_test)" in message
    assert recorded["status"] == "no metric" and recorded["test"]["accuracy"] is None


def test_without_evaluate_the_last_validation_metric_is_labelled(tmp_path, mnist_npz):
    recorded, message = run_inline(tmp_path, "model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)\n", mnist_npz)
    assert message is None and recorded["test"]["metric"] == "val_accuracy"
    assert recorded["test"]["accuracy"] == recorded["history"][-1]["val_accuracy"]
    assert "never called Model.evaluate" in recorded["test"]["source"]
    assert recorded["capture"]["fits"][0]["train_images"] == 192  # 256 minus the validation split
    no_metric, message = run_inline(tmp_path / "b", "model.fit(x, y, epochs=1, verbose=0)\n", mnist_npz) if \
        (tmp_path / "b").mkdir() is None else None
    assert no_metric["status"] == "no metric" and "call model.evaluate(x_test, y_test)" in message


def test_a_custom_loop_records_no_history_and_its_evaluate(tmp_path, mnist_npz):
    recorded, message = run_inline(tmp_path, """
        import tensorflow as tf
        keras.utils.set_random_seed(5)
        optimizer = keras.optimizers.SGD(0.1)
        for step in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y[:64], model(x[:64])))
            optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        model.evaluate(x, y, verbose=0)
    """, mnist_npz)
    assert message is None and recorded["history"] == [] and recorded["history_note"] == script.NO_HISTORY
    assert recorded["test"]["source"] == "the script's last Model.evaluate" and recorded["model"]["params"] == 7850
    assert recorded["seeds"]["script"] == [{"call": "keras.utils.set_random_seed", "value": 5}]
    assert recorded["seeds"]["harness"] == 42


def test_keras_loaders_are_served_from_the_verified_cache_and_the_first_fit_rebuilds(tmp_path, mnist_npz):
    recorded, message = run_inline(tmp_path, """
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        assert x_train.shape == (60000, 28, 28) and x_train.dtype == y_train.dtype == np.uint8
        model.fit(x_train[:128] / 255.0, y_train[:128], batch_size=32, epochs=1, verbose=0)
        model.evaluate(x_test[:100] / 255.0, y_test[:100], verbose=0)
    """, mnist_npz)
    assert message is None and recorded["dataset"]["canonical"] is True and recorded["dataset"]["name"] == "mnist"
    assert recorded["target"] == {"accuracy": 0.98, "source": "the built-in default for mnist",
                                  "verdict": recorded["target"]["verdict"]}
    capture.install(seed=42).finish()
    model, fit_arguments = capture.rebuild(recorded["capture"]["first_fit"])
    assert model.count_params() == recorded["model"]["params"] and fit_arguments == {"batch_size": 32, "epochs": 1, "verbose": 0}
    assert model.get_compile_config()["loss"] == "sparse_categorical_crossentropy"


def test_a_user_model_function_in_the_built_in_experiment(tiny_dataset, tmp_path):
    config = configuration.build_config(overrides=dict(model=f"{MODELS}:build_cnn", epochs=1, batch_size=64))
    assert config.model_sha256 == workspace.sha256_file(MODELS)
    ran = experiment.run(config, tmp_path / "run", dataset=tiny_dataset, verbose=0, **QUIET)
    assert results.problems(ran) == [] and ran["model"]["params"] == 80 + 13_530  # conv 3x3x8+8, dense 13x13x8x10+10
    assert ran["experiment"] == {"kind": "model", "path": str(MODELS), "function": "build_cnn",
                                 "sha256": config.model_sha256, "args": [], "data": []}
    assert "build_cnn" in experiment.make_run_id(config) and ":" not in experiment.make_run_id(config)
    copy = tmp_path / "my_models.py"
    copy.write_text(MODELS.read_text() + "\n# changed\n")
    changed = configuration.build_config(overrides=dict(model=f"{copy}:build_cnn"))
    assert changed.to_dict()["model_sha256"] != config.to_dict()["model_sha256"]
    with pytest.raises(UsageError, match="is not the file this config was made with"):
        configuration.config_from_dict({**changed.to_dict(), "model_sha256": config.model_sha256})


@pytest.mark.parametrize("function, message", [
    ("wrong_signature", r"wrong_signature\(input_shape\) cannot be called as wrong_signature\(input_shape, num_classes\)"),
    ("no_model", "no_model returned list, not a keras.Model"),
])
def test_a_user_model_function_that_does_not_fit_is_a_message(function, message, tiny_dataset, tmp_path):
    config = configuration.build_config(overrides=dict(model=f"{MODELS}:{function}"))
    with pytest.raises(UsageError, match=message):
        experiment.run(config, tmp_path / "run", dataset=tiny_dataset, verbose=0, **QUIET)


@pytest.mark.parametrize("model, message", [
    ("nowhere.py:build", "cannot read nowhere.py"), (f"{MODELS}:missing", "defines no missing: add def missing("),
    (f"{MODELS}:not-a-name", "is not a Python function name"), ("mystery", "or your own as FILE.py:FUNCTION"),
])
def test_a_user_model_that_is_not_there_is_refused_before_training(model, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        configuration.build_config(overrides=dict(model=model))


def test_built_in_configs_keep_their_identity():
    for preset in configuration.PRESETS:
        assert "model_sha256" not in configuration.build_config(preset).to_dict()
    committed = json.loads((ROOT / "platforms" / "local" / "config.json").read_text())
    assert configuration.build_config("mnist-reference").to_dict() == committed


def test_the_command_line_refuses_bad_own_experiment_input_in_one_line(tmp_path, mnist_npz):
    cases = [(["--script", tmp_path / "nope.py"], "no such file: give the path of your .py script"),
             (["--data", mnist_npz], "add --script PATH"),
             (["--script", TRAIN, "--epochs", "3"], "pass its arguments after --"),
             (["--script", TRAIN, "--data", f"{mnist_npz}:../../x.npz"], "leaves"),
             (["--script", TRAIN, "--data", tmp_path / "missing.npz"], "missing.npz")]
    for options, message in cases:
        done = portability("run", *options, env={"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")})
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, (options, done.stderr)
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made
