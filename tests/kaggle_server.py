"""A stand-in for Kaggle's API on 127.0.0.1 that checks what the real `kaggle` SDK sends.

Every call must be `POST /v1/<service>/<Method>` with a JSON content type and the expected credentials:
basic auth with the legacy key, or `Bearer <token>` with an access token (kaggle 2.x, after the SDK's
`security.OAuthService/IntrospectToken`); bodies are checked field by field. Output files are GETs on
signed URLs, listed a page at a time. Anything else is answered as the API would (401, 404, 405, 400)
and recorded as a violation.

The failures the real service produces are made on request, as the SDK shows the service sends them:
`faults` (per method, answers given before the normal ones: 429 or 5xx, or "drop" to close the
connection unanswered), an expired access token (IntrospectToken says `active: false`, calls with it
401), a failed kernel's `failureMessage`, status values the SDK does not know, expired signed URLs
(the storage service's XML error body, which the SDK saves as the file).
"""

import base64
import hmac
import json
import urllib.parse

from tests.standin import LoopbackServer

GPU_SHAPES = ("NvidiaTeslaT4", "NvidiaTeslaP100", "TpuV38")
EXPIRED_URL_BODY = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>Invalid "
                    b"argument.</Message><Details>The provided token has expired. Request signature expired at: "
                    b"2026-11-20T10:00:00+00:00</Details></Error>")
METHODS = {"kernels.KernelsApiService": ("SaveKernel", "GetKernelSessionStatus", "ListKernelSessionOutput", "ListKernels"),
           "security.OAuthService": ("IntrospectToken",)}


class KaggleStandIn(LoopbackServer):
    def __init__(self, username, key, outputs, statuses=("QUEUED", "RUNNING", "COMPLETE"), push_error=None,
                 dataset_sources=(["oddrationale/mnist-in-csv"], ["zalando-research/fashionmnist"]), kernel_type="script",
                 tokens=None, faults=None, failure_message="Your notebook tried to allocate more memory than is available.",
                 accelerator=None, page_size=None, expired_files=()):
        self.kernel_type = kernel_type
        self.dataset_sources = dataset_sources
        self.expected_auth = "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()
        self.username = username
        self.tokens = dict(tokens or {})  # access token -> True (active) or False (expired or revoked)
        self.faults = {method: list(answers) for method, answers in (faults or {}).items()}
        self.failure_message = failure_message
        self.accelerator = accelerator  # machineShape a GPU/TPU push must ask for; None: no accelerator
        self.page_size = page_size  # the most files one ListKernelSessionOutput page holds (None: what was asked)
        self.expired_files = set(expired_files)
        self.outputs = outputs  # {file name: bytes}
        self.statuses = list(statuses)
        self.push_error = push_error
        self.calls = []
        self.violations = []
        self.pushed = None

    def route(self, request, body):
        self.calls.append((request.command, request.path, None))
        parsed = urllib.parse.urlparse(request.path)
        if parsed.path.startswith("/files/"):
            return self.serve_file(request, parsed)
        if request.command != "POST":
            return self.reject(request, 405, f"method {request.command} not allowed: the API takes POST")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.reject(request, 400, f"content type {request.headers.get('Content-Type')!r}, not application/json")
        service, _, method = parsed.path.removeprefix("/v1/").partition("/")
        if not parsed.path.startswith("/v1/") or method not in METHODS.get(service, ()):
            return self.reject(request, 404, f"no such method {parsed.path}")
        if self.fault(request, method):
            return
        payload = json.loads(body or b"{}")
        self.calls[-1] = ("POST", request.path, payload)
        if method == "IntrospectToken":
            return request.reply(200, self.on_IntrospectToken(payload, request.headers.get("Authorization", "")))
        if not self.authorized(request.headers.get("Authorization", "")):
            return self.reject(request, 401, "Unauthenticated")
        problems, status, answer = getattr(self, f"on_{method}")(payload, f"http://127.0.0.1:{request.server.server_port}")
        if problems:
            return self.reject(request, 400, "; ".join(problems))
        request.reply(status, answer)

    def authorized(self, header):
        if header.startswith("Bearer "):
            return self.tokens.get(header.removeprefix("Bearer ")) is True
        return hmac.compare_digest(header, self.expected_auth)

    def fault(self, request, method):
        """The next failure queued for this method, answered as the service's front end does; True if one was."""
        if not self.faults.get(method):
            return False
        answer = self.faults[method].pop(0)
        if answer == "drop":  # the connection closes with no answer (a restarted front end, a proxy timeout)
            request.close_connection = True
            request.wfile.flush()
            request.connection.shutdown(2)
        elif answer == 429:
            request.reply(429, {"code": 429, "message": "Too many requests: rate limit exceeded"},
                          headers={"Retry-After": "1"})
        else:  # a 5xx from the load balancer: an HTML page, not the API's JSON
            request.reply(answer, f"<html><body><h1>{answer} Server Error</h1></body></html>", "text/html",
                          headers={"Retry-After": "1"})
        return True

    def signature(self, name):
        return hmac.new(self.expected_auth.encode(), name.encode(), "sha256").hexdigest()[:32]

    def serve_file(self, request, parsed):
        """Output files are plain GETs on signed URLs (the SDK sends no credentials for them)."""
        name = parsed.path.removeprefix("/files/")
        if request.command != "GET":
            return self.reject(request, 405, f"method {request.command} not allowed on a file")
        if urllib.parse.parse_qs(parsed.query).get("sig") != [self.signature(name)]:
            return self.reject(request, 403, "SignatureDoesNotMatch")
        if name not in self.outputs:
            return self.reject(request, 404, "NoSuchKey")
        if name in self.expired_files:  # the storage service's answer to a URL past its expiry
            return request.reply(400, EXPIRED_URL_BODY, "application/xml; charset=UTF-8")
        request.reply(200, self.outputs[name], "application/octet-stream")

    # the methods the SDK calls --------------------------------------------------------------
    def on_IntrospectToken(self, body, header):
        """kagglesdk's IntrospectTokenResponse: an unknown, expired or revoked token is `active: false`."""
        token = body.get("token", "")
        if header != f"Bearer {token}":
            self.violations.append(f"IntrospectToken sent with {header.split(' ')[0] or 'no'} credentials, not the token")
        if self.tokens.get(token) is not True:
            return {"active": False}
        return {"active": True, "username": self.username, "clientId": "kaggle-cli", "userId": 4242,
                "scope": "resources.admin:*", "exp": 4102444800}

    def on_SaveKernel(self, body, base):
        expected = {"language": "python", "kernelType": self.kernel_type, "isPrivate": True,
                    "enableGpu": bool(self.accelerator and self.accelerator.startswith("Nvidia")),
                    "enableTpu": bool(self.accelerator and self.accelerator.startswith("Tpu")),
                    "enableInternet": False, "dockerImagePinningType": "original"}
        problems = [f"SaveKernel {key}={body.get(key)!r}, expected {value!r}"
                    for key, value in expected.items() if body.get(key) != value]
        if body.get("machineShape") != self.accelerator:
            problems.append(f"SaveKernel machineShape={body.get('machineShape')!r}, expected {self.accelerator!r}")
        if body.get("machineShape") not in (None, *GPU_SHAPES):
            problems.append(f"SaveKernel machineShape {body.get('machineShape')!r} is not one of {', '.join(GPU_SHAPES)}")
        slug = body.get("slug", "")
        if not slug.startswith(f"{self.username}/portability-"):
            problems.append(f"SaveKernel slug {slug!r} is not {self.username}/portability-...")
        if not body.get("newTitle", "").startswith("Portability "):
            problems.append(f"SaveKernel title {body.get('newTitle')!r}")
        if body.get("datasetDataSources") not in self.dataset_sources:
            problems.append(f"SaveKernel datasetDataSources {body.get('datasetDataSources')!r}")
        text = body.get("text", "")
        if self.kernel_type == "notebook":
            problems += self._check_notebook(text)
            text = "".join(cell["source"] for cell in json.loads(text)["cells"]) if not problems else ""
        for needed in ("def data_folder(config):", "/kaggle/working", "BUNDLE['core/experiment.py'] = r'''",
                       "BUNDLE['shim.py'] = r'''", "BUNDLE['config.json'] = r'''", "def unpack():"):
            if needed not in text:
                problems.append(f"SaveKernel text lacks {needed!r}")
        self.pushed = body
        if self.push_error:
            return problems, 200, {"error": self.push_error}
        return problems, 200, {"ref": f"/code/{slug}", "url": f"{base}/code/{slug}", "versionNumber": 1,
                               "kernelId": 4242}

    def _check_notebook(self, text):
        """A notebook kernel's text is an .ipynb: valid nbformat 4, a Python kernel, the bundle cell."""
        import nbformat

        try:
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
        except Exception as error:  # not a notebook at all
            return [f"SaveKernel text is not a valid notebook ({type(error).__name__})"]
        problems = []
        if notebook.metadata.get("kernelspec", {}).get("language") != "python":
            problems.append("SaveKernel notebook has no Python kernelspec")
        if not any("bundle" in cell.metadata.get("tags", []) for cell in notebook.cells if cell.cell_type == "code"):
            problems.append("SaveKernel notebook has no bundle cell")
        return problems

    def _check_kernel(self, body, method):
        if self.pushed is None:
            return [f"{method} before any SaveKernel"]
        owner, slug = self.pushed["slug"].split("/")
        if body.get("userName") != owner or body.get("kernelSlug") != slug:
            return [f"{method} for {body.get('userName')}/{body.get('kernelSlug')}, pushed {owner}/{slug}"]
        return []

    def on_ListKernels(self, body, base):
        """The user's own kernels (`kernels_list(mine=True)`: group PROFILE), a page at a time; the pushed
        one, if any, with the fields ApiKernelMetadata reads."""
        problems = [] if body.get("group") == "PROFILE" else [f"ListKernels group {body.get('group')!r}, not PROFILE"]
        size = int(body.get("pageSize") or 20)
        if not 1 <= size <= 100:
            problems.append(f"ListKernels pageSize {size} is not 1..100")
        mine = [self.pushed] if self.pushed else []
        kernels = [{"id": 4242, "ref": kernel["slug"], "title": kernel["newTitle"], "author": self.username,
                    "slug": kernel["slug"], "lastRunTime": "2026-11-30T10:00:00.000Z", "language": "python",
                    "kernelType": kernel["kernelType"], "isPrivate": True, "totalVotes": 0} for kernel in mine[:size]]
        return problems, 200, {"kernels": kernels}

    def on_GetKernelSessionStatus(self, body, base):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        answer = {"status": status}
        if status == "ERROR" and self.failure_message:
            answer["failureMessage"] = self.failure_message
        return self._check_kernel(body, "GetKernelSessionStatus"), 200, answer

    def on_ListKernelSessionOutput(self, body, base):
        """One page of files; `nextPageToken` names where the next one starts (the log comes with each page)."""
        names = list(self.outputs)
        start = int(body.get("pageToken") or 0)
        size = min(int(body.get("pageSize") or len(names) or 1), self.page_size or len(names) or 1)
        page = names[start:start + size]
        files = [{"url": f"{base}/files/{name}?sig={self.signature(name)}", "fileName": name} for name in page]
        answer = {"files": files, "log": "kernel log\n"}
        if start + size < len(names):
            answer["nextPageToken"] = str(start + size)
        return self._check_kernel(body, "ListKernelSessionOutput"), 200, answer
