"""OpenML: the experiment on an OpenML task, published as an OpenML run.

The bundle runs here (like the local adapter) and reads its data through the `openml` client; what
it runs is what the task defines (see shims/openml.py). With an API key the flow and run are
published; without one the run is written to the run folder and `portability push openml`
publishes it later.
"""

import json
import os

from adapters.base import PlatformError
from adapters.base import Adapter
from adapters.trains_here import TrainsHere
from core import results as results_file
from core.errors import UsageError

TASKS = {"mnist": 3573, "fashion-mnist": 146825}
PROTOCOLS = ("cv", "holdout")


def settings_from_environment(settings):
    protocol = os.environ.get("PORTABILITY_OPENML_PROTOCOL", "cv")
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown OpenML protocol {protocol!r}: valid ones are {', '.join(PROTOCOLS)}")
    task = os.environ.get("PORTABILITY_OPENML_TASK") or TASKS.get(settings.dataset)
    if task is None:
        raise UsageError("your own data set runs on OpenML as a task: set PORTABILITY_OPENML_TASK to an "
                         "image-like classification task id")
    try:
        return int(task), protocol
    except ValueError:
        raise UsageError(f"PORTABILITY_OPENML_TASK must be a task id (a number), got {task!r}") from None


def configure():
    """The openml client, configured from the environment exactly as the bundle configures it."""
    from adapters.shims import openml as shim

    return shim.configure_openml()


class OpenMLAdapter(TrainsHere, Adapter):
    name = "openml"
    emulation_variables = ("OPENML_",)
    runs_with_own_credentials = True
    kept_folder = "openml-run"  # the run as OpenML files, until it is published
    helper_groups = {"load_task": "data access", "canonical_check": "data access", "subset": "data access",
                     "fold_predictions": "result upload", "combine_folds": "result upload",
                     "flow_description": "result upload", "upload": "result upload",
                     "publish_script_run": "result upload"}

    def mode_note(self):
        return "publishes" if os.environ.get("OPENML_APIKEY") else \
            "offline (set OPENML_APIKEY from openml.org > your profile > API key, to publish)"

    def slots(self, settings):
        task_id, protocol = settings_from_environment(settings)
        return {"TASK_ID": task_id, "PROTOCOL": protocol}

    def read_back(self, platform):
        run_id = platform.get("openml_run_id")
        return {"openml_evaluation": server_evaluation(run_id)} if run_id else None

    def before_push(self, pushed, log):
        published = publish_pending(pushed, log)
        return f"openml: published {published} offline run(s)" if published else None


def server_evaluation(run_id):
    """The server's predictive_accuracy for a published run, or "pending" until it has computed it."""
    try:
        run = configure().runs.get_run(run_id, ignore_cache=True)
    except Exception as error:  # openml raises its own and requests' types
        return {"error": f"{type(error).__name__}: {error}"}
    value = (run.evaluations or {}).get("predictive_accuracy")
    return {"predictive_accuracy": value} if value is not None else "pending"


def publish_pending(runs, log=print):
    """Publish every run written offline: the flow first (reused if it exists), then the run."""
    if not os.environ.get("OPENML_APIKEY"):
        return 0
    published = 0
    for handle, run_dir in runs:
        results_path = run_dir / "results.json"
        if not results_path.is_file():
            continue
        results = results_file.read_json(results_path)
        pending = results["platform"].get("openml_pending_publish")
        if not pending or results["platform"].get("openml_run_id"):
            continue
        log(f"openml: publishing the offline run of {handle.run_id}")
        flow, run = publish(run_dir / pending)
        results["platform"].update(openml_run_id=run.run_id, openml_url=run.openml_url, openml_flow_id=flow.flow_id)
        results_file.write_json(results_path, results)
        published += 1
    return published


def publish(folder):
    """The flow (reused if it exists), then the run saved in `folder` by the bundle."""
    openml = configure()
    try:
        description = json.loads((folder / "flow.json").read_text())
        flow = openml.flows.OpenMLFlow(model=None, components={}, **description).publish()
        run = openml.runs.OpenMLRun.from_filesystem(str(folder), expect_model=False)
        run.flow_id, run.flow = flow.flow_id, flow
        # written before the flow had an id, the saved description holds no parameter settings
        run.parameter_settings = [{"oml:name": k, "oml:value": v} for k, v in description["parameters"].items()]
        run.publish()
    except Exception as error:
        raise PlatformError(f"OpenML did not accept the run in {folder} ({type(error).__name__}: "
                            f"{error}); it stays there: run `portability push openml` again later") from None
    return flow, run
