"""A stand-in for OpenML's REST API (`/api/v1/xml/...`) on 127.0.0.1, answering what OpenML's own PHP
server answers: the same XML (tests/openml_responses.py), error codes, HTTP status and content type,
checked against responses recorded from the genuine server by tests/test_openml_genuine.py.

It serves a task and its data set (description, features, qualities, the ARFF, the splits; the
advertised parquet URL answers an error page, as the genuine server's did), finds flows by name and
external version, and checks the API key as the genuine server does (103 for a wrong one on any API call
that carries it, GETs included; 102 for none on a write), and uploads (run XML, ARFF
syntax of the first 1,000 lines 209, parameter names against the flow 213, the data set's
NumberOfInstances quality 208). `max_body` drops larger request bodies as PHP's upload limits do.
What the client sends wrong beyond that (predictions that are not one per row, labels out of order)
is recorded in `violations`. With `engine = True` runs get their evaluation: predictive_accuracy
pooled over all prediction rows, as OpenML's evaluation engine computes it."""

import email.parser
import hashlib
import re
import urllib.parse

import numpy as np
import xmltodict

from tests import openml_arff, openml_responses as xml
from tests.standin import LoopbackServer

XML_TYPE = "text/xml; charset=utf-8"
LIST = ["oml:parameter_setting", "oml:parameter", "oml:tag"]


class OpenMLStandIn(LoopbackServer):
    path = "/api/v1/xml"
    error_type = XML_TYPE

    def __init__(self, api_key, task_id, labels, rows, folds=10, images=None, label_ids=None, dataset_id=None,
                 name="tiny-digits", max_body=None):
        self.api_key, self.task_id, self.labels, self.rows, self.folds = api_key, task_id, labels, rows, folds
        self.dataset_id, self.name, self.max_body = dataset_id or task_id + 1, name, max_body
        self.images, self.label_ids = images, label_ids
        self.qualities = {"NumberOfClasses": len(labels), "NumberOfInstances": rows, "NumberOfMissingValues": 0}
        self.flows, self.runs, self.violations, self.calls = {}, {}, [], []
        self.engine = False  # True: the evaluation engine has scored every run
        self.processed = True  # False: the data set is new, its features not yet computed

    @property
    def root(self):
        return self.url[: -len(self.path)]

    def error_body(self, status, message):
        return f'<oml:error {xml.NS}>\n\t<oml:code>{status}</oml:code>\n\t<oml:message>{message}</oml:message>\n\t</oml:error>\n'

    def route(self, request, body):
        parsed = urllib.parse.urlparse(request.path)
        self.calls.append((request.command, parsed.path))
        if request.command in ("GET", "HEAD"):
            key = urllib.parse.parse_qs(parsed.query).get("api_key", [""])[0]
            if key and key != self.api_key and parsed.path.startswith(self.path + "/"):  # the API checks a key it is
                return request.reply(412, xml.error(103), XML_TYPE)  # given, GETs too (Api_new.php); files: no
            status, answer, kind = self.get(parsed.path)
            return request.reply(status, answer, kind)
        if request.command != "POST":
            return self.reject(request, 405, f"method {request.command} not allowed")
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return self.reject(request, 412, f"content type {content_type!r}: the API reads form fields")
        # PHP drops the whole body (form fields and files) of a request over post_max_size
        fields = {} if self.max_body is not None and len(body) > self.max_body else self.parse_form(content_type, body)
        if not fields.get("api_key"):
            return request.reply(412, xml.error(102), XML_TYPE)
        if fields["api_key"] != self.api_key:
            return request.reply(412, xml.error(103), XML_TYPE)
        status, answer = self.post(parsed.path.rstrip("/"), fields)
        request.reply(status, answer, XML_TYPE)

    @staticmethod
    def parse_form(content_type, raw):
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
            return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
                    for part in message.get_payload()}
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}

    # reading -------------------------------------------------------------------------------------
    def get(self, path):
        api = path[len(self.path) + 1:] if path.startswith(self.path + "/") else None
        if api is None:
            return self.get_file(path)
        for pattern, answer in ((r"task/(\d+)", self.task_xml), (r"data/(\d+)", self.data_xml),
                                (r"data/features/(\d+)", self.features_xml), (r"data/qualities/(\d+)", self.qualities_xml),
                                (r"flow/(\d+)", self.flow_xml), (r"run/(\d+)", self.run_xml)):
            match = re.fullmatch(pattern, api)
            if match:
                status, text = answer(int(match.group(1)))
                return status, text, XML_TYPE
        if api == "evaluationmeasure/list":
            return 200, xml.evaluation_measures(), XML_TYPE
        if api.startswith("evaluation/list/"):
            return (*self.evaluation_list(api.split("/")[2:]), XML_TYPE)
        self.violations.append(f"unexpected GET {path}")
        return 412, xml.error(111), XML_TYPE

    def serves_data(self, task=None, dataset=None):
        if self.images is None:
            self.violations.append("the client asked for the task's data, which this test gives it from a cache")
            return False
        return task in (None, self.task_id) and dataset in (None, self.dataset_id)

    def task_xml(self, task_id):
        if not self.serves_data(task=task_id):
            return 412, xml.error(151)
        return 200, xml.task(task_id, self.dataset_id, self.name, self.root, self.folds, self.labels)

    def data_xml(self, dataset_id):
        if not self.serves_data(dataset=dataset_id):
            return 412, xml.error(111)
        return 200, xml.data_description(dataset_id, self.name, self.root, hashlib.md5(self.arff().encode()).hexdigest())

    def features_xml(self, dataset_id):
        if not self.serves_data(dataset=dataset_id):
            return 412, xml.error(271)
        if not self.processed:  # a new data set: the genuine server's answer until its engine ran
            return 412, xml.error(273)
        return 200, xml.features(self.columns(), self.labels)

    def qualities_xml(self, dataset_id):
        if not self.serves_data(dataset=dataset_id):
            return 412, xml.error(111)
        return 200, xml.qualities(self.qualities)

    def get_file(self, path):
        """The data set's ARFF, the task's splits (text/plain as the genuine server sends them), and
        the parquet URL, which answers a page that is no parquet file."""
        if path == f"/data/v1/download/{self.dataset_id}/{self.name}.arff" and self.serves_data():
            return 200, self.arff(), "text/plain;charset=UTF-8"
        if path == f"/api_splits/get/{self.task_id}/Task_{self.task_id}_splits.arff" and self.serves_data():
            return 200, self.splits(), "text/plain;charset=UTF-8"
        if path.startswith("/minio/"):
            return 200, "<html><body><h1>404 Page Not Found</h1></body></html>", "text/html; charset=UTF-8"
        self.violations.append(f"unexpected GET {path}")
        return 404, "<html><body>404 Page Not Found</body></html>", "text/html; charset=UTF-8"

    def columns(self):
        return [f"pixel{i}" for i in range(1, self.images[0].size + 1)]

    def arff(self):
        labels = ",".join(self.labels)
        lines = [f"@RELATION {self.name}", *[f"@ATTRIBUTE {c} NUMERIC" for c in self.columns()],
                 f"@ATTRIBUTE class {{{labels}}}", "@DATA"]
        lines += [",".join(map(str, row.ravel().tolist())) + f",{self.labels[label]}"
                  for row, label in zip(self.images, self.label_ids)]
        return "\n".join(lines) + "\n"

    def splits(self):
        """Stratified folds: each class spread evenly over them."""
        fold_of = np.empty(len(self.label_ids), dtype=int)
        for label in np.unique(self.label_ids):
            rows = np.flatnonzero(self.label_ids == label)
            fold_of[rows] = (np.arange(len(rows)) + int(label)) % self.folds
        lines = ["@relation splits", "", "@attribute type {TRAIN,TEST}", "@attribute rowid numeric",
                 "@attribute repeat numeric", "@attribute fold numeric", "", "@data"]
        for fold in range(self.folds):
            lines += [f"{'TEST' if fold_of[row] == fold else 'TRAIN'},{row},0,{fold}" for row in range(len(fold_of))]
        return "\n".join(lines) + "\n"

    def flow_xml(self, flow_id):
        if flow_id not in self.flows:
            return 412, xml.error(181)
        flow = self.flows[flow_id]
        return 200, xml.flow(flow_id, flow["version"], flow["fields"], flow["parameters"], flow["tags"], "2026-11-22T10:00:00")

    def run_xml(self, run_id):
        if run_id not in self.runs:
            return 412, xml.error(236)
        run = self.runs[run_id]
        return 200, xml.run(run_id, run, self.flows[int(run["oml:flow_id"])]["fields"]["name"],
                            (self.dataset_id, self.name), self.root, self.scores(run_id))

    def scores(self, run_id):
        """What the evaluation engine computed: accuracy pooled over all rows (none before it ran)."""
        run = self.runs[run_id]
        if not self.engine or run["problems"]:
            return {}
        return {"predictive_accuracy": round(float(np.mean([p == c for p, c in run["pairs"]])), 4)}

    def evaluation_list(self, segments):
        filters = dict(zip(segments[::2], segments[1::2]))
        runs = {int(i) for i in filters["run"].split(",")} if "run" in filters else set(self.runs)
        rows = [{"run_id": i, "task_id": r["oml:task_id"], "flow_id": r["oml:flow_id"], "data_id": self.dataset_id,
                 "data_name": self.name, "flow_name": self.flows[int(r["oml:flow_id"])]["fields"]["name"],
                 "function": name, "value": value}
                for i, r in sorted(self.runs.items()) if i in runs for name, value in self.scores(i).items()
                if name == filters.get("function", name)]
        return (200, xml.evaluations(rows)) if rows else (412, xml.error(542))

    # writing -------------------------------------------------------------------------------------
    def post(self, path, fields):
        if path == f"{self.path}/flow/exists":
            if not fields.get("name") or not fields.get("external_version"):
                return 412, xml.error(330)
            return 200, xml.flow_exists(self.find_flow(fields["name"], fields["external_version"]))
        if path == f"{self.path}/flow":
            return self.upload_flow(fields.get("description", ""))
        if path == f"{self.path}/run":
            return self.upload_run(fields)
        self.violations.append(f"unexpected POST {path}")
        return 412, xml.error(111)

    def find_flow(self, name, external_version):
        """The genuine server's lookup: name and external version together."""
        return next((i for i, f in self.flows.items()
                     if (f["fields"]["name"], f["fields"]["external_version"]) == (name, external_version)), None)

    def upload_flow(self, description):
        fields = xmltodict.parse(description, force_list=LIST)["oml:flow"]
        fields = {k.removeprefix("oml:"): v for k, v in fields.items() if k.startswith("oml:")}
        known = self.find_flow(fields["name"], fields["external_version"])
        if known is not None:
            return 412, xml.error(171, f"implementation_id:{known}")
        parameters = [{k.removeprefix("oml:"): v for k, v in p.items()} for p in fields.pop("parameter", [])]
        self.violations += self.flow_problems(fields, {p["name"] for p in parameters})
        flow_id = 100 + len(self.flows)
        version = 1 + sum(f["fields"]["name"] == fields["name"] for f in self.flows.values())
        self.flows[flow_id] = {"fields": fields, "parameters": parameters, "tags": fields.pop("tag", []), "version": version}
        return 200, xml.uploaded("upload_flow", "id", flow_id)

    @staticmethod
    def flow_problems(fields, names):
        """This project's flow, as its adapter means to describe it (not a server check)."""
        problems = [] if fields["name"].startswith("portability.keras.") else [f"flow name {fields['name']!r}"]
        if "keras==" not in fields["external_version"]:
            problems.append(f"flow external_version {fields['external_version']!r}")
        return problems + [f"flow lacks the hyperparameter {n}" for n in ("epochs", "optimizer", "learning_rate",
                                                                           "batch_size", "seed") if n not in names]

    def upload_run(self, fields):
        """The genuine server's checks, in its order (Api_run.php run_upload)."""
        try:
            run = xmltodict.parse(fields["description"], force_list=LIST)["oml:run"]
            flow_id, task_id = int(run["oml:flow_id"]), int(run["oml:task_id"])
        except Exception as error:  # no description, unparsable or without its mandatory fields
            self.violations.append(f"run description not valid ({type(error).__name__}: {error})")
            return 412, xml.error(202, f"{type(error).__name__}: {error}")
        if flow_id not in self.flows:
            return 412, xml.error(205)
        problem = openml_arff.check(fields["predictions"]) if "predictions" in fields else None
        if problem:
            return 412, xml.error(209, f"Arff error in predictions file: {problem}")
        known = {p["name"] for p in self.flows[flow_id]["parameters"]}
        for setting in run.get("oml:parameter_setting", []):
            if setting["oml:name"] not in known:
                return 412, xml.error(213, f"Name: {setting['oml:name']}, flow id (component): {flow_id}")
        if task_id != self.task_id:
            return 412, xml.error(204)
        if "NumberOfInstances" not in self.qualities:
            return 412, xml.error(208)
        run_id = 4000 + len(self.runs)
        run["tags"] = run.get("oml:tag", [])
        run["pairs"], run["problems"] = self.read_predictions(fields.get("predictions", ""))
        self.violations += run["problems"]
        self.runs[run_id] = run
        return 200, xml.uploaded("upload_run", "run_id", run_id)

    def read_predictions(self, arff):
        """(prediction, truth) per row, and what OpenML's evaluation engine would refuse."""
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
        rows = [line.split(",") for line in data.strip().splitlines() if line.strip() and not line.startswith("%")]
        if sorted(int(float(r[3])) for r in rows) != list(range(self.rows)):
            problems.append(f"{len(rows)} prediction rows, not one per instance ({self.rows})")
        if {int(float(r[1])) for r in rows} != set(range(self.folds)):
            problems.append(f"prediction folds {sorted({int(float(r[1])) for r in rows})}")
        if {len(r) for r in rows} != {len(expected)}:
            problems.append(f"prediction rows of {sorted({len(r) for r in rows})} values, expected {len(expected)}")
        return [(r[4].strip("'\""), r[5].strip("'\"")) for r in rows], problems
