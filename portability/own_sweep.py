"""Sweeps of a researcher's own script: a grid whose base names a script instead of the built-in
experiment, e.g.

    base: {script: train.py, data: [mnist.npz], args: ["1"]}
    axes: {seed: [1, 2, 3]}

Each point is checked as `portability run --script` checks it (the files exist and are hashed) before
anything runs; a cell's config is the config-file form (`script`, `data`, `args`, `metric`, `seed`,
`target_accuracy`) with absolute paths, which `portability run --config` and `push --config` read, so
a cell runs on a Dask worker or a platform like any other.
"""

import pathlib
import re

from core import script, workspace
from core.errors import UsageError

KEYS = ("script", "data", "args", "metric", "seed", "target_accuracy")
AXES = ("data", "args", "metric", "seed", "target_accuracy")


def is_script(values):
    return isinstance(values, dict) and "script" in values


def absolute(values):
    """The config-file form with the script's and the data's paths absolute (a worker starts elsewhere)."""
    data = []
    for item in values.get("data") or []:
        source, dest = workspace.split_item(str(item))
        data.append(f"{pathlib.Path(source).resolve()}" + (f":{dest}" if dest else ""))
    return {"script": str(pathlib.Path(values["script"]).resolve()), "data": data,
            "args": [str(arg) for arg in values.get("args") or []], "metric": values.get("metric") or "accuracy",
            "seed": values.get("seed", 42), "target_accuracy": values.get("target_accuracy")}


class Point:
    """One point of a script's grid: what `Grid.points()` yields in place of an ExperimentConfig."""

    def __init__(self, values, where="grid"):
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise UsageError(f"{where}: {', '.join(unknown)} are the built-in experiment's; a script's grid takes "
                             f"{', '.join(KEYS)}")
        if not isinstance(values.get("data", []), list) or not isinstance(values.get("args", []), list):
            raise UsageError(f"{where}: data and args are lists, e.g. data: [mnist.npz], args: [\"1\"]")
        self.values = absolute(values)
        self.checked = script.check(spec(self.values))  # bad input: refused before anything runs

    def to_dict(self):
        return dict(self.values)


def is_spec(value):
    return isinstance(value, script.ScriptSpec)


def base_of(given):
    """A ScriptSpec as a grid's base (`run --script ... --seeds`): its keys but the seed, paths absolute."""
    values = absolute({"script": given.script, "data": list(given.data), "args": list(given.args),
                       "metric": given.metric, "target_accuracy": given.target_accuracy})
    return {key: value for key, value in values.items() if key != "seed" and value is not None}


def label(given):
    """The script's name as a sweep's name part (letters, digits, - and _)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", pathlib.Path(given.script).stem).strip("-") or "script"


def spec(values):
    return script.ScriptSpec(script=values["script"], args=list(values["args"]), data=list(values["data"]),
                             metric=values["metric"], target_accuracy=values["target_accuracy"], seed=values["seed"])


def check_axes(axes, where):
    for key in axes:
        if key not in AXES:
            raise UsageError(f"{where}: axis {key!r} is not one of a script's keys ({', '.join(AXES)}); the script "
                             "itself is the base's")


def experiment(values):
    """The ScriptExperiment that a platform's cell pushes."""
    from adapters import own_experiment

    return own_experiment.ScriptExperiment(spec(values))
