"""Comet: experiment tracking, not compute. The bundle runs where the user runs it (here: like the
local adapter, in a subprocess) and logs to Comet (see shims/comet.py).

Online when COMET_API_KEY is set and the server answers; otherwise (or when the SDK gives back a dead
experiment) offline to a zip in the run folder, which `portability push comet` uploads later.
"""

import os
import pathlib

from adapters.base import PlatformError
from adapters.base import Adapter
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
    helper_groups = {"start_comet": "result upload", "EpochMetrics": "result upload"}

    def how_it_ran(self, platform, mode):
        if mode != "executed":
            return None
        if platform.get("comet_mode") == "online":
            return "executed here, tracked on Comet"
        if platform.get("comet_uploaded"):
            return "executed here, Comet archive uploaded"
        return "executed here, Comet archive saved (not uploaded)"

    def mode_note(self):
        return "online" if os.environ.get("COMET_API_KEY") else "offline (set COMET_API_KEY to log online)"

    def submit(self, handle, run_dir):
        handle.details["comet_online_requested"] = bool(os.environ.get("COMET_API_KEY"))
        super().submit(handle, run_dir)

    def read_back(self, platform):
        online = platform.get("comet_mode") == "online" and platform.get("comet_key")
        return {"comet_readback": read_back(platform["comet_key"])} if online else None

    def before_push(self, pushed, log):
        uploaded = upload_pending(pushed, log)
        return f"comet: uploaded {uploaded} offline experiment(s)" if uploaded else None


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
    """Upload every offline zip still waiting in the run store; returns how many went up."""
    if not os.environ.get("COMET_API_KEY"):
        return 0
    from comet_ml.offline import upload_single_offline_experiment

    uploaded = 0
    for handle, run_dir in runs:
        for archive in pending_zips(run_dir):
            log(f"comet: uploading the offline experiment {archive.name} of {handle.run_id}")
            try:
                accepted = upload_single_offline_experiment(str(archive), os.environ["COMET_API_KEY"], False)
            except Exception as error:  # the SDK raises requests', ValueError and its own types
                accepted, reason = False, f"{type(error).__name__}: {error}"
            else:
                reason = "see the messages above"
            if not accepted:
                raise PlatformError(f"Comet did not accept {archive} ({reason}); it stays in the run folder: "
                                    "run `portability push comet` again later")
            results = results_file.read_json(run_dir / "results.json")
            results["platform"]["comet_uploaded"] = True
            results_file.write_json(run_dir / "results.json", results)
            uploaded += 1
    return uploaded
