"""OpenML publishing against the stand-in that answers as the genuine server: flows reused across
runs, found by name and external version, the server's upload checks, each error reply it can give
explained in one line, the data set's ARFF when its parquet file is unreadable, and facts learned
after a run (published later, scored) surviving every pull."""

import json

import numpy as np
import pytest

from core import config
from tests import openml_cache
from tests.conftest import portability, synthetic_images
from tests.openml_server import OpenMLStandIn
from tests.test_openml import DATASET, TASK, TINY, env_for, pushed

LABELS = [str(c) for c in range(10)]


@pytest.fixture
def client(tmp_path):
    """The real openml client, configured as the bundle configures it, on a stand-in with a task."""
    import openml

    from adapters.shims import openml as shim

    images = np.random.default_rng(0).integers(0, 256, (60, 4, 4)).astype("uint8")
    saved = openml.config.server, openml.config.apikey, openml.config._root_cache_directory
    with OpenMLStandIn("test-key", TASK, LABELS, rows=60, images=images, label_ids=np.arange(60) % 10) as server:
        openml.config.server, openml.config.apikey = server.url, "test-key"
        openml.config.set_root_cache_directory(str(tmp_path / "cache"))
        openml.config.set_retry_policy("human", 1)
        shim.TASK_ID = TASK
        yield openml, server, shim
    openml.config.server, openml.config.apikey = saved[:2]
    openml.config.set_root_cache_directory(str(saved[2]))


def flow_for(openml, shim, **changes):
    description = shim.flow_description(config.ExperimentConfig(**{"dataset": "mnist", **changes}))
    return openml.flows.OpenMLFlow(model=None, components={}, **description), description


def raised(call):
    try:
        call()
    except Exception as error:  # the client's exception for the server's answer
        return error
    raise AssertionError("the call succeeded")


def test_the_flow_is_reused_when_a_setting_changes_between_none_and_a_value(client):
    openml, server, shim = client
    first, _ = flow_for(openml, shim, max_train_samples=None, target_accuracy=None)
    second, _ = flow_for(openml, shim, max_train_samples=600, target_accuracy=0.9)
    assert first.publish().flow_id == second.publish().flow_id == 100  # was: "differ as int vs NoneType"
    assert len(server.flows) == 1 and server.violations == []


def test_a_flow_is_found_by_name_and_external_version(client):
    openml, server, shim = client
    flow, _ = flow_for(openml, shim)
    flow.publish()
    upgraded, _ = flow_for(openml, shim)
    upgraded.external_version = flow.external_version.replace("keras==", "keras==9.")
    assert openml.flows.flow_exists(upgraded.name, upgraded.external_version) is False
    upgraded.publish()  # the stand-in found it by name alone before: "external_version differ"
    assert upgraded.flow_id == 101 and server.flows[101]["version"] == 2


def run_for(openml, server, flow, description, rows=None, settings=None):
    from openml.runs.functions import format_prediction

    task = openml.tasks.get_task(TASK, download_splits=True, download_data=False, download_qualities=False)
    rows = rows if rows is not None else [
        format_prediction(task, 0, fold, int(i), LABELS[0], LABELS[int(i) % 10], proba={k: 0.1 for k in LABELS})
        for fold in range(10) for i in task.get_train_test_split_indices(fold=fold)[1]]
    settings = settings or [{"oml:name": k, "oml:value": v} for k, v in description["parameters"].items()]
    return openml.runs.OpenMLRun(task_id=TASK, flow_id=flow.flow_id, dataset_id=task.dataset_id, flow=flow,
                                 data_content=rows, parameter_settings=settings, tags=["portability"])


def test_the_server_checks_uploads_as_the_genuine_one(client):
    openml, server, shim = client
    flow, description = flow_for(openml, shim)
    flow.publish()
    unknown = run_for(openml, server, flow, description, settings=[{"oml:name": "momentum", "oml:value": "0.9"}])
    assert "code 213" in shim.explain(raised(unknown.publish)) and "Name: momentum" in str(raised(unknown.publish))
    broken = run_for(openml, server, flow, description, rows=[[0, 0, 0, 1, "not-a-label", "0", *[0.1] * 10]])
    assert "Arff error in predictions file: nominal value 'not-a-label'" in str(raised(broken.publish))
    del server.qualities["NumberOfInstances"]
    assert "code 208" in shim.explain(raised(run_for(openml, server, flow, description).publish))
    assert server.runs == {}


def test_each_error_reply_is_explained(client):
    openml, server, shim = client
    explained = {151: shim.explain(raised(lambda: openml.tasks.get_task(999999, download_data=False)))}
    server.processed = False
    explained[273] = shim.explain(raised(lambda: openml.datasets.get_dataset(
        TASK + 1, download_data=False, download_features_meta_data=True, force_refresh_cache=True)))
    server.processed = True
    flow, description = flow_for(openml, shim)
    openml.config.apikey = "wrong-key"
    explained[103] = shim.explain(raised(flow.publish))
    openml.config.apikey = "test-key"
    flow.publish()
    explained[171] = shim.explain(raised(lambda: openml._api_calls._perform_api_call(
        "flow/", "post", file_elements={"description": flow._to_xml()})))
    explained[542] = shim.explain(raised(lambda: openml._api_calls._perform_api_call(
        "evaluation/list/function/predictive_accuracy/run/4000", "get")))
    server.max_body = 4_000  # PHP's upload limit: the body is dropped, the key with it
    explained[102] = shim.explain(raised(run_for(openml, server, flow, description).publish), upload_bytes=2_500_000)
    assert explained[151].startswith("OpenML") and "has no such task" in explained[151] and "code 151: Unknown task" in explained[151]
    assert "not processed the task's data set yet" in explained[273] and "code 273" in explained[273]
    assert "rejected the API key" in explained[103] and "code 103: Authentication failed" in explained[103]
    assert "already holds this flow" in explained[171] and "implementation_id:100" in explained[171]
    assert "no evaluation for this run yet" in explained[542]
    assert "code 102" in explained[102] and "an upload of 2.5 MB" in explained[102] and "upload limit" in explained[102]
    assert "requires authentication" not in explained[102]


def test_an_unreadable_parquet_file_falls_back_to_the_arff_and_says_so(tmp_path, run_store):
    images, labels = synthetic_images(200, seed=3)
    with OpenMLStandIn("test-key", TASK, LABELS, rows=200, images=images[..., 0], label_ids=labels) as server:
        env = env_for(run_store, tmp_path / "empty-cache", OPENML_SERVER=server.url, PORTABILITY_THREADS="1")
        run_dir, results = pushed(portability("push", "openml", "--wait", *TINY, env=env), run_store)
        assert ("HEAD", f"/minio/datasets/0000/{DATASET:04d}/dataset_{DATASET}.pq") in server.calls
        assert ("GET", f"/data/v1/download/{DATASET}/tiny-digits.arff") in server.calls and server.violations == []
    log = (run_dir / "log.txt").read_text()
    assert "parquet file" in log and "reading its ARFF instead (OPENML_SKIP_PARQUET=true)" in log
    assert results["platform"]["data_file"] == "ARFF (the server's parquet file was not readable)"
    assert len(results["folds"]) == 10


def test_a_run_published_later_keeps_its_record_through_pulls(tmp_path, run_store):
    images, labels = synthetic_images(200, seed=3)
    with OpenMLStandIn("test-key", TASK, LABELS, rows=200) as server:
        openml_cache.build(tmp_path / "c", TASK, DATASET, "tiny-digits", images[..., 0], labels, server=server.url)
        offline = env_for(run_store, tmp_path / "c", OPENML_SERVER=server.url)
        run_dir, results = pushed(portability("push", "openml", "--wait", *TINY, env=offline), run_store)
        assert results["platform"]["openml_run_id"] is None
        online = {**offline, "OPENML_APIKEY": "test-key"}
        later = portability("push", "openml", *TINY, env=online)
        assert later.returncode == 0 and "published 1 offline run" in later.stderr, later.stderr[-2000:]
        server.engine = True
        for _ in range(2):  # each pull copies the bundle's own results.json again
            pulled = portability("pull", f"openml/{run_dir.name}", env=online)
            assert pulled.returncode == 0, pulled.stderr[-2000:]
            platform = json.loads((run_dir / "results.json").read_text())["platform"]
            assert platform["openml_run_id"] == 4000 and platform["openml_pending_publish"] is None
            assert platform["openml_evaluation"]["predictive_accuracy"] == server.scores(4000)["predictive_accuracy"]
        again = portability("push", "openml", *TINY, env=online)
        assert again.returncode == 0 and "published" not in again.stderr
        assert sorted(server.runs) == [4000] and server.violations == []
        assert json.loads((run_dir / "handle.json").read_text())["details"]["openml"]["openml_run_id"] == 4000


def test_the_report_says_whether_a_run_was_published_and_openml_own_score():
    import adapters

    openml = adapters.get("openml")
    published = {"protocol": "10-fold CV", "openml_run_id": 4000,
                 "openml_evaluation": {"predictive_accuracy": 0.53, "measure": "pooled over all rows (OpenML)"}}
    assert openml.report_note(published) == "published as OpenML run 4000; OpenML predictive_accuracy 53.00% (pooled over all rows)"
    refused = {"protocol": "10-fold CV", "openml_run_id": None, "openml_publish_error": "OpenML rejected the API key"}
    assert openml.report_note(refused) == "not published: OpenML rejected the API key"
    assert openml.report_note({**published, "openml_evaluation": "pending"}).endswith("OpenML's evaluation: pending")


def test_each_platform_says_what_its_adapter_was_tested_against(run_store):
    import adapters
    from tests.conftest import ROOT

    listed = portability("platforms", env={"OPENML_APIKEY": ""}).stdout.splitlines()
    readme = (ROOT / "README.md").read_text()
    for name, tested in adapters.TESTED_AGAINST.items():
        at = next(k for k, line in enumerate(listed) if line.startswith(f"{name} "))
        assert listed[at + 1] == f"         tested against: {tested}"
        assert f"| {name} | {tested} |" in readme  # the README's table, kept equal to the one source
    assert set(adapters.TESTED_AGAINST) == set(adapters.names())
