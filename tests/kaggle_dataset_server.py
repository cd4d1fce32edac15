"""The Kaggle stand-in (tests/kaggle_server.py) extended with what the real `kaggle` SDK sends to create or
version a private data set: `GetDatasetStatus`, `StartBlobUpload`, the PUT of each file on the upload URL
it answered, `CreateDataset` and `CreateDatasetVersion`, each checked as strictly as the kernel methods
(method, content type, auth, fields, declared sizes, upload tokens). A data set that does not exist is a
404, as on kaggle.com; one that exists answers `ready`."""

import hmac
import json
import re
import urllib.parse

from tests.kaggle_server import KaggleStandIn

DATASETS = "/v1/datasets.DatasetApiService/"
BLOBS = "/v1/blobs.BlobApiService/"


class KaggleDatasetStandIn(KaggleStandIn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = {}  # "owner/slug" -> {"title", "private", "versions": [{file name: bytes}]}
        self.blobs = {}  # token -> {"name", "length", "data" (None until uploaded)}

    def route(self, request, body):
        parsed = urllib.parse.urlparse(request.path)
        if parsed.path.startswith("/upload/"):
            self.calls.append((request.command, request.path, None))
            return self.receive_blob(request, parsed, body)
        if not parsed.path.startswith((DATASETS, BLOBS)):
            return super().route(request, body)
        self.calls.append((request.command, request.path, None))
        if request.command != "POST":
            return self.reject(request, 405, f"method {request.command} not allowed: the API takes POST")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.reject(request, 400, "content type is not application/json")
        if request.headers.get("Authorization") != self.expected_auth:
            return self.reject(request, 401, "Unauthenticated")
        method = parsed.path.rsplit("/", 1)[1]
        if method not in ("GetDatasetStatus", "CreateDataset", "CreateDatasetVersion", "StartBlobUpload"):
            return self.reject(request, 404, f"no such method {parsed.path}")
        payload = json.loads(body or b"{}")
        self.calls[-1] = ("POST", request.path, payload)
        problems, status, answer = getattr(self, f"on_{method}")(payload, f"http://127.0.0.1:{request.server.server_port}")
        if status == 404:  # a data set that does not exist yet: the genuine answer, not a bad request
            return request.reply(404, self.error_body(404, problems[0]), self.error_type)
        if problems:
            return self.reject(request, 400, "; ".join(problems))
        request.reply(status, answer)

    def on_GetDatasetStatus(self, body, base):
        ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
        if ref not in self.datasets:
            return [f"dataset {ref} not found"], 404, None
        return [], 200, {"status": "ready"}

    def on_StartBlobUpload(self, body, base):
        problems = [] if body.get("type") == "DATASET" else [f"StartBlobUpload type {body.get('type')!r}"]
        if not body.get("name") or not isinstance(body.get("contentLength"), int):
            problems.append("StartBlobUpload without a name and a contentLength")
        token = f"blob-{len(self.blobs) + 1}"
        self.blobs[token] = {"name": body.get("name"), "length": body.get("contentLength"), "data": None}
        signature = hmac.new(self.expected_auth.encode(), token.encode(), "sha256").hexdigest()[:32]
        return problems, 200, {"token": token, "createUrl": f"{base}/upload/{token}?sig={signature}"}

    def receive_blob(self, request, parsed, body):
        """The file's bytes, PUT on the upload URL (a signed URL: no credentials, the signature checked)."""
        token = parsed.path.removeprefix("/upload/")
        signature = hmac.new(self.expected_auth.encode(), token.encode(), "sha256").hexdigest()[:32]
        if request.command != "PUT":
            return self.reject(request, 405, f"method {request.command} not allowed on an upload URL")
        if token not in self.blobs or urllib.parse.parse_qs(parsed.query).get("sig") != [signature]:
            return self.reject(request, 403, "SignatureDoesNotMatch")
        if len(body) != self.blobs[token]["length"]:
            return self.reject(request, 400, f"{len(body)} bytes, {self.blobs[token]['length']} declared")
        self.blobs[token]["data"] = body
        request.reply(200, {})

    def uploaded(self, files):
        """{file name: bytes} of the upload tokens in `files`; problems for unknown or incomplete ones."""
        found, problems = {}, []
        for entry in files or []:
            blob = self.blobs.get(entry.get("token"))
            if blob is None or blob["data"] is None:
                problems.append(f"file token {entry.get('token')!r} was never uploaded")
            else:
                found[blob["name"]] = blob["data"]
        return found, problems + ([] if found else ["no files"])

    def on_CreateDataset(self, body, base):
        ref = f"{body.get('ownerSlug')}/{body.get('slug')}"
        problems = [] if body.get("ownerSlug") == self.username else [f"CreateDataset owner {body.get('ownerSlug')!r}"]
        if not re.fullmatch(r"[a-z0-9-]{6,50}", body.get("slug", "")) or not 6 <= len(body.get("title", "")) <= 50:
            problems.append(f"CreateDataset slug {body.get('slug')!r} / title {body.get('title')!r}")
        if body.get("isPrivate") is not True or not body.get("licenseName"):
            problems.append("CreateDataset not private or without a license")
        files, missing = self.uploaded(body.get("files"))
        if ref in self.datasets:
            return [], 200, {"status": "error", "error": f"The requested title \"{body.get('title')}\" is already in use"}
        if problems + missing:
            return problems + missing, 400, None
        self.datasets[ref] = {"title": body["title"], "private": True, "versions": [files]}
        return [], 200, {"ref": ref, "url": f"{base}/datasets/{ref}", "status": "ok"}

    def on_CreateDatasetVersion(self, body, base):
        ref = f"{body.get('ownerSlug')}/{body.get('datasetSlug')}"
        if ref not in self.datasets:
            return [f"dataset {ref} not found"], 404, None
        files, missing = self.uploaded((body.get("body") or {}).get("files"))
        if missing:
            return missing, 400, None
        self.datasets[ref]["versions"].append(files)
        return [], 200, {"ref": ref, "url": f"{base}/datasets/{ref}", "status": "ok"}
