"""No credential is written anywhere or printed: fake credentials in the environment and in the
platforms' config files, then package, dry-run push, emulate, a pull whose server read-back fails,
and the report; every file written and all output are searched for them. Emulated runs get only what
the real platform would give the code."""

import json
import pathlib
import shutil
import subprocess
import sys

import adapters
from portability import platform_commands as cli, runs, store
from core import config
from tests.conftest import ROOT, portability

SECRETS = {"KAGGLE_KEY": "FAKE-kaggle-env-key-1", "COMET_API_KEY": "FAKE-comet-env-key-2",
           "OPENML_APIKEY": "FAKE-openml-env-key-3", "CODALAB_PASSWORD": "FAKE-codalab-password-4",
           "KAGGLE_API_TOKEN": "FAKE-kaggle-token-5"}
FILE_SECRETS = ("FAKE-kaggle-file-key-6", "FAKE-comet-file-key-7")
TINY = ["--model", "1-layer", "--epochs", "1", "--batch-size", "64", "--target-accuracy", "0.5"]


def home_with_credential_files(home):
    (home / ".kaggle").mkdir(parents=True)
    (home / ".kaggle" / "kaggle.json").write_text(json.dumps({"username": "tester", "key": FILE_SECRETS[0]}))
    (home / ".comet.config").write_text(f"[comet]\napi_key = {FILE_SECRETS[1]}\n")
    return home


def hits(texts):
    found = []
    for where, text in texts:
        found += [f"{where}: {secret}" for secret in (*SECRETS.values(), *FILE_SECRETS) if secret in text]
    return found


def test_no_credential_is_written_or_printed(tiny_npz, tmp_path):
    home = home_with_credential_files(tmp_path / "home")
    runs_dir = tmp_path / "runs"
    env = {**SECRETS, "HOME": str(home), "PORTABILITY_RUNS_DIR": str(runs_dir), "KAGGLE_USERNAME": "tester",
           "CODALAB_USERNAME": "tester", "PORTABILITY_KAGGLE_DATASET": "tester/tiny", "COMET_API_KEY": "",
           "PORTABILITY_OPENML_TASK": "990001", "OPENML_SERVER": "http://127.0.0.1:9/api/v1/xml"}  # refuses: read-backs fail
    steps = [["package", "--all", "--out", tmp_path / "bundles", "--dataset", tiny_npz, *TINY],
             ["push", "--all", "--dry-run", "--dataset", tiny_npz, *TINY],
             ["emulate", "kaggle", "--dataset", tiny_npz, *TINY],
             ["emulate", "codalab", "--dataset", tiny_npz, *TINY],
             ["run", "--dataset", tiny_npz, *TINY]]
    outputs = []
    for step in steps:
        done = portability(*step, env=env)
        assert done.returncode == 0, (step, done.stderr[-2000:])
        outputs += [(f"{step[0]} stdout", done.stdout), (f"{step[0]} stderr", done.stderr)]
    published = published_openml_run(runs_dir, tmp_path)
    pulled = portability("pull", f"openml/{published.name}", env=env)
    outputs += [("pull stdout", pulled.stdout), ("pull stderr", pulled.stderr)]
    evaluation = json.loads((published / "results.json").read_text())["platform"]["openml_evaluation"]
    assert "Connection refused" in evaluation["error"] and "api_key=[redacted]" in evaluation["error"]
    report = portability("report", "--out", tmp_path / "report", env=env)
    outputs += [("report stdout", report.stdout), ("report stderr", report.stderr)]
    written = [(str(path), path.read_text(errors="replace")) for root in (runs_dir, tmp_path / "bundles", tmp_path / "report")
               for path in root.rglob("*") if path.is_file() and path.suffix not in (".h5", ".keras", ".png")]
    assert len(written) > 50
    assert hits(outputs + written) == []


def published_openml_run(runs_dir, tmp_path):
    """An OpenML run that was published (it has a run id) and has finished: its pull asks the server."""
    run_dir = runs_dir / "openml" / "20261123-000000-published"
    (run_dir / "work" / "output").mkdir(parents=True)
    results = json.loads((ROOT / "results/reference/mnist-reference.json").read_text())
    results["platform"] = {"name": "openml", "obtained": "executed", "openml_run_id": 5}
    (run_dir / "work" / "output" / "results.json").write_text(json.dumps(results))
    (run_dir / "work" / "exitcode").write_text("0\n")
    handle = store.Handle(platform="openml", run_id=run_dir.name, bundle_hash="0" * 64, details={"pid": 999999999})
    (run_dir / "handle.json").write_text(handle.to_json())
    return run_dir


def test_committed_files_carry_no_user_name_whatever_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KAGGLE_USERNAME", "somebody-real")
    monkeypatch.setenv("KAGGLE_KEY", SECRETS["KAGGLE_KEY"])
    monkeypatch.setenv("PORTABILITY_KAGGLE_KERNEL", "somebody-real/my-kernel")
    for name in adapters.names():
        cli.write_generated(adapters.get(name), config.build_config("mnist-reference"), tmp_path / name)
    texts = [(str(p), p.read_text()) for p in tmp_path.rglob("*") if p.is_file()]
    assert not [where for where, text in texts if "somebody-real" in text] and hits(texts) == []
    metadata = json.loads((tmp_path / "kaggle" / "kernel-metadata.json").read_text())
    assert metadata["id"].startswith("your-kaggle-username/")


def test_an_emulated_kernel_sees_no_credentials(tiny_config, run_store, monkeypatch, tmp_path):
    home = home_with_credential_files(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORTABILITY_KAGGLE_DATASET", "tester/tiny")
    adapter = adapters.get("kaggle")
    run = runs.push("kaggle", tiny_config, mode="emulated", log=lambda m: None,
                                data_dir=tiny_config.dataset.rsplit("/", 1)[0])
    run_dir = run.run_dir
    box = adapter.sandbox(run_dir, pathlib.Path(tiny_config.dataset).parent, json.loads((run_dir / "config.json").read_text()))
    probe = ("import json, os, pathlib; home = pathlib.Path(os.environ['HOME']); print(json.dumps({'env': dict(os.environ), "
             "'kaggle': (home / '.kaggle').is_dir() and sorted(p.name for p in (home / '.kaggle').iterdir()), "
             "'comet': (home / '.comet.config').read_text() if (home / '.comet.config').exists() else None}))")
    box.argv = [sys.executable, "-c", probe]
    done = subprocess.run(box.command(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert not set(seen["env"]) & set(SECRETS), seen["env"].keys()
    assert seen["kaggle"] in ([], False) and not seen["comet"]  # the files are there, empty
    assert hits([("sandbox", done.stdout)]) == []
    assert shutil.which("bwrap") and json.loads((home / ".kaggle" / "kaggle.json").read_text())["key"] == FILE_SECRETS[0]


def test_a_word_like_password_is_hidden_only_where_a_secret_can_appear(monkeypatch):
    """A valid CodaLab password equal to the platform's name: masking it everywhere turned every
    "codalab" into "[redacted]" (seen on the genuine server). A distinctive value is still masked anywhere."""
    from core import redact

    monkeypatch.setenv("CODALAB_PASSWORD", "codalab")
    monkeypatch.setenv("KAGGLE_KEY", "0f3a9c2b7d1e4f60a8b5")
    text = ("mnist on codalab: [executed on codalab] CODALAB_PASSWORD=codalab password: 'codalab' "
            "http://tester:codalab@127.0.0.1/ key 0f3a9c2b7d1e4f60a8b5")
    assert redact.redact(text) == ("mnist on codalab: [executed on codalab] CODALAB_PASSWORD=[redacted] "
                                   "password: '[redacted]' http://tester:[redacted]@127.0.0.1/ key [redacted]")
    assert redact.redact_data({"platform": {"name": "codalab"}}) == {"platform": {"name": "codalab"}}
    assert not redact.distinctive("codalab") and not redact.distinctive("password") and redact.distinctive("hunter2hunter")
