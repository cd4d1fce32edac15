"""CodaLab: the command plan and worksheet, the entry run unmodified as a CodaLab worker would run it,
and the real `cl` (in its Python 3.9 venv) against a stand-in REST server where the genuine server cannot
be made to misbehave (a server that ignores network off). The genuine server's tests: test_codalab_genuine.py."""

import json
import os
import shutil
import subprocess

import pytest

from adapters import codalab, codalab_cli
from core import config
from tests.codalab_server import CodaLabStandIn
from tests.conftest import ROOT, live, live_push, portability

TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


def cl_or_fail():
    if codalab.cl_path() is None:
        if os.environ.get("CI"):
            pytest.fail("the CodaLab CLI is missing in CI: `make test` installs it with `make codalab-cli`")
        pytest.skip("the CodaLab CLI is not installed here: run `make codalab-cli` (needs Python 3.9)")


def outputs():
    results = json.loads((ROOT / "results/reference/mnist-reference.json").read_text())
    results["platform"] = {"name": "codalab", "obtained": "emulated", "bundle_uuid": "0x1"}  # the pull must relabel it
    return {"results.json": json.dumps(results).encode(), "model.h5": b"HDF5 stand-in", "stdout": b"training\n",
            "stderr": b""}


def test_plan_and_worksheet():
    plan = (ROOT / "platforms/codalab/plan.sh").read_text()
    assert "$CL_RUN code:$CODE data:$DATA 'python code/experiment.py'" in plan
    assert "cl_network_off.py run" in plan and "--request-network" not in plan  # network off
    assert (ROOT / "platforms/codalab/cl_network_off.py").is_file()
    assert "--request-docker-image tensorflow/tensorflow:2.21.0" in plan and "--request-memory 8g" in plan
    assert "cl search name=portability-data-mnist state=ready .mine -u" in plan  # only your own finished upload is reused
    worksheet = (ROOT / "platforms/codalab/worksheet.md").read_text()
    assert "% add accuracy /summary.json:accuracy" in worksheet and "% display table portability" in worksheet


def test_missing_cli_and_credentials_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(codalab_cli, "ROOT", tmp_path)
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


def test_plan_runs_with_a_shell(tmp_path):
    """plan.sh, run by sh with a recording `cl` on PATH: the run is created through cl's own Python and
    the launcher, everything else by `cl`."""
    bundle = tmp_path / "bundle"
    done = portability("package", "codalab", "--out", str(bundle), "--preset", "mnist-reference")
    assert done.returncode == 0, done.stderr
    python = tmp_path / "python3"  # stands for cl's interpreter: records how the launcher is called
    python.write_text('#!/bin/sh\n[ "$1" = cl_network_off.py ] || exec sh "$@"\necho "python $*" >> "$CALLS"\necho 0xrun\n')
    cl = tmp_path / "cl"
    cl.write_text(f'#!{python}\necho "cl $*" >> "$CALLS"\necho 0x1\n')
    for program in (python, cl):
        program.chmod(0o755)
    calls = tmp_path / "calls"
    ran = subprocess.run(["sh", "plan.sh"], cwd=bundle, capture_output=True, text=True,
                         env={**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin", "CALLS": str(calls)})
    assert ran.returncode == 0, ran.stderr
    lines = calls.read_text().splitlines()
    assert lines[:2] == ["cl work https://worksheets.codalab.org::portability",
                         "cl search name=portability-data-mnist state=ready .mine -u"]
    assert lines[2].startswith("cl upload code -n portability-code-mnist-reference")
    assert lines[3].startswith("python cl_network_off.py run code:0x1 data:0x1 python code/experiment.py ")
    assert "--request-network" not in lines[3] and "--request-docker-image tensorflow/tensorflow:2.21.0" in lines[3]
    assert lines[4:] == ["cl wait 0xrun", "cl download 0xrun -o results"]


def test_network_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTABILITY_CODALAB_NETWORK", "on")
    files = codalab.CodaLabAdapter().manifests(config.build_config("mnist-reference"))
    assert "--request-network" in files["plan.sh"] and "cl_network_off.py" not in files
    bad = portability("package", "codalab", "--out", str(tmp_path / "b"), env={"PORTABILITY_CODALAB_NETWORK": "maybe"})
    assert bad.returncode == 2 and "valid ones are off, on" in bad.stderr and "Traceback" not in bad.stderr
    script = tmp_path / "cl"
    script.write_text("#!/bin/sh\n'''exec' \"/usr/bin/python3\" \"$0\" \"$@\"\n' '''\n")
    assert codalab.cl_python(script) == "/usr/bin/python3"  # pip's form for long interpreter paths
    script.write_text("#!/usr/bin/env python3\n")
    assert codalab.cl_python(script) == shutil.which("python3")
    script.write_text("#!/bin/bash\nexec docker run codalab/cli \"$@\"\n")
    assert codalab.cl_python(script) is None


def test_network_on_request_and_a_server_that_ignores_network_off(tiny_npz, run_store, tmp_path):
    cl_or_fail()
    base = {"PORTABILITY_RUNS_DIR": str(run_store), "CODALAB_USERNAME": "tester", "CODALAB_PASSWORD": "secret"}
    with CodaLabStandIn("tester", "secret", outputs(), network=True) as server:
        env = {**base, "CODALAB_HOME": str(tmp_path / "cl"), "PORTABILITY_CODALAB_NETWORK": "on",
               "PORTABILITY_CODALAB_WORKSHEET": f"{server.url}::portability"}
        done = portability("push", "codalab", "--dataset", tiny_npz, *TINY, env=env)
        assert server.violations == [] and done.returncode == 0, done.stderr[-3000:]
        assert server.run_metadata["request_network"] is True
    with CodaLabStandIn("tester", "secret", outputs(), record_network=True) as server:
        env = {**base, "CODALAB_HOME": str(tmp_path / "cl2"), "PORTABILITY_CODALAB_WORKSHEET": f"{server.url}::portability"}
        done = portability("push", "codalab", "--dataset", tiny_npz, *TINY, env=env)
        assert server.violations == [] and server.run_metadata["request_network"] is False  # it was asked off
        assert done.returncode == 1 and "request_network=True" in done.stderr and "it was stopped" in done.stderr
        assert "Traceback" not in done.stderr and len(server.killed) == 1
    run_dir = max(run_store.glob("codalab/*"), key=lambda d: (d / "handle.json").stat().st_mtime)
    handle = json.loads((run_dir / "handle.json").read_text())
    assert handle["remote_id"] == server.killed[0]  # the created run is not forgotten
    assert json.loads((run_dir / "status.json").read_text())[-1]["state"] == "failed"


@pytest.mark.slow
def test_emulated_worker_reference_on_real_mnist(reference_run, run_store):
    done = portability("emulate", "codalab", "--preset", "mnist-reference", env={"PORTABILITY_RUNS_DIR": str(run_store)})
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = next(run_store.glob("codalab/*"))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["test"]["accuracy"] >= 0.98 and results["platform"]["obtained"] == "emulated"
    assert results["weights_sha256"] == reference_run[1]["weights_sha256"]  # bit-identical to the host run
    assert results["platform"]["codalab"] == "true" and results["platform"]["bundle_uuid"].startswith("0x")
    assert results["dataset"]["source"] == "data-dir:data"  # read through the dependency symlink
    summary = json.loads((run_dir / "work" / "output" / "summary.json").read_text())
    assert summary["accuracy"] == results["test"]["accuracy"]
    assert not (run_dir / "work" / "output" / "code").exists()  # dependencies are not part of the output


@live("codalab", "CODALAB_USERNAME", "CODALAB_PASSWORD", "PORTABILITY_CODALAB_WORKSHEET")
def test_live_push_to_codalab(run_store):
    results = live_push("codalab", 7200, run_store)
    assert results["platform"]["codalab"] == "true" and results["dataset"]["canonical"]
