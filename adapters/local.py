"""Local: the bundle runs in a subprocess, in a clean working folder of its run. Nothing to install."""

import os
import pathlib
import signal
import subprocess
import sys

from adapters.base import Adapter, copy_work_outputs
from core import config as configuration

SHIM = '''

def data_folder(settings):
    return None  # the core finds and verifies the data: cache, system folder, download


def output_folder():
    return pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path.cwd() / "output"


def training_callbacks(settings):
    return []


def run_details():
    return {}


def export_results(out_dir):
    print(f"results in {out_dir}")  # the local adapter pulls them from there
'''


class LocalAdapter(Adapter):
    name = "local"

    def shim(self, settings):
        return "", SHIM

    def bundle_config(self, settings):
        values = settings.to_dict()
        if values["dataset"] not in configuration.BUILTIN_DATASETS:
            values["dataset"] = str(pathlib.Path(values["dataset"]).resolve())
        return values

    def submit(self, handle, run_dir):
        work = run_dir / "work"
        if handle.details.get("pid") and (work / "started").exists():
            return  # already started by an earlier, interrupted push
        work.mkdir(exist_ok=True)
        for stale in ("exitcode", "log.txt"):
            (work / stale).unlink(missing_ok=True)
        script = '"$0" "$1" output > log.txt 2>&1; echo $? > exitcode.partial && mv exitcode.partial exitcode'
        process = subprocess.Popen(["sh", "-c", script, sys.executable, str(run_dir / "bundle" / self.entry_file)],
                                   cwd=work, start_new_session=True, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PORTABILITY_OBTAINED": "executed"})
        handle.remote_id = f"pid {process.pid}"
        handle.details.update(pid=process.pid, python=sys.executable)
        (work / "started").write_text(f"{process.pid}\n")

    def status(self, handle, run_dir):
        work = run_dir / "work"
        if (work / "exitcode").is_file():
            return "completed" if (work / "exitcode").read_text().strip() == "0" else "failed"
        pid = handle.details.get("pid")
        if pid is None:
            return "submitting"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "failed"  # gone without writing its exit code: killed
        return "running"

    def fetch_outputs(self, handle, run_dir, target):
        copy_work_outputs(run_dir, target)

    def cancel(self, handle):
        try:
            os.killpg(handle.details["pid"], signal.SIGTERM)
        except (KeyError, ProcessLookupError, PermissionError):
            pass
