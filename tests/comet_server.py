"""A stand-in for Comet's server on 127.0.0.1, for the real comet_ml SDK pointed at it with
COMET_URL_OVERRIDE. It answers the endpoints the SDK uses, unpacks what it receives (parameters,
metrics, uploaded files) for the tests to check, answers a wrong request as the server would (401, 404,
405, 400) and records it as a violation."""

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


GETS = {"/clientlib/isAlive/ver", "/clientlib/health/ping", "/api/rest/v2/experiment/metadata",
        "/api/rest/v2/experiment/metrics/get-metric"}


class CometStandIn(LoopbackServer):
    """Every call needs the API key (the SDK sends it in Authorization, reads included), the method the
    SDK uses for that endpoint, a JSON body where it sends JSON, and an experiment key the server knows."""

    path = "/clientlib/"

    def __init__(self, api_key):
        self.api_key = api_key
        self.parameters, self.metrics, self.files, self.runs = {}, [], [], []
        self.violations, self.paths, self.experiments = [], [], set()

    def error_body(self, status, message):
        return {"msg": message, "code": status, "sdk_error_code": 90212 if status == 401 else 0}

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
        if request.headers.get("Authorization") != self.api_key:
            return self.reject(request, 401, "Invalid api key")
        content_type = request.headers.get("Content-Type", "")
        body = {}
        if request.command == "POST" and path != "/clientlib/asset/upload":
            if not content_type.startswith("application/json"):
                return self.reject(request, 400, f"content type {content_type!r}, expected application/json")
            body = json.loads(raw)
        key = (body.get("experimentKey") if isinstance(body, dict) else None) or query.get("experimentKey", [None])[0]
        if path == "/clientlib/logger/add/run":
            self.experiments.add(key)
        elif key is not None and key not in self.experiments:
            return self.reject(request, 400, f"unknown experiment {key!r}")
        request.reply(200, self.answer(path, query, body))

    def answer(self, path, query, body):
        if path == "/clientlib/isAlive/ver":
            return {"msg": "ok", "version": "3.58.8"}
        if path == "/clientlib/status-report/update":
            return {"is_alive_beat_duration_millis": 60000, "gpu_monitor_interval_millis": 60000,
                    "cpu_monitor_interval_millis": 60000, "pending_rpcs": False}
        if path == "/clientlib/logger/add/run":
            self.runs.append(body)
            return {"runId": "run-1", "experimentKey": body["experimentKey"], "projectId": "p-1", "featureToggles": [],
                    "lastOffset": 0, "link": f"http://127.0.0.1/{body.get('teamName')}/{body.get('projectName')}/"
                                             f"{body['experimentKey']}"}
        if path == "/clientlib/batch/logger/experiment/parameter":
            for value in body.get("values", []):
                self.parameters[value["parameterName"]] = value["parameterValue"]
        elif path == "/clientlib/batch/logger/experiment/metric":
            self.metrics.extend(body.get("values", []))
        elif path == "/clientlib/asset/upload":
            self.files.append(query.get("fileName", [""])[0])
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
