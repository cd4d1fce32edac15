"""The run store: `results/runs/<platform>/<run-id>/` (or $PORTABILITY_RUNS_DIR), one folder per run.

A run folder holds handle.json (plain data: enough to ask for status and results from another
process, another day), config.json, status.json (the history of states) and, once its results are
in, results.json, the models and log.txt. Every JSON file is written by one atomic writer.
"""

import os
import pathlib
import time

from adapters.handle import Handle, read_handle, write_handle  # noqa: F401 (the store keeps them)
from core import results as results_file
from core.errors import UserError

ROOT = pathlib.Path(__file__).resolve().parents[1]
STATES = ("submitting", "queued", "running", "cancelling", "completed", "failed", "cancelled", "unknown")
TERMINAL = ("completed", "failed", "cancelled")


def runs_root():
    return pathlib.Path(os.environ.get("PORTABILITY_RUNS_DIR") or ROOT / "results" / "runs")


def new_run_dir(platform, run_id):
    """A new, empty run folder; `run_id-2`, `-3`, ... when another process took the name first."""
    parent = runs_root() / platform
    parent.mkdir(parents=True, exist_ok=True)
    candidate, number = run_id, 1
    while True:
        try:
            (parent / candidate).mkdir()
            return parent / candidate
        except FileExistsError:
            number += 1
            candidate = f"{run_id}-{number}"


def status_history(run_dir):
    path = pathlib.Path(run_dir) / "status.json"
    if not path.is_file():
        return []
    try:
        history = results_file.read_json(path)
        if not isinstance(history, list) or not all(isinstance(entry, dict) and isinstance(entry.get("state"), str)
                                                    for entry in history):
            raise ValueError("not a list of states")
        return history
    except ValueError as error:
        raise UserError(f"{path} is damaged ({error}): delete it and run `portability status` again to "
                        "ask the platform afresh") from None


def record_status(run_dir, state, detail=None):
    history = status_history(run_dir)
    if not history or history[-1]["state"] != state:
        history.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "state": state,
                        **({"detail": detail} if detail else {})})
        results_file.write_json(pathlib.Path(run_dir) / "status.json", history)
    return state


def last_state(run_dir):
    history = status_history(run_dir)
    return history[-1]["state"] if history else "unknown"


def all_runs(platform=None):
    """(handle, run_dir) for every run in the store with a readable handle, oldest first."""
    return scan(platform)[0]


def scan(platform=None):
    """(readable runs as (handle, run_dir), problems as (run_dir, message)) of the whole store."""
    found, problems = [], []
    for folder in sorted(path for path in runs_root().glob(f"{platform or '*'}/*")
                         if path.is_dir() and not path.parent.name.startswith("_")):  # _sweeps: not runs
        if not (folder / "handle.json").is_file():
            problems.append((folder, "no handle.json: not a run this tool made, or one cut short while starting"))
            continue
        try:
            found.append((read_handle(folder), folder))
        except (UserError, OSError) as error:
            problems.append((folder, str(error)))
    return found, problems


def resolve(reference):
    """A run from `platform/run-id`, a bare run id, or a folder path."""
    path = pathlib.Path(reference)
    if (path / "handle.json").is_file():
        return read_handle(path), path
    found, damaged = scan()
    matches = [(h, d) for h, d in found if reference in (h.run_id, f"{h.platform}/{h.run_id}")]
    if not matches:
        for run_dir, problem in damaged:  # the folder is there: say what is wrong with it
            if reference in (run_dir.name, f"{run_dir.parent.name}/{run_dir.name}"):
                raise UserError(problem)
        raise UserError(f"no run {reference!r} in {runs_root()}; `portability status` lists the runs")
    return matches[-1]


def find_pushed(platform, bundle, mode):
    """The latest run of this bundle that did not fail, to avoid pushing it twice."""
    for handle, run_dir in reversed(all_runs(platform)):
        try:
            if handle.bundle_hash == bundle and handle.mode == mode and last_state(run_dir) not in ("failed", "cancelled"):
                return handle, run_dir
        except UserError:
            continue  # a damaged status: not a run to resume
    return None
