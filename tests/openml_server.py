"""A stand-in for the OpenML API (`/api/v1/xml/...`) on 127.0.0.1 that checks what the real `openml`
client publishes: the API key, the flow XML, the run description and the predictions ARFF."""

import email.parser
import re
import urllib.parse

import xmltodict

from tests.standin import LoopbackServer

NS = 'xmlns:oml="http://openml.org/openml"'


def error_xml(code, message):
    return f'<oml:error {NS}><oml:code>{code}</oml:code><oml:message>{message}</oml:message></oml:error>'


class OpenMLStandIn(LoopbackServer):
    def __init__(self, api_key, task_id, labels, rows, folds=10):
        self.api_key, self.task_id, self.labels, self.rows, self.folds = api_key, task_id, labels, rows, folds
        self.flows, self.runs, self.violations, self.calls = {}, {}, [], []
        self.evaluated = None  # set to an accuracy to have the "server engine" report it

    path = "/api/v1/xml"

    error_type = "text/xml; charset=utf-8"

    def error_body(self, status, message):
        return error_xml(status, message)

    def route(self, request, body):
        """GETs for flows and runs; POSTs as multipart forms (the client sends files) with the api key."""
        parsed = urllib.parse.urlparse(request.path)
        self.calls.append((request.command, parsed.path))
        if request.command == "GET":
            status, answer = self.get(parsed.path, urllib.parse.parse_qs(parsed.query))
            return request.reply(status, answer, self.error_type)
        if request.command != "POST":
            return self.reject(request, 405, f"method {request.command} not allowed")
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return self.reject(request, 412, f"content type {content_type!r}: the API reads form fields")
        fields = self.parse_form(content_type, body)
        if fields.get("api_key") != self.api_key:
            return request.reply(412, error_xml(103, "Authentication failed"), self.error_type)
        status, answer = self.post(parsed.path, fields)
        request.reply(status, answer, self.error_type)

    @staticmethod
    def parse_form(content_type, raw):
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
            return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
                    for part in message.get_payload()}
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}

    def get(self, path, query):
        match = re.fullmatch(r"/api/v1/xml/flow/(\d+)", path)
        if match and int(match.group(1)) in self.flows:
            return 200, self.flows[int(match.group(1))]
        match = re.fullmatch(r"/api/v1/xml/run/(\d+)", path)
        if match and int(match.group(1)) in self.runs:
            return 200, self.run_xml(int(match.group(1)))
        self.violations.append(f"unexpected GET {path}")
        return 412, error_xml(111, "Unknown")

    def post(self, path, fields):
        if path == "/api/v1/xml/flow/exists":
            known = [i for i, xml in self.flows.items() if f"<oml:name>{fields.get('name')}</oml:name>" in xml]
            return 200, (f'<oml:flow_exists {NS}><oml:exists>{"true" if known else "false"}</oml:exists>'
                         f'<oml:id>{known[0] if known else -1}</oml:id></oml:flow_exists>')
        if path.rstrip("/") == "/api/v1/xml/flow":
            return self.upload_flow(fields.get("description", ""))
        if path.rstrip("/") == "/api/v1/xml/run":
            return self.upload_run(fields.get("description", ""), fields.get("predictions", ""))
        self.violations.append(f"unexpected POST {path}")
        return 412, error_xml(111, "Unknown")

    def upload_flow(self, description):
        flow = xmltodict.parse(description)["oml:flow"]
        problems = []
        if not flow.get("oml:name", "").startswith("portability.keras."):
            problems.append(f"flow name {flow.get('oml:name')!r}")
        if "keras==" not in flow.get("oml:external_version", ""):
            problems.append(f"flow external_version {flow.get('oml:external_version')!r}")
        names = {p["oml:name"] for p in flow.get("oml:parameter", [])}
        for needed in ("epochs", "optimizer", "learning_rate", "batch_size", "seed"):
            if needed not in names:
                problems.append(f"flow lacks the hyperparameter {needed}")
        if problems:
            self.violations.extend(problems)
            return 412, error_xml(170, "; ".join(problems))
        flow_id = 100 + len(self.flows)
        extra = (f"<oml:id>{flow_id}</oml:id><oml:uploader>1</oml:uploader><oml:version>1</oml:version>"
                 "<oml:upload_date>2026-11-22T10:00:00</oml:upload_date>")
        body = re.sub(r"(<oml:flow[^>]*>)", lambda m: m.group(1) + extra, description.split("?>", 1)[-1], count=1)
        self.flows[flow_id] = body
        return 200, f"<oml:upload_flow {NS}><oml:id>{flow_id}</oml:id></oml:upload_flow>"

    def upload_run(self, description, predictions):
        run = xmltodict.parse(description, force_list=["oml:parameter_setting"])["oml:run"]
        problems = []
        if int(run["oml:task_id"]) != self.task_id:
            problems.append(f"run for task {run['oml:task_id']}")
        if int(run.get("oml:flow_id") or 0) not in self.flows:
            problems.append(f"run with unknown flow {run.get('oml:flow_id')}")
        if not run.get("oml:parameter_setting"):
            problems.append("run without parameter settings")
        problems += self.check_predictions(predictions)
        if problems:
            self.violations.extend(problems)
            return 412, error_xml(205, "; ".join(problems))
        run_id = 4000 + len(self.runs)
        self.runs[run_id] = run
        return 200, f"<oml:upload_run {NS}><oml:run_id>{run_id}</oml:run_id></oml:upload_run>"

    def check_predictions(self, arff):
        header, _, data = arff.partition("@DATA")
        attributes = re.findall(r"^@ATTRIBUTE\s+(\S+)\s+(.+)$", header, re.M)
        names = [name for name, _ in attributes]
        expected = ["repeat", "fold", "sample", "row_id", "prediction", "correct",
                    *[f"confidence.{label}" for label in self.labels]]
        problems = [] if names == expected else [f"predictions attributes {names} != {expected}"]
        for name, kind in attributes:
            if name in ("prediction", "correct"):
                order = [value.strip(" '\"") for value in kind.strip().strip("{}").split(",")]
                if order != self.labels:
                    problems.append(f"{name} label order {order} != {self.labels}")
        lines = [line for line in data.strip().splitlines() if line.strip() and not line.startswith("%")]
        row_ids = [int(float(line.split(",")[3])) for line in lines]
        folds = {int(float(line.split(",")[1])) for line in lines}
        if sorted(row_ids) != list(range(self.rows)):
            problems.append(f"{len(row_ids)} prediction rows, not one per instance ({self.rows})")
        if folds != set(range(self.folds)):
            problems.append(f"prediction folds {sorted(folds)}")
        widths = {len(line.split(",")) for line in lines}
        if widths != {len(expected)}:
            problems.append(f"prediction rows of {widths} values, expected {len(expected)}")
        return problems

    def run_xml(self, run_id):
        run = self.runs[run_id]
        evaluation = (f"<oml:evaluation><oml:name>predictive_accuracy</oml:name><oml:value>{self.evaluated}</oml:value></oml:evaluation>"
                      if self.evaluated is not None else "")
        return (f'<oml:run {NS}><oml:run_id>{run_id}</oml:run_id><oml:uploader>1</oml:uploader>'
                f'<oml:uploader_name>tester</oml:uploader_name><oml:task_id>{run["oml:task_id"]}</oml:task_id>'
                f'<oml:task_type>Supervised Classification</oml:task_type><oml:flow_id>{run["oml:flow_id"]}</oml:flow_id>'
                f'<oml:flow_name>portability.keras</oml:flow_name><oml:setup_id>1</oml:setup_id><oml:setup_string>keras</oml:setup_string>'
                f'<oml:input_data><oml:dataset><oml:did>1</oml:did><oml:name>d</oml:name><oml:url>u</oml:url></oml:dataset></oml:input_data>'
                f'<oml:output_data><oml:file><oml:did>-1</oml:did><oml:file_id>1</oml:file_id><oml:name>description</oml:name><oml:url>u</oml:url></oml:file>'
                f'<oml:file><oml:did>-1</oml:did><oml:file_id>2</oml:file_id><oml:name>predictions</oml:name><oml:url>u</oml:url></oml:file>'
                f'{evaluation}</oml:output_data></oml:run>')
