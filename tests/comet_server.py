"""A stand-in for Comet's server on 127.0.0.1, for the real comet_ml SDK pointed at it with
COMET_URL_OVERRIDE. It answers the endpoints the SDK uses, unpacks what it receives (parameters,
metrics, uploaded files and their content) for the tests to check, answers a wrong request as the server
would (401, 404, 405, 400) and records it as a violation.

What the SDK shows the service answers is answered the same way: the add-run reply's `runId`,
`project_id` and `focusUrl`; a key it does not know as 400 + sdk_error_code 90212 (InvalidAPIKey) on the
client library's endpoints; an experiment key it already has as 400 + 90999 (ExperimentAlreadyUploaded);
throttled batches as 429 with `Retry-After-Custom`; `faults` queues such answers (and 5xx) per endpoint."""

import email.parser
import email.policy
import gzip
import json
import urllib.parse

from tests.standin import LoopbackServer

QUIET = {  # endpoints whose content the tests do not inspect: checked (method, key, body, experiment), answered
    "/clientlib/asset/3d-limits", "/clientlib/notification/experiment",
    "/api/rest/v2/write/experiment/update-status", "/clientlib/rest/v2/write/experiment/output",
    "/clientlib/rest/v2/write/experiment/log-other", "/clientlib/rest/v2/write/experiment/git/metadata",
    "/clientlib/rest/v2/write/experiment/system-details", "/clientlib/rest/v2/write/experiment/html",
    "/clientlib/rest/v2/write/experiment/graph", "/clientlib/rest/v2/write/experiment/tags",
    "/clientlib/rest/v2/write/experiment/file-path", "/clientlib/rest/v2/write/experiment/os-packages",
    "/clientlib/rest/v2/write/experiment/installed-packages", "/clientlib/rest/v2/write/experiment/command",
    "/clientlib/rest/v2/write/experiment/environment-details", "/clientlib/batch/logger/experiment/other",
    "/clientlib/rest/v2/write/experiment/model-graph", "/clientlib/rest/v2/write/experiment/gpu-static-info",
    "/clientlib/rest/v2/write/experiment/parameter", "/clientlib/rest/v2/write/experiment/metric",
    "/clientlib/batch/logger/experiment/log-other", "/clientlib/batch/logger/experiment/stdout",
    "/clientlib/tags/add-tags-to-experiment", "/api/rest/v2/write/experiment/graph",
    "/api/rest/v2/write/experiment/log-other", "/clientlib/status-report/offline-metadata",
}


# the backend version the SDK reads: the newest one its 3.58.8 release gates a feature on (raw throttling
# messages, 3.62.294); the SDK's own version (3.58.8) would send it down old-backend paths
BACKEND_VERSION = "3.62.294"
GETS = {"/clientlib/isAlive/ver", "/clientlib/health/ping", "/api/rest/v2/experiment/metadata",
        "/api/rest/v2/experiment/metrics/get-metric", "/api/rest/v2/workspaces"}


class CometStandIn(LoopbackServer):
    """Every call needs the API key (the SDK sends it in Authorization, reads included), the method the
    SDK uses for that endpoint, a JSON body where it sends JSON, and an experiment key the server knows."""

    path = "/clientlib/"

    def __init__(self, api_key, uploaded=(), faults=None):
        self.api_key = api_key
        self.parameters, self.metrics, self.files, self.runs = {}, [], [], []
        self.assets = {}  # file name -> the bytes uploaded
        self.violations, self.paths, self.experiments = [], [], set(uploaded)
        self.faults = {path: list(answers) for path, answers in (faults or {}).items()}
        self.run_ids = {}  # experiment key -> (runId, project_id) answered by add-run

    def error_body(self, status, message):
        return {"msg": message, "code": status, "sdk_error_code": 0}

    def route(self, request, raw):
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        parsed = urllib.parse.urlparse(request.path)
        path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        self.paths.append(f"{request.command} {path}")
        if path not in GETS | QUIET | ANSWERED:
            return self.reject(request, 404, "not found")
        if request.command != ("GET" if path in GETS else "POST"):
            return self.reject(request, 405, f"{request.command} is not the method of {path}")
        if self.faults.get(path):
            return self.fault(request, self.faults[path].pop(0))
        if request.headers.get("Authorization") != self.api_key:
            if path.startswith("/clientlib/"):  # the client library's endpoints: the code InvalidAPIKey reads
                self.violations.append(f"{request.command} {path}: api key not registered")
                return request.reply(400, {"msg": "api key not registered", "code": 400, "sdk_error_code": 90212})
            return self.reject(request, 401, "Invalid api key")
        content_type = request.headers.get("Content-Type", "")
        body = {}
        if path == "/clientlib/asset/upload":
            return self.on_asset(request, query, content_type, raw)
        if request.command == "POST":
            if not content_type.startswith("application/json"):
                return self.reject(request, 400, f"content type {content_type!r}, expected application/json")
            body = json.loads(raw)
        key = (body.get("experimentKey") if isinstance(body, dict) else None) or query.get("experimentKey", [None])[0]
        if path == "/clientlib/logger/add/run":
            if key in self.experiments:  # what the service answers for a key it already has
                return request.reply(400, {"msg": f"Experiment {key} already exists", "code": 400,
                                           "sdk_error_code": 90999})
            self.experiments.add(key)
        elif key is not None and key not in self.experiments:
            return self.reject(request, 400, f"unknown experiment {key!r}")
        if path == "/clientlib/status-report/update" and self.run_ids.get(key) != (body.get("runId"), body.get("projectId")):
            return self.reject(request, 400, f"status update with runId/projectId {body.get('runId')!r}/"
                                             f"{body.get('projectId')!r}, add-run answered {self.run_ids.get(key)!r}")
        request.reply(200, self.answer(path, query, body, f"http://127.0.0.1:{request.server.server_port}"))

    def fault(self, request, status):
        """A queued failure: 429 with the deferral the SDK reads (Retry-After-Custom), or a 5xx."""
        if status == 429:
            return request.reply(429, {"msg": "Too many requests", "code": 429, "sdk_error_code": 0},
                                 headers={"Retry-After-Custom": "1"})
        request.reply(status, f"<html><body>{status} Service Unavailable</body></html>", "text/html")

    def on_asset(self, request, query, content_type, raw):
        """An asset is multipart/form-data with its bytes in the part `file`, for the experiment in
        the query's `experimentId`."""
        key = query.get("experimentId", [None])[0]
        if key not in self.experiments:
            return self.reject(request, 400, f"asset for unknown experiment {key!r}")
        if not content_type.startswith("multipart/form-data"):
            return self.reject(request, 400, f"asset content type {content_type!r}, expected multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        if "file" not in parts:
            return self.reject(request, 400, f"asset upload without a file part (parts: {sorted(parts)})")
        name = query.get("fileName", [""])[0]
        self.files.append(name)
        self.assets[name] = parts["file"].get_payload(decode=True)
        request.reply(200, {})

    def answer(self, path, query, body, base):
        if path == "/clientlib/isAlive/ver":
            return {"msg": "ok", "version": BACKEND_VERSION}
        if path == "/clientlib/status-report/update":
            return {"is_alive_beat_duration_millis": 60000, "gpu_monitor_interval_millis": 60000,
                    "cpu_monitor_interval_millis": 60000, "pending_rpcs": False}
        if path == "/clientlib/logger/add/run":
            self.runs.append(body)
            run_id, project_id = f"run-{len(self.runs)}", "p-1"
            self.run_ids[body["experimentKey"]] = (run_id, project_id)
            workspace = body.get("teamName") or "tester"
            return {"runId": run_id, "project_id": project_id, "focusUrl": f"{base}/{workspace}/{body.get('projectName')}/",
                    "githubEnabled": False, "featureToggles": [], "lastOffset": 0, "s3DirectAccessEnabled": False,
                    "upload_file_size_limit_in_mb": 200, "asset_upload_file_size_limit_in_mb": 100000}
        if path == "/clientlib/batch/logger/experiment/parameter":
            for value in body.get("values", []):
                self.parameters[value["parameterName"]] = value["parameterValue"]
        elif path == "/clientlib/batch/logger/experiment/metric":
            self.metrics.extend(body.get("values", []))
        elif path == "/api/rest/v2/workspaces":  # the key's user's workspaces (API.get_workspaces)
            return {"workspaceNames": ["tester"]}
        elif path == "/api/rest/v2/experiment/metadata":
            return {"experimentKey": query["experimentKey"][0], "experimentName": None, "projectName": "portability",
                    "workspaceName": "tester", "archived": False, "running": False}
        elif path == "/api/rest/v2/experiment/metrics/get-metric":
            name = query["metricName"][0]
            return {"metrics": [{"metricName": m["metricName"], "metricValue": str(m["metricValue"]), "step": m.get("step"),
                                 "epoch": m.get("epoch"), "timestamp": 0} for m in self.metrics if m["metricName"] == name]}
        return {}


ANSWERED = {"/clientlib/status-report/update", "/clientlib/logger/add/run", "/clientlib/batch/logger/experiment/parameter",
            "/clientlib/batch/logger/experiment/metric", "/clientlib/asset/upload"}
