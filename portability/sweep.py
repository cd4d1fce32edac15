"""`portability sweep`: the cells of a grid, fanned out. Local and Docker cells are tasks on Dask
distributed (an embedded LocalCluster sized to this machine, or an existing cluster); the platforms'
cells are submitted and followed concurrently from here. Every cell is an ordinary run in the store,
tagged with its cell id, so a sweep run again skips what is complete and follows what is in flight.

    results/runs/_sweeps/<name>-<digest>/manifest.json   the grid, its cells and their runs
"""

import concurrent.futures
import contextlib
import hashlib
import os
import queue
import sys
import time

import adapters
from core import results as results_file
from portability import store
from portability.grid import computes_here
from portability.progress import Progress, _duration
from portability.sweep_cells import (STOP, cell_runs, dask_client, describe_engine, remove_stale_scratch, run_cell,
                                     run_remote_cell, store_cell_run, sweeps_root)
from portability.sweep_manifest import Manifest, locked, read_manifest, read_manifests, scan_manifests  # noqa: F401


def runs_root():
    return store.runs_root()


def folder_for(grid, cells):
    digest = hashlib.sha256(" ".join(cell.id for cell in cells).encode()).hexdigest()
    return sweeps_root() / f"{grid.name}-{digest[:6]}"


def complete(run_dir):
    """A run whose results.json is there and whole: the cell needs nothing more."""
    return results_file.complete(run_dir / "results.json")


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


def platform_adapters(grid):
    """One adapter per platform of the grid, each asked once whether it is ready; `platforms: ready`
    resolved to those that are."""
    made = {}

    def ready(name):
        made[name] = adapters.get(name, **grid.platform_options.get(name, {}))
        try:
            return not made[name].missing()
        except Exception:  # a platform whose check cannot even run is not ready
            return False

    grid.resolve_ready(ready)
    return {name: made.get(name) or adapters.get(name, **grid.platform_options.get(name, {})) for name in grid.platforms}


def run(grid, threads=1, workers=None, scheduler=None, timeout=3600, stream=sys.stderr, fresh=False, dashboard=False):
    """Run every cell that has no complete run yet; returns (the manifest's data, the sweep's folder).
    `fresh`: every local cell in a fresh Python process, not in the warm Dask worker. `dashboard`: the
    embedded cluster serves Dask's dashboard."""
    by_platform = platform_adapters(grid)
    folder = folder_for(grid, grid.cells(threads))
    with locked(folder):
        try:
            return _run_locked(grid, threads, workers, scheduler, timeout, stream, by_platform, folder, fresh, dashboard)
        finally:
            remove_stale_scratch()  # what the cells' killed processes left in the temp folder


def _run_locked(grid, threads, workers, scheduler, timeout, stream, by_platform, folder, fresh, dashboard=False):
    remove_stale_scratch()
    cells, done = plan(grid, threads)
    workers = workers or max(1, (os.cpu_count() or 1) // max(1, threads))
    manifest = Manifest(folder, grid, cells, threads, None if scheduler else workers)
    if manifest.problem:
        print(f"problem: {manifest.problem}", file=stream)
    for cell in cells:
        if cell.id in done:
            manifest.mark(cell, "done", run=done[cell.id], save=False)
    todo = [cell for cell in cells if cell.id not in done]
    manifest.save()
    here = [cell for cell in todo if computes_here(cell.platform)]
    there = [cell for cell in todo if not computes_here(cell.platform)]
    progress = Progress(manifest.folder.name, len(cells), len(done), workers, stream)
    _before_push(there, by_platform)
    with (dask_client(scheduler, workers, dashboard) if here else contextlib.nullcontext()) as client:
        if client is not None:
            print(describe_engine(client, scheduler, threads, dashboard), file=stream, flush=True)
        if client is not None and scheduler:
            progress.parallel = max(1, len(client.scheduler_info().get("workers", {})))
        _execute(client, here, there, manifest, progress, timeout, by_platform, fresh)
    return manifest.data, manifest.folder


def _before_push(cells, by_platform):
    for platform in dict.fromkeys(cell.platform for cell in cells):
        adapter = by_platform[platform]
        if not adapter.missing():
            adapter.before_push(store.all_runs(platform), log=lambda *_: None)


def _execute(client, here, there, manifest, progress, timeout, by_platform, fresh=False):
    """Submit everything, then record each cell as it ends; the live line refreshes once a second."""
    finished = queue.Queue()
    pending = {}
    name = manifest.data["name"]
    for cell in here:
        future = client.submit(run_cell, cell.platform, cell.config, cell.threads, not fresh, cell.options,
                               key=f"cell-{cell.id}-{time.time_ns()}", pure=False)
        pending[future.key] = cell
        future.add_done_callback(lambda f, c=cell: finished.put((c, f)))
        manifest.data["cells"][cell.id]["state"] = "queued"
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(16, len(there))))
    for cell in there:
        pool.submit(run_remote_cell, by_platform[cell.platform], cell, name, timeout).add_done_callback(lambda f, c=cell: finished.put((c, f)))
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
    if "model" not in cell.config:  # a user's own script: its cost is its own
        return None
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
    platform_adapters(grid)
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
            what = f"run: about {_duration(cost)}" + ("" if computes_here(cell.platform) else " on the platform")
            total_here += cost if computes_here(cell.platform) else 0
        options = "".join(f" {cell.platform}.{key}={value}" for key, value in cell.options.items())
        lines.append(f"  {cell.id}  {cell.platform:<8} {cell.label + options:<40} {what}")
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
