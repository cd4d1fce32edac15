"""The results file: a versioned schema, atomic writes and a check of a file's shape. No TensorFlow."""

import json
import math
import os
import pathlib
import tempfile

from core import redact

SCHEMA_VERSION = 1
OBTAINED = ("executed", "emulated", "packaged")
REQUIRED = {
    "schema_version": int,
    "run_id": str,
    "platform": dict,
    "config": dict,
    "dataset": dict,
    "model": dict,
    "history": list,
    "test": dict,
    "target": dict,
    "timings": dict,
    "environment": dict,
    "weights_sha256": str,
}


def write_json(path, data):
    """Write strict JSON atomically: a crash leaves the old file or the new one, never half of one, and
    two writers never share a partial file. NaN and infinities become null; credentials are redacted."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(redact.redact_data(_finite(data)), handle, indent=2, sort_keys=True, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def problems(results):
    """What is missing or wrong in a results dict; an empty list means it follows the schema."""
    if not isinstance(results, dict):
        return ["results is not a JSON object"]
    found = []
    for key, kind in REQUIRED.items():
        if key not in results:
            found.append(f"missing {key}")
        elif not isinstance(results[key], kind):
            found.append(f"{key} is not a {kind.__name__}")
    if found:
        return found
    if results["schema_version"] != SCHEMA_VERSION:
        found.append(f"schema_version {results['schema_version']} (this tool reads {SCHEMA_VERSION})")
    if results["platform"].get("obtained") not in OBTAINED:
        found.append(f"platform.obtained must be one of {', '.join(OBTAINED)}")
    if not _fraction(results["test"].get("accuracy")):  # `true` is no accuracy, though Python counts it as 1
        found.append("test.accuracy is not a number in [0, 1]")
    if not _fraction(results["target"].get("accuracy")) or not results["target"]["accuracy"]:
        found.append("target.accuracy is not a number in (0, 1]")
    if results["target"].get("verdict") not in ("pass", "fail"):
        found.append("target.verdict must be pass or fail")
    if isinstance(results.get("artifacts"), dict) and results["artifacts"].get("status") == "saving":
        found.append("the run stopped while saving its model (artifacts.status is still saving): not a complete result")
    return found


def _fraction(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def summary_line(results):
    """The one line a run ends with, in the command line and in the notebook."""
    test, target = results["test"], results["target"]
    timings = results["timings"]
    return (f"{results['dataset']['name']} / {results['model']['name']}: test accuracy {test['accuracy']:.4f}, "
            f"target {target['accuracy']:.2%}: {target['verdict'].upper()} "
            f"(training {timings['training']:.1f} s, total {timings.get('total', 0):.1f} s, "
            f"weights {results['weights_sha256'][:12]})")


def complete(path):
    """Whether `path` is a whole results.json: readable, and nothing missing."""
    try:
        return not problems(read_json(path))
    except (OSError, ValueError):
        return False
