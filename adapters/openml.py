"""OpenML: the experiment on an OpenML task, published as an OpenML run.

The bundle runs here (like the local adapter) and reads its data through the `openml` client; what
it runs is what the task defines (see shims/openml.py). With an API key the flow and run are
published; without one the run is written to the run folder and `portability push openml`
publishes it later.
"""

import json
import os

from adapters.base import Adapter, PlatformError
from adapters.handle import write_handle
from adapters.options import Option
from adapters.trains_here import TrainsHere
from core import results as results_file
from core.errors import UsageError

TASKS = {"mnist": 3573, "fashion-mnist": 146825}
PROTOCOLS = ("cv", "holdout")


def task_and_protocol(platform_options, config):
    protocol = platform_options["protocol"]
    task = platform_options["task"] or TASKS.get(config.dataset)
    if task is None:
        raise UsageError("your own data set runs on OpenML as a task: pass --openml-task ID, an image-like "
                         "classification task's id (or platform_options: {openml: {task: ID}} in a config file)")
    try:
        return int(task), protocol
    except ValueError:
        raise UsageError(f"--openml-task must be a task id (a number), got {task!r}") from None


def configure():
    """The openml client, configured from the environment exactly as the bundle configures it."""
    from adapters.shims import openml as shim

    return shim.configure_openml()


class OpenMLAdapter(TrainsHere, Adapter):
    name = "openml"
    display_name = "OpenML"
    emulation_variables = ("OPENML_",)
    runs_with_own_credentials = True
    kept_folder = "openml-run"  # the run as OpenML files, until it is published
    option_specs = (Option("task", None, "the OpenML task id (default: the built-in data set's task, or the one "
                           "your script's Keras loader reads)", flag="--openml-task"),
                    Option("protocol", "cv", "the task's cross-validation, or one holdout split", choices=PROTOCOLS))
    helper_groups = {"load_task": "data access", "canonical_check": "data access", "subset": "data access",
                     "fold_predictions": "result upload", "combine_folds": "result upload",
                     "flow_description": "result upload", "upload": "result upload",
                     "publish_script_run": "result upload"}

    def how_it_ran(self, platform, mode):
        where = "executed here" if mode == "executed" else mode
        if platform.get("openml_run_id"):
            return f"{where}, published on OpenML (run {platform['openml_run_id']})"
        return f"{where}, not published on OpenML"

    def mode_note(self):
        return "publishes" if os.environ.get("OPENML_APIKEY") else \
            "offline (set OPENML_APIKEY from openml.org > your profile > API key, to publish)"

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.openml(self, timeout)

    def slots(self, config):
        task_id, protocol = task_and_protocol(self.platform_options, config)
        return {"TASK_ID": task_id, "PROTOCOL": protocol}

    def learned_facts(self, handle, run_dir, platform):
        """What OpenML said after the run (published later, its evaluation): kept in the handle, which
        no pull overwrites, and merged into results.json's `platform` at every pull."""
        facts = dict(handle.details.get("openml") or {})
        run_id = facts.get("openml_run_id") or platform.get("openml_run_id")
        if run_id:
            facts["openml_evaluation"] = server_evaluation(run_id)
            handle.details["openml"] = facts
            write_handle(run_dir, handle)
        return facts

    def report_note(self, platform):
        """Published or not (the OpenML run id, or why not), and OpenML's own pooled accuracy."""
        if (platform.get("protocol") or "").startswith("holdout"):
            return "not an OpenML task run (holdout)"
        if not platform.get("openml_run_id"):
            return "not published: " + (platform.get("openml_publish_error") or "no API key yet")
        note = f"published as OpenML run {platform['openml_run_id']}"
        evaluation = platform.get("openml_evaluation")
        if isinstance(evaluation, dict) and evaluation.get("predictive_accuracy") is not None:
            return note + f"; OpenML predictive_accuracy {evaluation['predictive_accuracy']:.2%} (pooled over all rows)"
        return note + f"; OpenML's evaluation: {evaluation.get('error') if isinstance(evaluation, dict) else 'pending'}"

    def before_push(self, pushed, log):
        published = publish_pending(pushed, log)
        return f"openml: published {published} offline run(s)" if published else None


def server_evaluation(run_id):
    """The evaluation OpenML's engine stored for a published run (predictive_accuracy, pooled over all
    prediction rows), as the run's description lists it; "pending" until the engine has scored it."""
    try:
        run = configure().runs.get_run(int(run_id), ignore_cache=True)
    except Exception as error:  # openml raises its own and requests' types
        from adapters.shims import openml as shim

        return {"error": shim.explain(error)}
    value = (run.evaluations or {}).get("predictive_accuracy")
    return {"predictive_accuracy": value, "measure": "pooled over all rows (OpenML)"} if value is not None else "pending"


def publish_pending(runs, log=print):
    """Publish every run written offline: the flow first (reused if it exists), then the run. What
    happened goes into the run's handle (and results.json, which a pull rewrites from the handle); a
    run OpenML refuses is reported and left pending, and never stops the push that follows."""
    if not os.environ.get("OPENML_APIKEY"):
        return 0
    published = 0
    for handle, run_dir in runs:
        results_path = run_dir / "results.json"
        if not results_path.is_file():
            continue
        results = results_file.read_json(results_path)
        platform = {**results["platform"], **(handle.details.get("openml") or {})}
        pending = platform.get("openml_pending_publish")
        if not pending or platform.get("openml_run_id"):
            continue
        log(f"openml: publishing the offline run of {handle.run_id}")
        try:
            flow, run = publish(run_dir / pending)
            facts = dict(openml_run_id=run.run_id, openml_url=run.openml_url, openml_flow_id=flow.flow_id,
                         openml_pending_publish=None, openml_publish_error=None)
            published += 1
        except PlatformError as error:
            facts = {"openml_publish_error": str(error)}
            log(f"openml: {error}")
        handle.details["openml"] = {**(handle.details.get("openml") or {}), **facts}
        write_handle(run_dir, handle)
        results["platform"].update(facts)
        results_file.write_json(results_path, results)
    return published


def publish(folder):
    """The flow (reused if it exists), then the run saved in `folder` by the bundle."""
    from adapters.shims import openml as shim

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
        size = (folder / "predictions.arff").stat().st_size if (folder / "predictions.arff").is_file() else None
        raise PlatformError(f"OpenML did not accept the run in {folder}: {shim.explain(error, size)}; it stays "
                            "there: run `portability push openml` again later") from None
    return flow, run
