"""Run a researcher's own experiment unmodified: a Keras `.py` script or a Jupyter notebook.

    spec = script.ScriptSpec(script="train.py", args=["3", "128"], data=["mnist.npz"])
    results = script.run(spec, run_dir="results/runs/local/my-run", log=print)

`run` checks the inputs (core/workspace.py lays out `working/` and `input/` under run_dir/workspace), then
runs the script with the auto-logging hooks of core/capture.py installed first: a `.py` as `__main__`
(runpy) with `spec.args` as its argv and working/ as its current folder; an `.ipynb` cell by cell in a
real Jupyter kernel (nbclient), a setup cell installing the hooks first, the user's file untouched (the
executed copy goes to run_dir/notebook.executed.ipynb). It writes run_dir/config.json (`spec`'s identity:
the script's and data files' hashes, args, seed, metric) and run_dir/results.json through core/results.py,
with every run's fields plus `experiment: {kind, path, sha256, args, data: [{path, dest, sha256}]}`,
`status` (completed, failed, no metric), `outputs` (what the script wrote in working/) and `capture`
(seed calls, each fit and evaluate, the first fit's recipe: see capture.rebuild).

Bad input raises a one-line UserError before anything runs. A script that fails, never trains nor
evaluates, or gives no metric still gets its results.json (and its outputs), then raises ScriptError,
whose message names the cause and the fix (a failure: with the script's own traceback tail, labelled).
"""

import dataclasses
import hashlib
import json
import os
import pathlib
import runpy
import sys
import time
import traceback

from core import experiment, results as results_file, workspace
from core.config import DEFAULT_TARGETS
from core.errors import UsageError, UserError

KINDS = {".py": "script", ".ipynb": "notebook"}
NO_HISTORY = "no history captured: the script trained without Model.fit (e.g. a custom training loop), or not at all"
ROOT = pathlib.Path(__file__).resolve().parents[1]  # the folder holding core/: a kernel imports it from here


class ScriptError(UserError):
    """The user's script ran but gave no result: failed, never trained or evaluated, or had no metric."""


@dataclasses.dataclass
class ScriptSpec:
    """What to run: the script, its argv, its --data items (`SRC[:DEST]`), the metric to read from
    `evaluate` (or the last epoch's validation), the target and the harness's seed."""

    script: str
    args: list = dataclasses.field(default_factory=list)
    data: list = dataclasses.field(default_factory=list)
    metric: str = "accuracy"
    target_accuracy: float | None = None
    seed: int = 42


@dataclasses.dataclass
class Checked:
    """A spec whose files exist and are hashed: what the run and its identity are made of."""

    spec: ScriptSpec
    path: pathlib.Path
    kind: str
    sha256: str
    data: list  # workspace.DataItem

    def config(self):
        """The run's identity (config.json): same dict, same experiment; `identity()` hashes it."""
        return {"kind": self.kind, "script": self.path.name, "script_sha256": self.sha256,
                "args": [str(arg) for arg in self.spec.args],
                "data": [{"dest": entry["dest"], "sha256": entry["sha256"]} for item in self.data for entry in item.files],
                "metric": self.spec.metric, "seed": self.spec.seed, "target_accuracy": self.spec.target_accuracy}

    def identity(self):
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()

    def run_id(self):
        return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{self.path.stem}-{self.identity()[:6]}"

    def describe(self):
        return {"kind": self.kind, "path": str(self.path), "sha256": self.sha256, "args": [str(a) for a in self.spec.args],
                "data": [entry for item in self.data for entry in item.describe()]}


def check(spec):
    """The spec's files checked and hashed (UsageError naming cause and fix if not); nothing runs."""
    path = pathlib.Path(spec.script)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--script {path}: a script is a .py file or a .ipynb notebook")
    if not path.is_file():
        raise UsageError(f"--script {path}: no such file: give the path of your .py script or .ipynb notebook")
    if not 0 <= spec.seed < 2**32:
        raise UsageError(f"seed must be in 0..{2**32 - 1}, got {spec.seed}")
    if spec.target_accuracy is not None and not 0 < spec.target_accuracy <= 1:
        raise UsageError(f"target_accuracy is a fraction in (0, 1], got {spec.target_accuracy}")
    experiment.intra_op_threads()  # a bad $PORTABILITY_THREADS is refused before anything runs
    from core import script_checks

    (script_checks.check_python if kind == "script" else script_checks.check_notebook)(path)
    return Checked(spec, path, kind, workspace.sha256_file(path), workspace.parse_data(spec.data))


def run(spec, run_dir, log=print, platform="local", obtained=None, data_dir=None, allow_network=True, extra=None):
    """Run `spec` in run_dir/workspace and write run_dir/results.json; returns the results dict.
    `data_dir`/`allow_network`: where the Keras loaders' data comes from (capture.install). Raises
    UsageError on bad input (nothing written) and ScriptError after writing a run that gave no result."""
    checked, run_dir, working = prepare(spec, run_dir, log)
    started = time.perf_counter()
    hooks = dict(seed=spec.seed, data_dir=str(data_dir) if data_dir else None, allow_network=allow_network)
    if checked.kind == "script":
        record, failure = run_python(checked, working, dict(hooks, log=log))
    else:
        from core import notebook_run

        record, failure = notebook_run.run(checked.path, working, run_dir, hooks, log)
    return conclude(checked, run_dir, record, failure, time.perf_counter() - started,
                    dict(name=platform, obtained=obtained or os.environ.get("PORTABILITY_OBTAINED", "executed"), **(extra or {})))


def prepare(spec, run_dir, log=print):
    """(checked spec, run_dir resolved, working/): config.json written, the workspace laid out."""
    checked = check(spec)
    run_dir = pathlib.Path(run_dir).resolve()  # the script runs with its working folder as current folder
    run_dir.mkdir(parents=True, exist_ok=True)
    results_file.write_json(run_dir / "config.json", checked.config())
    working = workspace.lay_out(run_dir / "workspace", checked.data)
    log(f"{checked.kind}: {' '.join([checked.path.name, *checked.describe()['args']])} in {working}")
    return checked, run_dir, working


def conclude(checked, run_dir, record, failure, seconds, platform):
    """results.json from what the hooks captured (the outputs listed); ScriptError if no result."""
    outputs = workspace.outputs(run_dir / "workspace", checked.data,
                                exclude=[checked.path.name] if checked.kind == "script" else [])
    results = assemble(checked, run_dir, record, failure, outputs, seconds, platform)
    results_file.write_json(run_dir / "results.json", results)
    if results["status"] != "completed":
        raise ScriptError(results["message"])
    return results


def run_python(checked, working, hooks):
    """(the capture record, a failure message or None): the script, copied into working/, run as
    `python SCRIPT ARGS` would run it (`__main__`, argv, its folder first on sys.path), in this process."""
    from core import capture

    copy = working / checked.path.name
    copy.write_bytes(checked.path.read_bytes())
    saved = (os.getcwd(), sys.argv, list(sys.path))
    recorder = capture.install(**hooks)
    failure = None
    os.chdir(working)
    sys.argv, sys.path[:0] = [str(copy), *map(str, checked.spec.args)], [str(working)]
    try:
        runpy.run_path(str(copy), run_name="__main__")
    except SystemExit as exit:
        if exit.code not in (None, 0):
            failure = f"{checked.path.name} exited with status {exit.code}"
    except Exception as error:  # the user's code: any exception is the run's failure, recorded
        failure = script_failure(checked.path.name, error, copy)
    finally:
        os.chdir(saved[0])
        sys.argv, sys.path[:] = saved[1], saved[2]
        record = recorder.finish()
    return record, failure


def script_failure(name, error, copy):
    """The failure's message: the exception, then the script's own frames (the harness's left out)."""
    frames = traceback.extract_tb(error.__traceback__)
    first = next((index for index, frame in enumerate(frames) if frame.filename == str(copy)), 0)
    lines = traceback.format_list(frames[first:]) + traceback.format_exception_only(type(error), error)
    tail = "".join(lines).rstrip("\n").splitlines()[-20:]
    return failure_message(name, f"{type(error).__name__}: {error}".splitlines()[0], tail)


def failure_message(name, what, tail):
    return (f"{name} raised {what}: fix the script and run again (its outputs so far are kept)\n"
            f"--- {name}'s traceback (last lines) ---\n" + "\n".join(tail))


def assemble(checked, run_dir, record, failure, outputs, seconds, platform):
    """results.json for a script's run: every run's fields, filled from what the hooks captured."""
    test, status, message = test_result(record, checked, failure)
    target, target_source = target_of(checked.spec, record)
    timings = {"import": record.get("setup_seconds", 0.0), "script": round(seconds, 3),
               "training": round(sum(fit["seconds"] for fit in record["fits"]), 3),
               "evaluation": round(sum(item["seconds"] for item in record["evaluations"]), 3)}
    timings["total"] = round(timings["import"] + timings["script"], 3)  # the steps (training is in the script)
    accuracy = test.get("accuracy")
    model = record["model"] or {}
    return {
        "schema_version": results_file.SCHEMA_VERSION, "run_id": run_dir.name, "platform": platform,
        "config": checked.config(), "dataset": dataset_of(checked, record), "experiment": checked.describe(),
        "model": {key: model.get(key) for key in ("name", "class", "params", "input_shape", "output_shape")},
        "history": record["history"], "history_note": None if record["fits"] else NO_HISTORY, "test": test, "status": status, "message": message,
        "target": {"accuracy": target, "source": target_source,
                   "verdict": None if accuracy is None else ("pass" if accuracy >= target else "fail")},
        "timings": timings, "cpu_seconds": {"process": round(experiment.cpu_seconds(), 3)},
        "environment": dict(record["environment"], platform=platform["name"]),
        "weights_sha256": model.get("weights_sha256") or "", "throughput": record["throughput"],
        "artifacts": {"status": "saved" if outputs else "none", "outputs": outputs},
        "seeds": record["seeds"], "capture": {key: record[key] for key in ("fits", "evaluations", "first_fit")},
    }


def test_result(record, checked, failure):
    """(test section, status, message): the last evaluate's metric, else the last epoch's validation
    metric (labelled so), else no metric with what to add."""
    name, metric = checked.path.name, checked.spec.metric
    if failure:
        return {"accuracy": None, "source": "none"}, "failed", failure
    if record["model"] is None:
        return ({"accuracy": None, "source": "none"}, "no metric",
                f"{name} never trained nor evaluated a Keras model (no Model.fit or Model.evaluate call): "
                "make it call model.fit(...) and model.evaluate(x_test, y_test)")
    if record["evaluations"]:
        metrics = record["evaluations"][-1]["metrics"]
        key = pick(metrics, metric)
        if key:
            return {"accuracy": metrics[key], "loss": metrics.get("loss"), "metric": key,
                    "source": "the script's last Model.evaluate", "all": metrics}, "completed", None
    last = record["history"][-1] if record["history"] else {}
    key = pick({k[4:]: v for k, v in last.items() if k.startswith("val_")}, metric)
    if key:
        return {"accuracy": last[f"val_{key}"], "loss": last.get("val_loss"), "metric": f"val_{key}",
                "source": "validation: the last epoch's (the script never called Model.evaluate)"}, "completed", None
    return ({"accuracy": None, "source": "none"}, "no metric",
            f"{name} gave no {metric!r} metric (no Model.evaluate returning it, no validation {metric}): compile "
            f"with metrics=[{metric!r}] and call model.evaluate(x_test, y_test), or name another with --metric")


def pick(metrics, metric):
    """The key of `metric` in a logs dict: exact, else the one name ending with it (sparse_categorical_accuracy)."""
    if metric in metrics:
        return metric
    ending = [key for key in metrics if key.endswith(metric)]
    return ending[0] if len(ending) == 1 else None


def target_of(spec, record):
    if spec.target_accuracy is not None:
        return spec.target_accuracy, "given"
    names = [dataset["name"] for dataset in record["datasets"]]
    if names and names[0] in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[names[0]], f"the built-in default for {names[0]}"
    return 0.98, "the default (set --target-accuracy for this experiment)"


def dataset_of(checked, record):
    """The data set section: a Keras loader's (verified), else the --data files the script read."""
    if record["datasets"]:
        return record["datasets"][0]
    fit = (record.get("first_fit") or {}).get("x") or {}
    evaluation = record["evaluations"][-1]["samples"] if record["evaluations"] else None
    output = ((record["model"] or {}).get("output_shape") or {}).get("shape") or [None]
    return {"name": ", ".join(pathlib.PurePosixPath(item.dest).name for item in checked.data) or "the script's own data",
            "source": "the script's own files (--data)", "canonical": False,
            "files": {entry["dest"]: entry["sha256"] for item in checked.data for entry in item.files},
            "train_samples": (fit.get("shape") or [None])[0], "test_samples": evaluation,
            "input_shape": (fit.get("shape") or [None])[1:], "num_classes": output[-1], "class_names": None}
