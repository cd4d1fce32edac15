"""CodaLab: the command plan and worksheet, the entry run unmodified as a CodaLab worker would run it,
and the real `cl` (in its Python 3.9 venv) against a stand-in REST server that checks the requests."""

import json
import os

import pytest

from adapters import codalab
from tests.adapter_fixtures import run_store, tiny_npz  # noqa: F401 (fixtures)
from tests.codalab_server import CodaLabStandIn
from tests.conftest import ROOT, portability

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


def cl_or_fail():
    if codalab.cl_path() is None:
        if os.environ.get("CI"):
            pytest.fail("the CodaLab CLI is missing in CI: `make test` installs it with `make codalab-cli`")
        pytest.skip("the CodaLab CLI is not installed here: run `make codalab-cli` (needs Python 3.9)")


def outputs():
    results = json.loads((ROOT / "results/reference/mnist-reference.json").read_text())
    results["platform"] = {"name": "codalab", "obtained": "executed", "bundle_uuid": "0x1"}
    return {"results.json": json.dumps(results).encode(), "model.h5": b"HDF5 stand-in", "stdout": b"training\n",
            "stderr": b""}


def test_plan_and_worksheet():
    plan = (ROOT / "platforms/codalab/plan.sh").read_text()
    assert "cl run code:$CODE data:$DATA 'python code/experiment.py'" in plan
    assert "--request-docker-image tensorflow/tensorflow:2.21.0" in plan and "--request-memory 8g" in plan
    assert "cl search name=portability-data-mnist -u" in plan  # an uploaded data bundle is reused
    worksheet = (ROOT / "platforms/codalab/worksheet.md").read_text()
    assert "% add accuracy /summary.json:accuracy" in worksheet and "% display table portability" in worksheet


def test_missing_cli_and_credentials_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(codalab, "ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PORTABILITY_CODALAB_CL", raising=False)
    assert "make codalab-cli" in codalab.CodaLabAdapter().check()[0]
    fake = tmp_path / "cl"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("PORTABILITY_CODALAB_CL", str(fake))
    monkeypatch.setenv("CODALAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CODALAB_USERNAME", raising=False)
    assert "CODALAB_USERNAME and CODALAB_PASSWORD" in codalab.CodaLabAdapter().check()[0]
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "state.json").write_text('{"auth": {}, "sessions": {}}')  # cl ran, nobody logged in
    assert "CODALAB_USERNAME and CODALAB_PASSWORD" in codalab.CodaLabAdapter().check()[0]
    (tmp_path / "home" / "state.json").write_text('{"auth": {"https://worksheets.codalab.org": {"token_info": {}}}}')
    assert codalab.CodaLabAdapter().check() == []


def test_push_status_pull_with_the_real_cl(tiny_npz, run_store, tmp_path):
    cl_or_fail()
    with CodaLabStandIn("tester", "secret", outputs()) as server:
        env = {"PORTABILITY_RUNS_DIR": str(run_store), "CODALAB_HOME": str(tmp_path / "cl"), "CODALAB_USERNAME": "tester",
               "CODALAB_PASSWORD": "secret", "PORTABILITY_CODALAB_WORKSHEET": f"{server.url}::portability"}
        done = portability("push", "codalab", "--wait", "--timeout", "300", "--dataset", tiny_npz, *TINY, env=env)
        assert server.violations == []
        assert done.returncode == 0, done.stderr[-3000:]
        assert "[executed on codalab]" in done.stdout
        uploads = [c for c in server.calls if c[0] == "PUT"]
        assert len(uploads) == 2  # the data bundle and the code bundle
        again = portability("push", "codalab", "--wait", "--timeout", "300", "--force", "--dataset", tiny_npz, *TINY, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len([c for c in server.calls if c[0] == "PUT"]) == 3  # the data bundle was reused
    run_dir = sorted(run_store.glob("codalab/*"))[0]
    handle = json.loads((run_dir / "handle.json").read_text())
    assert handle["details"]["image"] == "tensorflow/tensorflow:2.21.0" and handle["remote_id"].startswith("0x")
    assert json.loads((run_dir / "results.json").read_text())["platform"]["obtained"] == "executed"
    assert (run_dir / "log.txt").read_text() == "training\n"


def test_failed_run_and_bad_password(tiny_npz, run_store, tmp_path):
    cl_or_fail()
    with CodaLabStandIn("tester", "secret", {}, states=("staged", "failed")) as server:
        env = {"PORTABILITY_RUNS_DIR": str(run_store), "CODALAB_HOME": str(tmp_path / "cl"), "CODALAB_USERNAME": "tester",
               "CODALAB_PASSWORD": "secret", "PORTABILITY_CODALAB_WORKSHEET": f"{server.url}::portability"}
        failed = portability("push", "codalab", "--wait", "--timeout", "300", "--dataset", tiny_npz, *TINY, env=env)
        assert failed.returncode == 1 and "without a results.json" in failed.stderr and "Traceback" not in failed.stderr
        wrong = portability("push", "codalab", "--force", "--dataset", tiny_npz, *TINY,
                            env={**env, "CODALAB_PASSWORD": "nope", "CODALAB_HOME": str(tmp_path / "cl2")})
        assert wrong.returncode == 1 and "cl work" in wrong.stderr and "Traceback (most recent" not in wrong.stderr


@pytest.mark.slow
def test_emulated_worker_reference_on_real_mnist(mnist_dir, run_store):
    done = portability("emulate", "codalab", "--preset", "mnist-reference", env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = next(run_store.glob("codalab/*"))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.98 and results["platform"]["obtained"] == "emulated"
    assert results["platform"]["codalab"] == "true" and results["platform"]["bundle_uuid"].startswith("0x")
    assert results["dataset"]["source"] == "data-dir:data"  # read through the dependency symlink
    summary = json.loads((run_dir / "work" / "output" / "summary.json").read_text())
    assert summary["accuracy"] == results["test"]["accuracy"]
    assert not (run_dir / "work" / "output" / "code").exists()  # dependencies are not part of the output


@pytest.mark.skipif(not (os.environ.get("CODALAB_USERNAME") and os.environ.get("PORTABILITY_CODALAB_WORKSHEET")),
                    reason="live CodaLab test: set CODALAB_USERNAME, CODALAB_PASSWORD and PORTABILITY_CODALAB_WORKSHEET")
def test_live_push_to_codalab(run_store):
    done = portability("push", "codalab", "--wait", "--timeout", "7200", env={"PORTABILITY_RUNS_DIR": str(run_store)},
                       timeout=7500)
    assert done.returncode == 0, done.stderr
