"""The run lifecycle over the run store: `push` returns a `Run` that the caller keeps (status, wait,
pull), holding one adapter for the whole command: one readiness check, one SDK client. Every step can
be repeated after a crash or a restart: it picks up from what is on disk. `portability run` goes
through here too, so every run, pushed or not, has a handle and a status."""

import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import adapters
from adapters.base import OUTPUT_FILES, PlatformError, Transient, copy_work_outputs
from core import experiment, results as results_file
from core.errors import UserError
from portability import store
from portability.store import TERMINAL, Handle, last_state, record_status

IN_PROCESS = "portability run"
RETRIES, MAX_PAUSE = 5, 60.0  # transient failures in a row that `wait` rides out, and its longest pause


def push(adapter, config, force=False, dry_run=False, mode="executed", log=print, data_dir=None, details=None,
         existing=None):
    """Package and submit; returns the Run (None for a dry run). `adapter` is an adapter or a platform's
    name. The same bundle is not submitted twice unless `force`; a push that was killed midway is
    resumed. `existing` names the run to resume or keep (a sweep's cell); `details` go into a new
    run's handle."""
    adapter = adapters.get(adapter) if isinstance(adapter, str) else adapter
    platform = adapter.name
    with tempfile.TemporaryDirectory() as tmp:
        bundle = adapter.package(config, pathlib.Path(tmp) / "bundle")
        if dry_run:
            log(adapter.describe_push(pathlib.Path(tmp) / "bundle"))
            log(f"bundle hash {bundle}; nothing was sent")
            return None
        if mode == "executed":
            missing = adapter.missing()
            if missing:
                raise PlatformError(f"cannot push to {platform}:\n  - " + "\n  - ".join(missing))
        if existing is not None and not isinstance(existing, Run):
            existing = Run(*existing, adapter=adapter)
        existing = existing or (None if force else _pushed(adapter, bundle, mode))
        if existing and last_state(existing.run_dir) not in ("submitting", "unknown"):
            log(f"{platform}: this bundle was already pushed as {existing.handle.run_id} (use --force for a new run)")
            return existing
        if existing:  # killed before its submission was recorded: submit it now
            run = existing
            log(f"{platform}: resuming the interrupted push of {run.handle.run_id}")
        else:
            run = Run(*_new_run(platform, config, bundle, mode, details), adapter=adapter)
        if not (run.run_dir / "bundle").is_dir():
            shutil.move(str(pathlib.Path(tmp) / "bundle"), run.run_dir / "bundle")
    if mode == "emulated":
        record_status(run.run_dir, "running", "local emulation of the platform runtime")
        code = adapter.emulate(run.handle, run.run_dir, data_dir)
        record_status(run.run_dir, "completed" if code == 0 else "failed", f"exit code {code}")
        return run
    _submit(adapter, run.handle, run.run_dir)
    log(f"{platform}: pushed as {run.handle.run_id}" + (f" ({run.handle.remote_id})" if run.handle.remote_id else ""))
    return run


def _pushed(adapter, bundle, mode):
    found = store.find_pushed(adapter.name, bundle, mode)
    return Run(*found, adapter=adapter) if found else None


def _new_run(platform, config, bundle, mode, details=None):
    """A run folder whose handle is written last: a run with a handle always has a state."""
    script = getattr(config, "own_experiment", False)  # a user's own script: its id, where its data is
    run_dir = store.new_run_dir(platform, config.run_id() if script else experiment.make_run_id(config))
    results_file.write_json(run_dir / "config.json", config.to_dict())
    if script:
        from adapters import own_platforms

        own_platforms.record_inputs(run_dir, config)
    record_status(run_dir, "submitting")
    handle = Handle(platform=platform, run_id=run_dir.name, bundle_hash=bundle, mode=mode, details=dict(details or {}))
    store.write_handle(run_dir, handle)
    return handle, run_dir


def _submit(adapter, handle, run_dir):
    try:
        adapter.submit(handle, run_dir)
    except Exception as error:
        store.write_handle(run_dir, handle)  # keep what the platform already created (its ids) for the user
        # an answer, not a kill: never left "submitting" (a killed push stays so and is resumed)
        record_status(run_dir, "failed", f"{'submission did not complete' if handle.remote_id else 'not submitted'}: {error}")
        raise
    store.write_handle(run_dir, handle)
    record_status(run_dir, "queued")


def start_in_process(identity, run_id, out=None):
    """The Run of `portability run`, which trains in this process; `identity` is the config (a dict)
    that decides its result."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    if out is None:
        run_dir = store.new_run_dir("local", run_id)
    else:
        run_dir = pathlib.Path(out)
        if (run_dir / "results.json").exists():
            raise UserError(f"{run_dir} already holds a run's results: choose another --out folder")
        run_dir.mkdir(parents=True, exist_ok=True)
    handle = Handle(platform="local", run_id=run_dir.name, bundle_hash=f"config:{digest}",
                    details={"via": IN_PROCESS, "pid": os.getpid()})
    record_status(run_dir, "running", "training in this process")
    store.write_handle(run_dir, handle)
    return Run(handle, run_dir)


class Run:
    """A run in the store and the adapter that follows it, made once: rebuilt from its folder by
    `store.resolve`, another process, another day."""

    def __init__(self, handle, run_dir, adapter=None):
        self.handle, self.run_dir, self._adapter = handle, pathlib.Path(run_dir), adapter

    @property
    def adapter(self):
        if self._adapter is None:
            self._adapter = adapters.get(self.handle.platform)
        return self._adapter

    @property
    def name(self):
        return f"{self.handle.platform}/{self.handle.run_id}"

    def status(self):
        """Ask the platform (or the emulation's exit code, or the training process) and record the answer."""
        handle, run_dir = self.handle, self.run_dir
        state = last_state(run_dir)
        if state == "pulled" or handle.mode == "emulated":
            return state
        if state == "submitting" and handle.details.get("via") != IN_PROCESS:
            return state  # the platform may not have it (the push stopped before recording it): nothing to ask
        if handle.details.get("via") == IN_PROCESS:
            if state == "running" and not _alive(handle.details.get("pid")):
                return record_status(run_dir, "failed", "the process ended before the run did (interrupted)")
            return state
        state = self.adapter.status(handle, run_dir)
        return record_status(run_dir, state, getattr(state, "detail", None))

    def wait(self, timeout=3600, interval=2.0, stop=None, log=None):
        """Follow the run to its end; `stop` (a threading.Event) ends the wait early, the run going on. A
        transient failure to ask (rate limit, server error, dropped connection) is retried with back-off,
        at most RETRIES times in a row, each retry said on `log` (stderr by default)."""
        deadline = time.monotonic() + timeout
        failures = 0
        while True:
            try:
                state, failures = self.status(), 0
            except Transient as error:
                failures += 1
                if failures > RETRIES:
                    raise PlatformError(f"{error}; gave up after {RETRIES} retries: the run goes on, "
                                        f"`portability status {self.name}` asks again") from None
                pause = min(error.retry_after or interval * 2 ** (failures - 1), MAX_PAUSE)
                (log or _stderr)(f"{self.handle.platform}: {error}; retrying in {pause:.0f} s ({failures}/{RETRIES})")
                state, interval_now = None, pause
            else:
                interval_now = interval
            if state in TERMINAL or state == "pulled":
                return state
            if time.monotonic() > deadline:
                raise PlatformError(f"{self.handle.platform} run {self.handle.run_id} still {state or last_state(self.run_dir)} "
                                    f"after {timeout:.0f} s; check later with `portability status {self.name}`")
            if stop is None:
                time.sleep(interval_now)
            elif stop.wait(interval_now):
                raise UserError(f"stopped following {self.handle.platform} run {self.handle.run_id}: it goes on; "
                                f"`portability status {self.name}` follows it")

    def pull(self):
        """Copy the run's outputs into its run folder, label how they were obtained, check the schema."""
        handle, run_dir = self.handle, self.run_dir
        state = self.status()
        if state == "submitting":
            raise UserError(f"{handle.platform} run {handle.run_id} stopped while it was being submitted: nothing to "
                            "pull; the same `portability push` resumes it (or delete its folder)")
        if state not in TERMINAL and state != "pulled":
            raise UserError(f"{handle.platform} run {handle.run_id} is {state}; pull it once it has finished")
        if handle.details.get("via") == IN_PROCESS:
            return _checked(run_dir, _read_results(run_dir / "results.json"))
        _remove_stale_staging(run_dir)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".pull-{os.getpid()}-", dir=run_dir))
        try:
            results = self._collect(staging, state)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _checked(run_dir, results)

    def _collect(self, staging, state):
        """The outputs into `staging`, checked and labelled, then moved into the run folder."""
        handle, run_dir = self.handle, self.run_dir
        if handle.mode == "emulated":
            copy_work_outputs(run_dir, staging)
        else:
            self.adapter.fetch_outputs(handle, run_dir, staging)
        if (staging / "log.txt").is_file():
            os.replace(staging / "log.txt", run_dir / "log.txt")
        if not (staging / "results.json").is_file():
            said = _last_detail(run_dir)
            if state != "cancelled":
                record_status(run_dir, "failed", "the run produced no results.json")
            raise PlatformError(f"{handle.platform} run {handle.run_id} ended {state} without a results.json"
                                + (f" ({said})" if said else "") + _log_tail(run_dir))
        results = _read_results(staging / "results.json")
        if not isinstance(results, dict) or not isinstance(results.get("platform"), dict):
            record_status(run_dir, "failed", "its results.json is not a results file")
            raise PlatformError(f"{handle.platform} run {handle.run_id}: its results.json is not a results file "
                                f"({'; '.join(results_file.problems(results))})")
        results["platform"].update(name=handle.platform, obtained=handle.mode, run_store_id=handle.run_id)
        results["platform"].update(self.adapter.learned_facts(handle, run_dir, results["platform"]))
        results_file.write_json(staging / "results.json", results)
        for name in OUTPUT_FILES:
            if (staging / name).is_file():
                os.replace(staging / name, run_dir / name)
        if (staging / "outputs").is_dir():  # what a user's own script wrote
            shutil.rmtree(run_dir / "outputs", ignore_errors=True)
            os.replace(staging / "outputs", run_dir / "outputs")
        return results


def _alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, TypeError):
        return False
    except PermissionError:
        pass
    return True



def _remove_stale_staging(run_dir):
    """Staging folders of pulls whose process is gone (killed mid-copy); a live pull's is left alone."""
    for folder in run_dir.glob(".pull-*"):
        pid = folder.name.split("-")[1]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _read_results(path):
    try:
        return results_file.read_json(path)
    except (OSError, ValueError) as error:
        raise PlatformError(f"{path.parent.name}: results.json unreadable ({error}); the run's other files "
                            "are kept: rerun it, or delete its folder") from None


def _checked(run_dir, results):
    """The pulled results, or the run's failure in its own words (a user's script that raised), or
    what makes its results.json no results file."""
    if isinstance(results, dict) and results.get("status") == "failed" and results.get("message"):
        record_status(run_dir, "failed", results["message"].splitlines()[0][:400])
        raise PlatformError(f"{run_dir.parent.name} run {run_dir.name} failed: {results['message']}")
    problems = results_file.problems(results)
    record_status(run_dir, "pulled", "; ".join(problems) or None)
    if problems:
        raise PlatformError(f"{run_dir / 'results.json'} does not follow the schema: {'; '.join(problems)}")
    return results


def _stderr(line):
    print(line, file=sys.stderr, flush=True)


def _last_detail(run_dir):
    """What the platform last said about the run (its failure message), from status.json."""
    return next((entry["detail"] for entry in reversed(store.status_history(run_dir)) if entry.get("detail")), None)


def _log_tail(run_dir):
    if not (run_dir / "log.txt").is_file():
        return ""
    last = [line for line in (run_dir / "log.txt").read_text(errors="replace").splitlines() if line.strip()][-1:]
    return f"; its log: {run_dir / 'log.txt'}" + (f"\n  its last line: {last[0].strip()[:400]}" if last else "")


def find(reference):
    """The Run named by `platform/run-id`, a bare run id, or a folder path."""
    return Run(*store.resolve(reference))


def all_in_store(platform=None):
    """Every readable run in the store, oldest first."""
    return [Run(handle, run_dir) for handle, run_dir in store.all_runs(platform)]
