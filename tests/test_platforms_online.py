"""`portability platforms --online`: for each platform with credentials, one cheap authenticated read-only
call through the platform's real SDK or CLI, against the stand-ins on 127.0.0.1 (CodaLab's, against its
genuine server, is in test_codalab_genuine.py). Good credentials say they work; bad ones quote the
platform's own refusal and the command exits 1; nothing is created (the stand-ins record every request:
only reads). An unreachable or silent server is one line, never a traceback."""

import os
import pathlib
import shutil
import socket
import subprocess

import pytest

import adapters
from adapters import codalab
from tests.beat_server import BeatStandIn
from tests.comet_server import CometStandIn
from tests.conftest import portability
from tests.kaggle_server import KaggleStandIn
from tests.openml_server import OpenMLStandIn

GENUINE_OPENML = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "openml-genuine"
if not GENUINE_OPENML.is_dir():
    GENUINE_OPENML = pathlib.Path("/work/shared/reference/openml-genuine")


@pytest.fixture
def no_credentials(tmp_path):
    """No platform's credentials: each test gives the ones it checks."""
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "KAGGLE_USERNAME": "", "KAGGLE_KEY": "",
            "KAGGLE_API_TOKEN": "", "KAGGLE_CONFIG_DIR": str(tmp_path / "kaggle"), "CODALAB_USERNAME": "",
            "CODALAB_PASSWORD": "", "CODALAB_HOME": str(tmp_path / "codalab"), "COMET_API_KEY": "", "OPENML_APIKEY": "",
            "OPENML_CACHE_DIR": str(tmp_path / "openml"), "BEAT_TOKEN": ""}


def lines(done):
    """{platform: the rest of its line}."""
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return {line.split()[0]: line.split(None, 1)[1] for line in done.stdout.splitlines() if line.strip()}


def online(env):
    return portability("platforms", "--online", env=env, timeout=120)


def test_without_credentials_nothing_is_asked_and_each_platform_says_why(no_credentials):
    done = online(no_credentials)
    said = lines(done)
    assert done.returncode == 0 and list(said) == adapters.names()
    assert said["local"] == "works: runs here, nothing to sign in to"
    assert said["kaggle"].startswith("not checked: not ready: no Kaggle credentials: set KAGGLE_USERNAME")
    assert said["comet"] == "not checked: no COMET_API_KEY: runs log offline (nothing to sign in to)"
    assert said["openml"].startswith("not checked: no OPENML_APIKEY")
    assert said["beat"].startswith("not checked: no BEAT_TOKEN: runs on BEAT's local executor")
    assert "Exit status 1 when any platform refused" in " ".join(portability("platforms", "--help").stdout.split())


def test_kaggle_lists_your_kernels_and_quotes_a_refusal(no_credentials):
    with KaggleStandIn("tester", "secret-key", {}) as server:
        env = {**no_credentials, "KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "secret-key",
               "PORTABILITY_KAGGLE_ENDPOINT": server.url}
        good, bad = online(env), online({**env, "KAGGLE_KEY": "revoked-key"})
        assert server.pushed is None and {path for _, path, _ in server.calls} == {
            "/v1/kernels.KernelsApiService/ListKernels"}  # a read, as the user (mine=True), twice
        assert all(body["group"] == "PROFILE" and body["pageSize"] == 1 for _, _, body in server.calls)
        assert server.violations == ["POST /v1/kernels.KernelsApiService/ListKernels: Unauthenticated"]
    assert good.returncode == 0 and lines(good)["kaggle"].startswith(
        "credentials work: Kaggle listed your kernels (as tester) (")
    assert bad.returncode == 1 and lines(bad)["kaggle"] == (
        'FAILED: Kaggle refused the credentials: HTTP 401 "Unauthenticated"; check KAGGLE_USERNAME and KAGGLE_KEY, '
        "or ~/.kaggle/kaggle.json (a new token from kaggle.com > Settings > API)")


def test_a_revoked_kaggle_access_token_is_refused(no_credentials):
    """kaggle 2.x introspects the token first (IntrospectToken says active: false); then the list is refused."""
    with KaggleStandIn("tester", "secret-key", {}, tokens={"kgat_revoked": False}) as server:
        done = online({**no_credentials, "KAGGLE_API_TOKEN": "kgat_revoked", "PORTABILITY_KAGGLE_ENDPOINT": server.url})
        assert server.pushed is None and {path.rsplit("/", 1)[1] for _, path, _ in server.calls} <= {
            "IntrospectToken", "ListKernels"}
    assert done.returncode == 1 and lines(done)["kaggle"].startswith("FAILED: Kaggle re")
    assert "the access token from KAGGLE_API_TOKEN is expired or revoked: create a new one" in lines(done)["kaggle"]


def test_comet_lists_your_workspaces_and_quotes_a_refusal(no_credentials):
    with CometStandIn("test-key") as server:
        env = {**no_credentials, "COMET_API_KEY": "test-key", "COMET_URL_OVERRIDE": server.url}
        good, bad = online(env), online({**env, "COMET_API_KEY": "wrong-key"})
        assert set(server.paths) == {"GET /clientlib/isAlive/ver", "GET /api/rest/v2/workspaces"}
        assert server.runs == [] and server.experiments == set() and server.files == []
    assert good.returncode == 0 and lines(good)["comet"].startswith(
        "credentials work: Comet listed your workspaces: tester (")
    assert bad.returncode == 1 and lines(bad)["comet"] == (
        'FAILED: Comet refused the credentials: HTTP 401 "Invalid api key"; check COMET_API_KEY '
        "(comet.com > Account settings > API Keys)")
    assert "COMET WARNING" not in bad.stderr  # the SDK's own logging stays off the screen


def test_openml_reads_with_your_key_and_answers_as_the_genuine_server(no_credentials):
    """OpenML's API checks a key on every call that carries one, reads included (Api_new.php): a wrong
    key is 412, code 103 "Authentication failed", exactly as the genuine server answered a write with it."""
    with OpenMLStandIn("test-key", 990001, [str(c) for c in range(10)], rows=200) as server:
        env = {**no_credentials, "OPENML_APIKEY": "test-key", "OPENML_SERVER": server.url}
        good, bad = online(env), online({**env, "OPENML_APIKEY": "wrong-key"})
        assert server.calls == [("GET", "/api/v1/xml/evaluationmeasure/list")] * 2 and server.violations == []
        assert server.flows == {} and server.runs == {}
        import requests

        answer = requests.get(f"{server.url}/evaluationmeasure/list", params={"api_key": "wrong-key"}, timeout=10)
    assert good.returncode == 0 and lines(good)["openml"].startswith(
        f"credentials work: OpenML read with your key at {server.url} (")
    assert bad.returncode == 1 and lines(bad)["openml"] == (
        'FAILED: OpenML refused the credentials: "Authentication failed" (code 103); check OPENML_APIKEY '
        "(openml.org > your profile > API key)")
    recorded = (GENUINE_OPENML / "flow_upload_badkey.body").read_text()
    assert answer.status_code == 412 and answer.text.split() == recorded.split()


def test_beat_lists_the_toolchains_and_quotes_a_refusal(no_credentials):
    with BeatStandIn("tester", "right-token") as server:
        env = {**no_credentials, "BEAT_TOKEN": "right-token", "BEAT_USER": "tester", "BEAT_PLATFORM": server.url}
        good, bad = online(env), online({**env, "BEAT_TOKEN": "wrong-token"})
        assert server.calls == [("GET", "/api/v1/toolchains/")] * 2 and not any(server.objects.values())
        assert server.started == [] and server.violations == [
            "GET /api/v1/toolchains/?fields=name,short_description: Invalid token."]
    assert good.returncode == 0 and lines(good)["beat"].startswith(
        f"credentials work: BEAT listed the toolchains on {server.url} (as tester) (")
    assert bad.returncode == 1 and lines(bad)["beat"] == (
        f'FAILED: BEAT refused the credentials: "Invalid token." ({server.url}); check BEAT_TOKEN and BEAT_USER '
        "(or ~/.beatrc)")


def test_unreachable_servers_are_one_line_each_never_a_refusal(no_credentials):
    nowhere = "http://127.0.0.1:9"
    done = online({**no_credentials, "KAGGLE_USERNAME": "tester", "KAGGLE_KEY": "k", "PORTABILITY_KAGGLE_ENDPOINT": nowhere,
                   "OPENML_APIKEY": "k", "OPENML_SERVER": f"{nowhere}/api/v1/xml", "BEAT_TOKEN": "t",
                   "BEAT_PLATFORM": nowhere})
    said = lines(done)
    assert done.returncode == 1
    assert said["kaggle"].startswith("FAILED: cannot reach Kaggle (listed your kernels): check the network or proxy")
    assert said["openml"].startswith("FAILED: cannot reach OpenML (read with your key): check the network or proxy")
    assert said["beat"].startswith(f"FAILED: cannot reach the BEAT platform at {nowhere}: check BEAT_PLATFORM")
    assert not any("refused the credentials" in line for line in said.values())


def test_a_server_that_never_answers_is_given_up_after_10_s(no_credentials):
    """A listening socket nobody reads: the SDK's request hangs (and retries); the line says so after 10 s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        done = online({**no_credentials, "COMET_API_KEY": "test-key",
                       "COMET_URL_OVERRIDE": f"http://127.0.0.1:{silent.getsockname()[1]}/clientlib/"})
    assert done.returncode == 1 and lines(done)["comet"] == (
        "FAILED: no answer from Comet within 10 s (listed your workspaces): check the network or proxy, or try again later")


def test_bad_input_is_one_line_not_a_refusal(no_credentials):
    done = online({**no_credentials, "BEAT_TOKEN": "t", "BEAT_PLATFORM": "not a web address"})
    assert done.returncode == 1 and len(done.stdout.splitlines()) == len(adapters.names())
    assert lines(done)["beat"] == (
        "FAILED: BEAT's command line failed on not a web address: requests.exceptions.InvalidURL: Failed to parse: "
        "Host 'not a web address' contains invalid character ' '; check BEAT_PLATFORM (a web address) and ~/.beatrc")


@pytest.mark.skipif(codalab.cl_path() is None, reason="no CodaLab CLI here (make codalab-cli)")
def test_codalab_unreachable_or_not_a_server_is_one_line(no_credentials):
    """The real `cl` (its genuine server's good and bad credentials: test_codalab_genuine.py)."""
    env = {**no_credentials, "CODALAB_USERNAME": "tester", "CODALAB_PASSWORD": "secret"}
    unreachable = online({**env, "PORTABILITY_CODALAB_WORKSHEET": "http://127.0.0.1:9::portability"})
    malformed = online({**env, "PORTABILITY_CODALAB_WORKSHEET": "nonsense::portability"})
    assert unreachable.returncode == 1 and lines(unreachable)["codalab"].startswith(
        "FAILED: cannot reach CodaLab at http://127.0.0.1:9: check the worksheet's server (PORTABILITY_CODALAB_WORKSHEET)")
    assert malformed.returncode == 1 and lines(malformed)["codalab"] == (
        "FAILED: `cl wls` failed on nonsense: \"ValueError: unknown url type: 'nonsense/rest/oauth2/token'\"; check the "
        "worksheet's server (PORTABILITY_CODALAB_WORKSHEET, SERVER::NAME)")


def docker_engine():
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not docker_engine(), reason="no Docker engine here: its readiness cannot be asked")
def test_docker_says_whether_the_base_image_is_here_and_never_pulls(no_credentials, tmp_path, offline_base_image):
    """The engine answers; the base image is looked up locally only (an image that exists nowhere is
    named, with `portability setup docker` and offline mode). Every docker command run is recorded (a
    `docker` ahead on PATH that logs, then runs the real one): version and image inspect only."""
    real = shutil.which("docker")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "docker").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "docker.log"}\nexec {real} "$@"\n')
    (tmp_path / "bin" / "docker").chmod(0o755)
    env = {**no_credentials, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    image = "portability/debian-python:bookworm"  # offline_base_image: here whichever tests ran before
    absent = online({**env, "PORTABILITY_DOCKER_BASE": "portability/never-built:0"})
    present = online({**env, "PORTABILITY_DOCKER_BASE": image})
    assert absent.returncode == 0 and lines(absent)["docker"].startswith("works: the engine answers (Docker ")
    assert lines(absent)["docker"].endswith(
        "base image portability/never-built:0 is not on this machine: a push pulls it from a registry; without one, "
        "run `portability setup docker`, then set PORTABILITY_DOCKER_OFFLINE=1 (offline mode)")
    assert lines(present)["docker"].endswith(f"base image {image} is here")
    listed = portability("platforms", env={**env, "PORTABILITY_DOCKER_BASE": "portability/never-built:0"})
    assert "docker   ready, base image portability/never-built:0 is not on this machine" in listed.stdout
    commands = {" ".join(line.split()[:2]) for line in (tmp_path / "docker.log").read_text().splitlines()}
    assert commands == {"info --format", "version --format", "image inspect"}  # check(), the engine, the image
