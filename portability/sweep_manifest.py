"""A sweep's state on disk: `results/runs/_sweeps/<name>-<digest>/manifest.json` (the grid, each cell's
state and run), read whole or reported as a problem, and the lock that lets one sweep of a grid run at
a time."""

import contextlib
import fcntl
import os
import time

from core import results as results_file
from core.errors import UserError
from portability.sweep_cells import sweeps_root
from report.sweeps import manifest_problem


class Manifest:
    """manifest.json: the grid and each cell's state and run, rewritten atomically on every change."""

    def __init__(self, folder, grid, cells, threads, workers):
        self.folder, self.path = folder, folder / "manifest.json"
        self.data = {"name": grid.name, "description": grid.description, "base": grid.base, "axes": grid.axes,
                     "platforms": grid.platforms, "margin": grid.margin, "threads": threads, "workers": workers,
                     "cells": {cell.id: {**cell.to_dict(), "state": "pending", "run": None} for cell in cells}}
        self.problem = None
        if self.path.is_file():  # keep what an earlier attempt knew
            earlier, self.problem = read_manifest(self.path)
            if self.problem:  # kept beside it; the cells' runs are found again by their tags in the store
                os.replace(self.path, self.path.with_name("manifest.json.damaged"))
                self.problem += f": kept as {self.path.with_name('manifest.json.damaged')}, rewritten from the store"
            for cell_id, entry in (earlier or {}).get("cells", {}).items():
                if cell_id in self.data["cells"] and entry.get("run"):
                    self.data["cells"][cell_id]["run"] = entry["run"]

    def mark(self, cell, state, run=None, error=None, save=True):
        entry = self.data["cells"][cell.id]
        entry.update(state=state, **({"run": run} if run else {}))
        entry.pop("error", None)
        if error:
            entry["error"] = error
        if save:
            self.save()

    def save(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results_file.write_json(self.path, self.data)


def read_manifest(path):
    """(the manifest, None), or (None, what is wrong with it)."""
    try:
        data = results_file.read_json(path)
    except (OSError, ValueError) as error:
        return None, f"{path} is unreadable ({type(error).__name__}: {str(error)[:200]})"
    problem = manifest_problem(data)
    return (None, f"{path}: {problem}") if problem else (data, None)


def scan_manifests():
    """([(manifest, folder)] of every sweep in the store whose manifest is sound, [problem lines])."""
    found, problems = [], []
    for path in sorted(sweeps_root().glob("*/manifest.json")):
        data, problem = read_manifest(path)
        if problem:
            problems.append(f"{problem}: left out; `portability sweep GRID` rewrites it from the store")
        else:
            found.append((data, path.parent))
    return found, problems


def read_manifests():
    """(manifest, folder) of every sweep in the store whose manifest is sound."""
    return scan_manifests()[0]


@contextlib.contextmanager
def locked(folder):
    """One sweep of a grid at a time: a second would train every cell the first has not finished.
    The lock goes with the process (flock), so a killed sweep never leaves one behind."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(f"sweep {folder.name} is already running ({holder}): wait for it to end or stop it; "
                            "a second one would train the same cells again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        yield
