"""The stand-in servers behave like the real APIs on wrong requests: each one is answered with the
status and error format the platform uses (never a dropped connection) and recorded as a violation,
so a client that sends something wrong makes the test that uses the stand-in fail."""

import base64
import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.codalab_server import CodaLabStandIn
from tests.comet_server import CometStandIn
from tests.kaggle_server import KaggleStandIn
from tests.openml_server import OpenMLStandIn

KAGGLE_AUTH = "Basic " + base64.b64encode(b"tester:secret-key").decode()


def send(url, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rejected(server, answer, status, text):
    code, body = answer
    assert code == status, (code, body)
    assert text in body.decode() and text in server.violations[-1]


KAGGLE_CASES = [
    ("GET", "/v1/kernels.KernelsApiService/SaveKernel", b"", {}, 405, "method GET not allowed"),
    ("POST", "/v1/kernels.KernelsApiService/SaveKernel", b"{}", {"Content-Type": "text/plain"}, 400, "not application/json"),
    ("POST", "/v1/kernels.KernelsApiService/SaveKernel", b"{}", {"Content-Type": "application/json"}, 401, "Unauthenticated"),
    ("POST", "/v1/kernels.KernelsApiService/DeleteKernel", b"{}", {"Content-Type": "application/json", "Authorization": KAGGLE_AUTH}, 404, "no such method"),
    ("POST", "/v1/kernels.KernelsApiService/SaveKernel", b"{not json", {"Content-Type": "application/json", "Authorization": KAGGLE_AUTH}, 400, "malformed request"),
    ("POST", "/v1/kernels.KernelsApiService/SaveKernel", b"{}", {"Content-Type": "application/json", "Authorization": KAGGLE_AUTH}, 400, "SaveKernel language=None"),
    ("POST", "/v1/kernels.KernelsApiService/GetKernelSessionStatus", b"{}", {"Content-Type": "application/json", "Authorization": KAGGLE_AUTH}, 400, "before any SaveKernel"),
    ("GET", "/files/results.json", b"", {}, 403, "SignatureDoesNotMatch"),
    ("GET", "/files/results.json?sig=forged", b"", {}, 403, "SignatureDoesNotMatch"),
    ("PUT", "/files/results.json", b"x", {}, 405, "not allowed on a file"),
]


@pytest.mark.parametrize("method, path, body, headers, status, text", KAGGLE_CASES)
def test_kaggle_stand_in_rejects(method, path, body, headers, status, text):
    with KaggleStandIn("tester", "secret-key", {"results.json": b"{}"}) as server:
        rejected(server, send(server.url + path, method, body or None, headers), status, text)


def test_kaggle_stand_in_serves_a_signed_url():
    with KaggleStandIn("tester", "secret-key", {"results.json": b"{}"}) as server:
        url = f"{server.url}/files/results.json?sig={server.signature('results.json')}"
        assert send(url) == (200, b"{}") and server.violations == []


def test_kaggle_stand_in_answers_tokens_as_introspection_does():
    with KaggleStandIn("tester", "secret-key", {}, tokens={"live": True, "old": False}) as server:
        url = f"{server.url}/v1/security.OAuthService/IntrospectToken"
        answers = {token: json.loads(send(url, "POST", json.dumps({"token": token}).encode(),
                                          {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})[1])
                   for token in ("live", "old", "never-issued")}
        assert answers["live"]["active"] is True and answers["live"]["username"] == "tester"
        assert answers["old"] == {"active": False} and answers["never-issued"] == {"active": False}
        status = f"{server.url}/v1/kernels.KernelsApiService/GetKernelSessionStatus"
        rejected(server, send(status, "POST", b"{}", {"Content-Type": "application/json", "Authorization": "Bearer old"}),
                 401, "Unauthenticated")


def test_kaggle_stand_in_fails_as_the_service_does_when_asked():
    faults = {"GetKernelSessionStatus": [429, 503, "drop"]}
    with KaggleStandIn("tester", "secret-key", {"model.h5": b"x"}, faults=faults, expired_files={"model.h5"}) as server:
        url = f"{server.url}/v1/kernels.KernelsApiService/GetKernelSessionStatus"
        headers = {"Content-Type": "application/json", "Authorization": KAGGLE_AUTH}
        assert send(url, "POST", b"{}", headers)[0] == 429
        code, body = send(url, "POST", b"{}", headers)
        assert code == 503 and b"Server Error" in body
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # closed with no answer
            send(url, "POST", b"{}", headers)
        code, body = send(f"{server.url}/files/model.h5?sig={server.signature('model.h5')}")
        assert code == 400 and b"<Code>ExpiredToken</Code>" in body
        assert server.violations == []


COMET_JSON = {"Content-Type": "application/json;charset=utf-8", "Authorization": "test-key"}
COMET_CASES = [
    ("POST", "batch/logger/experiment/metric", b"{}", {"Content-Type": "application/json"}, 400, "api key not registered"),
    ("GET", "batch/logger/experiment/metric", b"", {"Authorization": "test-key"}, 405, "is not the method"),
    ("POST", "batch/logger/experiment/metric", json.dumps({"experimentKey": "never-started", "values": []}).encode(),
     COMET_JSON, 400, "unknown experiment 'never-started'"),
    ("POST", "batch/logger/experiment/metric", b"experimentKey=x", {**COMET_JSON, "Content-Type": "text/plain"}, 400,
     "expected application/json"),
    # mtime=0: the gzip header's timestamp is in the test's id, and both xdist processes must collect the same ids
    ("POST", "batch/logger/experiment/metric", gzip.compress(b"{broken", mtime=0), COMET_JSON, 400, "malformed request"),
    ("POST", "no/such/endpoint", b"{}", COMET_JSON, 404, "not found"),
]


@pytest.mark.parametrize("method, path, body, headers, status, text", COMET_CASES)
def test_comet_stand_in_rejects(method, path, body, headers, status, text):
    with CometStandIn("test-key") as server:
        rejected(server, send(server.url + path, method, body or None, headers), status, text)


def test_comet_reads_need_the_key_and_a_known_experiment():
    with CometStandIn("test-key") as server:
        base = server.url.removesuffix("/clientlib/")
        rejected(server, send(f"{base}/api/rest/v2/experiment/metadata?experimentKey=k1"), 401, "Invalid api key")
        rejected(server, send(f"{base}/api/rest/v2/experiment/metadata?experimentKey=k1", headers={"Authorization": "test-key"}),
                 400, "unknown experiment 'k1'")


def test_comet_stand_in_answers_what_the_sdk_reads():
    with CometStandIn("test-key") as server:
        base = server.url
        assert json.loads(send(f"{base}isAlive/ver", headers={"Authorization": "test-key"})[1])["version"] == "3.62.294"
        run = {"experimentKey": "k1", "projectName": "portability", "teamName": "tester", "offline": False}
        code, body = send(f"{base}logger/add/run", "POST", json.dumps(run).encode(), COMET_JSON)
        reply = json.loads(body)
        assert code == 200 and reply["runId"] and reply["project_id"] and reply["focusUrl"].endswith("/tester/portability/")
        code, body = send(f"{base}logger/add/run", "POST", json.dumps(run).encode(), COMET_JSON)
        assert code == 400 and json.loads(body)["sdk_error_code"] == 90999  # already uploaded
        code, body = send(f"{base}logger/add/run", "POST", json.dumps(run).encode(), {**COMET_JSON, "Authorization": "no"})
        assert code == 400 and json.loads(body)["sdk_error_code"] == 90212  # InvalidAPIKey
        multipart = {"Authorization": "test-key", "Content-Type": "multipart/form-data; boundary=b"}
        part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n\r\nbytes\r\n--b--\r\n'
        rejected(server, send(f"{base}asset/upload?experimentId=never&fileName=x", "POST", part, multipart), 400,
                 "asset for unknown experiment 'never'")
        assert send(f"{base}asset/upload?experimentId=k1&fileName=x", "POST", part, multipart)[0] == 200
        assert server.assets == {"x": b"bytes"}


@pytest.fixture
def openml():
    with OpenMLStandIn("test-key", 990001, [str(c) for c in range(10)], rows=200) as server:
        yield server


def test_openml_stand_in_rejects(openml):
    base = openml.url
    rejected(openml, send(f"{base}/run/", "POST", b'{"api_key": "test-key"}', {"Content-Type": "application/json"}),
             412, "the API reads form fields")
    rejected(openml, send(f"{base}/run/", "PUT", b"", {}), 405, "method PUT not allowed")
    code, body = send(f"{base}/flow/exists", "POST", b"name=x&api_key=wrong", {"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 412 and b"Authentication failed" in body
    code, body = send(f"{base}/run/", "POST", b"api_key=test-key&description=%3Cnot-xml", {"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 412 and b"<oml:code>202</oml:code>" in body and "run description" in openml.violations[-1]


def test_codalab_stand_in_rejects():
    with CodaLabStandIn("tester", "secret", {}) as server:
        base = server.url
        rejected(server, send(f"{base}/rest/bundles?worksheet=x", "POST", b"{}", {"Content-Type": "application/json"}),
                 400, "without the bearer token")
        token = {"Authorization": "Bearer token-1"}
        rejected(server, send(f"{base}/rest/bundles", "POST", b"{}", {**token, "Content-Type": "text/plain"}), 400, "not JSON")
        code, body = send(f"{base}/rest/bundles?worksheet={'0x' + 'a' * 32}", "POST", b"{broken",
                          {**token, "Content-Type": "application/json"})
        assert code == 400 and b"malformed request" in body
        created = json.loads(send(f"{base}/rest/bundles?worksheet={'0x' + 'a' * 32}", "POST", json.dumps({"data": [
            {"type": "bundles", "attributes": {"bundle_type": "dataset", "metadata": {"name": "portability-code-x"}}}]}).encode(),
            {**token, "Content-Type": "application/json"})[1])["data"][0]["id"]
        rejected(server, send(f"{base}/rest/bundles/{created}/contents/blob/?filename=code.tar.gz", "PUT", b"not an archive", token),
                 400, "not a readable archive")
        code, body = send(f"{base}/rest/oauth2/token", "POST", b"grant_type=password&username=tester&password=nope",
                          {"Content-Type": "application/x-www-form-urlencoded"})
        assert code == 401 and b"Invalid username or password" in body


def beat_get(server, path, token="3", method="GET"):
    answer = send(server.url + path, method, headers={"Authorization": f"Token {token}"} if token else {})
    return answer[0], json.loads(answer[1] or b"null")


def test_beat_stand_in_answers_what_beat_cmdline_and_its_tests_expect():
    """The platform beat.cmdline 1.10.3's tests run against (beat.web's `install test`: user `user`,
    token `3`): the root answers 200, DRF's token errors, the environments, objects one by one."""
    from tests.beat_server import BeatStandIn

    with BeatStandIn() as server:
        assert send(server.url + "/")[0] == 200  # beat.cmdline.test probes the platform's root
        assert beat_get(server, "/api/v1/dataformats/?fields=name,hash", token=None) == (
            401, {"detail": "Authentication credentials were not provided."})
        assert beat_get(server, "/api/v1/dataformats/?fields=name,hash", token="4") == (401, {"detail": "Invalid token."})
        assert len(server.violations) == 2  # each refusal is recorded
        server.violations.clear()
        status, environments = beat_get(server, "/api/v1/backend/environments/")
        assert status == 200 and all({"name", "version", "queues"} <= set(e) for e in environments.values())
        assert beat_get(server, "/api/v1/protocoltemplates/?fields=name,hash") == (200, [])
        server.objects["dataformats"]["user/digits/1"] = {"name": "digits", "declaration": "{}", "hash": "ab"}
        assert beat_get(server, "/api/v1/dataformats/user/digits/1/?object_format=string&fields=declaration,hash") == (
            200, {"declaration": "{}", "hash": "ab"})
        assert beat_get(server, "/api/v1/dataformats/user/digits/1/", method="DELETE")[0] == 204
        assert server.objects["dataformats"] == {} and server.violations == []
        assert beat_get(server, "/api/v1/experiments/user/t/1/e/cancel/", method="POST")[0] == 404
        assert "nothing to cancel" in server.violations[-1]
