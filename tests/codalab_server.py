"""A stand-in for the CodaLab Worksheets REST API (/rest/...) on 127.0.0.1 for the real `cl` CLI.

The CodaLab tests run against the genuine CodaLab 1.7.5 server (tests/codalab_genuine.py). This stand-in
remains only for what the genuine server cannot be made to do: a server that records another
request_network than the one sent (`record_network`), and request checks the plan.sh test relies on.
It checks the login, worksheet lookup, uploads and the run bundle (command, dependencies by key, resource
requests, network access off), walks the run through its states and serves an output bundle. Where it
answers, it answers as the genuine server does (checked there): an unknown worksheet is a 404 "No worksheet
found with name ...", a search honours `state=` and `.mine`, and a failed run without outputs has no
contents (404 "Path '' in bundle ... not found"). Kills (POST /rest/bundle-actions) are recorded."""

import io
import json
import re
import tarfile
import urllib.parse
import uuid as uuids

from tests.standin import LoopbackServer

WORKSHEET = "0x" + "a" * 32


class CodaLabStandIn(LoopbackServer):
    def __init__(self, username, password, outputs, states=("staged", "running", "ready"), image="tensorflow/tensorflow:2.21.0",
                 network=False, record_network=None):
        self.username, self.password, self.outputs = username, password, outputs
        self.states, self.image, self.network, self.record_network = list(states), image, network, record_network
        self.killed = []
        self.bundles, self.contents, self.queues, self.violations, self.calls = {}, {}, {}, [], []

    protocol = "HTTP/1.1"

    def error_body(self, status, message):
        return {"error": message}

    def route(self, request, body):
        parsed = urllib.parse.urlparse(request.path)
        query = {k: ",".join(v) if k == "keywords" else v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        self.calls.append((request.command, parsed.path, query))
        status, answer, kind = self.answer(request.command, parsed.path, query, body, request.headers)
        if status >= 400:
            self.violations.append(f"{request.command} {parsed.path}: {answer}")
        request.reply(status, answer, kind)

    def fail(self, message):
        return 400, {"error": message}, "application/json"

    def answer(self, method, path, query, body, headers):
        if path == "/rest/oauth2/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return 401, {"error": "invalid_grant", "error_description": "Invalid username or password"}, "application/json"
            return 200, {"access_token": "token-1", "token_type": "Bearer", "expires_in": 3600,
                         "refresh_token": "refresh-1", "scope": "default"}, "application/json"
        if headers.get("Authorization") != "Bearer token-1":
            return self.fail(f"{method} {path} without the bearer token")
        if method == "GET" and path == "/rest/worksheets":
            if query.get("specs") != "portability":
                return 404, {"error": f"No worksheet found with name '{query.get('specs')}'"}, "application/json"
            return 200, {"data": [self.worksheet()]}, "application/json"
        if method == "GET" and path == f"/rest/worksheets/{WORKSHEET}":
            return 200, {"data": self.worksheet()}, "application/json"
        if method == "GET" and path == "/rest/bundles" and "specs" in query:
            found = [self.advance(self.bundles[spec]) for spec in query["specs"].split(",") if spec in self.bundles]
            return (200, {"data": found}, "application/json") if found else self.fail(f"unknown bundle {query['specs']}")
        match = re.fullmatch(r"/rest/bundles/(0x[0-9a-f]{32})", path)
        if match and method == "GET" and match.group(1) in self.bundles:
            return 200, {"data": self.advance(self.bundles[match.group(1)])}, "application/json"
        match = re.fullmatch(r"/rest/bundles/(0x[0-9a-f]{32})/contents/info/", path)
        if match and method == "GET" and match.group(1) in self.bundles and not self.outputs:
            return 404, {"error": f"Path '' in bundle {match.group(1)} not found"}, "application/json"
        if match and method == "GET" and match.group(1) in self.bundles:
            info = {**self.contents_info(), "resolved_target": {"bundle_uuid": match.group(1), "subpath": ""}}
            return 200, {"data": info}, "application/json"
        match = re.fullmatch(r"/rest/bundles/(0x[0-9a-f]{32})/contents/blob/", path)
        if match and method == "GET" and match.group(1) in self.bundles:
            return 200, self.output_archive(), "application/gzip"
        if method == "GET" and path == "/rest/bundles":
            keywords = query.get("keywords", "").split(",")
            name = next((k[5:] for k in keywords if k.startswith("name=")), None)
            state = next((k[6:] for k in keywords if k.startswith("state=")), None)
            matches = [b for b in self.bundles.values() if b["attributes"]["metadata"]["name"] == name
                       and state in (None, b["attributes"]["state"])]  # .mine: every bundle here is the tester's
            if ".count" in query.get("keywords", ""):
                return 200, {"meta": {"results": len(matches)}, "data": []}, "application/json"
            return 200, {"data": matches}, "application/json"
        if method in ("POST", "PATCH") and not headers.get("Content-Type", "").startswith("application/json") \
                and path != "/rest/oauth2/token":
            return self.fail(f"{method} {path} with content type {headers.get('Content-Type')!r}, not JSON")
        if method == "POST" and path == "/rest/bundles":
            if query.get("worksheet") != WORKSHEET:
                return self.fail(f"bundle created on worksheet {query.get('worksheet')!r}")
            created = []
            for item in json.loads(body)["data"]:
                attributes = item["attributes"]
                if attributes["bundle_type"] == "run":
                    problems = self.check_run(attributes)
                    if problems:
                        self.violations.extend(problems)
                        return 400, {"error": "; ".join(problems)}, "application/json"
                bundle_id = "0x" + uuids.uuid4().hex
                state = "created" if attributes["bundle_type"] == "run" else "uploading"
                if attributes["bundle_type"] == "run" and self.record_network is not None:
                    attributes["metadata"]["request_network"] = self.record_network
                bundle = {"type": "bundles", "id": bundle_id,
                          "attributes": {**attributes, "uuid": bundle_id, "state": state, "owner_id": "1",
                                         "is_anonymous": False, "permission": 2, "data_hash": None},
                          "relationships": {"owner": {"data": {"type": "users", "id": "1"}}}}
                self.bundles[bundle_id] = bundle
                self.queues[bundle_id] = list(self.states)
                created.append(bundle)
            return 200, {"data": created}, "application/json"
        if method == "POST" and path == "/rest/bundle-actions":
            for action in json.loads(body)["data"]:
                attributes = action["attributes"]
                if attributes.get("type") != "kill" or attributes.get("uuid") not in self.bundles:
                    return self.fail(f"bundle action {attributes}")
                self.bundles[attributes["uuid"]]["attributes"]["state"] = "killed"
                self.queues[attributes["uuid"]] = []
                self.killed.append(attributes["uuid"])
            return 200, {"data": [{**action, "id": str(number)} for number, action in
                                  enumerate(json.loads(body)["data"], len(self.killed))]}, "application/json"
        if method == "PATCH" and path == "/rest/user/increment_disk_used":
            return 200, {"data": [self.user()]}, "application/json"
        if method == "GET" and path == "/rest/user":
            return 200, {"data": self.user()}, "application/json"
        match = re.fullmatch(r"/rest/bundles/(0x[0-9a-f]{32})/locations/", path)
        if match and method == "POST":  # no blob store: the client then uploads through the server
            return 200, {"data": [{"type": "bundle_locations", "id": "1", "attributes": {"bundle_uuid": match.group(1)}}]}, "application/json"
        match = re.fullmatch(r"/rest/bundles/(0x[0-9a-f]{32})/contents/blob/", path)
        if match and method == "PUT":
            if match.group(1) not in self.bundles:
                return self.fail(f"upload to unknown bundle {match.group(1)}")
            problems = self.check_upload(match.group(1), query, body)
            if problems:
                return self.fail("; ".join(problems))
            self.contents[match.group(1)] = (query, body)
            self.bundles[match.group(1)]["attributes"]["state"] = "ready"
            return 200, {"data": []}, "application/json"
        return self.fail(f"unexpected {method} {path} {query}")

    def check_upload(self, bundle_id, query, body):
        """The uploaded archive is read: a code bundle holds the entry, its shim, config and the core."""
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                names = {member.name.removeprefix("./") for member in archive.getmembers()}
        except tarfile.TarError as error:
            return [f"upload to {bundle_id} is not a readable archive ({error})"]
        if self.bundles[bundle_id]["attributes"]["metadata"]["name"].startswith("portability-code-"):
            missing = {"experiment.py", "shim.py", "config.json", "core/experiment.py"} - names
            return [f"the code bundle lacks {sorted(missing)}"] if missing else []
        return [] if names else [f"upload to {bundle_id} is an empty archive"]

    def check_run(self, attributes):
        """The run bundle: command, dependencies by key, explicit image and resource requests."""
        metadata, problems = attributes["metadata"], []
        if attributes.get("command") != "python code/experiment.py":
            problems.append(f"run command {attributes.get('command')!r}")
        keys = sorted(d["child_path"] for d in attributes.get("dependencies", []))
        if keys != ["code", "data"]:
            problems.append(f"run dependencies {keys}")
        for dependency in attributes.get("dependencies", []):
            if dependency["parent_uuid"] not in self.bundles:
                problems.append(f"dependency on unknown bundle {dependency['parent_uuid']}")
        expected = {"request_docker_image": self.image, "request_memory": "8g", "request_cpus": 2, "request_gpus": 0,
                    "request_time": "2h", "request_network": self.network}
        problems += [f"run {k}={metadata.get(k)!r}, expected {v!r}" for k, v in expected.items()
                     if metadata.get(k) != v or type(metadata.get(k)) is not type(v)]
        if not metadata.get("name", "").startswith("portability-"):
            problems.append(f"run name {metadata.get('name')!r}")
        self.run_metadata = dict(metadata)  # as sent
        return problems

    def advance(self, bundle):
        """A run bundle moves one state on at each look: staged, running, then ready (or failed)."""
        attributes, queue = bundle["attributes"], self.queues.get(bundle["id"], [])
        if attributes["bundle_type"] == "run" and queue and attributes["state"] not in ("ready", "failed"):
            attributes["state"] = queue.pop(0)
            if attributes["state"] == "failed":
                attributes["metadata"]["failure_message"] = "Out of memory"
        return bundle

    def contents_info(self):
        return {"name": "", "type": "directory", "size": 0, "perm": 0o755,
                "contents": [{"name": name, "type": "file", "size": len(data), "perm": 0o644}
                             for name, data in self.outputs.items()]}

    def output_archive(self):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, data in self.outputs.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def user(self):
        return {"type": "users", "id": "1", "attributes": {"user_name": self.username, "disk_used": 0,
                                                          "disk_quota": 10**12, "time_used": 0, "time_quota": 10**9}}

    def worksheet(self):
        return {"type": "worksheets", "id": WORKSHEET,
                "attributes": {"uuid": WORKSHEET, "name": "portability", "title": "portability", "owner_id": "1",
                               "permission": 2, "is_anonymous": False, "frozen": None, "tags": []}}
