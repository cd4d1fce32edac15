"""What a run ran on: Python, packages, OS, CPU, memory, GPU. Imports no TensorFlow itself."""

import importlib.metadata
import os
import platform
import sys

PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "h5py")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        return round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return None


def _package_versions():
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def describe(platform_name, gpus=(), tensorflow_version=None, keras_version=None):
    """A JSON-ready description of this process's environment."""
    return {
        "platform": platform_name,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpus": list(gpus),
        "tensorflow": tensorflow_version,
        "keras": keras_version,
        "numpy": _package_versions().get("numpy"),
        "packages": _package_versions(),
        "in_container": os.path.exists("/.dockerenv"),
    }
