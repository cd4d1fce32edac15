"""The contract every platform adapter must pass. A new adapter is added to adapters.REGISTRY and
gets this whole suite; platform specifics live in each adapter's own test file."""

import json
import os
import subprocess
import sys

import pytest

import adapters
from adapters import base, runs
from core import results as results_file
from core.errors import UsageError
from tests.adapter_fixtures import run_store, tiny_npz, tiny_settings  # noqa: F401 (fixtures)

ALL = adapters.names()
CREDENTIAL_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "COMET_API_KEY",
                        "OPENML_SERVER",
                        "CODALAB_USERNAME", "CODALAB_PASSWORD", "OPENML_APIKEY", "DOCKER_HOST")


@pytest.fixture(scope="module")
def openml_cache_dir(tmp_path_factory):
    from tests import openml_cache
    from tests.conftest import synthetic_images

    images, labels = synthetic_images(200, seed=3)
    root = tmp_path_factory.mktemp("openml-cache")
    return openml_cache.build(root, 990001, 990002, "tiny-digits", images[..., 0], labels)


@pytest.fixture(autouse=True)
def platform_settings(monkeypatch, openml_cache_dir):
    """What a user sets once per platform to run their own data set there."""
    monkeypatch.setenv("PORTABILITY_KAGGLE_DATASET", "tester/tiny")
    monkeypatch.setenv("PORTABILITY_OPENML_TASK", "990001")
    monkeypatch.setenv("OPENML_CACHE_DIR", str(openml_cache_dir))


@pytest.mark.parametrize("name", ALL)
def test_registry_name(name):
    assert adapters.get(name).name == name


def test_unknown_platform_lists_the_valid_ones():
    with pytest.raises(UsageError, match="unknown platform 'heroku': valid platforms are local, docker, kaggle, codalab, comet, openml"):
        adapters.get("heroku")


def test_importing_adapters_imports_no_platform_sdk():
    code = ("import sys, adapters, adapters.runs, adapters.cli; "
            "print([m for m in ('kaggle', 'comet_ml', 'openml', 'docker', 'codalab', 'tensorflow', 'keras') "
            "if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ALL)
def test_check_with_credentials_cleared_never_raises(name, monkeypatch, tmp_path):
    for variable in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    missing = adapters.get(name).check()
    assert isinstance(missing, list) and all(isinstance(item, str) and item for item in missing)


@pytest.mark.parametrize("name", ALL)
def test_missing_sdk_or_tool_names_what_to_install(name, monkeypatch, tmp_path):
    adapter = adapters.get(name)
    if adapter.sdk:
        monkeypatch.setitem(sys.modules, adapter.sdk[0], None)
        assert any(f"pip install {adapter.sdk[1]}" in item for item in adapter.check())
    elif adapter.tool:
        monkeypatch.setenv("PATH", str(tmp_path))
        if adapter.tool_setting:
            monkeypatch.setenv(adapter.tool_setting, str(tmp_path / "not-installed"))
        assert any(adapter.tool[1] in item for item in adapter.check())
    else:
        monkeypatch.setenv("PATH", str(tmp_path))
        assert adapter.check() == []  # needs nothing beyond this Python


@pytest.mark.parametrize("name", ALL)
def test_package_is_deterministic(name, tiny_settings, tmp_path):
    adapter = adapters.get(name)
    first = adapter.package(tiny_settings, tmp_path / "a")
    second = adapter.package(tiny_settings, tmp_path / "b")
    assert first == second == base.bundle_hash(tmp_path / "a")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert adapter.entry_file in {str(f) for f in files}
    core_source = (base.ROOT / "core" / "experiment.py").read_text()  # the core travels, as a file or embedded
    assert any(core_source in (tmp_path / "a" / f).read_text() for f in files)
    tiny_settings.seed += 1
    assert adapter.package(tiny_settings, tmp_path / "c") != first


@pytest.mark.parametrize("name", ALL)
def test_handle_json_round_trip(name):
    handle = base.Handle(platform=name, run_id="r1", bundle_hash="ab" * 32, remote_id="x", details={"k": [1, 2]})
    assert base.Handle.from_json(handle.to_json()) == handle
    assert json.loads(handle.to_json())["platform"] == name


@pytest.mark.parametrize("name", ALL)
def test_emulated_run_pulls_a_results_file_like_a_local_run(name, tiny_settings, run_store, tmp_path):
    from core import experiment

    local = experiment.run(tiny_settings, tmp_path / "local", verbose=0, log=lambda m: None)
    handle, run_dir = runs.push(name, tiny_settings, mode="emulated", log=lambda m: None,
                                data_dir=tiny_settings.dataset.rsplit("/", 1)[0])
    assert runs.status(handle, run_dir) in base.STATES
    pulled = runs.pull(handle, run_dir)
    assert results_file.problems(pulled) == []
    assert set(local) <= set(pulled)  # a platform may add (OpenML: the folds), never drop
    assert pulled["platform"]["obtained"] == "emulated" and pulled["platform"]["name"] == name
    assert pulled["environment"]["platform"] == name
    assert (run_dir / "model.h5").is_file() and (run_dir / "log.txt").is_file()
    assert runs.status(handle, run_dir) == "pulled"
    if "folds" not in pulled:  # one training on the same data: the emulation reproduces the local weights
        assert pulled["weights_sha256"] == local["weights_sha256"]
    assert [s["state"] for s in runs.status_history(run_dir)][-1] == "pulled"


@pytest.mark.parametrize("name", ALL)
def test_committed_platform_files_are_fresh(name, tmp_path, monkeypatch):
    from adapters import cli
    from core import config

    for variable in CREDENTIAL_VARIABLES:  # the committed files carry no user's name or settings
        monkeypatch.delenv(variable, raising=False)
    for variable in [v for v in os.environ if v.startswith("PORTABILITY_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    adapter = adapters.get(name)
    cli.write_generated(adapter, config.build_config("mnist-reference"), tmp_path)
    committed = base.ROOT / "platforms" / name
    generated = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert generated == sorted(str(p.relative_to(committed)) for p in committed.rglob("*") if p.is_file()), \
        f"platforms/{name} is stale: run `portability package --all`"
    for relative in generated:
        assert (tmp_path / relative).read_text() == (committed / relative).read_text(), \
            f"platforms/{name}/{relative} is stale: run `portability package --all`"
