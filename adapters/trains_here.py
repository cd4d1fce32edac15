"""What every platform that trains on this machine shares (local, and the trackers and publishers that
train here: Comet, OpenML, BEAT's local executor): the bundle runs in a detached subprocess, in a clean
working folder of its run, and its exit code says how it ended."""

import os
import pathlib
import shutil
import subprocess
import sys

from adapters.base import copy_work_outputs
from core import config as configuration, results as results_file


class TrainsHere:
    """A mixin for an Adapter whose runs train here, in a subprocess."""

    computes_here = True
    kept_folder = None  # a folder the run writes beside its results, kept in the run folder (offline uploads)

    def bundle_config(self, config):
        values = config.to_dict()
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
        script = '"$@" > log.txt 2>&1; echo $? > exitcode.partial && mv exitcode.partial exitcode'
        process = subprocess.Popen(["sh", "-c", script, "run", *self.run_command(run_dir)],
                                   cwd=work, start_new_session=True, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PORTABILITY_OBTAINED": "executed"})
        handle.remote_id = f"pid {process.pid}"
        handle.details.update(pid=process.pid, python=sys.executable)
        (work / "started").write_text(f"{process.pid}\n")

    def run_command(self, run_dir):
        """The command that runs the bundle in run_dir/work, writing its files to output/."""
        return [sys.executable, str(run_dir / "bundle" / self.entry_path()), "output"]

    def status(self, handle, run_dir):
        work = run_dir / "work"
        if (work / "exitcode").is_file():
            return "completed" if (work / "exitcode").read_text().strip() == "0" else "failed"
        pid = handle.details.get("pid")
        if pid is None:
            return "submitting"
        return "running" if alive(pid) else "failed"  # gone without writing its exit code: killed

    def fetch_outputs(self, handle, run_dir, target):
        copy_work_outputs(run_dir, target)
        if self.kept_folder and (run_dir / "work" / "output" / self.kept_folder).is_dir():
            shutil.copytree(run_dir / "work" / "output" / self.kept_folder, run_dir / self.kept_folder, dirs_exist_ok=True)
        if (target / "results.json").is_file():
            results = results_file.read_json(target / "results.json")
            fields = self.read_back(results["platform"])
            if fields:
                results["platform"].update(fields)
                results_file.write_json(target / "results.json", results)

    def read_back(self, platform):
        """What the platform's server now says about the run (e.g. the accuracy it stored), as fields for
        results.json's `platform`; None when there is nothing to ask."""
        return None


def alive(pid):
    """Whether the process `pid` still runs: a zombie (ended, not yet reaped by its parent, perhaps this
    process) has stopped running, and is reaped here when it is our child."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc (not Linux): trust the signal
        return True
    if state != "Z":
        return True
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # another process's child: its parent reaps it
        pass
    return False
