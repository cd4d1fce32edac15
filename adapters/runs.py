"""The run store (`results/runs/<platform>/<run-id>/`) and the push, status, pull lifecycle.

A run folder holds handle.json (plain data), config.json, status.json (history), bundle/ (what was
sent), and once pulled: results.json, the models and log.txt. Every step can be repeated after a
crash or a restart: it picks up from what is on disk.
"""

import os
import pathlib
import shutil
import tempfile
import time

import adapters
from adapters.base import OUTPUT_FILES, TERMINAL, Handle, PlatformError, copy_work_outputs
from core import experiment, results as results_file
from core.errors import UserError

def runs_root():
    return pathlib.Path(os.environ.get("PORTABILITY_RUNS_DIR") or adapters.base.ROOT / "results" / "runs")


def read_handle(run_dir):
    return Handle.from_json((pathlib.Path(run_dir) / "handle.json").read_text())


def write_handle(run_dir, handle):
    tmp = pathlib.Path(run_dir) / ".handle.json.partial"
    tmp.write_text(handle.to_json())
    os.replace(tmp, pathlib.Path(run_dir) / "handle.json")


def status_history(run_dir):
    path = pathlib.Path(run_dir) / "status.json"
    return results_file.read_json(path) if path.is_file() else []


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
    """(handle, run_dir) for every run in the store, oldest first."""
    found = []
    for path in sorted(runs_root().glob(f"{platform or '*'}/*/handle.json")):
        try:
            found.append((read_handle(path.parent), path.parent))
        except (ValueError, TypeError, OSError):
            continue  # a damaged handle is shown by `status`, not fatal here
    return found


def resolve(reference):
    """A run from `platform/run-id`, a bare run id, or a folder path."""
    path = pathlib.Path(reference)
    if (path / "handle.json").is_file():
        return read_handle(path), path
    matches = [(h, d) for h, d in all_runs() if reference in (h.run_id, f"{h.platform}/{h.run_id}")]
    if not matches:
        raise UserError(f"no run {reference!r} in {runs_root()}; `portability status` lists the runs")
    return matches[-1]


def find_pushed(platform, bundle, mode):
    for handle, run_dir in reversed(all_runs(platform)):
        if handle.bundle_hash == bundle and handle.mode == mode and last_state(run_dir) not in ("failed", "cancelled"):
            return handle, run_dir
    return None


def push(platform, settings, force=False, dry_run=False, mode="executed", log=print, data_dir=None):
    """Package and submit; returns (handle, run_dir). The same bundle is not submitted twice unless
    `force`; a push that was killed midway is resumed."""
    adapter = adapters.get(platform)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = adapter.package(settings, pathlib.Path(tmp) / "bundle")
        if dry_run:
            log(adapter.describe_push(pathlib.Path(tmp) / "bundle"))
            log(f"bundle hash {bundle}; nothing was sent")
            return None, None
        if mode == "executed":
            missing = adapter.check()
            if missing:
                raise PlatformError(f"cannot push to {platform}:\n  - " + "\n  - ".join(missing))
        existing = None if force else find_pushed(platform, bundle, mode)
        if existing:
            handle, run_dir = existing
            if last_state(run_dir) != "submitting":
                log(f"{platform}: this bundle was already pushed as {handle.run_id} (use --force for a new run)")
                return handle, run_dir
            log(f"{platform}: resuming the interrupted push of {handle.run_id}")
        else:
            run_dir = runs_root() / platform / _unique_run_id(platform, settings)
            run_dir.mkdir(parents=True)
            shutil.move(str(pathlib.Path(tmp) / "bundle"), run_dir / "bundle")
            results_file.write_json(run_dir / "config.json", settings.to_dict())
            handle = Handle(platform=platform, run_id=run_dir.name, bundle_hash=bundle, mode=mode)
            write_handle(run_dir, handle)
            record_status(run_dir, "submitting")
    if mode == "emulated":
        record_status(run_dir, "running", "local emulation of the platform runtime")
        code = adapter.emulate(handle, run_dir, data_dir)
        record_status(run_dir, "completed" if code == 0 else "failed", f"exit code {code}")
        return handle, run_dir
    try:
        adapter.submit(handle, run_dir)
    except Exception as error:
        write_handle(run_dir, handle)  # keep what the platform already created (its ids) for the user
        if handle.remote_id:
            record_status(run_dir, "failed", f"submission did not complete: {error}")
        raise
    write_handle(run_dir, handle)
    record_status(run_dir, "queued")
    log(f"{platform}: pushed as {handle.run_id}" + (f" ({handle.remote_id})" if handle.remote_id else ""))
    return handle, run_dir


def _unique_run_id(platform, settings):
    run_id = experiment.make_run_id(settings)
    candidate, number = run_id, 1
    while (runs_root() / platform / candidate).exists():
        number += 1
        candidate = f"{run_id}-{number}"
    return candidate


def status(handle, run_dir):
    """Ask the platform (or the emulation's exit code) and record the answer."""
    if last_state(run_dir) == "pulled":
        return "pulled"
    if handle.mode == "emulated":
        return last_state(run_dir)
    state = adapters.get(handle.platform).status(handle, run_dir)
    return record_status(run_dir, state)


def wait(handle, run_dir, timeout=3600, interval=2.0):
    deadline = time.monotonic() + timeout
    while True:
        state = status(handle, run_dir)
        if state in TERMINAL or state == "pulled":
            return state
        if time.monotonic() > deadline:
            raise PlatformError(f"{handle.platform} run {handle.run_id} still {state} after {timeout:.0f} s; "
                                f"check later with `portability status {handle.platform}/{handle.run_id}`")
        time.sleep(interval)


def pull(handle, run_dir):
    """Copy the run's outputs into its run folder, label how they were obtained, check the schema."""
    state = status(handle, run_dir)
    if state not in TERMINAL and state != "pulled":
        raise UserError(f"{handle.platform} run {handle.run_id} is {state}; pull it once it has finished")
    staging = run_dir / ".pull-partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if handle.mode == "emulated":
        copy_work_outputs(run_dir, staging)
    else:
        adapters.get(handle.platform).fetch_outputs(handle, run_dir, staging)
    if (staging / "log.txt").is_file():
        os.replace(staging / "log.txt", run_dir / "log.txt")
    if not (staging / "results.json").is_file():
        shutil.rmtree(staging)
        record_status(run_dir, "failed", "the run produced no results.json")
        where = ""
        if (run_dir / "log.txt").is_file():
            last = [line for line in (run_dir / "log.txt").read_text(errors="replace").splitlines() if line.strip()][-1:]
            where = f"; its log: {run_dir / 'log.txt'}" + (f"\n  its last line: {last[0].strip()[:400]}" if last else "")
        raise PlatformError(f"{handle.platform} run {handle.run_id} ended {state} without a results.json{where}")
    results = results_file.read_json(staging / "results.json")
    results["platform"].update(name=handle.platform, obtained=handle.mode, run_store_id=handle.run_id)
    results_file.write_json(staging / "results.json", results)
    for name in OUTPUT_FILES:
        if (staging / name).is_file():
            os.replace(staging / name, run_dir / name)
    shutil.rmtree(staging)
    problems = results_file.problems(results)
    record_status(run_dir, "pulled", "; ".join(problems) or None)
    if problems:
        raise PlatformError(f"{run_dir / 'results.json'} does not follow the schema: {'; '.join(problems)}")
    return results

