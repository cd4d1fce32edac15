"""The `portability` command as a user meets it: messages, exit codes, never a traceback."""

import json
import shutil

import pytest

from core import datasets
from tests.conftest import portability


@pytest.mark.parametrize("args, expected", [
    (["run", "--model", "resnet"], "unknown model 'resnet': valid models are reference, 1-layer, 2-layer, 3-layer, vgg, or your own as FILE.py:FUNCTION"),
    (["run", "--preset", "x"], "invalid choice: 'x' (choose from 'mnist-reference'"),
    (["run", "--dataset", "cifar10"], "unknown dataset 'cifar10': use one of mnist, fashion-mnist"),
    (["run", "--epochs", "0"], "nothing to train"),
    (["run", "--optimizer", "adamm", "--max-train-samples", "10"], "unknown optimizer 'adamm': valid optimizers are"),
    (["data", "fetch", "cifar"], "unknown dataset 'cifar': valid ones are mnist, fashion-mnist"),
])
def test_bad_values_exit_2_with_the_valid_choices(args, expected):
    done = portability(*args)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_help_everywhere():
    for args in (["--help"], ["run", "--help"], ["data", "verify", "--help"], ["verify", "--help"]):
        done = portability(*args)
        assert done.returncode == 0 and "usage: portability" in done.stdout


def test_models_and_presets():
    models = portability("models")
    assert models.returncode == 0
    for line in ("reference", "225,034", "173,738", "515,146", "1,421,194", "vgg"):
        assert line in models.stdout
    presets = portability("presets").stdout
    assert "mnist-reference" in presets and "fashion-mnist-vgg" in presets


def test_data_verify_reports_mismatch_and_exits_1(mnist_dir, tmp_path):
    for stem in datasets.CANONICAL["mnist"]:
        shutil.copy(mnist_dir / stem, tmp_path / stem)
    good = portability("data", "verify", "mnist", "--data-dir", tmp_path)
    assert good.returncode == 0 and good.stdout.count("OK ") == 4
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03")
    bad = portability("data", "verify", "mnist", "--data-dir", tmp_path)
    assert bad.returncode == 1
    assert f"MISMATCH  mnist          {tmp_path}/t10k-images-idx3-ubyte" in bad.stdout
    assert "Traceback" not in bad.stderr


def test_corrupt_data_dir_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"junk")
    done = portability("run", "--data-dir", tmp_path, "--quiet")
    assert done.returncode == 1
    assert "train-images-idx3-ubyte: MISMATCH" in done.stderr and "To fix" in done.stderr
    assert "Traceback" not in done.stderr


def test_verify_rejects_a_run_that_differs_from_the_reference(tmp_path):
    reference = json.loads(open("results/reference/mnist-reference.json").read())
    reference["test"]["accuracy"] -= 0.05
    (tmp_path / "results.json").write_text(json.dumps(reference))
    done = portability("verify", tmp_path)
    assert done.returncode == 1 and "FAIL test accuracy" in done.stdout
    assert portability("verify", tmp_path / "nothing").returncode == 1


def test_package_replaces_its_own_bundle_and_refuses_a_folder_with_other_files(tmp_path):
    target = tmp_path / "bundle"
    assert portability("package", "kaggle", "--out", target).returncode == 0
    first = sorted(p.relative_to(target) for p in target.rglob("*"))
    again = portability("package", "kaggle", "--out", target)  # its own files: replaced, no question
    assert again.returncode == 0 and sorted(p.relative_to(target) for p in target.rglob("*")) == first
    (target / "notes.txt").write_text("mine")
    refused = portability("package", "kaggle", "--out", target)
    assert refused.returncode == 2 and "notes.txt" in refused.stderr and "--force" in refused.stderr
    assert (target / "notes.txt").read_text() == "mine" and "Traceback" not in refused.stderr
    forced = portability("package", "kaggle", "--out", target, "--force")
    assert forced.returncode == 0 and not (target / "notes.txt").exists()
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == first
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no scratch folder left beside it
    (tmp_path / "file").write_text("x")
    assert portability("package", "kaggle", "--out", tmp_path / "file").returncode == 2
