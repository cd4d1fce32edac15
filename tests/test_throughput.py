"""Speed as a result: FLOPs counted per layer, the throughput section of results.json, the GPU's
name, the lean Keras import (same weights, fewer modules). `make bench` runs in test_readme_commands."""

import json
import os
import subprocess
import sys
import types

from core import config as configuration, experiment, models, throughput
from tests.conftest import ROOT, portability

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5", "--quiet"]


def test_flops_of_the_reference_cnn_are_counted_layer_by_layer():
    model = models.build("reference", (28, 28, 1), 10)
    conv1 = 2 * 26 * 26 * 32 * 3 * 3 * 1  # 3x3 'valid' on 28x28, 1 channel in, 32 out
    conv2 = 2 * 11 * 11 * 64 * 3 * 3 * 32  # after 2x2 pooling: 13x13 -> 11x11, 32 in, 64 out
    dense = 2 * (5 * 5 * 64) * 128 + 2 * 128 * 10
    assert throughput.forward_flops(model) == conv1 + conv2 + dense == 5_262_080


def test_results_record_the_training_throughput(tiny_dataset, tmp_path):
    config = configuration.build_config(overrides=dict(model="1-layer", epochs=2, fine_tune_epochs=1, batch_size=64, seed=7,
                                                  validation_split=0.25))
    results = experiment.run(config, tmp_path, dataset=tiny_dataset, verbose=0, log=lambda m: None)
    speed = results["throughput"]
    per_image = throughput.forward_flops(models.build("1-layer", (28, 28, 1), 10))
    assert speed["forward_flops_per_image"] == per_image and speed["training_flops_per_image"] == 3 * per_image
    assert list(speed["phases"]) == ["train", "fine-tune"]
    for name, phase in speed["phases"].items():
        rows = [row for row in results["history"] if row["phase"] == name]
        assert phase["epochs"] == len(rows) and phase["images"] == len(rows) * 384  # 128 held out for validation
        assert all(0 < row["validation_seconds"] < row["seconds"] for row in rows)
        assert phase["seconds"] == round(sum(row["seconds"] - row["validation_seconds"] for row in rows), 3)
        assert phase["images_per_second"] == round(phase["images"] / phase["seconds"], 1)
        assert phase["gflops_per_second"] == round(phase["images_per_second"] * 3 * per_image / 1e9, 2)
    assert speed["device"] == "CPU" and speed["cpu_cores"] == os.cpu_count()
    assert speed["deterministic_ops"] is True and speed["steps_per_execution"] == experiment.STEPS_PER_EXECUTION


class FakeTensorFlow:
    """What throughput.describe reads of TensorFlow, with one GPU."""

    def __init__(self, details):
        gpu = types.SimpleNamespace(name="/physical_device:GPU:0", device_type="GPU")
        threading = types.SimpleNamespace(get_intra_op_parallelism_threads=lambda: 0,
                                          get_inter_op_parallelism_threads=lambda: 2)
        experimental = types.SimpleNamespace(get_device_details=lambda device: details)
        self.config = types.SimpleNamespace(list_physical_devices=lambda kind: [gpu] if kind == "GPU" else [],
                                            threading=threading, experimental=experimental)


def test_a_gpu_is_named_by_its_model_in_the_results():
    tf = FakeTensorFlow({"device_name": "NVIDIA T4", "compute_capability": (7, 5)})
    assert throughput.gpu_names(tf) == ["NVIDIA T4, compute 7.5 (/physical_device:GPU:0)"]
    speed = throughput.describe(models.build("1-layer", (28, 28, 1), 10), [], 0, tf)
    assert speed["device"] == "GPU (NVIDIA T4, compute 7.5 (/physical_device:GPU:0))"
    assert speed["intra_op_threads"] == "default" and speed["inter_op_threads"] == 2
    assert throughput.gpu_names(FakeTensorFlow({})) == ["unknown model (/physical_device:GPU:0)"]


LEAN = """
import json, sys
from core import keras_import
keras, tf = keras_import.import_keras()
loaded = sorted(name for name in keras_import.OPTIONAL if name in sys.modules)
import pandas, sklearn  # still importable afterwards, for any other code
print(json.dumps({"loaded": loaded, "left_out": keras_import.LEFT_OUT, "pandas": pandas.__name__}))
"""


def test_keras_is_imported_without_its_optional_integrations_and_trains_the_same(tiny_npz, tmp_path):
    done = subprocess.run([sys.executable, "-c", LEAN], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PORTABILITY_FULL_IMPORT": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    lean = json.loads(done.stdout.splitlines()[-1])
    assert lean["loaded"] == [] and set(lean["left_out"]) == {"pandas", "pyarrow", "matplotlib", "sklearn", "scipy"}
    results = {}
    for mode, value in (("lean", ""), ("full", "1")):
        out = tmp_path / mode
        ran = portability("run", "--dataset", tiny_npz, *TINY, "--out", out, env={"PORTABILITY_FULL_IMPORT": value})
        assert ran.returncode == 0, ran.stderr[-2000:]
        results[mode] = json.loads((out / "results.json").read_text())
    assert results["lean"]["weights_sha256"] == results["full"]["weights_sha256"]
    assert "pandas" in results["lean"]["throughput"]["keras_imported_without"]
    assert results["full"]["throughput"]["keras_imported_without"] == []
    assert {r["throughput"]["tf_data_autotuning"].split()[0] for r in results.values()} == {"off"}
    assert {r["throughput"]["thread_spinning"].split()[0] for r in results.values()} == {"off"}

