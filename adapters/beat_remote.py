"""A BEAT platform (beat.web), reached through BEAT's own command line with the user's token: push the
prefix's objects, start the experiment, read its status and the analyzer's results back. Without a
token the adapter runs the prefix with BEAT's local executor instead (adapters/beat.py)."""

import base64
import json
import pathlib
import shlex
import subprocess

from adapters.base import MissingCredentials, PlatformError

STATES = {"Done": "completed", "Failed": "failed", "Cancelled": "cancelled", "Pending": "queued", "Scheduled": "queued",
          "Running": "running", "Canceling": "running"}

def beat_config():
    """BEAT's own configuration (~/.beatrc, then ./.beatrc), as its command line reads it."""
    values = {}
    for path in (pathlib.Path.home() / ".beatrc", pathlib.Path(".beatrc")):
        try:
            values.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return values


def beat(adapter, run_dir, *arguments, check=True, timeout=600):
    """`beat` against the platform, with the token in a private .beatrc, never on the command line."""
    work = run_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    config = {"platform": adapter.platform_url() or "https://www.idiap.ch/software/beat/platform",
                "user": adapter.user, "token": adapter.token(), "prefix": str(run_dir / "bundle" / "prefix")}
    rc = work / ".beatrc"
    rc.touch(mode=0o600)
    rc.write_text(json.dumps(config))
    try:
        done = subprocess.run([adapter.find_tool(), *arguments], cwd=work, capture_output=True, text=True, timeout=timeout)
    finally:
        rc.unlink(missing_ok=True)
    if check and done.returncode != 0:
        raise PlatformError(explain_failure(adapter, arguments, done.stdout + done.stderr))
    return done

def explain_failure(adapter, arguments, output):
    url = adapter.platform_url() or "the default BEAT platform"
    if "ConnectionError" in output or "Max retries exceeded" in output or "Connection refused" in output:
        return (f"cannot reach the BEAT platform at {url}: check BEAT_PLATFORM (or `beat config set platform`) "
                "and your connection; without BEAT_TOKEN the experiment runs on BEAT's local executor")
    if " 401" in output or " 403" in output or "Invalid token" in output:
        return f"the BEAT platform at {url} rejected the token: check BEAT_TOKEN and BEAT_USER (or ~/.beatrc)"
    last = [line for line in output.splitlines() if line.strip()][-3:]
    return f"`beat {' '.join(shlex.quote(a) for a in arguments[:3])}` failed: " + " | ".join(last)

def submit(adapter, handle, run_dir):
    experiment, _ = adapter.declared(run_dir)
    if adapter.find_tool() is None:
        raise MissingCredentials("BEAT's command line is not installed: make beat-env")
    if not handle.details.get("pushed"):
        beat(adapter, run_dir, "experiments", "push", experiment)
        handle.details["pushed"] = True
    beat(adapter, run_dir, "experiments", "start", experiment)
    handle.remote_id = experiment
    handle.details.update(engine=f"BEAT platform {adapter.platform_url()}", remote=True)

def remote_status(adapter, handle, run_dir):
    done = beat(adapter, run_dir, "experiments", "runstatus", handle.remote_id)
    try:
        return json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError:
        raise PlatformError(f"the BEAT platform's run status is not JSON: {done.stdout[:300]}") from None

def status(adapter, handle, run_dir):
    return STATES.get(remote_status(adapter, handle, run_dir).get("status"), "unknown")

def fetch_outputs(adapter, handle, run_dir, target):
    answer = remote_status(adapter, handle, run_dir)
    results = (answer.get("results") or {}).get("analysis")
    if not results:
        raise PlatformError(f"the BEAT platform has no results for {handle.remote_id} (status {answer.get('status')})")
    values = {name: entry.get("value") if isinstance(entry, dict) else entry for name, entry in results.items()}
    run = json.loads(values["results_json"])
    run["platform"].update(engine=handle.details["engine"], beat={"experiment": handle.remote_id})
    (target / "results.json").write_text(json.dumps(run))
    for name, key in (("model.h5", "model_h5"), ("model.keras", "model_keras")):
        if values.get(key):
            (target / name).write_bytes(base64.b64decode(values[key]))
    (target / "log.txt").write_text(values.get("log") or "")
