"""The shipped grids' laptop scale passes on a laptop: the first sweep a new user runs (`portability
sweep seeds --quick --platforms local`) must not tell them their own machine falls short. Two of the
quick seeds grid's cells, run as the sweep runs them (one TensorFlow thread), each clear the target the
grid file ships."""

import json

from portability import grid
from tests.conftest import portability


def test_the_quick_seeds_grid_clears_its_shipped_target_locally(mnist_dir, tmp_path):
    quick = grid.load("seeds", quick=True, platforms=["local"])
    target = quick.base["target_accuracy"]  # what the grid file's quick section says, not a number kept here
    cells = quick.cells(threads=1)[:2]
    assert [cell.axes["seed"] for cell in cells] == [1, 2] and 0.5 < target < 1
    for cell in cells:
        config = tmp_path / f"seed-{cell.axes['seed']}.json"
        config.write_text(json.dumps(cell.config))
        out = tmp_path / f"run-{cell.axes['seed']}"
        done = portability("run", "--config", config, "--quiet", "--out", out,
                           env={"PORTABILITY_THREADS": "1", "PORTABILITY_RUNS_DIR": str(tmp_path / "runs")}, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        results = json.loads((out / "results.json").read_text())
        assert results["config"]["max_train_samples"] == 6000 and results["target"]["accuracy"] == target
        assert results["test"]["accuracy"] >= target and results["target"]["verdict"] == "pass", results["test"]
