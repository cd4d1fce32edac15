"""The generated bundles exactly as committed in platforms/ (plus the core, which is copied in at push)
run as the platform would run them: the OpenML bundle's 10-fold CV on a small cached task with the same
task id, and CodaLab's plan.sh by `sh` with the real `cl` against the stand-in server."""

import json
import os
import shutil
import subprocess
import sys

from adapters import codalab
from tests import openml_cache
from tests.codalab_server import CodaLabStandIn
from tests.conftest import ROOT, synthetic_images
from tests.test_codalab import cl_or_fail, outputs


def committed(platform, target, code_dir=""):
    shutil.copytree(ROOT / "platforms" / platform, target)
    shutil.copytree(ROOT / "core", target / code_dir / "core", ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_committed_openml_bundle_runs_its_task_protocol(tmp_path):
    bundle = committed("openml", tmp_path / "bundle")
    assert json.loads((bundle / "config.json").read_text())["preset"] == "mnist-reference"
    assert "TASK_ID = 3573  # slot" in (bundle / "shim.py").read_text()
    images, labels = synthetic_images(200, seed=3)  # task 3573's id and layout, 200 rows instead of 70,000
    cache = openml_cache.build(tmp_path / "cache", 3573, 554, "mnist_784", images[..., 0], labels)
    env = {**os.environ, "OPENML_CACHE_DIR": str(cache), "OPENML_APIKEY": "", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, str(bundle / "experiment.py"), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["platform"]["protocol"] == "10-fold CV" and results["platform"]["task_id"] == 3573
    assert results["platform"]["data_check"] == "not a canonical data set"
    assert len(results["folds"]) == 10 and results["test"]["measure"] == "mean over folds"
    predictions = (tmp_path / "out" / "openml-run" / "predictions.arff").read_text().split("@DATA", 1)[1]
    assert len([line for line in predictions.strip().splitlines() if line and not line.startswith("%")]) == 200


def test_the_committed_codalab_plan_runs_with_the_real_cl(tmp_path):
    cl_or_fail()
    bundle = committed("codalab", tmp_path / "bundle", "code")
    (bundle / "data").mkdir()
    shutil.copy(ROOT / "results" / "reference" / "mnist-reference.json", bundle / "data" / "stand-in-data.json")
    with CodaLabStandIn("tester", "secret", outputs()) as server:
        env = {**os.environ, "PATH": f"{os.path.dirname(codalab.cl_path())}:{os.environ['PATH']}",
               "CODALAB_HOME": str(tmp_path / "cl"), "CODALAB_USERNAME": "tester", "CODALAB_PASSWORD": "secret",
               "PORTABILITY_CODALAB_WORKSHEET": f"{server.url}::portability"}
        done = subprocess.run(["sh", "plan.sh"], cwd=bundle, env=env, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr[-3000:]
        assert server.violations == []
        assert server.run_metadata["request_network"] is False  # created through cl_network_off.py
        uploads = [query.get("filename") for method, path, query in server.calls if method == "PUT"]
        assert len(uploads) == 2  # the data bundle and the code bundle (its files checked by the stand-in)
    assert json.loads((bundle / "results" / "results.json").read_text()) == json.loads(outputs()["results.json"])
