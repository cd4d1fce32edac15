"""What the verdict and the report's gate are given when the store is not what a sweep left: a cell's run
with another config, a results file that is not one, a cell whose run folder was deleted, a damaged
manifest, an empty store, a failed run without a result, a sweep short of its target; and two sweeps of
one grid at once. A problem line or a refusal naming the cause, never a traceback or a wrong number."""

import copy
import fcntl
import json
import os
import pathlib
import subprocess

import pytest

from tests.conftest import BIN, ROOT, portability


def write_run(store, platform, run_id, results, cell=None):
    folder = store / platform / run_id
    folder.mkdir(parents=True)
    details = {"sweep": "tiny", "sweep_cell": cell} if cell else {}
    (folder / "handle.json").write_text(json.dumps({"platform": platform, "run_id": run_id, "bundle_hash": "x",
                                                    "details": details}))
    (folder / "status.json").write_text(json.dumps([{"time": "t", "state": "completed"}]))
    if results is not None:
        (folder / "results.json").write_text(json.dumps(results))
    return folder


def tiny_sweep(store, base, accuracies, platform="local", name="tiny-abc123"):
    """A sweep's manifest over seeds with one run per cell, each run `base` with the seed's accuracy."""
    cells = {}
    for seed, accuracy in accuracies.items():
        results = copy.deepcopy(base)
        results["config"]["seed"] = seed
        results["test"]["accuracy"] = accuracy
        results["target"]["verdict"] = "pass" if accuracy >= results["target"]["accuracy"] else "fail"
        cell_id = f"cell{seed:08d}"
        run_id = f"20260101-0000{seed:02d}-tiny"
        write_run(store, platform, run_id, results, cell=cell_id)
        cells[cell_id] = {"id": cell_id, "platform": platform, "config": dict(results["config"]), "axes": {"seed": seed},
                          "threads": 1, "state": "done", "run": f"{platform}/{run_id}"}
    folder = store / "_sweeps" / name
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "tiny", "description": "", "base": {}, "axes": {"seed": sorted(accuracies)},
                "platforms": [platform], "margin": 0.003, "threads": 1, "workers": 1, "cells": cells}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder, manifest


def report(tmp_path, *options):
    done = portability("report", "--out", tmp_path / "report", *options)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def sweep_section(tmp_path):
    return (tmp_path / "report" / "report.md").read_text().split("## Sweeps")[1].split("\n## ")[0]


def test_a_run_with_another_config_is_not_a_replicate(run_store, tmp_path, local_tiny_results):
    folder, manifest = tiny_sweep(run_store, local_tiny_results, {1: 0.9, 2: 0.92, 3: 0.91})
    stranger = run_store / "local" / "20260101-000003-tiny" / "results.json"
    results = json.loads(stranger.read_text())
    results["config"]["learning_rate"] = 0.5  # the cell's run, retrained with another config
    stranger.write_text(json.dumps(results))
    done = report(tmp_path)
    assert done.returncode == 0
    assert "was run with another config (learning_rate 0.5 for 0.001): not counted" in done.stderr
    assert "| local | – | holdout | 2 |" in sweep_section(tmp_path)  # two replicates, not three


@pytest.mark.parametrize("damage, problem", [
    (lambda r: r["test"].update(accuracy=True), "test.accuracy is not a number in [0, 1]"),
    (lambda r: r.pop("target"), "missing target"),
    (lambda r: r["target"].pop("accuracy"), "target.accuracy is not a number in (0, 1]"),
])
def test_results_that_are_not_results_are_not_averaged(run_store, tmp_path, local_tiny_results, damage, problem):
    tiny_sweep(run_store, local_tiny_results, {1: 0.9, 2: 0.92, 3: 0.91})
    path = run_store / "local" / "20260101-000002-tiny" / "results.json"
    results = json.loads(path.read_text())
    damage(results)
    path.write_text(json.dumps(results))
    done = report(tmp_path)
    assert done.returncode == 0 and problem in done.stderr
    assert "| local | – | holdout | 2 | 90.50%" in sweep_section(tmp_path)  # 100% is never averaged in


def test_a_cell_whose_run_was_deleted_is_not_done(run_store, tmp_path, local_tiny_results):
    import shutil

    tiny_sweep(run_store, local_tiny_results, {1: 0.9, 2: 0.92, 3: 0.91})
    shutil.rmtree(run_store / "local" / "20260101-000003-tiny")
    done = report(tmp_path)
    assert done.returncode == 0
    assert "its run local/20260101-000003-tiny is gone: not counted; run the sweep again to redo it" in done.stderr
    section = sweep_section(tmp_path)
    assert "3 cells: 2 done, 1 done, not counted" in section and "| local | – | holdout | 2 |" in section


def test_a_two_seed_interval_is_clipped_and_said_to_be_wide(run_store, tmp_path, local_tiny_results):
    tiny_sweep(run_store, local_tiny_results, {1: 0.55, 2: 0.99})
    assert report(tmp_path).returncode == 0
    section = sweep_section(tmp_path)
    assert "0.00% to 100.00% (clipped to 0-100%: wide, too few seeds)" in section
    assert "clipped to 0-100%" in section.split("|")[0]  # the note says which interval it is


@pytest.mark.parametrize("text, problem", [
    ('{"name": "tiny", "cells": {', "manifest.json is unreadable (JSONDecodeError"),
    ("[1, 2]", "not a JSON object"),
    ('{"name": "tiny", "cells": {}, "margin": 0.003}', "no `axes` mapping"),
    ('{"name": "tiny", "axes": {"seed": [1]}, "cells": {"a": 3}, "margin": 0.003}', "cell a is not a cell"),
])
def test_a_damaged_manifest_is_a_problem_line(run_store, tmp_path, local_tiny_results, tiny_npz, text, problem):
    folder, _ = tiny_sweep(run_store, local_tiny_results, {1: 0.9, 2: 0.92})
    (folder / "manifest.json").write_text(text)
    done = report(tmp_path)
    assert done.returncode == 0 and problem in done.stderr and "left out" in done.stderr
    assert report(tmp_path, "--fail-under").returncode == 1  # the gate cannot show that sweep's verdict

    grid = tmp_path / "grid.json"  # a sweep over a damaged manifest of its own grid rewrites it, keeping the old
    grid.write_text(json.dumps({"name": "tiny", "base": {"dataset": str(tiny_npz), "model": "1-layer"},
                                "axes": {"seed": [1]}, "platforms": ["local"]}))
    from portability import grid as grids, sweep

    cells = grids.load(grid).cells(threads=1)
    own = sweep.folder_for(grids.load(grid), cells)
    own.mkdir(parents=True)
    (own / "manifest.json").write_text(text)
    manifest = sweep.Manifest(own, grids.load(grid), cells, 1, 1)
    assert manifest.problem and (own / "manifest.json.damaged").read_text() == text


def test_the_gate_fails_an_empty_store(run_store, tmp_path):
    done = report(tmp_path, "--fail-under")
    assert done.returncode == 1 and "no run in" in done.stderr and "nothing shows success" in done.stderr


def test_the_gate_fails_a_failed_run_without_a_result(run_store, tmp_path, local_tiny_results):
    write_run(run_store, "local", "20260101-000000-old", local_tiny_results)
    assert report(tmp_path, "--fail-under").returncode == 0
    failed = write_run(run_store, "local", "20260102-000000-new", None)
    (failed / "status.json").write_text(json.dumps([{"time": "t", "state": "failed"}]))
    done = report(tmp_path, "--fail-under")
    assert done.returncode == 1 and "local: its latest run 20260102-000000-new is failed with no result" in done.stderr


def test_the_gate_fails_a_sweep_short_of_its_target(run_store, tmp_path, local_tiny_results):
    write_run(run_store, "local", "20260101-000000-single", local_tiny_results)  # passes alone
    tiny_sweep(run_store, local_tiny_results, {1: 0.40, 2: 0.42, 3: 0.41})  # target 0.5
    done = report(tmp_path, "--fail-under")
    assert done.returncode == 1
    assert "sweep tiny-abc123: local –: mean 41.00% over 3 seed(s), 95% CI" in done.stderr
    assert "short of the target 50.00%" in done.stderr
    help_text = " ".join(portability("report", "--help").stdout.split())
    assert "every platform's latest run" in help_text and "every sweep's verdict" in help_text


def test_two_sweeps_of_one_grid_do_not_run_at_once(run_store, tmp_path, tiny_npz):
    from portability import grid as grids, sweep

    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"name": "tiny", "base": {"dataset": str(tiny_npz), "model": "1-layer", "epochs": 1},
                                "axes": {"seed": [1, 2]}, "platforms": ["local"]}))
    the_grid = grids.load(path)
    folder = sweep.folder_for(the_grid, the_grid.cells(threads=1))
    holder = subprocess.Popen([str(BIN / "python"), "-c", "import sys; from portability import sweep; import pathlib\n"
                               f"with sweep.locked(pathlib.Path({str(folder)!r})):\n    print('locked', flush=True); "
                               "sys.stdin.read()"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = portability("sweep", path, "--workers", "1")
        assert second.returncode == 1 and f"sweep {folder.name} is already running (process {holder.pid}" in second.stderr
        assert "Traceback" not in second.stderr and not (run_store / "local").exists()  # nothing trained
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with open(folder / "lock") as handle:  # released with its process
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_scratch_folders_of_dead_workers_are_removed(tmp_path):
    from portability import sweep_cells

    dead = int(pathlib.Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process can have it
    stale = tmp_path / f"{sweep_cells.SCRATCH}{dead}-abc"
    live = tmp_path / f"{sweep_cells.SCRATCH}{os.getpid()}-abc"
    for folder in (stale, live):
        (folder / "runs").mkdir(parents=True)
    sweep_cells.remove_stale_scratch(tmp_path)
    assert not stale.exists() and live.exists()
