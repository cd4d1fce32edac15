"""Run with BEAT's own Python (the BEAT environment): BEAT's command line runs the experiment with its
local executor, then the analyzer's result is read from BEAT's output cache and written as the run's
files: results.json (with BEAT's versions and each block's cache path under `platform`), model.h5,
model.keras and log.txt; for your own script, the files it wrote, under workspace/working/.

    .beat-venv/bin/python adapters/shims/beat_run.py PREFIX CACHE EXPERIMENT OUT_FOLDER

The process ends with os._exit: BEAT's executor can leave threads behind after a failed block, which
would keep it alive. Imports nothing of this project: BEAT's Python has its own packages.
"""

import base64
import importlib.metadata
import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the blocks' TensorFlow: no native log lines
# this file's folder holds adapters/beat.py, which must not hide BEAT's own `beat` package
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]


def cached_outputs(prefix, cache, name):
    """({block: cache path}, the analyzer's result as a dict) of the experiment."""
    from beat.backend.python.data import CachedDataSource
    from beat.core.experiment import Experiment

    experiment = Experiment(prefix, name)
    if not experiment.valid:
        sys.exit(f"BEAT cannot load experiment {name}: {'; '.join(experiment.errors)}")
    paths, result = {}, None
    for block, scheduled in experiment.setup().items():
        configuration = scheduled["configuration"]
        if configuration.get("result"):
            paths[block] = configuration["result"]["path"]
            source = CachedDataSource()
            if not source.setup(os.path.join(cache, configuration["result"]["path"] + ".data"), prefix):
                sys.exit(f"BEAT's cache in {cache} has no result for block {block}: the experiment did not finish")
            result = source[0][0].as_dict()
        else:
            paths[block] = {output: details["path"] for output, details in configuration["outputs"].items()}
    return paths, result


def main(prefix, cache, name, out):
    paths, result = cached_outputs(prefix, cache, name)
    if result is None:
        sys.exit(f"experiment {name} has no analyzer result")
    results = json.loads(result["results_json"])
    results["platform"].update(engine=f"BEAT local executor (beat.core {importlib.metadata.version('beat.core')})",
                               beat={"experiment": name, "cache": paths,
                                     "versions": {p: importlib.metadata.version(p) for p in
                                                  ("beat.core", "beat.backend.python", "beat.cmdline")}})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as stream:
        json.dump(results, stream, indent=2, sort_keys=True)
    for name_, key in (("model.h5", "model_h5"), ("model.keras", "model_keras")):
        if result.get(key):
            with open(os.path.join(out, name_), "wb") as stream:
                stream.write(base64.b64decode(result[key]))
    for path, content in json.loads(result.get("outputs") or "{}").items():  # your own script's files
        target = os.path.join(out, "workspace", "working", *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as stream:
            stream.write(base64.b64decode(content))
    print("the training block's output:\n" + result.get("log", ""))
    if results.get("status", "completed") != "completed":  # your own script says; the built-in fails by raising
        sys.exit(f"the run failed: {results.get('message')}")


def run(prefix, cache, name):
    """`beat -p PREFIX -c CACHE experiments run --local NAME`; its exit code."""
    from beat.cmdline.scripts.main_cli import main as beat

    try:
        return beat(["-p", prefix, "-c", cache, "experiments", "run", "--local", "--quiet", name], standalone_mode=False) or 0
    except SystemExit as stop:
        return stop.code or 0
    except Exception as error:  # a failed block: BEAT has logged why
        print(f"BEAT: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    arguments = sys.argv[1:]  # the blocks run in this process, and may change sys.argv
    code = run(*arguments[:3])
    if code == 0:
        try:
            main(*arguments)
        except SystemExit as stop:
            print(stop.code, file=sys.stderr)
            code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
