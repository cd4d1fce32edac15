"""`portability sweep`: the cells of a grid, fanned out. Local and Docker cells are tasks on Dask
distributed (an embedded LocalCluster sized to this machine, or an existing cluster); the platforms'
cells are submitted and followed concurrently from here. Every cell is an ordinary run in the store,
tagged with its cell id, so a sweep run again skips what is complete and follows what is in flight.

    results/runs/_sweeps/<name>-<digest>/manifest.json   the grid, its cells and their runs
"""

import concurrent.futures
import contextlib
import ctypes
import hashlib
import json
import logging
import os
import pathlib
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import adapters
from adapters import runs, store
from adapters.grid import computed_here
from core import config as configuration, results as results_file
from core.errors import UserError

ROOT = pathlib.Path(__file__).resolve().parents[1]
SWEEPS = "_sweeps"  # beside the platforms' folders in the run store; no platform name starts with "_"
STOP = threading.Event()  # set when the sweep is interrupted: the platform cells stop following


def sweeps_root():
    return store.runs_root() / SWEEPS


def folder_for(grid, cells):
    digest = hashlib.sha256(" ".join(cell.id for cell in cells).encode()).hexdigest()
    return sweeps_root() / f"{grid.name}-{digest[:6]}"


def cell_runs():
    """{cell id: [(handle, run_dir), ...]} for every run of the store made as a sweep's cell."""
    index = {}
    for handle, run_dir in store.all_runs():
        if handle.details.get("sweep_cell"):
            index.setdefault(handle.details["sweep_cell"], []).append((handle, run_dir))
    return index


def complete(run_dir):
    """A run whose results.json is there and whole: the cell needs nothing more."""
    return results_file.complete(run_dir / "results.json")


class Manifest:
    """manifest.json: the grid and each cell's state and run, rewritten atomically on every change."""

    def __init__(self, folder, grid, cells, threads, workers):
        self.folder, self.path = folder, folder / "manifest.json"
        self.data = {"name": grid.name, "description": grid.description, "base": grid.base, "axes": grid.axes,
                     "platforms": grid.platforms, "margin": grid.margin, "threads": threads, "workers": workers,
                     "cells": {cell.id: {**cell.to_dict(), "state": "pending", "run": None} for cell in cells}}
        if self.path.is_file():  # keep what an earlier attempt knew
            for cell_id, entry in results_file.read_json(self.path).get("cells", {}).items():
                if cell_id in self.data["cells"] and entry.get("run"):
                    self.data["cells"][cell_id]["run"] = entry["run"]

    def mark(self, cell, state, run=None, error=None):
        entry = self.data["cells"][cell.id]
        entry.update(state=state, **({"run": run} if run else {}))
        entry.pop("error", None)
        if error:
            entry["error"] = error
        self.save()

    def save(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results_file.write_json(self.path, self.data)


def read_manifests():
    """(manifest, folder) of every sweep in the store; a damaged one is skipped by the caller's problems."""
    found = []
    for path in sorted(sweeps_root().glob("*/manifest.json")):
        try:
            found.append((results_file.read_json(path), path.parent))
        except (OSError, ValueError):
            continue
    return found


def run_cell(platform, config, threads):
    """On a Dask worker: one cell through the command line, in a scratch run store; returns the run
    folder's files, so the worker needs the project and the data cache, not this machine's disk."""
    with tempfile.TemporaryDirectory(prefix="portability-cell-") as scratch:
        scratch = pathlib.Path(scratch)
        (scratch / "config.json").write_text(json.dumps(config))
        environment = dict(os.environ, PORTABILITY_RUNS_DIR=str(scratch / "runs"), PYTHONUNBUFFERED="1")
        if threads:
            environment["PORTABILITY_THREADS"] = str(threads)
        action = ["run", "--quiet"] if platform == "local" else ["push", platform, "--wait", "--force"]
        done = subprocess.run([sys.executable, "-m", "adapters.cli", *action, "--config", str(scratch / "config.json")],
                              env=environment, cwd=ROOT, capture_output=True, text=True, preexec_fn=_die_with_parent)
        folders = sorted(path for path in (scratch / "runs").glob("*/*") if path.is_dir())
        files = {}
        if folders:
            files = {str(path.relative_to(folders[0])): path.read_bytes()
                     for path in folders[0].rglob("*") if path.is_file()}
        return {"exit_code": done.returncode, "output": (done.stdout + done.stderr)[-3000:], "files": files,
                "run_id": folders[0].name if folders else None, "worker": _worker_name()}


def _worker_name():
    try:
        from distributed import get_worker

        return f"{socket.gethostname()}/{get_worker().name}"
    except (ImportError, ValueError):  # called outside a Dask worker
        return socket.gethostname()


def _die_with_parent():
    """A cell's process ends with its worker (a sweep stopped, a cluster closed), never trains on orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the cell may outlive its worker
        pass


def store_cell_run(result, cell, sweep_name):
    """A worker's run folder into this machine's run store, whole or not at all; its reference."""
    if not result["run_id"]:
        return None
    incoming = sweeps_root() / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=incoming))
    try:
        for name, data in result["files"].items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        handle = store.read_handle(staging)
        handle.details.update(sweep=sweep_name, sweep_cell=cell.id, worker=result["worker"])
        final = store.new_run_dir(cell.platform, result["run_id"])
        handle.run_id = final.name
        store.write_handle(staging, handle)
        os.rename(staging, final)  # onto the new, empty folder: the run appears complete or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"{cell.platform}/{final.name}"


def run_remote_cell(cell, sweep_name, timeout):
    """A platform's cell from here: pushed once (a run already tagged with this cell is followed, or its
    interrupted push resumed), followed, pulled."""
    settings = configuration.config_from_dict(cell.config)
    earlier = [(h, d) for h, d in cell_runs().get(cell.id, []) if store.last_state(d) not in ("failed", "cancelled")]
    handle, run_dir = runs.push(cell.platform, settings, force=True, log=lambda *_: None,
                                details={"sweep": sweep_name, "sweep_cell": cell.id},
                                existing=earlier[-1] if earlier else None)
    runs.wait(handle, run_dir, timeout=timeout, stop=STOP)  # interrupted: the next sweep follows it
    runs.pull(handle, run_dir)
    return f"{cell.platform}/{handle.run_id}"


@contextlib.contextmanager
def dask_client(scheduler=None, workers=1):
    """A client of the given scheduler, or of a LocalCluster of `workers` processes, one cell each."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as error:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__}): start it with "
                            "`dask scheduler` and at least one `dask worker`, or drop --scheduler") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


class Progress:
    """One live line: done / running / failed / left, elapsed and an estimate; a new line only on
    change when the output is not a terminal."""

    def __init__(self, name, total, skipped, parallel, stream=sys.stderr):
        self.name, self.total, self.skipped, self.parallel, self.stream = name, total, skipped, parallel, stream
        self.started, self.ended, self.last = time.monotonic(), 0, None

    def line(self, done, running, failed):
        left = self.total - done - failed - running
        elapsed = time.monotonic() - self.started
        text = (f"sweep {self.name}: {done} done ({self.skipped} skipped), {running} running, {failed} failed, "
                f"{left} left, {_duration(elapsed)} elapsed")
        if self.ended and left + running:  # the pace so far, which already counts the workers
            text += f", about {_duration(elapsed / self.ended * (left + running))} to go"
        return text

    def show(self, done, running, failed):
        text = self.line(done, running, failed)
        if self.stream.isatty():
            self.stream.write("\r" + text.ljust(100)[:160])
            self.stream.flush()
        elif text.split(", ")[:4] != (self.last or "").split(", ")[:4]:
            print(text, file=self.stream, flush=True)
        self.last = text

    def finish(self):
        if self.stream.isatty():
            self.stream.write("\n")


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def plan(grid, threads):
    """(cells, {cell id: reference of its complete run}) of the grid: what is done, what is left."""
    cells = grid.cells(threads)
    index = cell_runs()
    done = {}
    for cell in cells:
        finished = [d for _, d in index.get(cell.id, []) if complete(d)]
        if finished:
            done[cell.id] = f"{cell.platform}/{finished[-1].name}"
    return cells, done


def run(grid, threads=1, workers=None, scheduler=None, timeout=3600, stream=sys.stderr):
    """Run every cell that has no complete run yet; return the manifest's data."""
    cells, done = plan(grid, threads)
    workers = workers or max(1, (os.cpu_count() or 1) // max(1, threads))
    manifest = Manifest(folder_for(grid, cells), grid, cells, threads, None if scheduler else workers)
    for cell in cells:
        if cell.id in done:
            manifest.mark(cell, "done", run=done[cell.id])
    todo = [cell for cell in cells if cell.id not in done]
    manifest.save()
    here = [cell for cell in todo if computed_here(cell.platform)]
    there = [cell for cell in todo if not computed_here(cell.platform)]
    progress = Progress(manifest.folder.name, len(cells), len(done), workers, stream)
    _before_push(there)
    with (dask_client(scheduler, workers) if here else contextlib.nullcontext()) as client:
        if client is not None and scheduler:
            progress.parallel = max(1, len(client.scheduler_info().get("workers", {})))
        _execute(client, here, there, manifest, progress, timeout)
    return manifest.data


def _before_push(cells):
    for platform in dict.fromkeys(cell.platform for cell in cells):
        adapter = adapters.get(platform)
        if not adapter.check():
            adapter.before_push(store.all_runs(platform), log=lambda *_: None)


def _execute(client, here, there, manifest, progress, timeout):
    """Submit everything, then record each cell as it ends; the live line refreshes once a second."""
    finished = queue.Queue()
    pending = {}
    name = manifest.data["name"]
    for cell in here:
        future = client.submit(run_cell, cell.platform, cell.config, cell.threads, key=f"cell-{cell.id}-{time.time_ns()}",
                               pure=False)
        pending[future.key] = cell
        future.add_done_callback(lambda f, c=cell: finished.put((c, f)))
        manifest.data["cells"][cell.id]["state"] = "queued"
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(16, len(there))))
    for cell in there:
        pool.submit(run_remote_cell, cell, name, timeout).add_done_callback(lambda f, c=cell: finished.put((c, f)))
        manifest.data["cells"][cell.id]["state"] = "running"
    manifest.save()
    counts = {"done": sum(1 for c in manifest.data["cells"].values() if c["state"] == "done"), "failed": 0}
    outstanding = len(here) + len(there)
    try:
        while outstanding:
            running = min(progress.parallel, _running(client, pending)) + sum(1 for c in there if manifest.data["cells"][c.id]["state"] == "running")
            progress.show(counts["done"], running, counts["failed"])
            try:
                cell, future = finished.get(timeout=1)
            except queue.Empty:
                continue
            outstanding -= 1
            counts[_record(cell, future, manifest, progress)] += 1
    finally:
        STOP.set()  # the platform cells' threads stop following; their runs stay in the store
        pool.shutdown(wait=True, cancel_futures=True)
        STOP.clear()
        progress.show(counts["done"], 0, counts["failed"])
        progress.finish()


def _running(client, pending):
    if client is None or not pending:
        return 0
    try:
        return sum(1 for keys in client.processing().values() for key in keys if key in pending)
    except Exception:  # the scheduler is busy or gone: the count is only for the live line
        return 0


def _record(cell, future, manifest, progress):
    """One ended cell into the store and the manifest: 'done' or 'failed'."""
    progress.ended += 1
    try:
        result = future.result()
        if isinstance(result, dict):  # a Dask cell: its folder comes back as files
            reference = store_cell_run(result, cell, manifest.data["name"])
            if result["exit_code"] != 0:
                last = [line for line in result["output"].splitlines() if line.strip()][-1:] or ["no output"]
                manifest.mark(cell, "failed", run=reference, error=f"exit code {result['exit_code']}: {last[0][:300]}")
                return "failed"
        else:
            reference = result
        manifest.mark(cell, "done", run=reference)
        return "done"
    except Exception as error:  # a worker lost, a platform error: the cell failed, the others go on
        manifest.mark(cell, "failed", error=f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}")
        return "failed"


def estimate_seconds(cell, earlier):
    """A cell's cost from the latest complete run of the same model (any platform), scaled to the
    cell's images and epochs; None without one."""
    same = [r for r in earlier if r["model"]["name"] == cell.config["model"] and r.get("throughput")]
    if not same:
        return None
    latest = same[-1]
    phases = latest["throughput"]["phases"].values()
    seconds, images = sum(p["seconds"] for p in phases), sum(p["images"] for p in phases)
    if not images:
        return None
    per_image = seconds / images
    overhead = max(0.0, latest["timings"].get("total", seconds) - latest["timings"].get("training", seconds))
    size = latest["dataset"]["train_samples"]
    if cell.config.get("max_train_samples"):
        size = min(size, cell.config["max_train_samples"])
    epochs = cell.config["epochs"] + cell.config["fine_tune_epochs"] + cell.config["augmentation_epochs"]
    return overhead + per_image * size * epochs


def earlier_results():
    found = []
    for _, run_dir in store.all_runs():
        try:
            results = results_file.read_json(run_dir / "results.json")
        except (OSError, ValueError):
            continue
        if not results_file.problems(results):
            found.append(results)
    return found


def describe_plan(grid, threads, workers=None):
    """`--dry-run`: every cell, whether it would run, and what it would cost; nothing is run."""
    cells, done = plan(grid, threads)
    earlier = earlier_results()
    workers = workers or max(1, (os.cpu_count() or 1) // max(1, threads))
    lines = [f"sweep {grid.name}: {len(cells)} cells, {len(done)} complete, {len(cells) - len(done)} to run "
             f"({workers} Dask worker(s) x {threads} TensorFlow thread(s) here)"]
    total_here = 0.0
    for cell in cells:
        cost = estimate_seconds(cell, earlier)
        if cell.id in done:
            what = f"skip: complete in {done[cell.id]}"
        elif cost is None:
            what = "run: cost unknown (no earlier run of this model to scale from)"
        else:
            what = f"run: about {_duration(cost)}" + ("" if computed_here(cell.platform) else " on the platform")
            total_here += cost if computed_here(cell.platform) else 0
        lines.append(f"  {cell.id}  {cell.platform:<8} {cell.label:<40} {what}")
    lines.append(f"estimated time for the cells computed here: about {_duration(total_here / workers)} "
                 f"on {workers} worker(s); nothing was run")
    return "\n".join(lines)


def summary(data):
    """The end of a sweep: each cell's state and run, then the counts."""
    lines = []
    for cell in data["cells"].values():
        label = ", ".join(f"{k}={v}" for k, v in cell["axes"].items())
        lines.append(f"  {cell['platform']:<8} {label:<40} {cell['state']:<7} {cell.get('run') or ''}"
                     + (f"  ({cell['error']})" if cell.get("error") else ""))
    states = [cell["state"] for cell in data["cells"].values()]
    lines.append(f"{states.count('done')} of {len(states)} cells done, {states.count('failed')} failed")
    return "\n".join(lines)
