"""A sweep's cells, run: on a Dask worker (a fresh process per cell, in a scratch run store, its run
folder sent back as files) or, for a platform, pushed and followed from here."""

import contextlib
import ctypes
import json
import logging
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import core.config
from core.errors import UserError
from portability import own_sweep, runs, store, warm_cells

ROOT = pathlib.Path(__file__).resolve().parents[1]
SWEEPS = "_sweeps"  # beside the platforms' folders in the run store; no platform name starts with "_"
STOP = threading.Event()  # set when the sweep is interrupted: the platform cells stop following
SCRATCH = "portability-cell-"  # + the worker's pid: its scratch folders are known stale once it is gone


def sweeps_root():
    return store.runs_root() / SWEEPS


def cell_runs():
    """{cell id: [(handle, run_dir), ...]} for every run of the store made as a sweep's cell."""
    index = {}
    for handle, run_dir in store.all_runs():
        if handle.details.get("sweep_cell"):
            index.setdefault(handle.details["sweep_cell"], []).append((handle, run_dir))
    return index


def run_cell(platform, config, threads, warm=True, options=None):
    """On a Dask worker: one cell in a scratch run store; returns the run folder's files, so the worker
    needs the project and the data cache, not this machine's disk. A local cell of the built-in
    experiment trains in this warm worker (portability/warm_cells.py) unless `warm` is off or the
    worker's TensorFlow runs another thread count; anything else runs the command line in a fresh process,
    with the platform's `options` in its config file."""
    remove_stale_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH}{os.getpid()}-") as scratch:
        scratch = pathlib.Path(scratch)
        if warm and platform == "local" and not own_sweep.is_script(config) and warm_cells.can_train_here(threads):
            code, output, _ = warm_cells.run_local_cell(config, threads, scratch)
            process = "warm worker"
        else:
            code, output = _fresh_process(platform, config, threads, scratch, options)
            process = "fresh process"
        folders = sorted(path for path in (scratch / "runs").glob("*/*") if path.is_dir())
        files = {}
        if folders:
            files = {str(path.relative_to(folders[0])): path.read_bytes()
                     for path in folders[0].rglob("*") if path.is_file()}
        return {"exit_code": code, "output": output[-3000:], "files": files, "process": process,
                "run_id": folders[0].name if folders else None, "worker": _worker_name()}


def _fresh_process(platform, config, threads, scratch, options=None):
    (scratch / "config.json").write_text(json.dumps({**config, **({core.config.PLATFORM_OPTIONS: {platform: options}} if options else {})}))
    environment = dict(os.environ, PORTABILITY_RUNS_DIR=str(scratch / "runs"), PYTHONUNBUFFERED="1")
    if threads:
        environment["PORTABILITY_THREADS"] = str(threads)
    action = ["run", "--quiet"] if platform == "local" else ["push", platform, "--wait", "--force"]
    done = subprocess.run([sys.executable, "-m", "portability.cli", *action, "--config", str(scratch / "config.json")],
                          env=environment, cwd=ROOT, capture_output=True, text=True, preexec_fn=_die_with_parent)
    return done.returncode, done.stdout + done.stderr


def remove_stale_scratch(folder=None):
    """Scratch folders of cells whose worker process is gone (killed with its sweep): a live one's stay."""
    for path in pathlib.Path(folder or tempfile.gettempdir()).glob(f"{SCRATCH}*"):
        pid = path.name[len(SCRATCH):].split("-")[0]
        if path.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


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
        handle.details.update(sweep=sweep_name, sweep_cell=cell.id, worker=result["worker"], process=result.get("process"))
        final = store.new_run_dir(cell.platform, result["run_id"])
        handle.run_id = final.name
        store.write_handle(staging, handle)
        os.rename(staging, final)  # onto the new, empty folder: the run appears complete or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"{cell.platform}/{final.name}"


def run_remote_cell(adapter, cell, sweep_name, timeout):
    """A platform's cell from here: pushed once (a run already tagged with this cell is followed, or its
    interrupted push resumed), followed, pulled."""
    config = own_sweep.experiment(cell.config) if own_sweep.is_script(cell.config) \
        else core.config.config_from_dict(cell.config)
    earlier = [(h, d) for h, d in cell_runs().get(cell.id, []) if store.last_state(d) not in ("failed", "cancelled")]
    run = runs.push(adapter, config, force=True, log=lambda *_: None,
                    details={"sweep": sweep_name, "sweep_cell": cell.id}, existing=earlier[-1] if earlier else None)
    run.wait(timeout=timeout, stop=STOP)  # interrupted: the next sweep follows it
    run.pull()
    return run.name


@contextlib.contextmanager
def dask_client(scheduler=None, workers=1, dashboard=False):
    """A client of the given scheduler, or of a LocalCluster of `workers` processes, one cell each, with
    `dashboard`, Dask's dashboard on a free port of 127.0.0.1 (its start-up, bokeh's import and the app,
    delays the workers by about 0.5 s: measured with 2 workers, 0.62-0.67 s to a cluster without it,
    1.09-1.31 s with it)."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except Exception as error:  # refused, timed out, or an address Dask cannot use: all the user's to fix
            raise UserError(f"cannot reach the Dask scheduler at {scheduler} ({type(error).__name__}): start it with "
                            "`dask scheduler` and at least one `dask worker`, or drop --scheduler") from None
        with client:
            yield client
        return
    with dask.config.set(QUIET), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                              dashboard_address="127.0.0.1:0" if dashboard else None,
                                              silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


# Dask's own periodic work, at intervals for cells that each train for seconds, not for tasks of
# milliseconds: on the 8-cell bench sweep (2 workers, 38 s) it took the parent process from 3.1 to 1.6
# CPU seconds and the workers' non-training CPU seconds from 11.7 to 10.3, CPU the cells train with.
QUIET = {
    "distributed.admin.tick.interval": "1s",  # each server's event-loop tick (20 ms): checks responsiveness
    "distributed.admin.system-monitor.interval": "2s",  # CPU, memory and network samples for the dashboard (500 ms)
    "distributed.worker.memory.monitor-interval": "1s",  # each nanny's look at its worker's memory (100 ms)
    "distributed.worker.profile.enabled": False,  # the statistical profile of the task thread's Python (10 ms):
}                                                 # a cell's time is in TensorFlow's kernels, not in Python


def describe_engine(client, scheduler, threads, dashboard=False):
    """The line a Dask user looks for: the engine, its workers and threads, the dashboard's address."""
    workers = client.scheduler_info().get("workers", {})
    where = f"the scheduler at {scheduler}" if scheduler else "a LocalCluster on this machine"
    if not (scheduler or dashboard):  # Dask's HTTP server still answers its health and metrics routes
        link = "none (--dashboard serves one)"
    else:
        link = client.dashboard_link if _dashboard_served(client) else "none (install bokeh to get one)"
    return (f"Dask: {where}, {len(workers)} worker process(es), {threads} TensorFlow thread(s) per cell; "
            f"dashboard: {link}")


def _dashboard_served(client):
    try:
        return bool(client.scheduler_info().get("services", {}).get("dashboard"))
    except Exception:  # an old scheduler: the link may still work
        return True
