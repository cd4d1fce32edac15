"""Sweeps on real Dask: a LocalCluster of 2 workers, a scheduler and a worker started as separate
processes on 127.0.0.1 (`--scheduler`), a sweep killed mid-way and resumed (local cells, and platform
cells against the Kaggle stand-in: no cell trained twice, no platform run pushed twice), the grid
files' validation, and the report's sweep section."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from portability import grid
from tests.conftest import BIN, ROOT, default_sigint, portability
from tests.kaggle_server import KaggleStandIn
from tests.test_kaggle import credentials, reference_outputs  # noqa: F401 (a fixture)


def write_grid(folder, tiny_npz, axes, name="tiny", platforms=("local",)):
    base = {"dataset": str(tiny_npz), "model": "1-layer", "epochs": 1, "batch_size": 64, "target_accuracy": 0.5}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps({"name": name, "base": base, "axes": axes, "platforms": list(platforms)}))
    return path


def manifest_of(run_store):
    [path] = (run_store / "_sweeps").glob("*/manifest.json")
    return json.loads(path.read_text())


def local_runs(run_store):
    return sorted(path.name for path in (run_store / "local").iterdir())


def test_a_grid_on_a_local_cluster_of_two_workers(tiny_npz, run_store, tmp_path):
    path = write_grid(tmp_path, tiny_npz, {"seed": [1, 2], "learning_rate": [0.001, 0.01]})
    done = portability("sweep", path, "--workers", "2", "--dashboard")
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = manifest_of(run_store)
    assert manifest["workers"] == 2 and manifest["threads"] == 1
    assert sorted(c["state"] for c in manifest["cells"].values()) == ["done"] * 4
    results = {}
    for cell in manifest["cells"].values():
        run = json.loads((run_store / cell["run"] / "results.json").read_text())
        assert (run["config"]["seed"], run["config"]["learning_rate"]) == (cell["axes"]["seed"], cell["axes"]["learning_rate"])
        assert run["throughput"]["intra_op_threads"] == 1  # the worker's cell got the sweep's thread count
        handle = json.loads((run_store / cell["run"] / "handle.json").read_text())
        assert handle["details"]["sweep_cell"] == cell["id"]
        results[cell["id"]] = run["weights_sha256"]
    assert len(set(results.values())) == 4  # four configs, four different sets of weights
    assert "sweep tiny-" in done.stderr and "4 done" in done.stderr
    engine = next(line for line in done.stderr.splitlines() if line.startswith("Dask: "))
    assert "a LocalCluster on this machine, 2 worker process(es), 1 TensorFlow thread(s)" in engine
    assert "dashboard: http://127.0.0.1:" in engine and engine.endswith("/status")  # loopback only
    assert "4 of 4 cells done, 0 failed" in done.stdout and "verdict vs local" in done.stdout

    again = portability("sweep", path)  # complete cells are skipped: no new run
    assert again.returncode == 0 and "4 done (4 skipped)" in again.stderr
    assert not any(line.startswith("Dask: ") for line in again.stderr.splitlines())  # nothing to train: no cluster
    assert len(local_runs(run_store)) == 4

    report = portability("report", "--out", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report" / "report.md").read_text()
    section = page.split("## Sweeps")[1].split("## Code each platform")[0]
    assert "| local | learning_rate=0.001 | holdout | 2 |" in section
    assert "| local | learning_rate=0.01 | holdout | 2 |" in section
    assert "learning_rate.png" in section and (tmp_path / "report" / "plots").glob("sweep-tiny-*-learning_rate.png")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _settings(keys):
    import dask

    return {key: dask.config.get(key) for key in keys}


def test_the_local_cluster_runs_dask_s_periodic_work_at_cell_scale_intervals():
    """A sweep's LocalCluster: the scheduler's event-loop tick and each worker's settings as
    sweep_cells.QUIET sets them (the bench sweep's Dask overhead halved); the dashboard served only when
    asked for (`--dashboard`), and the engine line says which."""
    from portability.sweep_cells import QUIET, dask_client, describe_engine

    with dask_client(workers=1, dashboard=True) as client:
        (worker,) = client.run(_settings, list(QUIET)).values()
        tick = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler._tick_interval)
        served = client.scheduler_info().get("services", {})
        link = describe_engine(client, None, 1, dashboard=True).split("dashboard: ")[1]
        assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
        page = urllib.request.urlopen(link, timeout=30)
    assert worker == QUIET and worker["distributed.worker.profile.enabled"] is False
    assert tick == 1.0 and "dashboard" in served
    assert page.status == 200  # the dashboard's own page
    with dask_client(workers=1) as client:
        assert describe_engine(client, None, 1).endswith("dashboard: none (--dashboard serves one)")
        with pytest.raises(urllib.error.HTTPError) as error:  # Dask's HTTP server, without the dashboard
            urllib.request.urlopen(client.dashboard_link, timeout=30)
        assert error.value.code == 404


def test_cells_go_to_an_existing_scheduler(tiny_npz, run_store, tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(BIN / "dask"), "worker", f"tcp://127.0.0.1:{port}", "--name", "outside-worker",
                               "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        path = write_grid(tmp_path, tiny_npz, {"seed": [1]})
        done = portability("sweep", path, "--scheduler", f"tcp://127.0.0.1:{port}")
        assert done.returncode == 0, done.stderr[-3000:]
        manifest = manifest_of(run_store)
        assert manifest["workers"] is None  # no cluster of its own
        for cell in manifest["cells"].values():
            handle = json.loads((run_store / cell["run"] / "handle.json").read_text())
            assert handle["details"]["worker"].endswith("/outside-worker")
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)
    gone = portability("sweep", path, "--scheduler", f"tcp://127.0.0.1:{port}", "--platforms", "local")
    assert gone.returncode == 0 and "1 done (1 skipped)" in gone.stderr  # nothing left to compute: no scheduler needed
    (tmp_path / "other.yaml").write_text(path.read_text().replace('"seed": [1]', '"seed": [3]'))
    down = portability("sweep", tmp_path / "other.yaml", "--scheduler", f"tcp://127.0.0.1:{port}")
    assert down.returncode == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1" in down.stderr
    assert "Traceback" not in down.stderr


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def start_sweep(path, env=None):
    return subprocess.Popen([str(BIN / "portability"), "sweep", str(path), "--workers", "1"], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def test_a_killed_sweep_resumes_without_training_a_cell_twice(tiny_npz, run_store, tmp_path):
    path = write_grid(tmp_path, tiny_npz, {"seed": [1, 2]})
    (tmp_path / "tmp").mkdir()
    sweep = start_sweep(path, {"TMPDIR": str(tmp_path / "tmp")})
    done_cells = lambda: (run_store / "_sweeps").is_dir() and sum(  # noqa: E731
        c["state"] == "done" for c in manifest_of(run_store)["cells"].values()) >= 1
    wait_for(done_cells, 300, "the first cell")
    first = local_runs(run_store)
    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130 and "Traceback" not in stderr
    assert local_runs(run_store) == first  # what was in flight left no half run behind
    assert list((tmp_path / "tmp").glob("portability-cell-*")) == []  # nor its scratch folder

    resumed = portability("sweep", path, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"({len(first)} skipped)" in resumed.stderr
    runs = local_runs(run_store)
    assert len(runs) == 2 and set(first) <= set(runs)
    seeds = sorted(json.loads((run_store / "local" / r / "config.json").read_text())["seed"] for r in runs)
    assert seeds == [1, 2]


def test_platform_cells_are_pushed_once_across_an_interrupted_sweep(tiny_npz, run_store, tmp_path, credentials):  # noqa: F811
    path = write_grid(tmp_path, tiny_npz, {"seed": [1, 2]}, name="remote", platforms=("kaggle",))
    base = json.loads(path.read_text())
    base["base"] = {"preset": "mnist-reference", "max_train_samples": 1000}
    path.write_text(json.dumps(base))
    with KaggleStandIn("tester", "secret-key", reference_outputs(), statuses=("RUNNING",)) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url}
        sweep = start_sweep(path, env)
        pushes = lambda: sum(1 for call in server.calls if call[1].endswith("/SaveKernel"))  # noqa: E731
        wait_for(lambda: pushes() == 2, 120, "both pushes")
        time.sleep(3)  # it is following them now
        sweep.send_signal(signal.SIGINT)
        sweep.communicate(timeout=60)
        assert sweep.returncode == 130
        server.statuses = ["COMPLETE"]
        resumed = portability("sweep", path, env=env)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert pushes() == 2 and server.violations == []
    runs = sorted((run_store / "kaggle").iterdir())
    assert len(runs) == 2 and all((run / "results.json").is_file() for run in runs)
    assert sorted(c["state"] for c in manifest_of(run_store)["cells"].values()) == ["done", "done"]


@pytest.mark.parametrize("grid_text, message", [
    ('{"axes": {"colour": [1]}}', "axis 'colour' is not a config key: valid keys are dataset, model"),
    ('{"axes": {"seed": 3}}', "axis 'seed' needs a list of distinct values"),
    ('{"axes": {"seed": [1, 1]}}', "needs a list of distinct values"),
    ('{"axes": {"model": ["resnet"]}}', "unknown model 'resnet': valid models are"),
    ('{"axes": {"seed": [1]}, "platforms": ["local", "colab"]}', "unknown platforms colab: valid platforms are local, docker, kaggle"),
    ('{"margin": 3}', "margin is a fraction of accuracy in (0, 1)"),
    ('{"cells": 4}', "unknown keys cells: valid keys are name, description, base"),
    ('{"base": [1, 2]}', "`base` must be a mapping"),
    ('[1, 2]', "must hold a mapping"),
    ('{"axes": {"seed": [1]}, "platform_options": {"openml": {"tasks": 3573}}}',
     "bad.json: unknown platform option openml.tasks: valid ones are openml.task, openml.protocol"),
    ('{"axes": {"seed": [1]}, "platform_options": {"openml": 3573}}', "platform_options maps a platform to its options"),
])
def test_bad_grids_are_refused_before_anything_runs(tmp_path, grid_text, message):
    (tmp_path / "bad.json").write_text(grid_text)
    done = portability("sweep", tmp_path / "bad.json")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_grid_names_seeds_and_quick_scale(tmp_path):
    assert grid.parse_seeds("1-3,10") == [1, 2, 3, 10]
    for bad in ("3-1", "a", "1,1"):
        with pytest.raises(Exception, match="--seeds"):
            grid.parse_seeds(bad)
    missing = portability("sweep", "no-such-grid")
    assert missing.returncode == 2 and "shipped grid (seeds, vgg-augmentation)" in missing.stderr
    quick = grid.load("vgg-augmentation", quick=True)
    cells = quick.cells(threads=1)
    assert len(cells) == 6 and {c.config["augmentation_epochs"] for c in cells} == {0, 1, 2}
    assert all(c.config["model"] == "vgg" and c.config["max_train_samples"] == 3000 for c in cells)
    full = grid.load("vgg-augmentation")
    assert {c.config["augmentation_epochs"] for c in full.cells()} == {0, 25, 50}
    (tmp_path / "tasks.json").write_text(json.dumps({"base": {"preset": "mnist-reference"}, "axes": {"seed": [1]},
                                                     "platforms": ["local", "openml"],
                                                     "platform_options": {"openml": {"task": 3573}}}))
    local, openml = grid.load(tmp_path / "tasks.json").cells(threads=1)
    assert (local.options, openml.options) == ({}, {"task": 3573})  # a platform's cells carry its options
    assert openml.id != grid.Cell("openml", openml.config, openml.axes, 1).id  # and the task is in their identity
    assert local.id == grid.Cell("local", local.config, local.axes, 1).id  # cells without options keep their ids


def test_dry_run_lists_cells_and_their_cost_and_runs_nothing(tiny_npz, run_store, tmp_path, local_tiny_results):
    folder = run_store / "local" / "earlier"
    folder.mkdir(parents=True)
    (folder / "handle.json").write_text(json.dumps({"platform": "local", "run_id": "earlier", "bundle_hash": "x"}))
    (folder / "results.json").write_text(json.dumps(local_tiny_results))
    path = write_grid(tmp_path, tiny_npz, {"seed": [1, 2], "epochs": [1, 3]})
    done = portability("sweep", path, "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sweep tiny: 4 cells, 0 complete, 4 to run")
    assert sum("run: about" in line for line in lines) == 4 and "nothing was run" in lines[-1]
    assert not (run_store / "_sweeps").exists() and local_runs(run_store) == ["earlier"]
    seeds = portability("run", "--seeds", "1-x")
    assert seeds.returncode == 2 and "write seeds as 1-5" in seeds.stderr


def test_a_bad_thread_setting_is_a_message(tiny_npz, tmp_path):
    done = portability("run", "--dataset", tiny_npz, "--model", "1-layer", "--quiet", "--out", tmp_path / "r",
                       env={"PORTABILITY_THREADS": "two"})
    assert done.returncode == 2 and "PORTABILITY_THREADS='two'" in done.stderr and "Traceback" not in done.stderr
    threads = portability("sweep", "seeds", "--threads", "0", "--dry-run")
    assert threads.returncode == 2 and "--threads must be >= 1" in threads.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_run_and_push_with_seeds_here_and_in_docker(tiny_npz, run_store, monkeypatch, offline_base_image):
    """`push local docker --seeds`: the Docker cells are Dask tasks too, and at the same thread count each
    seed's weights in the container are the host's (the verdict table says so)."""
    options = ["--dataset", tiny_npz, "--model", "1-layer", "--batch-size", "64", "--target-accuracy", "0.5"]
    done = portability("push", "local", "docker", "--seeds", "1,2", *options,
                       env={"PORTABILITY_DOCKER_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 of 4 cells done, 0 failed" in done.stdout
    docker_row = next(line for line in done.stdout.splitlines() if line.startswith("docker |"))
    assert docker_row.endswith("| 2 of 2") and "EQUIVALENT" in docker_row
    for platform in ("local", "docker"):
        assert len(list((run_store / platform).glob("*/results.json"))) == 2
    seeds = portability("run", "--seeds", "1,2", *options)  # the same cells: complete, skipped
    assert seeds.returncode == 0 and "2 done (2 skipped)" in seeds.stderr
