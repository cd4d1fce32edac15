"""A stand-in for a BEAT platform's REST API on 127.0.0.1, as `beat.cmdline` calls it (webapi.py and
common.py of beat.cmdline 1.10.3): token auth on every call, object lists, object creation and
update, experiment start and run status.

    GET  /api/v1/<kind>/?fields=name,hash,description,creation_date   what the platform holds (list --remote:
                                                                     ?fields=name,short_description)
    POST /api/v1/<kind>/<user>/                                      a new object (JSON)
    PUT  /api/v1/<kind>/<user>/<name>/<version>/                     an update
    GET  /api/v1/<kind>/<name>/?object_format=string&fields=...      one object (pull, diff)
    DELETE /api/v1/<kind>/<name>/                                    remove one (rm --remote)
    POST /api/v1/experiments/<experiment>/start/ (cancel/, reset/)   run it, stop it, forget its results
    GET  /api/v1/experiments/<experiment>/?fields=status,...,results its state, then its results
    GET  /api/v1/backend/environments/                               the platform's execution environments
    GET  /                                                           200: what beat.cmdline's tests probe

Aligned with beat.cmdline 1.10.3 (webapi.py, common.py, experiments.py, environments.py and its
test package, which runs against a platform seeded by beat.web's `install test`: user `user`, token
`3`, the defaults here). Authentication as Django REST framework's TokenAuthentication answers it:
401 with {"detail": ...} for a missing or an invalid token. The BEAT platform itself (beat.web)
cannot be installed here: remote BEAT is tested against this stand-in only.

Objects are checked as the platform would: owned by the token's user, declarations that parse,
code for algorithms and libraries, every object an experiment needs already pushed, and databases
that the platform hosts (users cannot push databases). The results a finished experiment reports are
the outputs of the same prefix run by BEAT's local executor (given by the test)."""

import base64
import hashlib
import json
import urllib.parse

from tests.standin import LoopbackServer

KINDS = ("dataformats", "libraries", "algorithms", "toolchains", "experiments", "databases", "protocoltemplates",
         "plotters")
ENVIRONMENTS = {"Python 3.11 (BEAT)": {"name": "Python 3.11", "version": "1.10.3", "short_description": "",
                                      "queues": {"Default": {}}, "languages": ["python"]}}
FIELDS = {"dataformats": {"name", "declaration"}, "libraries": {"name", "declaration", "code"},
          "algorithms": {"name", "declaration", "code"}, "toolchains": {"name", "declaration"},
          "experiments": {"name", "declaration", "toolchain"}}
LISTED_FIELDS = {"name", "hash", "description", "short_description", "creation_date"}


class BeatStandIn(LoopbackServer):
    def __init__(self, user="user", token="3", outputs=None, hosted_databases=(),
                 statuses=("Scheduled", "Running", "Done")):
        self.user, self.token, self.outputs = user, token, outputs or {}
        self.hosted = set(hosted_databases)
        self.statuses = list(statuses)
        self.objects = {kind: {} for kind in KINDS}
        self.started = []
        self.calls = []
        self.violations = []

    def error_body(self, status, message):
        return {"detail": message}

    def route(self, request, body):
        parsed = urllib.parse.urlparse(request.path)
        parts = [p for p in parsed.path.split("/") if p]
        self.calls.append((request.command, parsed.path))
        if request.command == "GET" and not parts:
            return request.reply(200, "<html><body>BEAT platform</body></html>", "text/html; charset=utf-8")
        authorization = request.headers.get("Authorization")
        if authorization != f"Token {self.token}":
            return self.reject(request, 401, "Invalid token." if authorization else
                               "Authentication credentials were not provided.")
        if request.command == "GET" and parts == ["api", "v1", "backend", "environments"]:
            return request.reply(200, ENVIRONMENTS)
        if parts[:2] != ["api", "v1"] or len(parts) < 3 or parts[2] not in KINDS:
            return self.reject(request, 404, f"no such endpoint {parsed.path}")
        kind, rest = parts[2], parts[3:]
        query = urllib.parse.parse_qs(parsed.query)
        if request.command == "GET" and not rest:
            return self.listing(request, kind, query)
        if request.command == "DELETE" and "/".join(rest) in self.objects[kind]:
            del self.objects[kind]["/".join(rest)]
            return request.reply(204, b"")
        if kind == "experiments" and request.command == "POST" and rest[-1:] in (["cancel"], ["reset"]):
            return self.stop(request, "/".join(rest[:-1]), rest[-1])
        if request.command == "GET" and kind != "experiments" and "/".join(rest) in self.objects[kind]:
            return self.one(request, kind, "/".join(rest), query)
        if request.command == "POST" and rest == [self.user]:
            return self.create(request, kind, json.loads(body))
        if request.command == "PUT" and rest[:1] == [self.user]:
            return self.update(request, kind, "/".join(rest), json.loads(body))
        if kind == "experiments" and request.command == "POST" and rest[-1:] == ["start"]:
            return self.start(request, "/".join(rest[:-1]))
        if kind == "experiments" and request.command == "GET":
            return self.run_status(request, "/".join(rest), query)
        return self.reject(request, 405, f"{request.command} {parsed.path} is not an endpoint of the API")

    def listing(self, request, kind, query):
        """The objects the token's user may see, with the fields asked for (push asks for name and hash,
        `list --remote` for name and short_description)."""
        wanted = query.get("fields", [""])[0].split(",")
        if "name" not in wanted or not set(wanted) <= LISTED_FIELDS:
            return self.reject(request, 400, f"list of {kind} with fields {wanted}: name and some of "
                                             f"{', '.join(sorted(LISTED_FIELDS))}")
        names = sorted(self.objects[kind]) + (sorted(self.hosted) if kind == "databases" else [])
        rows = [{"name": name, "hash": self.objects[kind].get(name, {}).get("hash", "0" * 64), "description": "",
                 "short_description": "", "creation_date": "2026-11-24T00:00:00Z"} for name in names]
        request.reply(200, [{field: row[field] for field in wanted} for row in rows])

    def create(self, request, kind, message):
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.reject(request, 400, "not JSON")
        if kind not in FIELDS:  # databases, protocol templates, plotters: the platform's administrators add them
            return self.reject(request, 403, f"You do not have permission to perform this action ({kind}).")
        missing = FIELDS.get(kind, {"name"}) - set(message)
        if missing:
            return self.reject(request, 400, f"{kind} without {', '.join(sorted(missing))}")
        declaration = json.loads(message["declaration"]) if isinstance(message["declaration"], str) else message["declaration"]
        if kind == "experiments":
            name = f"{self.user}/{message['toolchain']}/{message['name']}"
        else:
            name = f"{self.user}/{message['name']}/{message.get('version', 1)}"
        problems = self.needs(kind, declaration, message)
        if problems:
            return self.reject(request, 400, "; ".join(problems))
        self.objects[kind][name] = {**message, "parsed": declaration,
                                    "hash": hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()}
        request.reply(201, {"name": name})

    def update(self, request, kind, name, message):
        if name not in self.objects[kind]:
            return self.reject(request, 404, f"{kind} {name} does not exist")
        self.objects[kind][name].update(message)
        request.reply(200, {"name": name})

    def needs(self, kind, declaration, message):
        """What the object refers to that the platform does not hold."""
        wanted = []
        if kind == "algorithms":
            for group in declaration.get("groups", []):
                for port in [*group.get("inputs", {}).values(), *group.get("outputs", {}).values()]:
                    wanted.append(("dataformats", port["type"]))
            wanted += [("libraries", library) for library in declaration.get("uses", {}).values()]
            if "class Algorithm" not in message.get("code", ""):
                return ["algorithm code without an Algorithm class"]
        if kind == "experiments":
            wanted.append(("toolchains", message["toolchain"]))
            wanted += [("algorithms", block["algorithm"]) for block in
                       [*declaration["blocks"].values(), *declaration["analyzers"].values()]]
            wanted += [("databases", dataset["database"]) for dataset in declaration["datasets"].values()]
        return [f"{kind[:-1]} {message['name']} needs {what[:-1]} {name}, which the platform does not hold"
                for what, name in wanted if name not in (self.hosted if what == "databases" else self.objects[what])]

    def one(self, request, kind, name, query):
        """One object, its declaration as a string (object_format=string), the fields asked for."""
        stored = self.objects[kind][name]
        fields = [f for f in query.get("fields", [""])[0].split(",") if f]
        if not fields:
            return self.reject(request, 400, f"{kind} {name} asked for without fields")
        request.reply(200, {f: stored.get(f) for f in fields})

    def stop(self, request, name, action):
        if name not in self.started:
            return self.reject(request, 404, f"experiment {name} was not started: nothing to {action}")
        self.started.remove(name)
        request.reply(200, {})

    def start(self, request, name):
        if name not in self.objects["experiments"]:
            return self.reject(request, 404, f"experiment {name} does not exist")
        self.started.append(name)
        request.reply(200, {})

    def run_status(self, request, name, query):
        if name not in self.started:
            return self.reject(request, 404, f"experiment {name} was not started")
        if "status" not in query.get("fields", [""])[0].split(","):
            return self.reject(request, 400, "run status without the status field")
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        answer = {"status": status, "done": status == "Done"}
        if status == "Done":
            answer["results"] = {"analysis": self.results()}
        request.reply(200, answer)

    def results(self):
        """The analyzer's results as the platform lists them: type and value per result."""
        run = json.loads(self.outputs["results.json"])
        values = {"accuracy": ("float32", run["test"]["accuracy"]), "loss": ("float32", run["test"]["loss"]),
                  "verdict": ("string", run["target"]["verdict"]), "results_json": ("string", self.outputs["results.json"].decode()),
                  "model_h5": ("string", base64.b64encode(self.outputs.get("model.h5", b"")).decode()),
                  "model_keras": ("string", base64.b64encode(self.outputs.get("model.keras", b"")).decode()),
                  "log": ("string", self.outputs.get("log.txt", b"").decode(errors="replace"))}
        return {name: {"type": kind, "primary": name == "accuracy", "value": value} for name, (kind, value) in values.items()}
