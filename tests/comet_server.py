"""A stand-in for Comet's server on 127.0.0.1, for the real comet_ml SDK pointed at it with
COMET_URL_OVERRIDE. It answers the endpoints the SDK uses, unpacks what it receives (parameters,
metrics, uploaded files) for the tests to check, and records anything unexpected as a violation."""

import gzip
import json
import urllib.parse

from tests.standin import LoopbackServer, QuietHandler

QUIET = {  # endpoints whose content the tests do not inspect: answered, recorded
    "/clientlib/asset/3d-limits", "/clientlib/health/ping", "/clientlib/notification/experiment",
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


class CometStandIn(LoopbackServer):
    def __init__(self, api_key):
        self.api_key = api_key
        self.parameters, self.metrics, self.files, self.runs = {}, [], [], []
        self.violations, self.paths = [], []

    path = "/clientlib/"

    def make_handler(self):
        stand_in = self

        class Handler(QuietHandler):
            def body(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                return raw

            def do_GET(self):
                stand_in.route("GET", self, b"")

            def do_POST(self):
                stand_in.route("POST", self, self.body())

        return Handler

    def route(self, method, request, raw):
        parsed = urllib.parse.urlparse(request.path)
        path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        self.paths.append(f"{method} {path}")
        if path == "/clientlib/isAlive/ver":
            return request.reply(200, {"msg": "ok", "version": "3.58.8"})
        if path == "/clientlib/status-report/update":
            return request.reply(200, {"is_alive_beat_duration_millis": 60000, "gpu_monitor_interval_millis": 60000,
                                  "cpu_monitor_interval_millis": 60000, "pending_rpcs": False})
        if path == "/clientlib/logger/add/run":
            body = json.loads(raw)
            if body.get("apiKey") != self.api_key:
                self.violations.append(f"logger/add/run with api key {body.get('apiKey')!r}")
                return request.reply(401, {"msg": "Invalid api key", "code": 401, "sdk_error_code": 90212})
            self.runs.append(body)
            return request.reply(200, {"runId": "run-1", "experimentKey": body["experimentKey"], "projectId": "p-1",
                                  "featureToggles": [], "lastOffset": 0,
                                  "link": f"http://127.0.0.1/{body.get('teamName')}/{body.get('projectName')}/"
                                          f"{body['experimentKey']}"})
        if path == "/clientlib/batch/logger/experiment/parameter":
            for value in json.loads(raw).get("values", []):
                self.parameters[value["parameterName"]] = value["parameterValue"]
            return request.reply(200, {})
        if path == "/clientlib/batch/logger/experiment/metric":
            self.metrics.extend(json.loads(raw).get("values", []))
            return request.reply(200, {})
        if path == "/clientlib/asset/upload":
            self.files.append(query.get("fileName", [""])[0])
            return request.reply(200, {})
        if path == "/api/rest/v2/experiment/metadata":
            key = query["experimentKey"][0]
            return request.reply(200, {"experimentKey": key, "experimentName": None, "projectName": "portability",
                                  "workspaceName": "tester", "archived": False, "running": False})
        if path == "/api/rest/v2/experiment/metrics/get-metric":
            name = query["metricName"][0]
            rows = [{"metricName": m["metricName"], "metricValue": str(m["metricValue"]), "step": m.get("step"),
                     "epoch": m.get("epoch"), "timestamp": 0} for m in self.metrics if m["metricName"] == name]
            return request.reply(200, {"metrics": rows})
        if path in QUIET:
            return request.reply(200, {})
        self.violations.append(f"unexpected {method} {path}")
        return request.reply(404, {"msg": "not found", "code": 404})
