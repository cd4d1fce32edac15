"""Short real Keras trainings on synthetic data: results file, determinism, saved models."""

import json

import keras
import numpy as np
import pytest

from core import config, experiment, results
from core.errors import UsageError


def short_config(**changes):
    values = dict(model="1-layer", epochs=2, batch_size=64, seed=7, validation_split=0.25)
    values.update(changes)
    return config.build_config(overrides=values)


def test_run_writes_a_complete_results_file(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = experiment.run(short_config(), out, dataset=tiny_dataset, verbose=0, log=lambda m: None)
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert results.problems(on_disk) == []
    assert [row["epoch"] for row in on_disk["history"]] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(on_disk["history"][0])
    assert on_disk["dataset"]["train_samples"] == 512 and on_disk["model"]["params"] > 0
    assert set(on_disk["timings"]) >= {"data", "training", "evaluation", "saving", "total"}
    assert set(on_disk["cpu_seconds"]) >= {"import", "data", "training", "evaluation", "saving", "process"}
    assert 0 < on_disk["cpu_seconds"]["training"] <= on_disk["cpu_seconds"]["process"]
    assert on_disk["environment"]["tensorflow"] and on_disk["environment"]["cpu_cores"] >= 1
    assert on_disk["test"]["accuracy"] > 0.5  # the synthetic classes are easy
    assert json.loads((out / "config.json").read_text())["model"] == "1-layer"
    assert not list(out.glob(".*partial*")) and not list(out.glob("partial-*"))


def test_scaling_in_place_is_bit_identical_to_dividing_a_copy():
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28, 1), dtype=np.uint8)
    images[0, 0, 0, 0], images[0, 0, 1, 0] = 0, 255
    scaled = experiment.scaled(images)
    assert scaled.dtype == np.float32 and scaled.shape == images.shape and scaled.ctypes.data % 64 == 0
    assert np.array_equal(scaled, images.astype("float32") / 255)
    assert scaled.max() == 1.0 and scaled.min() == 0.0 and images.dtype == np.uint8  # the source untouched


@pytest.mark.parametrize("split", [0.25, 0.0])
def test_images_reach_keras_as_tensors_on_the_scaled_arrays_memory_with_the_same_weights(tiny_dataset, tmp_path,
                                                                                         monkeypatch, split):
    """Keras copies a NumPy array into TensorFlow at every fit and evaluate; a tensor on the scaled array's
    own memory (as_tensor: 64-byte aligned, shared through DLPack) it uses as it is. The same weights,
    history and test scores as with NumPy inputs, with a validation split cut from the images and without."""
    pixels = experiment.scaled(np.random.default_rng(0).integers(0, 256, (50, 28, 28, 1), dtype=np.uint8))
    assert pixels.ctypes.data % experiment.ALIGNMENT == 0
    tensor = experiment.as_tensor(pixels)
    assert type(tensor).__name__ == "EagerTensor" and np.asarray(tensor).ctypes.data == pixels.ctypes.data  # no copy

    def outcome(name):
        results = experiment.run(short_config(validation_split=split), tmp_path / name, dataset=tiny_dataset,
                                 verbose=0, log=lambda m: None)
        history = [{key: value for key, value in row.items() if "seconds" not in key} for row in results["history"]]
        return results["weights_sha256"], history, results["test"]

    via_tensors = outcome("tensors")
    monkeypatch.setattr(experiment, "as_tensor", lambda pixels: pixels)
    assert outcome("arrays") == via_tensors


def test_same_config_gives_bit_identical_weights(tiny_dataset, tmp_path):
    hashes = [experiment.run(short_config(), tmp_path / f"run{i}", dataset=tiny_dataset, verbose=0,
                             log=lambda m: None)["weights_sha256"] for i in range(2)]
    other = experiment.run(short_config(seed=8), tmp_path / "other", dataset=tiny_dataset, verbose=0,
                           log=lambda m: None)["weights_sha256"]
    assert hashes[0] == hashes[1]
    assert other != hashes[0]


def test_the_step_log_records_every_chunk_and_leaves_the_weights_alone(tiny_dataset, tmp_path, monkeypatch):
    """384 training images in batches of 8: 48 steps an epoch, called back after steps 32 and 48 (a
    short last chunk), twice. The same run without the step log's callback trains the same weights."""
    cfg = short_config(batch_size=8)
    logged = experiment.run(cfg, tmp_path / "logged", dataset=tiny_dataset, verbose=0, log=lambda m: None)
    steps = logged["history_steps"]
    assert [(r["step"], r["epoch"], r["epoch_fraction"]) for r in steps] == [
        (32, 1, round(32 / 48, 6)), (48, 1, 1.0), (80, 2, round(32 / 48, 6)), (96, 2, 1.0)]
    for row, epoch in ((steps[1], logged["history"][0]), (steps[3], logged["history"][1])):  # an epoch's last chunk
        assert row["accuracy"] == round(epoch["accuracy"], 6) and row["loss"] == round(epoch["loss"], 6)

    class Silent:  # what training was before the step log: no callback after the chunks
        def __init__(self, keras, epochs):
            self.rows, self.callback = [], keras.callbacks.Callback()

    monkeypatch.setattr(experiment, "StepLog", Silent)
    plain = experiment.run(cfg, tmp_path / "plain", dataset=tiny_dataset, verbose=0, log=lambda m: None)
    assert plain["history_steps"] == [] and plain["weights_sha256"] == logged["weights_sha256"]
    assert plain["test"] == logged["test"]


def test_h5_and_keras_reload_to_identical_predictions(tiny_dataset, tmp_path):
    result = experiment.run(short_config(model="reference", epochs=1), tmp_path, dataset=tiny_dataset,
                            verbose=0, log=lambda m: None)
    assert result["artifacts"]["h5"]["reload_identical"] and result["artifacts"]["keras"]["reload_identical"]
    x = tiny_dataset.x_test[:64].astype("float32") / 255
    h5 = keras.models.load_model(tmp_path / "model.h5", compile=False).predict(x, verbose=0)
    native = keras.models.load_model(tmp_path / "model.keras", compile=False).predict(x, verbose=0)
    assert np.array_equal(h5, native)


def test_schedule_fine_tune_and_augmentation(tiny_dataset, tmp_path):
    cfg = short_config(model="vgg", epochs=1, fine_tune_epochs=1, augmentation_epochs=1, learning_rate=0.01)
    result = experiment.run(cfg, tmp_path, dataset=tiny_dataset, verbose=0, log=lambda m: None)
    assert [row["phase"] for row in result["history"]] == ["train", "fine-tune", "augmented"]
    assert [round(row["learning_rate"], 6) for row in result["history"]] == [0.01, 0.001, 0.001]


def test_a_failed_save_keeps_the_results(tiny_dataset, tmp_path, monkeypatch):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(experiment, "save_models", broken)
    result = experiment.run(short_config(epochs=1), tmp_path, dataset=tiny_dataset, verbose=0, log=lambda m: None)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["artifacts"] == {"status": "failed", "error": "OSError: disk full"}
    assert on_disk["test"]["accuracy"] == result["test"]["accuracy"]


def test_unknown_optimizer_lists_the_valid_ones(tiny_dataset, tmp_path):
    with pytest.raises(UsageError, match=r"unknown optimizer 'adamm': valid optimizers are .*adam.*rmsprop"):
        experiment.run(short_config(optimizer="adamm"), tmp_path, dataset=tiny_dataset, verbose=0)


def test_user_csv_runs_end_to_end(tmp_path):
    from tests.conftest import synthetic_images
    from tests.test_userdata import write_csv

    x, y = synthetic_images(200, num_classes=3, shape=(12, 12, 3), seed=4)
    write_csv(tmp_path / "mine_train.csv", x[:160], y[:160])
    write_csv(tmp_path / "mine_test.csv", x[160:], y[160:])
    cfg = config.build_config(overrides=dict(dataset=str(tmp_path / "mine_train.csv"), model="2-layer", epochs=1))
    result = experiment.run(cfg, tmp_path / "run", verbose=0, log=lambda m: None)
    assert result["dataset"]["input_shape"] == [12, 12, 3] and result["dataset"]["num_classes"] == 3
    assert result["model"]["params"] == keras.models.load_model(tmp_path / "run" / "model.keras", compile=False).count_params()
