"""A researcher's own script on the platforms: the seed-style script (tests/fixtures/own/train.py), unmodified,
packaged for each platform, run in each platform's emulation (the bundle unmodified) or pushed, with the
local run's weights (one thread); the data delivered the platform's way; the outputs pulled."""

import json
import textwrap

import pytest

from core import workspace
from tests.conftest import portability
from tests.kaggle_dataset_server import KaggleDatasetStandIn
from tests.own_data import FIXTURES, small_mnist_npz

TRAIN = FIXTURES / "train.py"
ONE_THREAD = {"PORTABILITY_THREADS": "1"}


@pytest.fixture(scope="module")
def mnist_npz(tmp_path_factory):
    return small_mnist_npz(tmp_path_factory.mktemp("own-data"), train=1000, test=200)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("own-runs")


def cli(store, *args, env=None, timeout=900):
    return portability(*args, env={**ONE_THREAD, "PORTABILITY_RUNS_DIR": str(store), **(env or {})}, timeout=timeout)


def only_run(store, platform):
    (run_dir,) = sorted((store / platform).iterdir())
    return run_dir, json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, mnist_npz):
    """`portability run --script` here, in its own run store (the emulations' store is the other)."""
    own_store = tmp_path_factory.mktemp("own-local")
    done = cli(own_store, "run", "--script", TRAIN, "--data", mnist_npz, "--quiet", "--", "1", "128")
    assert done.returncode == 0, done.stderr[-3000:]
    return only_run(own_store, "local")[1]


def emulated(store, platform, mnist_npz, *options):
    done = cli(store, "emulate", platform, "--script", TRAIN, "--data", mnist_npz, *options, "--", "1", "128")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return only_run(store, platform)


def assert_same_experiment(results, local, platform):
    assert results["status"] == "completed" and results["platform"]["name"] == platform
    assert results["weights_sha256"] == local["weights_sha256"]  # same script, data, seed and threads
    assert results["test"] == local["test"] and results["config"] == local["config"]
    assert results["experiment"]["sha256"] == workspace.sha256_file(TRAIN)


def assert_outputs_pulled(run_dir, results):
    names = sorted(item["path"] for item in results["artifacts"]["outputs"])
    assert names == ["model.h5", "predictions.csv"]
    for item in results["artifacts"]["outputs"]:
        assert workspace.sha256_file(run_dir / "outputs" / item["path"]) == item["sha256"]


def test_the_bundle_carries_the_script_verbatim_and_the_data_spec(tmp_path, mnist_npz):
    done = portability("package", "docker", "--out", tmp_path / "b", "--script", TRAIN, "--data",
                       f"{mnist_npz}:../input/mnist.npz", "--", "1", "128")
    assert done.returncode == 0, done.stderr
    bundle = tmp_path / "b"
    assert (bundle / "script" / "train.py").read_bytes() == TRAIN.read_bytes()
    own = json.loads((bundle / "config.json").read_text())["own_experiment"]
    assert own["args"] == ["1", "128"] and own["script"] == "script/train.py"
    assert own["items"] == [{"name": "mnist.npz", "dest": "../input/mnist.npz", "kind": "file", "files": [
        {"path": ".", "dest": "../input/mnist.npz", "sha256": workspace.sha256_file(mnist_npz)}]}]
    assert "source" not in own["items"][0]  # no path of this machine travels to a remote platform
    import pandas

    requirements = (bundle / "requirements.txt").read_text().splitlines()
    assert f"pandas=={pandas.__version__}" in requirements  # read from the imports, pinned to here
    assert "COPY script/ /experiment/script/" in (bundle / "Dockerfile").read_text()


def test_a_requirements_file_beside_the_script_wins(tmp_path, mnist_npz):
    (tmp_path / "train.py").write_bytes(TRAIN.read_bytes())
    (tmp_path / "requirements.txt").write_text("pandas>=2  # what the author lists\n")
    done = portability("package", "docker", "--out", tmp_path / "b", "--script", tmp_path / "train.py")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b" / "requirements.txt").read_text().splitlines()[-1] == "pandas>=2"


def test_bad_input_on_the_platform_commands(tmp_path, mnist_npz):
    missing = portability("emulate", "local", "--script", tmp_path / "nope.py")
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    no_out = portability("package", "docker", "--script", TRAIN)
    assert no_out.returncode == 2 and "--out" in no_out.stderr
    (tmp_path / "uses.py").write_text("import not_a_package_here\n")
    unknown = portability("package", "docker", "--out", tmp_path / "b", "--script", tmp_path / "uses.py")
    assert unknown.returncode == 2 and "not_a_package_here" in unknown.stderr and "--requirements" in unknown.stderr


@pytest.fixture(scope="module")
def local_emulated(store, mnist_npz):
    return emulated(store, "local", mnist_npz)


def test_the_local_emulation_gives_the_local_runs_weights(local_emulated, local_run):
    run_dir, results = local_emulated
    assert_same_experiment(results, local_run, "local")
    assert_outputs_pulled(run_dir, results)
    assert results["platform"]["obtained"] == "emulated"


@pytest.fixture(scope="module")
def kaggle_emulated(store, mnist_npz):
    return emulated(store, "kaggle", mnist_npz)


def test_a_local_push_runs_the_bundle_in_a_subprocess_and_pulls_the_outputs(tmp_path, local_run, mnist_npz):
    done = cli(tmp_path / "runs", "push", "local", "--wait", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    run_dir, results = only_run(tmp_path / "runs", "local")
    assert_same_experiment(results, local_run, "local")
    assert results["platform"]["obtained"] == "executed"
    assert_outputs_pulled(run_dir, results)


def test_kaggle_runs_the_script_kernel_with_the_data_set_attached(kaggle_emulated, local_run):
    run_dir, results = kaggle_emulated
    assert_same_experiment(results, local_run, "kaggle")
    metadata = json.loads((run_dir / "bundle" / "kernel-metadata.json").read_text())
    assert metadata["kernel_type"] == "script" and metadata["dataset_sources"][0].endswith("/portability-train-data")
    owner, slug = metadata["dataset_sources"][0].split("/")
    assert results["experiment"]["data"][0]["path"] == f"/kaggle/input/datasets/{owner}/{slug}/mnist.npz"
    assert_outputs_pulled(run_dir, results)


def test_kaggle_push_uploads_the_data_as_a_private_data_set_then_a_new_version(kaggle_emulated, mnist_npz, tmp_path):
    """Through the real SDK against the stand-in: the data set is created (its bytes are the user's file),
    the kernel attaches it and carries the script verbatim; a second push uploads a new version; the
    kernel's outputs (the emulated kernel's) are pulled, the script's own files included."""
    output = kaggle_emulated[0] / "work" / "output"
    outputs = {str(path.relative_to(output)): path.read_bytes() for path in output.rglob("*")
               if path.is_file() and path.name != "mnist.npz"}
    credentials = {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_API_TOKEN": "",
                   "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    push_store, dataset = tmp_path / "runs", "tester/portability-train-data"
    with KaggleDatasetStandIn("tester", "secret-key", outputs, dataset_sources=[[dataset]]) as server:
        env = {**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url}
        done = cli(push_store, "push", "kaggle", "--wait", "--timeout", "120", "--script", TRAIN, "--data", mnist_npz,
                   "--", "1", "128", env=env)
        assert server.violations == [] and done.returncode == 0, done.stderr[-3000:]
        assert server.datasets[dataset]["versions"] == [{"mnist.npz": mnist_npz.read_bytes()}]
        assert server.datasets[dataset]["private"]
        assert "BUNDLE['script/train.py'] = r'''" + TRAIN.read_text() + "'''" in server.pushed["text"]
        again = cli(push_store, "push", "kaggle", "--force", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128",
                    env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(server.datasets[dataset]["versions"]) == 2 and server.violations == []
    run_dir = sorted((push_store / "kaggle").iterdir())[0]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["platform"]["obtained"] == "executed"
    assert results["weights_sha256"] == kaggle_emulated[1]["weights_sha256"]
    assert_outputs_pulled(run_dir, results)


NOTEBOOK = FIXTURES / "kaggle-style.ipynb"


@pytest.fixture(scope="module")
def kaggle_notebook(store, mnist_npz, tmp_path_factory):
    """kaggle-style.ipynb in the emulation of Kaggle's notebook runtime (nbclient runs the kernel's .ipynb)."""
    runs = tmp_path_factory.mktemp("notebook-runs")
    done = cli(runs, "emulate", "kaggle", "--script", NOTEBOOK, "--data", f"{mnist_npz}:../input/mnist.npz")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return only_run(runs, "kaggle")


def test_a_notebook_runs_as_a_kaggle_notebook_kernel_with_the_scripts_weights(kaggle_notebook, local_run):
    """kaggle-style.ipynb reads ../input/mnist.npz: a notebook kernel whose cells are the user's, as they are,
    between one harness cell before and one after; the data set attached, laid out there; the script's weights."""
    from adapters import script_notebook

    run_dir, results = kaggle_notebook
    metadata = json.loads((run_dir / "bundle" / "kernel-metadata.json").read_text())
    assert metadata["kernel_type"] == "notebook" and metadata["code_file"] == "experiment.ipynb"
    pushed = json.loads((run_dir / "bundle" / "experiment.ipynb").read_text())
    original = json.loads(NOTEBOOK.read_text())
    assert script_notebook.user_cells(json.dumps(pushed)) == original["cells"] and len(pushed["cells"]) == len(original["cells"]) + 2
    assert pushed["metadata"] == original["metadata"]
    assert results["experiment"]["kind"] == "notebook" and results["weights_sha256"] == local_run["weights_sha256"]
    assert results["platform"]["obtained"] == "emulated" and results["experiment"]["sha256"] == workspace.sha256_file(NOTEBOOK)
    assert (run_dir / "work" / "output" / "__notebook__.ipynb").is_file()  # the executed kernel, as Kaggle keeps it


def test_kaggle_push_of_a_notebook_sends_a_notebook_kernel(kaggle_notebook, mnist_npz, tmp_path):
    """Through the real SDK against the stand-in, which checks a notebook kernel strictly: kernelType
    notebook, a valid .ipynb with the bundle cell; the user's cells in it as they are; the data set
    uploaded; the kernel's outputs (the emulated notebook kernel's) pulled with its weights."""
    from adapters import script_notebook

    output = kaggle_notebook[0] / "work" / "output"
    outputs = {str(path.relative_to(output)): path.read_bytes() for path in output.rglob("*")
               if path.is_file() and path.name != "mnist.npz"}
    credentials = {"KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_API_TOKEN": "",
                   "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    dataset = "tester/portability-kaggle-style-data"
    with KaggleDatasetStandIn("tester", "secret-key", outputs, dataset_sources=[[dataset]], kernel_type="notebook") as server:
        done = cli(tmp_path / "runs", "push", "kaggle", "--wait", "--timeout", "120", "--script", NOTEBOOK, "--data",
                   f"{mnist_npz}:../input/mnist.npz", env={**credentials, "PORTABILITY_KAGGLE_ENDPOINT": server.url})
        assert server.violations == [] and done.returncode == 0, done.stderr[-3000:]
        assert server.pushed["kernelType"] == "notebook" and server.datasets[dataset]["versions"] == [{"mnist.npz": mnist_npz.read_bytes()}]
        # the SDK sends each cell's source as one string and a code cell's outputs cleared, as Kaggle wants them
        sent = [dict(cell, source="".join(cell["source"]), **({"outputs": []} if "outputs" in cell else {}))
                for cell in json.loads(NOTEBOOK.read_text())["cells"]]
        assert script_notebook.user_cells(server.pushed["text"]) == sent
    run_dir, results = only_run(tmp_path / "runs", "kaggle")
    assert results["platform"]["obtained"] == "executed" and results["experiment"]["kind"] == "notebook"
    assert results["weights_sha256"] == kaggle_notebook[1]["weights_sha256"]


def test_codalab_links_each_item_as_a_dependency_of_the_run(store, local_run, mnist_npz):
    run_dir, results = emulated(store, "codalab", mnist_npz)
    assert_same_experiment(results, local_run, "codalab")
    uuid = results["platform"]["bundle_uuid"]
    assert results["experiment"]["data"][0]["path"] == f"/{uuid}/mnist.npz"  # the dependency's link, by its name
    assert not (run_dir / "work" / "output" / "mnist.npz").exists()  # the link is not part of the output bundle
    assert_outputs_pulled(run_dir, results)


def test_comet_tracks_the_script_through_the_fit_hook_offline(store, local_run, mnist_npz):
    run_dir, results = emulated(store, "comet", mnist_npz)
    assert_same_experiment(results, local_run, "comet")
    assert results["platform"]["comet_mode"] == "offline" and results["platform"]["comet_key"]
    assert (run_dir / "work" / "output" / results["platform"]["comet_offline_zip"]).is_file()


def test_comet_tracks_a_notebook_offline_and_online(mnist_npz, local_run, tmp_path):
    """kaggle-style.ipynb on Comet: offline, a zip with the notebook's experiment; online, through the real
    SDK against the stand-in, its parameters, every epoch's metrics (the fit hook's, from the kernel), the
    test metrics, its outputs and the notebook itself; the script's weights both times."""
    from tests.comet_server import CometStandIn

    data, quiet = f"{mnist_npz}:../input/mnist.npz", {"COMET_AUTO_LOG_ENV_DETAILS": "false", "COMET_DISABLE_ANNOUNCEMENT": "true",
                                                       "COMET_ERROR_TRACKING_ENABLE": "false", "HOME": str(tmp_path)}
    offline = cli(tmp_path / "off", "emulate", "comet", "--script", NOTEBOOK, "--data", data, env={**quiet, "COMET_API_KEY": ""})
    assert offline.returncode == 0, offline.stdout[-2000:] + offline.stderr[-3000:]
    run_dir, results = only_run(tmp_path / "off", "comet")
    assert results["platform"]["comet_mode"] == "offline" and results["weights_sha256"] == local_run["weights_sha256"]
    assert (run_dir / "work" / "output" / results["platform"]["comet_offline_zip"]).is_file()
    with CometStandIn("test-key") as server:
        online = cli(tmp_path / "on", "push", "comet", "--wait", "--script", NOTEBOOK, "--data", data,
                     env={**quiet, "COMET_API_KEY": "test-key", "COMET_URL_OVERRIDE": server.url, "COMET_WORKSPACE": "tester"})
        assert online.returncode == 0 and server.violations == [], online.stderr[-3000:] + str(server.violations)
    run_dir, results = only_run(tmp_path / "on", "comet")
    assert results["platform"]["comet_mode"] == "online" and results["weights_sha256"] == local_run["weights_sha256"]
    assert server.parameters["script"] == "kaggle-style.ipynb" and results["history"]
    for row in results["history"]:
        logged = [m for m in server.metrics if m["metricName"] == "accuracy" and int(m["epoch"]) == row["epoch"]]
        assert logged and float(logged[-1]["metricValue"]) == pytest.approx(row["accuracy"], rel=1e-6)
    assert [float(m["metricValue"]) for m in server.metrics if m["metricName"] == "test_accuracy"] == [
        pytest.approx(results["test"]["accuracy"], rel=1e-6)]
    assert {"results.json", "predictions.csv", "model.h5"} <= set(server.files)


@pytest.mark.parametrize("kind", ["script", "notebook"])
def test_a_script_with_its_own_comet_experiment_is_not_tracked_twice(tmp_path, run_store, kind):
    script = tmp_path / "own_comet.py"
    script.write_text(textwrap.dedent(f"""\
        import comet_ml
        import keras
        import numpy as np

        experiment = comet_ml.OfflineExperiment(offline_directory={str(tmp_path / "mine")!r}, project_name="mine")
        x, y = np.random.rand(64, 4), np.random.randint(0, 2, 64)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)
        print("accuracy", model.evaluate(x, y, verbose=0)[1])
        experiment.end()
        """))
    if kind == "notebook":  # its cells run in a Jupyter kernel, another process: the shim reads them
        import nbformat

        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(script.read_text())])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        script = tmp_path / "own_comet.ipynb"
        nbformat.write(notebook, script)
    done = portability("emulate", "comet", "--script", script, env={**ONE_THREAD, "PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = json.loads(next((run_store / "comet").glob("*/results.json")).read_text())
    assert results["platform"]["comet_tracked_by"] == ("the script's own comet_ml experiment" if kind == "script"
                                                       else "the notebook's own comet_ml experiment (made in its cells)")
    assert results["platform"]["comet_mode"] is None and bool(results["platform"]["comet_key"]) == (kind == "script")
    assert len(list((tmp_path / "mine").glob("*.zip"))) == 1  # the script's own, and no second one
    assert not (next((run_store / "comet").glob("*")) / "work" / "output" / "comet-offline").exists()


@pytest.mark.docker
@pytest.mark.slow
def test_docker_installs_the_scripts_imports_and_gives_the_local_weights(store, local_run, mnist_npz, offline_base_image):
    done = cli(store, "push", "docker", "--wait", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128",
               env={"PORTABILITY_DOCKER_OFFLINE": "1"}, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    run_dir, results = only_run(store, "docker")
    assert_same_experiment(results, local_run, "docker")
    assert results["platform"]["obtained"] == "executed" and results["environment"]["in_container"]
    assert results["experiment"]["data"][0]["path"] == "/data/mnist.npz"
    assert_outputs_pulled(run_dir, results)


def test_the_report_shows_the_scripts_runs_side_by_side(store, local_emulated, kaggle_emulated, tmp_path):
    done = cli(store, "report", "--out", tmp_path / "report")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:] if line.startswith("  ")}
    local_accuracy = rows["local"][2]
    assert rows["kaggle"][1:5] == ["emulated", local_accuracy, rows["local"][3], "+0.00"]
    table = (tmp_path / "report" / "report.md").read_text()
    lines = table.split("## Results")[1].splitlines()
    header = [cell.strip() for cell in next(line for line in lines if line.startswith("| platform |")).split("|")]
    kaggle_row = next(line for line in lines if line.startswith("| kaggle |"))
    assert "| train.py 1 128 (sequential) | 1 |" in kaggle_row
    assert [cell.strip() for cell in kaggle_row.split("|")][header.index("weights = local")] == "yes"


def test_the_config_key_tells_scripts_apart_by_file_data_and_argv(local_emulated):
    from report import collect

    results = local_emulated[1]
    other_args = dict(results, config=dict(results["config"], args=["2", "128"]))
    other_data = dict(results, config=dict(results["config"], data=[{"dest": "mnist.npz", "sha256": "0" * 64}]))
    keys = {collect.config_key(r) for r in (results, other_args, other_data)}
    assert len(keys) == 3 and collect.config_key(dict(results)) == collect.config_key(results)


def test_diff_shows_the_users_code_unchanged_and_what_the_platform_needed(mnist_npz, tmp_path):
    done = portability("diff", "kaggle", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128")
    assert done.returncode == 0, done.stderr
    assert "train.py (sha256 " + workspace.sha256_file(TRAIN)[:12] + ") travels unchanged" in done.stdout
    assert "data access:" in done.stdout and "script_inputs" in done.stdout
    assert "kernel-metadata.json" in done.stdout.split("what kaggle needed around it")[1]
    guide = portability("docs", "--script", TRAIN, "--data", mnist_npz, "--out", tmp_path / "guide", "--", "1", "128")
    assert guide.returncode == 0, guide.stderr
    pages = sorted(path.name for path in (tmp_path / "guide").iterdir())
    assert pages == ["README.md", "beat.md", "codalab.md", "comet.md", "docker.md", "kaggle.md", "local.md", "openml.md"]
    docker_page = (tmp_path / "guide" / "docker.md").read_text()
    assert "portability push docker --wait --script" in docker_page and "travels unchanged" in docker_page
    assert "/data/NAME" in docker_page


def test_a_three_seed_sweep_of_the_script_gives_a_verdict(mnist_npz, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"name: own-seeds\nbase: {{script: {TRAIN}, data: [{mnist_npz}], args: ['1']}}\n"
                    "axes: {seed: [1, 2, 3]}\nplatforms: [local, comet]\n")
    done = cli(tmp_path / "runs", "sweep", grid, "--threads", "1", "--workers", "2", timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "6 of 6 cells done, 0 failed" in done.stdout
    local = next(line for line in done.stdout.splitlines() if line.startswith("local |")).split(" | ")
    assert local[3] == "3" and local[8] in ("falls short", "clears the target", "straddles the target")
    comet = next(line for line in done.stdout.splitlines() if line.startswith("comet |")).split(" | ")
    assert comet[10].startswith("EQUIVALENT") and comet[11] == "3 of 3"  # same weights on each seed
    seeds = [json.loads(path.read_text())["config"]["seed"] for path in (tmp_path / "runs" / "local").glob("*/results.json")]
    assert sorted(seeds) == [1, 2, 3]


def test_run_seeds_runs_the_script_once_per_seed_and_gives_the_verdict(tmp_path):
    """`run --script ... --seeds 1-3`: the script, not the built-in experiment, once per harness seed."""
    data = small_mnist_npz(tmp_path, train=300, test=100)
    done = cli(tmp_path / "runs", "run", "--script", TRAIN, "--data", data, "--seeds", "1-3", "--", "1", timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "_sweeps/seeds-train-" in done.stdout and "3 of 3 cells done, 0 failed" in done.stdout
    runs = [json.loads(path.read_text()) for path in (tmp_path / "runs" / "local").glob("*/results.json")]
    assert sorted(r["config"]["seed"] for r in runs) == [1, 2, 3] and len({r["weights_sha256"] for r in runs}) == 3
    assert {r["experiment"]["sha256"] for r in runs} == {workspace.sha256_file(TRAIN)}
    assert all(r["seeds"]["harness"] == r["config"]["seed"] for r in runs)
    local = next(line for line in done.stdout.splitlines() if line.startswith("local |")).split(" | ")
    assert local[3] == "3" and local[8] in ("falls short", "clears the target", "straddles the target")
    plan = cli(tmp_path / "runs", "push", "local", "beat", "--dry-run", "--script", TRAIN, "--data", data, "--seeds", "4,5")
    assert plan.returncode == 0 and "sweep seeds-train: 4 cells, 0 complete, 4 to run" in plan.stdout
    missing = cli(tmp_path / "runs", "run", "--script", tmp_path / "nope.py", "--seeds", "1-2")
    assert missing.returncode == 2 and "no such file" in missing.stderr and "sweep" not in missing.stdout


def test_a_script_grid_refuses_the_built_in_experiments_keys(mnist_npz, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"base: {{script: {TRAIN}, data: [{mnist_npz}]}}\naxes: {{epochs: [1, 2]}}\n")
    done = portability("sweep", grid, "--dry-run")
    assert done.returncode == 2 and "axis 'epochs' is not one of a script's keys" in done.stderr


def test_a_script_that_raises_on_a_platform_is_a_failed_run_with_its_own_traceback(tmp_path):
    script = tmp_path / "breaks.py"
    script.write_text("open('partial.txt', 'w').write('kept')\n\ndef step():\n    raise ValueError('bad shape')\n\nstep()\n")
    done = cli(tmp_path / "runs", "emulate", "kaggle", "--script", script)
    assert done.returncode == 1 and "Traceback" not in done.stderr.split("its last line")[0].split("error:")[-1]
    assert "failed: breaks.py raised ValueError: bad shape" in done.stderr and "schema" not in done.stderr
    run_dir = next((tmp_path / "runs" / "kaggle").iterdir())
    results = json.loads((run_dir / "work" / "output" / "results.json").read_text())
    assert results["status"] == "failed" and "breaks.py raised ValueError: bad shape" in results["message"]
    assert "--- breaks.py's traceback (last lines) ---" in results["message"] and "in step" in results["message"]
    assert (run_dir / "work" / "output" / "workspace" / "working" / "partial.txt").read_text() == "kept"


def test_a_notebook_cell_that_raises_in_a_kaggle_notebook_kernel_is_a_failed_run_with_its_traceback(tmp_path):
    """Kaggle stops a notebook kernel at the failing cell: the harness records the run then, failed, with the
    cell's own traceback; what the cells wrote before is kept."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("open('partial.txt', 'w').write('kept')"),
        nbformat.v4.new_code_cell("def step():\n    raise ValueError('bad shape')\n\nstep()"),
        nbformat.v4.new_code_cell("print('never runs')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "breaks.ipynb")
    done = cli(tmp_path / "runs", "emulate", "kaggle", "--script", tmp_path / "breaks.ipynb")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    output = next((tmp_path / "runs" / "kaggle").iterdir()) / "work" / "output"
    results = json.loads((output / "results.json").read_text())
    assert results["status"] == "failed" and "breaks.ipynb raised ValueError: bad shape in a code cell" in results["message"]
    assert "--- breaks.ipynb's traceback (last lines) ---" in results["message"] and "step()" in results["message"]
    assert (output / "workspace" / "working" / "partial.txt").read_text() == "kept"


def test_beat_runs_the_script_in_its_training_block_on_a_database_of_the_data(store, local_run, mnist_npz, tmp_path):
    """BEAT's local executor (beat.core, in BEAT's Python) runs the prefix: the --data items are a database
    whose view serves each file, the training block runs the script verbatim, the weights are the local run's."""
    cache = {"PORTABILITY_BEAT_CACHE": str(tmp_path / "beat-cache")}
    done = cli(store, "emulate", "beat", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128", env=cache)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    run_dir, results = only_run(store, "beat")
    assert_same_experiment(results, local_run, "beat")
    assert_outputs_pulled(run_dir, results)
    prefix = run_dir / "bundle" / "prefix"
    (database,) = prefix.glob("databases/*/1.json")
    assert json.loads(json.loads(database.read_text())["protocols"][0]["sets"][0]["parameters"]["files"]) == [
        ["mnist.npz", "."]]
    assert results["platform"]["database"] == f"{database.parent.name}/1" and results["platform"]["block"] == "training"
    library = next(prefix.glob("libraries/*/portability_bundle/1.py")).read_text()
    assert "BUNDLE['script/train.py'] = r'''" + TRAIN.read_text() + "'''" in library
    assert str(mnist_npz) not in library  # the data travels in the database, no path of this machine
    push = cli(tmp_path / "runs", "push", "beat", "--wait", "--script", TRAIN, "--data", mnist_npz, "--", "1", "128",
               env=cache)
    assert push.returncode == 0 and "[executed by BEAT's local executor]" in push.stdout, push.stderr[-3000:]
    assert only_run(tmp_path / "runs", "beat")[1]["weights_sha256"] == local_run["weights_sha256"]


def test_beat_says_what_its_environment_lacks_and_needs_data(tmp_path):
    script = tmp_path / "uses_dask.py"
    script.write_text("import dask\nprint(dask.__version__)\n")
    data = tmp_path / "values.txt"
    data.write_text("1\n")
    done = cli(tmp_path / "runs", "emulate", "beat", "--script", script, "--data", data,
               env={"PORTABILITY_BEAT_CACHE": str(tmp_path / "beat-cache")})
    assert done.returncode != 0 and "BEAT's environment" in done.stderr and "lacks dask==" in done.stderr
    assert "pip install dask==" in done.stderr and "Traceback" not in done.stderr
    no_data = portability("package", "beat", "--out", tmp_path / "b", "--script", TRAIN)
    assert no_data.returncode == 2 and "through a database" in no_data.stderr and "--data" in no_data.stderr
