"""The contract every platform adapter passes, as one abstract test class (fsspec's tests/abstract
pattern). A platform's test module inherits it once and supplies its fixtures:

    class TestKaggleContract(AdapterContract):
        name = "kaggle"
        missing_when_bare = ("KAGGLE_USERNAME and KAGGLE_KEY",)

        @pytest.fixture
        def platform_env(self, ...):   # what push -> status -> pull needs here: a stand-in, an engine
            ...

Adding a platform: one adapter file, one shim, and a test module like that; this suite says what is
missing.
"""

import json
import os
import subprocess
import sys

import pytest

import adapters
from adapters import bundle
from portability import runs, store
from core import config as configuration, results as results_file

CREDENTIAL_VARIABLES = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "COMET_API_KEY",
                        "OPENML_SERVER", "CODALAB_USERNAME", "CODALAB_PASSWORD", "OPENML_APIKEY", "DOCKER_HOST")
QUIET_COMET = {"COMET_AUTO_LOG_ENV_DETAILS": "false", "COMET_ERROR_TRACKING_ENABLE": "false",
               "COMET_DISABLE_ANNOUNCEMENT": "true"}


def docker_engine_or_skip():
    """In CI the engine is installed and started by .ci/run, so a missing one fails there."""
    import shutil

    reachable = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail("no Docker engine reachable in CI: .ci/run should have installed and started dockerd")
        pytest.skip("no Docker engine reachable here: install docker.io and start dockerd to run the Docker tests")


def bare_machine(monkeypatch, home):
    """No platform credentials, no settings of ours, an empty home folder."""
    for variable in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable in [v for v in os.environ if v.startswith("PORTABILITY_") and v != "PORTABILITY_RUNS_DIR"]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CODALAB_HOME", str(home / ".codalab"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{home}/no-docker-engine.sock")


def emulated_outputs(name, config, folder):
    """The output files of the bundle run, unmodified, in the platform's emulation: what a stand-in
    server hands back as the platform's outputs, so a pull returns what this code computed."""
    previous = os.environ.get("PORTABILITY_RUNS_DIR")
    os.environ["PORTABILITY_RUNS_DIR"] = str(folder)
    try:
        run = runs.push(name, config, mode="emulated", log=lambda m: None,
                                    data_dir=adapters.get(name).emulation_data(config))
        run_dir = run.run_dir
    finally:
        os.environ.pop("PORTABILITY_RUNS_DIR") if previous is None else os.environ.update(PORTABILITY_RUNS_DIR=previous)
    output = run_dir / "work" / "output"
    return {path.name: path.read_bytes() for path in output.iterdir() if path.is_file()}


class AdapterContract:
    name = None  # the platform's registry name
    missing_when_bare = ()  # what check() names on a machine with no credentials; () means ready

    @pytest.fixture
    def platform_env(self, monkeypatch):
        """Set what a user of this platform sets to run the tiny data set there."""

    @pytest.fixture
    def platform_service(self, platform_env):
        """Start what push -> status -> pull needs on this machine (a stand-in server, an engine)."""
        yield

    @pytest.fixture
    def adapter(self, platform_env):
        """Made after what the user sets: a platform's options are read when its adapter is made."""
        return adapters.get(self.name)

    def test_the_registry_knows_it(self, adapter):
        assert adapter.name == self.name and self.name in adapters.names()

    def test_readiness_on_a_bare_machine(self, adapter, monkeypatch, tmp_path):
        bare_machine(monkeypatch, tmp_path)
        missing = adapter.check()
        assert len(missing) == len(self.missing_when_bare), missing
        for item, expected in zip(missing, self.missing_when_bare):
            assert expected in item

    def test_a_missing_sdk_or_tool_names_what_to_install(self, adapter, monkeypatch, tmp_path):
        sdk = adapters.REGISTRY[self.name].sdk
        if sdk:
            monkeypatch.setitem(sys.modules, sdk, None)
            assert adapter.check() == [adapters.install_hint(self.name)]
            assert f"pip install {adapters.REGISTRY[self.name].pip}" in adapters.install_hint(self.name)
        elif adapter.tool:
            monkeypatch.setattr(type(adapter), "find_tool", lambda self: None)
            assert adapter.check() == [f"the {self.name} adapter needs the {adapter.tool[0]} command: {adapter.tool[1]}"]
        else:
            monkeypatch.setenv("PATH", str(tmp_path))
            assert adapter.check() == []  # needs nothing beyond this Python

    def test_package_is_deterministic(self, adapter, tiny_config, platform_env, tmp_path):
        first = adapter.package(tiny_config, tmp_path / "a")
        second = adapter.package(tiny_config, tmp_path / "b")
        assert first == second == bundle.bundle_hash(tmp_path / "a")
        files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
        assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
        assert adapter.entry_path() in {str(f) for f in files}
        core_source = (bundle.ROOT / "core" / "experiment.py").read_text()  # the core travels, as a file or embedded
        assert any(core_source in (tmp_path / "a" / f).read_text() for f in files)
        tiny_config.seed += 1
        assert adapter.package(tiny_config, tmp_path / "c") != first

    def test_its_code_is_the_entry_and_its_shim(self, adapter, tiny_config, platform_env, tmp_path):
        adapter.package(tiny_config, tmp_path / "bundle")
        code, _ = adapter.code_files(tmp_path / "bundle")
        assert code["experiment.py"] == (bundle.SHIMS / "entry.py").read_text()
        assert f'PLATFORM = "{self.name}"' in code["shim.py"]
        names = {name for text in code.values() for name in _top_level_names(text)}  # the shim, and any blocks or views
        assert set(adapter.helper_groups) <= names

    def test_committed_platform_files_are_fresh(self, adapter, monkeypatch, tmp_path):
        from portability import platform_commands as cli

        bare_machine(monkeypatch, tmp_path / "home")  # the committed files carry no user's name or settings
        adapter = adapters.get(self.name)  # made on the bare machine: no option of the user's
        cli.write_generated(adapter, configuration.build_config("mnist-reference"), tmp_path / "generated")
        committed = bundle.ROOT / "platforms" / self.name
        generated = sorted(str(p.relative_to(tmp_path / "generated")) for p in (tmp_path / "generated").rglob("*") if p.is_file())
        assert generated == sorted(str(p.relative_to(committed)) for p in committed.rglob("*") if p.is_file()), \
            f"platforms/{self.name} is stale: run `portability package --all`"
        for relative in generated:
            assert (tmp_path / "generated" / relative).read_text() == (committed / relative).read_text(), \
                f"platforms/{self.name}/{relative} is stale: run `portability package --all`"

    def test_handle_survives_a_restart(self, run_store, tiny_config, platform_env):
        handle = store.Handle(platform=self.name, run_id="r1", bundle_hash="ab" * 32, remote_id="x", details={"k": [1, 2]})
        assert store.Handle.from_json(handle.to_json()) == handle
        done = subprocess.run([sys.executable, "-c", "import sys, portability.store as s; h = s.Handle.from_json(sys.stdin.read()); "
                               "print(h.platform, h.details['k'])"], input=handle.to_json(), capture_output=True, text=True)
        assert done.stdout.split() == [self.name, "[1,", "2]"]

    def test_emulated_run_reproduces_the_local_run(self, tiny_config, run_store, platform_env, local_tiny_results):
        run = runs.push(self.name, tiny_config, mode="emulated", log=lambda m: None,
                                    data_dir=tiny_config.dataset.rsplit("/", 1)[0])
        run_dir = run.run_dir
        pulled = run.pull()
        self.check_pulled(pulled, run_dir, local_tiny_results, "emulated")
        assert run.status() == "pulled"

    def test_push_status_pull(self, tiny_config, run_store, platform_service, local_tiny_results):
        run = runs.push(self.name, tiny_config, log=lambda m: None)
        handle, run_dir = run.handle, run.run_dir
        assert store.read_handle(run_dir) == handle and run.status() in store.STATES
        assert run.wait(timeout=900, interval=0.5) == "completed"
        pulled = run.pull()
        self.check_pulled(pulled, run_dir, local_tiny_results, "executed")
        states = [entry["state"] for entry in store.status_history(run_dir)]
        assert states[0] == "submitting" and states[-1] == "pulled"
        self.after_pull(run)

    def after_pull(self, run):
        """What a platform leaves, or keeps, once a run is pulled."""

    def check_pulled(self, pulled, run_dir, local, obtained):
        assert results_file.problems(pulled) == []
        assert json.loads((run_dir / "results.json").read_text()) == pulled
        assert set(local) <= set(pulled)  # a platform may add (OpenML: the folds), never drop
        assert pulled["platform"]["obtained"] == obtained and pulled["platform"]["name"] == self.name
        assert (run_dir / "model.h5").is_file() and (run_dir / "log.txt").is_file()
        if "folds" not in pulled:  # one training on the same data, this machine: the local weights
            assert pulled["weights_sha256"] == local["weights_sha256"]
            assert pulled["test"]["accuracy"] == local["test"]["accuracy"]


def _top_level_names(source):
    import ast

    return [node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
