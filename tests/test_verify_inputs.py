"""`portability verify` against files that are not what it expects: a truncated reference, a run or a
reference without data hashes, a tolerance that cannot be one. One line naming the cause, no traceback."""

import copy
import json

import pytest

from tests.conftest import portability


@pytest.fixture
def run_file(tmp_path, local_tiny_results):
    path = tmp_path / "run" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(local_tiny_results))
    return path


def test_a_truncated_reference(tmp_path, run_file):
    (tmp_path / "reference.json").write_text(run_file.read_text()[:200])
    done = portability("verify", run_file.parent, "--reference", tmp_path / "reference.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "cannot read the reference" in done.stderr and "JSONDecodeError" in done.stderr
    assert "pass another --reference FILE" in done.stderr


def test_a_reference_that_is_not_a_results_file(tmp_path, run_file):
    (tmp_path / "reference.json").write_text('{"config": {}}')
    done = portability("verify", run_file.parent, "--reference", tmp_path / "reference.json")
    assert done.returncode == 1 and "is not a results file (missing schema_version" in done.stderr


@pytest.mark.parametrize("which", ["run", "reference"])
def test_results_without_data_hashes(tmp_path, run_file, local_tiny_results, which):
    stripped = copy.deepcopy(local_tiny_results)
    del stripped["dataset"]["files"]
    (tmp_path / "reference.json").write_text(json.dumps(stripped if which == "reference" else local_tiny_results))
    if which == "run":
        run_file.write_text(json.dumps(stripped))
    done = portability("verify", run_file.parent, "--reference", tmp_path / "reference.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"FAIL data hashes: the {which} recorded no data file hashes: nothing to compare" in done.stdout
    assert "OK   test accuracy" in done.stdout  # the other checks still run


@pytest.mark.parametrize("value, cause", [("-1", "-1 is negative"), ("nan", "nan is not a number"), ("2", "2 is above 1")])
def test_a_tolerance_that_cannot_be_one(run_file, value, cause):
    done = portability("verify", run_file.parent, "--tolerance", value)
    assert done.returncode == 2 and f"argument --tolerance: {cause}: the tolerance is an allowed difference" in done.stderr
