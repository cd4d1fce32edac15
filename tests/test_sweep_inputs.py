"""Grid files, seeds and the sweep's options that must be refused before anything runs: one line naming
the cause and the fix, exit 2, no run and no sweep folder left behind, and no hang on huge sizes."""

import json

import pytest

from tests.conftest import portability

BASE = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


def refused(done, message):
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-2000:])
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    return done


@pytest.mark.parametrize("grid_text, message", [
    ("", "is empty: a grid names a base config, axes and platforms"),
    ("{}", "is empty: a grid names a base config, axes and platforms"),
    ("name: only-a-name\n", "names no experiment: give a `base` config and `axes`"),
    ("axes: {seed: [1, 1.0]}\n", "axis 'seed' gives 1 and 1.0, the same seed twice"),
    ("axes: {epochs: [2, 2.0]}\n", "axis 'epochs' gives 2 and 2.0, the same epochs twice"),
    ("axes: {seed: [1, 2]}\nmargin: .nan\n", "margin is a fraction of accuracy in (0, 1)"),
    ("axes: {seed: [1, 2]}\nmargin: -1\n", "margin is a fraction of accuracy in (0, 1)"),
    ("axes: {seed: [1, 2]}\nbase: {epochs: null}\n", "config value epochs=null: give a value"),
])
def test_grids_that_must_be_refused(tmp_path, run_store, grid_text, message):
    (tmp_path / "grid.yaml").write_text(grid_text)
    refused(portability("sweep", tmp_path / "grid.yaml", "--dry-run"), message)
    assert not run_store.exists()


def test_a_huge_grid_is_refused_at_once_not_planned(tmp_path, run_store):
    axes = {"seed": list(range(1000)), "learning_rate": [0.001 * k for k in range(1, 1001)]}
    (tmp_path / "huge.json").write_text(json.dumps({"base": {"model": "1-layer"}, "axes": axes}))
    refused(portability("sweep", tmp_path / "huge.json", timeout=60), "has 1,000,000 cells, more than 10,000: split it")
    refused(portability("run", "--seeds", "1-100000", *BASE, timeout=60),
            "--seeds '1-100000' names 100,000 seeds, more than 10,000")
    refused(portability("run", "--seeds", "0-99999999999999999999", *BASE, timeout=60), "more than 10,000")
    assert not run_store.exists()


@pytest.mark.parametrize("options, message", [
    (["--seeds", "3-"], "--seeds '3-': write seeds as 1-5"),
    (["--seeds", ""], "--seeds '': write seeds as 1-5"),
    (["--seeds", "1,,2"], "write seeds as 1-5"),
    (["--seeds", "1-3", "--out", "somewhere"], "--out names one run's folder; --seeds makes one run per seed"),
    (["--seeds", "1-2", "--margin", "-1"], "argument --margin: -1 is not a fraction of accuracy in (0, 1)"),
    (["--seeds", "1-2", "--margin", "nan"], "argument --margin: nan is not a fraction of accuracy in (0, 1)"),
    (["--seeds", "1-2", "--margin", "0"], "is not a fraction of accuracy"),
    (["--seeds", "1-2", "--workers", "-1"], "argument --workers: '-1' is not a number of worker processes >= 1"),
    (["--seeds", "1-2", "--workers", "0"], "is not a number of worker processes >= 1"),
    (["--seeds", "1-2", "--scheduler", "http://127.0.0.1:8786"], "is not a Dask scheduler address: give tcp://HOST:8786"),
])
def test_seed_and_sweep_options_that_must_be_refused(tiny_npz, run_store, options, message):
    refused(portability("run", "--dataset", tiny_npz, *BASE, *options, timeout=120), message)
    assert not run_store.exists()


def test_sweep_options_are_checked_for_a_grid_file_too(tmp_path, run_store):
    (tmp_path / "grid.yaml").write_text("base: {model: 1-layer}\naxes: {seed: [1, 2]}\n")
    for options, message in ((["--margin", "-1"], "argument --margin"), (["--workers", "-1"], "argument --workers"),
                             (["--scheduler", "https://x.example/"], "not a Dask scheduler address")):
        refused(portability("sweep", tmp_path / "grid.yaml", *options, "--dry-run"), message)
    assert not run_store.exists()


def test_a_config_file_with_a_null_value(tmp_path, run_store):
    (tmp_path / "config.yaml").write_text("epochs: null\n")
    refused(portability("run", "--config", tmp_path / "config.yaml"), "config value epochs=null: give a value, or "
            "leave epochs out for the default (1)")
    (tmp_path / "optional.yaml").write_text("dataset: mnist\ntarget_accuracy: null\nmax_train_samples: null\n")
    from core import config

    assert config.build_config(config_file=tmp_path / "optional.yaml").target_accuracy is None  # optional keys may be null
