"""Every command the README shows, run through the `portability` command as a user types it, with
what it must print or write checked. The platform-specific ones (Kaggle and CodaLab status/pull
outside `push --wait`) are in those platforms' test files."""

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from core import datasets
from tests.conftest import ROOT, portability, synthetic_images

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


@pytest.fixture
def env(tmp_path):
    return {"PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}


def run_folder(done, env):
    assert done.returncode == 0, done.stderr[-3000:]
    folder = done.stdout.split("run folder: ")[1].split()[0]
    return json.loads((__import__("pathlib").Path(folder) / "results.json").read_text())


def test_platforms_says_what_each_needs(tmp_path):
    done = portability("platforms", env={"HOME": str(tmp_path), "KAGGLE_USERNAME": "", "KAGGLE_KEY": "",
                                         "KAGGLE_API_TOKEN": "", "CODALAB_HOME": str(tmp_path / "cl"),
                                         "CODALAB_USERNAME": "", "COMET_API_KEY": "", "OPENML_APIKEY": ""})
    assert done.returncode == 0
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if not line.startswith(" ")}
    assert list(lines) == ["local", "docker", "kaggle", "codalab", "comet", "openml", "beat"]
    assert lines["local"].endswith("ready") and "not ready" in lines["kaggle"] and "not ready" in lines["codalab"]
    assert "offline (set COMET_API_KEY to log online)" in lines["comet"] and "offline (set OPENML_APIKEY" in lines["openml"]
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in done.stdout and "CODALAB_USERNAME and CODALAB_PASSWORD" in done.stdout


def test_package_all_writes_every_bundle(tmp_path):
    done = portability("package", "--all", "--out", tmp_path / "bundles")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir()) == sorted(["local", "docker", "kaggle", "codalab", "comet", "openml", "beat"])
    assert (tmp_path / "bundles" / "codalab" / "code" / "core" / "experiment.py").is_file()
    assert not (tmp_path / "bundles" / "kaggle" / "core").exists()  # Kaggle's bundle is one file
    assert done.stdout.count("bundle in") == 7


def test_docs_are_fresh_and_docs_check_says_so():
    check = portability("docs", "--check")
    assert check.returncode == 0 and check.stdout == ""
    written = portability("docs")  # nothing stale: nothing rewritten
    assert written.returncode == 0 and written.stdout == ""


def test_data_fetch_finds_and_verifies_both_data_sets(mnist_dir):
    done = portability("data", "fetch")
    assert done.returncode == 0, done.stderr
    assert f"mnist: OK in {mnist_dir}" in done.stdout and "fashion-mnist: OK in" in done.stdout


def test_every_training_option_reaches_the_run(tiny_npz, env):
    results = run_folder(portability(
        "run", "--dataset", tiny_npz, "--model", "2-layer", "--epochs", "1", "--optimizer", "sgd", "--learning-rate",
        "0.05", "--batch-size", "32", "--seed", "7", "--validation-split", "0.25", "--fine-tune-epochs", "1",
        "--augmentation-epochs", "1", "--target-accuracy", "0.2", env=env), env)
    config = results["config"]
    assert (config["model"], config["optimizer"], config["learning_rate"], config["seed"]) == ("2-layer", "sgd", 0.05, 7)
    assert [row["phase"] for row in results["history"]] == ["train", "fine-tune", "augmented"]
    assert results["history"][1]["learning_rate"] == pytest.approx(0.005)  # fine-tuning at a tenth
    assert "val_accuracy" in results["history"][0]  # the validation split was used
    assert results["model"]["params"] == 515_146  # the 2-layer model on 28x28x1, 10 classes


def test_run_from_a_config_file_with_an_override(tiny_npz, env, tmp_path):
    (tmp_path / "experiment.yaml").write_text(f"dataset: {tiny_npz}\nmodel: 1-layer\nepochs: 1\nbatch_size: 64\n"
                                              "target_accuracy: 0.5\nseed: 5\n")
    results = run_folder(portability("run", "--config", tmp_path / "experiment.yaml", "--seed", "6", env=env), env)
    assert results["config"]["seed"] == 6 and results["config"]["batch_size"] == 64


def test_user_csv_idx_and_image_folder_through_the_cli(env, tmp_path):
    x, y = synthetic_images(200, seed=1)
    header = "label," + ",".join(f"p{i}" for i in range(28 * 28))
    (tmp_path / "digits.csv").write_text(header + "\n" + "\n".join(
        f"{label}," + ",".join(map(str, image.ravel())) for image, label in zip(x, y)) + "\n")
    csv = run_folder(portability("run", "--dataset", tmp_path / "digits.csv", "--test-split", "0.3", *TINY, env=env), env)
    assert csv["dataset"]["test_samples"] == 60 and "30% hold-out" in csv["dataset"]["source"]
    idx = tmp_path / "idx"
    idx.mkdir()
    for split, (images, labels) in (("train", synthetic_images(200, seed=3)), ("t10k", synthetic_images(50, seed=4))):
        datasets.write_idx(idx / f"{split}-images-idx3-ubyte", images[..., 0])
        datasets.write_idx(idx / f"{split}-labels-idx1-ubyte", labels.astype(np.uint8))
    from_idx = run_folder(portability("run", "--dataset", idx, *TINY, env=env), env)
    assert from_idx["dataset"]["test_samples"] == 50 and from_idx["dataset"]["train_samples"] == 200
    for index, (image, label) in enumerate(zip(*synthetic_images(90, num_classes=3, shape=(16, 16, 1), seed=5))):
        (tmp_path / "images" / f"class-{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0]).save(tmp_path / "images" / f"class-{label}" / f"{index}.png")
    images = run_folder(portability("run", "--dataset", tmp_path / "images", *TINY, env=env), env)
    assert images["dataset"]["num_classes"] == 3 and images["dataset"]["class_names"] == ["class-0", "class-1", "class-2"]


def test_fashion_mnist_trains(env):
    results = run_folder(portability("run", "--dataset", "fashion-mnist", "--model", "1-layer", "--max-train-samples",
                                      "6000", "--target-accuracy", "0.7", env=env), env)
    assert results["dataset"]["name"] == "fashion-mnist" and results["dataset"]["canonical"]
    assert 0.7 <= results["test"]["accuracy"] < 0.95 and results["target"]["verdict"] == "pass"


def test_verify_with_a_reference_and_a_tolerance(tiny_npz, env, tmp_path):
    results = run_folder(portability("run", "--dataset", tiny_npz, *TINY, env=env), env)
    reference = dict(results, test=dict(results["test"], accuracy=results["test"]["accuracy"] - 0.03))
    (tmp_path / "reference.json").write_text(json.dumps(reference))
    folder = __import__("pathlib").Path(env["PORTABILITY_RUNS_DIR"]) / "local" / results["run_id"]
    strict = portability("verify", folder, "--reference", tmp_path / "reference.json", "--tolerance", "0.01")
    assert strict.returncode == 1 and "FAIL test accuracy" in strict.stdout and "difference +0.0300" in strict.stdout
    loose = portability("verify", folder, "--reference", tmp_path / "reference.json", "--tolerance", "0.05")
    assert loose.returncode == 0 and "OK   test accuracy" in loose.stdout


def test_emulate_twice_and_with_force(tiny_npz, env):
    first = portability("emulate", "docker", "--dataset", tiny_npz, *TINY, env=env)
    assert first.returncode == 0, first.stderr
    again = portability("emulate", "docker", "--dataset", tiny_npz, *TINY, env=env)
    assert again.returncode == 0 and "already pushed" in again.stderr
    forced = portability("emulate", "docker", "--force", "--dataset", tiny_npz, *TINY, env=env)
    assert forced.returncode == 0 and "[emulated on docker]" in forced.stdout
    assert len(list((__import__("pathlib").Path(env["PORTABILITY_RUNS_DIR"]) / "docker").iterdir())) == 2


def test_pull_all_and_status_list_every_run(tiny_npz, env):
    assert portability("run", "--dataset", tiny_npz, *TINY, "--quiet", env=env).returncode == 0
    assert portability("emulate", "codalab", "--dataset", tiny_npz, *TINY, env=env).returncode == 0
    status = portability("status", env=env)
    assert "local/" in status.stdout and "codalab/" in status.stdout
    pulled = portability("pull", "--all", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.count("[executed]") == 1 and pulled.stdout.count("[emulated]") == 1


def test_diff_codalab_shows_its_shim():
    done = portability("diff", "codalab")  # grouped by what each change is for
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    headers = [line for line in lines if line.startswith("== ")]
    assert [header.split(":")[0] for header in headers] == ["== data access", "== result upload", "== environment/setup",
                                                             "== manifest files"]
    assert headers[1].startswith("== result upload: 11 changed lines in output_folder, run_details, export_results (")
    block = lines.index("+def export_results(out_dir):")
    assert lines[max(i for i in range(block) if lines[i].startswith("@@ "))].startswith("@@ shim.py, lines ")
    assert "+++ " not in done.stdout and "unchanged: experiment.py (" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("changed lines: data access 12, result upload")  # script_inputs and dependency_key: where CodaLab puts a script's data
    unified = portability("diff", "codalab", "--unified")
    assert unified.returncode == 0
    assert "+++ platforms/codalab/shim.py" in unified.stdout and "+def export_results(out_dir):" in unified.stdout
    assert unified.stdout.strip().splitlines()[-1] == done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_make_bench_sweep_prints_the_three_ways_and_where_the_core_seconds_went(mnist_dir):
    """`make bench-sweep` on 2 cells of 2,000 images (a quick check of the benchmark, not a measurement):
    the three throughputs, the training efficiency, and under each the core-seconds by phase, which add
    up to wall x cores; the warm workers give each seed the fresh processes' weights."""
    done = subprocess.run(["make", "bench-sweep", "BENCH_ARGS=--cells 2 --train-images 2000"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = [line for line in lines if "cells/hour" in line]
    assert len(rows) == 3 and rows[0].startswith("one after another (default threads) ")
    assert "thread(s), fresh processes " in rows[1] and "thread(s), warm workers " in rows[2] and " 1.00x " in rows[0]
    for row, below in ((row, lines[lines.index(row) + 1]) for row in rows):
        wall = float(row.split(" s ")[0].split()[-1])
        efficiency = int(row.split("training efficiency")[1].strip().rstrip("%"))
        total, parts = below.split(" core-seconds: ")
        total = float(total.split()[-1])
        seconds = {part.rsplit(" ", 2)[0]: float(part.rsplit(" ", 2)[1]) for part in parts.split(", ")}
        assert list(seconds) == ["training", "imports", "data", "evaluation", "saving", "model and record",
                                 "outside the runs", "idle"]
        assert abs(total - wall * os.cpu_count()) < 0.1 * os.cpu_count() and abs(sum(seconds.values()) - total) < 0.5
        assert seconds["training"] > 0 and seconds["imports"] > 0 and abs(100 * seconds["training"] / total - efficiency) <= 1
    assert "warm workers give each seed the fresh processes' weights: yes" in done.stdout


def test_make_bench_prints_the_figures(mnist_dir):
    done = subprocess.run(["make", "bench", "BENCH_ARGS=--repeat 1"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio harness/plain (median of pairs): wall" in done.stdout and "CPU seconds per phase" in done.stdout
    phases = {line.split()[0]: [float(v) for v in line.split()[-6:]] for line in done.stdout.splitlines()
              if line.startswith(("  portability run ", "  plain Keras script ")) and "wall" not in line}
    assert len(phases) == 2 and all(values[2] > 5 for values in phases.values())  # training: most of the CPU
    assert phases["portability"][4] > 0 and phases["plain"][4] == 0  # only the harness saves and checks models
    assert "float32 matmul peak" in done.stdout and "training FLOPs per image: 15,786,240" in done.stdout
    accuracies = [float(line.split("test accuracy")[1]) for line in done.stdout.splitlines() if "  test accuracy" in line]
    assert len(accuracies) == 2 and all(a >= 0.98 for a in accuracies)
