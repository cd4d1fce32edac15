"""Every input is validated: a bad value is a clear message and exit code 2 (1 for data), never a
traceback and never a silently wrong run. Property-based: for any input, the config parser and the
user-data loaders give a valid result or a UserError, never another exception."""

import json

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from core import config as configuration, userdata
from core.errors import DataError, UsageError, UserError
from tests.conftest import portability, synthetic_images

BAD_OPTIONS = [
    (["run", "--learning-rate", "nan"], "learning_rate=nan is not a finite number"),
    (["run", "--learning-rate", "inf"], "learning_rate=inf is not a finite number"),
    (["run", "--learning-rate", "-0.1"], "learning_rate must be > 0"),
    (["run", "--max-train-samples", "0"], "max_train_samples must be >= 1"),
    (["run", "--max-train-samples", "-5"], "max_train_samples must be >= 1"),
    (["run", "--target-accuracy", "1.5"], "target_accuracy is a fraction in (0, 1]"),
    (["run", "--target-accuracy", "98"], "target_accuracy is a fraction in (0, 1]"),
    (["run", "--seed", "-1"], "seed must be in 0..4294967295"),
    (["run", "--seed", "99999999999"], "seed must be in 0..4294967295"),
    (["run", "--batch-size", "0"], "batch_size must be >= 1"),
    (["run", "--validation-split", "1"], "validation_split must be in [0, 1)"),
    (["run", "--epochs", "-1"], "epochs must be >= 0"),
    (["run", "--optimizer", "ad am"], "optimizer must be a Keras optimizer name"),
    (["run", "--epoch", "1"], "unrecognized arguments: --epoch 1"),  # no abbreviated flags
    (["run", "--lear", "0.1"], "unrecognized arguments: --lear"),
    (["push", "local", "--dry", "--seed", "1"], "unrecognized arguments: --dry"),
    (["verify", "x", "--tolerance", "-0.01"], "-0.01 is negative: the tolerance is an allowed difference of test accuracy from 0 to 1"),
    (["verify", "x", "--tolerance", "abc"], "'abc' is not a number"),
    (["package", "kaggle", "--all"], "name a platform"),
    (["package"], "name a platform"),
]


@pytest.mark.parametrize("args, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_options_are_a_message_and_exit_2(args, message, tmp_path):
    done = portability(*args, env={"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.mark.parametrize("values, message", [
    ({"epochs": True}, "epochs=True is not a valid int"),  # a JSON boolean is not a number
    ({"learning_rate": False}, "learning_rate=False is not a valid float"),
    ({"batch_size": [64]}, "batch_size=[64] is not a valid int"),
    ({"model": 3}, "model=3 is not a valid str"),
    ({"seed": 1.5}, "seed=1.5 is not a whole number"),
    ({"epochs": "many"}, "epochs='many' is not a valid int"),
    ({"learning_rate": 1e400}, "is not a finite number"),
    ({"dataset": "x" * 5000}, "unknown dataset"),  # a name no file system holds
])
def test_config_file_values_are_checked(values, message, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values).replace("Infinity", "1e400"))
    with pytest.raises(UsageError) as error:
        configuration.build_config(config_file=path)
    assert message in str(error.value)


def test_a_config_file_preset_that_contradicts_the_option(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: mnist-rmsprop\nepochs: 2\n")
    with pytest.raises(UsageError, match="names preset 'mnist-rmsprop' but --preset is 'mnist-reference'"):
        configuration.build_config("mnist-reference", path)
    assert configuration.build_config("mnist-rmsprop", path).epochs == 2  # the same preset twice is fine
    done = portability("run", "--preset", "mnist-reference", "--config", path)
    assert done.returncode == 2 and "drop one of them" in done.stderr


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=30), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.dictionaries(st.sampled_from(sorted(configuration.FIELDS) + ["bogus"]), VALUES, max_size=6))
def test_config_parser_gives_a_config_or_a_usage_error(values):
    try:
        config = configuration.build_config(overrides=values)
    except UsageError as error:
        assert str(error)
        return
    assert config.learning_rate > 0 and config.batch_size >= 1 and 0 <= config.seed < 2**32
    assert config.epochs + config.fine_tune_epochs + config.augmentation_epochs > 0
    assert config.target_accuracy is None or 0 < config.target_accuracy <= 1
    assert json.loads(json.dumps(config.to_dict(), allow_nan=False)) == config.to_dict()  # strict JSON


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.binary(max_size=300))
def test_config_files_of_any_bytes(tmp_path_factory, content):
    for suffix in (".json", ".yaml"):
        path = tmp_path_factory.mktemp("cfg") / f"c{suffix}"
        path.write_bytes(content)
        try:
            configuration.build_config(config_file=path)
        except UsageError:
            pass


def filled(shape, dtype, fill):
    with np.errstate(invalid="ignore"):  # NaN as an integer is part of what the loader must survive
        return np.full(shape, fill).astype(dtype, casting="unsafe")


ARRAYS = st.one_of(
    st.builds(filled,
              st.sampled_from([(4, 6, 6), (4, 6, 6, 1), (4,), (4, 10), (0, 6, 6), (4, 6, 6, 3), (2, 3)]),
              st.sampled_from(["uint8", "int64", "float32", "float64", "uint16", "bool"]),
              st.sampled_from([0, 1, 3, 255, 300, -1, 0.5, float("nan"), float("inf"), 999])),
    st.builds(lambda n: np.array(["a"] * n), st.integers(0, 4)))


@hypothesis.settings(max_examples=300, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(st.fixed_dictionaries({"x_train": ARRAYS, "y_train": ARRAYS, "x_test": ARRAYS, "y_test": ARRAYS}))
def test_npz_loader_gives_a_dataset_or_a_data_error(tmp_path, arrays):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    try:
        dataset = userdata.load(path)
    except UserError as error:
        assert str(error).startswith(str(path))
        return
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.ndim == 4
    assert len(dataset.x_train) == len(dataset.y_train) and len(dataset.x_test) == len(dataset.y_test)
    assert set(np.unique(dataset.y_train)) == set(range(dataset.num_classes))


@hypothesis.settings(max_examples=300, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(st.lists(st.lists(st.sampled_from(["0", "1", "2", "255", "256", "-1", "nan", "x", "1.5", "", "label", "\xff"]),
                                    min_size=1, max_size=6), min_size=1, max_size=8))
def test_csv_loader_gives_a_dataset_or_a_data_error(tmp_path, rows):
    path = tmp_path / "data.csv"
    path.write_bytes("\n".join(",".join(row) for row in rows).encode("latin-1"))
    try:
        dataset = userdata.load(path, test_split=0.5)
    except UserError as error:
        assert str(error).startswith(str(path))
        return
    assert dataset.x_train.dtype == np.uint8 and int(dataset.x_train.max(initial=0)) <= 255


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(x_train=a["x_train"].astype("float32") * np.nan), "holds NaN or infinite pixel values"),
    (lambda a: a.update(x_train=a["x_train"].astype("int64") + 200), "pixel values run from"),  # would wrap as uint8
    (lambda a: a.update(x_train=-a["x_train"].astype("int64")), "they must lie in 0..255"),
    (lambda a: a["y_train"].__setitem__(0, 999), "the largest label is 999"),
    (lambda a: a.update(y_train=np.eye(10)[a["y_train"]]), "look one-hot"),
    (lambda a: a.update(y_train=a["y_train"][:-5]), "300 train images but 295 train labels"),
    (lambda a: a.update(y_test=a["y_test"].astype("float64") + 0.5), "whole numbers"),
    (lambda a: a.update(x_test=a["x_test"][:, :20, :20]), "train images are (28, 28, 1) but test images are (20, 20, 1)"),
])
def test_bad_npz_contents_are_named(change, message, tmp_path):
    x_train, y_train = synthetic_images(300, seed=1)
    x_test, y_test = synthetic_images(100, seed=2)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as error:
        userdata.load(tmp_path / "bad.npz")
    assert message in str(error.value) and str(tmp_path / "bad.npz") in str(error.value)


def test_other_bad_files_are_named(tmp_path):
    (tmp_path / "fake.npz").write_text("this is not a zip archive")
    with pytest.raises(DataError, match="fake.npz: not a readable .npz file"):
        userdata.load(tmp_path / "fake.npz")
    (tmp_path / "latin.csv").write_bytes("label,p1\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv: not UTF-8 text"):
        userdata.load(tmp_path / "latin.csv")
    from PIL import Image

    for name, mode in (("a/1.png", "L"), ("a/2.png", "RGB"), ("b/1.png", "L"), ("b/2.png", "L")):
        (tmp_path / "mixed" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new(mode, (12, 12)).save(tmp_path / "mixed" / name)
    with pytest.raises(DataError, match="grayscale and color images are mixed; convert them all"):
        userdata.load(tmp_path / "mixed")


def test_images_too_small_for_the_model_name_the_models_that_fit(tmp_path):
    x, y = synthetic_images(60, shape=(6, 6, 1), seed=1)
    np.savez(tmp_path / "small.npz", x_train=x, y_train=y, x_test=x[:20], y_test=y[:20])
    done = portability("run", "--dataset", tmp_path / "small.npz", "--model", "reference", "--quiet",
                       env={"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "6x6 images are too small for the reference model (it needs 10x10 or more); models that fit: 1-layer, vgg" in done.stderr
