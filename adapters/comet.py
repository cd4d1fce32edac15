"""Comet: experiment tracking, not compute. The bundle runs where the user runs it (here: like the
local adapter, in a subprocess) and logs to Comet (see shims/comet.py).

Online when COMET_API_KEY is set and the server answers; otherwise (or when the SDK gives back a dead
experiment) offline to a zip in the run folder, which `portability push comet` uploads later.
"""

import logging
import os
import pathlib
import time

from adapters.base import Adapter, PlatformError, State
from adapters.handle import write_handle
from adapters.trains_here import TrainsHere
from core import results as results_file


def pending_zips(run_dir):
    """Offline zips of a run that have not been uploaded yet."""
    results_path = pathlib.Path(run_dir) / "results.json"
    if not results_path.is_file():
        return []
    platform = results_file.read_json(results_path)["platform"]
    if platform.get("comet_mode") != "offline" or platform.get("comet_uploaded"):
        return []
    return sorted((pathlib.Path(run_dir) / "comet-offline").glob("*.zip"))


class CometAdapter(TrainsHere, Adapter):
    name = "comet"
    emulation_variables = ("COMET_",)
    runs_with_own_credentials = True
    kept_folder = "comet-offline"  # the offline zip, until `portability push comet` uploads it
    helper_groups = {"start_comet": "result upload", "EpochMetrics": "result upload", "track_notebook": "result upload"}

    def how_it_ran(self, platform, mode):
        return label(platform, mode)

    def mode_note(self):
        return "online" if os.environ.get("COMET_API_KEY") else "offline (set COMET_API_KEY to log online)"

    def check_online(self, timeout=10.0):
        from adapters import online

        return online.comet(self, timeout)

    def submit(self, handle, run_dir):
        handle.details["comet_online_requested"] = bool(os.environ.get("COMET_API_KEY"))
        super().submit(handle, run_dir)

    def status(self, handle, run_dir):
        """The local run's state; a failed one says why in the words of its last log line (the SDK's or
        the shim's refusal, e.g. a wrong COMET_API_KEY)."""
        state = super().status(handle, run_dir)
        log = run_dir / "work" / "log.txt"
        if state != "failed" or not log.is_file():
            return state
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        return State(state, lines[-1][:400] if lines else None)

    def read_back(self, platform):
        online = platform.get("comet_mode") == "online" and platform.get("comet_key")
        return {"comet_readback": read_back(platform["comet_key"])} if online else None

    def learned_facts(self, handle, run_dir, platform):
        return {"comet_uploaded": True} if handle.details.get("comet_uploaded") else {}

    def before_push(self, pushed, log):
        uploaded = upload_pending(pushed, log)
        return f"comet: uploaded {uploaded} offline experiment(s)" if uploaded else None


def label(platform, mode):
    """Where the run computed and what reached Comet: it changes only when an offline archive is uploaded."""
    if mode != "executed":
        return None
    if platform.get("comet_mode") == "online" or platform.get("comet_uploaded"):
        return "executed here, tracked on Comet"
    return "executed here, Comet archive saved (not uploaded)"


def record_upload(run_dir, archive, before):
    """The upload in the run's status.json history: when the label changed, from what, to what."""
    path = pathlib.Path(run_dir) / "status.json"
    history = results_file.read_json(path) if path.is_file() else []
    history.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "state": history[-1]["state"] if history else "completed", "label": label({"comet_uploaded": True}, "executed"),
                    "detail": f"Comet archive {archive.name} uploaded (was: {before})"})
    results_file.write_json(path, history)


def read_back(key):
    """The test accuracy as Comet stores it, through the Comet API."""
    import comet_ml

    try:
        experiment = comet_ml.API().get_experiment_by_key(key)
        values = experiment.get_metrics("test_accuracy") if experiment else []
    except Exception as error:  # the API raises its own and requests' types
        return {"error": f"{type(error).__name__}: {error}"}
    return {"test_accuracy": float(values[-1]["metricValue"]) if values else None}


def upload_pending(runs, log=print):
    """Upload every offline zip still waiting in the run store; returns how many went up. One that
    Comet says it already has counts as uploaded (an earlier upload that was not recorded)."""
    if not os.environ.get("COMET_API_KEY"):
        return 0
    uploaded = 0
    for handle, run_dir in runs:
        for archive in pending_zips(run_dir):
            log(f"comet: uploading the offline experiment {archive.name} of {handle.run_id}")
            if upload(archive) == "already uploaded":
                log(f"comet: Comet already has {archive.name} (uploaded before): counted as uploaded")
            results = results_file.read_json(run_dir / "results.json")
            before = label(results["platform"], results["platform"]["obtained"])
            results["platform"]["comet_uploaded"] = True
            results_file.write_json(run_dir / "results.json", results)
            handle.details["comet_uploaded"] = True  # a later pull rewrites results.json: learned_facts keeps it
            write_handle(run_dir, handle)
            record_upload(run_dir, archive, before)
            uploaded += 1
    return uploaded


def upload(archive):
    """Send one offline zip: "uploaded", or "already uploaded" when Comet has its experiment already;
    anything else raises a PlatformError that says what Comet answered."""
    from comet_ml import exceptions, logging_messages
    from comet_ml.offline import upload_single_offline_experiment

    messages = SDKMessages()
    logging.getLogger("comet_ml").addHandler(messages)
    try:
        accepted = upload_single_offline_experiment(str(archive), os.environ["COMET_API_KEY"], False)
    except exceptions.InvalidAPIKey:
        raise PlatformError("Comet rejected COMET_API_KEY (upload): copy your key from comet.com > Account "
                            f"settings > API Keys; {archive} stays in the run folder") from None
    except Exception as error:  # the SDK raises requests', ValueError and its own types
        accepted, reason = False, f"{type(error).__name__}: {error}"
    else:
        reason = "; ".join(messages.said) or "see the messages above"
    finally:
        logging.getLogger("comet_ml").removeHandler(messages)
    if accepted:
        return "uploaded"
    if logging_messages.OFFLINE_EXPERIMENT_ALREADY_UPLOADED in messages.templates:
        return "already uploaded"
    raise PlatformError(f"Comet did not accept {archive} ({reason[:500]}); it stays in the run folder: "
                        "run `portability push comet` again later")


class SDKMessages(logging.Handler):
    """The errors the SDK logs instead of raising: their templates (to recognise one) and their text."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.templates, self.said = [], []

    def emit(self, record):
        self.templates.append(record.msg)
        self.said.append(record.getMessage().splitlines()[0])
