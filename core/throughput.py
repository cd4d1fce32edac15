"""How fast a run trained: images per second per phase, the model's FLOPs per image, the achieved
GFLOP/s, and the cores, threads and device it used. Counted from the model's layers, not measured
with a profiler, so the figure means the same on every platform."""

import os

from core import keras_import

TRAINING_FACTOR = 3  # a training step costs about three forward passes (forward, and two for backward)


def forward_flops(model):
    """Multiply-adds counted as 2 FLOPs, for the layers that dominate: convolutions and dense layers."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, height, width, channels_out = layer.output.shape
            kernel_h, kernel_w = layer.kernel_size
            total += 2 * height * width * channels_out * kernel_h * kernel_w * layer.input.shape[-1]
        elif kind == "Dense":
            total += 2 * layer.input.shape[-1] * layer.units
        elif hasattr(layer, "layers"):  # a nested model (e.g. the augmentation block has no weights)
            total += forward_flops(layer)
    return int(total)


def describe(model, history, train_images, tf, gpus=None):
    """The `throughput` section of results.json; `gpus`: gpu_names(tf), if the caller has them."""
    per_image = forward_flops(model)
    phases = {}
    for row in history:
        phase = phases.setdefault(row["phase"], {"epochs": 0, "images": 0, "seconds": 0.0})
        phase["epochs"] += 1
        phase["images"] += train_images
        phase["seconds"] += row["seconds"] - row.get("validation_seconds", 0.0)  # training only
    for phase in phases.values():
        phase["seconds"] = round(phase["seconds"], 3)
        phase["images_per_second"] = round(phase["images"] / phase["seconds"], 1) if phase["seconds"] else None
        phase["gflops_per_second"] = (round(phase["images_per_second"] * per_image * TRAINING_FACTOR / 1e9, 2)
                                      if phase["images_per_second"] else None)
    gpus = gpu_names(tf) if gpus is None else gpus
    return {
        "forward_flops_per_image": per_image,
        "training_flops_per_image": per_image * TRAINING_FACTOR,
        "phases": phases,
        "device": f"GPU ({', '.join(gpus)})" if gpus else "CPU",
        "cpu_cores": os.cpu_count(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "default",
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "default",
        "deterministic_ops": True,
        "keras_imported_without": keras_import.LEFT_OUT,
        "tf_data_autotuning": keras_import.AUTOTUNING,
        "thread_spinning": keras_import.SPINNING,
        "note": "epoch wall time without the validation pass; FLOPs counted from the convolution and dense layers",
    }


def gpu_names(tf):
    """Each GPU TensorFlow trains on, by model (`NVIDIA A100-SXM4-40GB, compute 8.0 (/physical_device:GPU:0)`)."""
    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (ValueError, RuntimeError):
            details = {}
        model = details.get("device_name") or "unknown model"
        capability = details.get("compute_capability")
        compute = f", compute {capability[0]}.{capability[1]}" if capability else ""
        names.append(f"{model}{compute} ({gpu.name})")
    return names
