"""The experiment in notebook form: `portability notebook` executed with nbclient, the Kaggle notebook
kernel (golden, run unmodified by nbclient in the Kaggle emulation, pushed to the strict stand-in),
and the code diff of a notebook by its code cells."""

import json
import shutil

import nbformat
import pytest

import adapters
from portability import platform_commands as cli, runs
from core import config as configuration
from report import codediff
from tests.conftest import ROOT, portability
from tests.contract import bare_machine
from tests.kaggle_server import KaggleStandIn

TINY = ["--model", "1-layer", "--batch-size", "64", "--target-accuracy", "0.5"]


def test_the_experiment_notebook_runs_and_trains_the_local_weights(tiny_npz, tmp_path, local_tiny_results):
    target = tmp_path / "nb" / "experiment.ipynb"
    (tmp_path / "tmp").mkdir()
    done = portability("notebook", "--dataset", tiny_npz, *TINY, "--out", target, "--execute",
                       env={"TMPDIR": str(tmp_path / "tmp")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert list((tmp_path / "tmp").iterdir()) == []  # the kernel's unpacked bundle is not left behind
    results = json.loads((tmp_path / "nb" / "output" / "results.json").read_text())
    assert results["weights_sha256"] == local_tiny_results["weights_sha256"]  # the script's weights
    assert results["platform"]["form"] == "notebook" and results["artifacts"]["status"] == "saved"
    notebook = nbformat.read(target, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source.startswith("# The experiment's config") and "'seed': 42," in code[0].source
    assert "bundle" in code[1].metadata["tags"] and code[1].metadata["jupyter"]["source_hidden"] is True
    assert "BUNDLE['core/experiment.py']" in code[1].source
    printed = "".join(output.get("text", "") for output in code[-1].outputs)
    assert "tiny.npz / 1-layer: test accuracy 0.7100, target 50.00%: PASS" in printed
    again = portability("notebook", "--out", target)
    assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
    before = {path.name: path.read_bytes() for path in (tmp_path / "nb" / "output").iterdir()}
    twice = portability("notebook", "--dataset", tiny_npz, *TINY, "--out", target, "--execute", "--force")
    assert twice.returncode == 2 and "output already holds a run's results.json, model.h5, model.keras" in twice.stderr
    assert {path.name: path.read_bytes() for path in (tmp_path / "nb" / "output").iterdir()} == before  # nothing lost


def test_a_failing_cell_is_a_message(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    done = portability("notebook", "--dataset", broken, "--out", tmp_path / "b.ipynb", "--execute")
    assert done.returncode == 1 and "a cell of" in done.stderr and "not a readable .npz" in done.stderr


@pytest.fixture
def notebook_kernel(monkeypatch, tmp_path):
    for key, value in {"PORTABILITY_KAGGLE_KERNEL_TYPE": "notebook", "PORTABILITY_KAGGLE_DATASET": "tester/tiny",
                       "KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key", "KAGGLE_API_TOKEN": "",
                       "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle")}.items():
        monkeypatch.setenv(key, value)
    return adapters.get("kaggle")


def test_the_committed_notebook_kernel_is_fresh_and_deterministic(monkeypatch, tmp_path):
    bare_machine(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("PORTABILITY_KAGGLE_KERNEL_TYPE", "notebook")
    adapter = adapters.get("kaggle")
    for folder in ("a", "b"):
        cli.write_generated(adapter, configuration.build_config("mnist-reference"), tmp_path / folder)
    committed = ROOT / "platforms" / "kaggle-notebook"
    for name in ("experiment.ipynb", "kernel-metadata.json"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
        assert (tmp_path / "a" / name).read_text() == (committed / name).read_text(), \
            "platforms/kaggle-notebook is stale: run `portability package kaggle --kernel-type notebook`"
    metadata = json.loads((committed / "kernel-metadata.json").read_text())
    assert metadata["kernel_type"] == "notebook" and metadata["code_file"] == "experiment.ipynb"


def test_the_notebook_kernel_runs_unmodified_in_the_kaggle_emulation_and_pushes(
        notebook_kernel, tiny_config, run_store, local_tiny_results, tmp_path, monkeypatch):
    run = runs.push("kaggle", tiny_config, mode="emulated", log=lambda m: None,
                                data_dir=tiny_config.dataset.rsplit("/", 1)[0])
    run_dir = run.run_dir
    pulled = run.pull()
    assert pulled["weights_sha256"] == local_tiny_results["weights_sha256"] and pulled["platform"]["form"] == "notebook"
    executed = nbformat.read(run_dir / "work" / "output" / "__notebook__.ipynb", as_version=4)  # Kaggle's output copy
    assert any("test accuracy" in output.get("text", "") for output in executed.cells[-1].outputs)
    outputs = {name: (run_dir / name).read_bytes() for name in ("results.json", "model.h5", "log.txt")}
    with KaggleStandIn("tester", "secret-key", outputs, dataset_sources=(["tester/tiny"],),
                       kernel_type="notebook") as server:
        monkeypatch.setenv("PORTABILITY_KAGGLE_ENDPOINT", server.url)
        run = runs.push("kaggle", tiny_config, log=lambda m: None)
        run_dir = run.run_dir
        assert run.wait(timeout=120, interval=0.2) == "completed"
        result = run.pull()
    assert server.violations == [] and server.pushed["kernelType"] == "notebook"
    assert result["platform"]["obtained"] == "executed" and result["weights_sha256"] == pulled["weights_sha256"]


def test_a_notebook_is_diffed_by_its_code_cells(notebook_kernel, tmp_path):
    platforms = tmp_path / "platforms"
    shutil.copytree(ROOT / "platforms" / "local", platforms / "local")
    shutil.copytree(ROOT / "platforms" / "kaggle-notebook", platforms / "kaggle")
    code, embedded = notebook_kernel.code_files(platforms / "kaggle")
    assert set(code) == {"experiment.py", "shim.py", "notebook cells"} and embedded > 1000
    assert "experiment.train(" in code["notebook cells"] and "BUNDLE[" not in code["notebook cells"]
    diff = codediff.platform_diff("kaggle", platforms)
    assert "+++ platforms/kaggle/notebook cells" in diff["diff"]
    assert diff["functions"]["data_folder"][0] == "data access"  # the shim, as for the script kernel
    assert not any(line.startswith("+BUNDLE[") for line in diff["diff"])


def test_bad_kernel_types_are_refused(tmp_path):
    wrong = portability("package", "local", "--kernel-type", "notebook", "--out", tmp_path / "x")
    assert wrong.returncode == 2 and "--kernel-type is Kaggle's" in wrong.stderr
    unknown = portability("package", "kaggle", "--out", tmp_path / "y", env={"PORTABILITY_KAGGLE_KERNEL_TYPE": "lab"})
    assert unknown.returncode == 2 and "unknown Kaggle kernel type 'lab': valid ones are script, notebook" in unknown.stderr


def test_jupyter_in_docker_serves_the_notebook_and_pull_collects_what_it_wrote(tiny_npz, run_store, local_tiny_results,
                                                                               offline_base_image):
    import re
    import subprocess
    import time
    import urllib.error
    import urllib.request

    done = portability("push", "docker", "--jupyter", "--dataset", tiny_npz, *TINY, env={"PORTABILITY_DOCKER_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    port, token = re.search(r"JupyterLab: http://127\.0\.0\.1:(\d+)/lab/tree/experiment\.ipynb\?token=(\w+)", done.stdout).groups()
    run = done.stdout.split("run: ")[1].split()[0]
    handle_text = (run_store / run / "handle.json").read_text()
    name = json.loads(handle_text)["remote_id"]
    assert token not in handle_text and oct((run_store / run / "work" / "jupyter-token").stat().st_mode)[-3:] == "600"
    try:
        listing = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=5) as answer:
                    listing = json.load(answer)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert listing and "experiment.ipynb" in [entry["name"] for entry in listing["content"]]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
        assert refused.value.code == 403  # the token is needed
        assert portability("status", run).stdout.split()[-1] == "running"  # served, not yet run
        executed = subprocess.run(["docker", "exec", name, "/venv/bin/jupyter", "execute", "/experiment/experiment.ipynb"],
                                  capture_output=True, text=True, timeout=600)
        assert executed.returncode == 0, executed.stderr[-2000:]
        pulled = portability("pull", run)
        assert pulled.returncode == 0, pulled.stderr
        results = json.loads((run_store / run / "results.json").read_text())
        assert results["weights_sha256"] == local_tiny_results["weights_sha256"]
        assert results["platform"]["form"] == "notebook" and results["environment"]["in_container"] is True
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    wrong = portability("push", "kaggle", "--jupyter", "--dry-run")
    assert wrong.returncode == 2 and "--jupyter is Docker's" in wrong.stderr


def test_a_config_file_chooses_the_notebook_kernel_without_changing_the_experiment(tmp_path):
    path = tmp_path / "kernel.yaml"
    path.write_text("preset: mnist-reference\nplatform_options:\n  kaggle:\n    kernel_type: notebook\n")
    done = portability("package", "kaggle", "--config", path, "--out", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "b" / "kernel-metadata.json").read_text())
    assert metadata["kernel_type"] == "notebook" and (tmp_path / "b" / "experiment.ipynb").is_file()
    assert configuration.build_config(config_file=path) == configuration.build_config("mnist-reference")  # not in the config
    flag = portability("package", "kaggle", "--config", path, "--kernel-type", "script", "--out", tmp_path / "c")
    assert flag.returncode == 0 and (tmp_path / "c" / "experiment.py").is_file()  # the flag wins
    path.write_text("platform_options:\n  kaggle:\n    colour: red\n")
    bad = portability("package", "kaggle", "--config", path, "--out", tmp_path / "d")
    assert bad.returncode == 2 and "unknown platform option kaggle.colour: valid ones are kaggle.kernel_type" in bad.stderr
