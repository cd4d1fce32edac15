"""A stand-in for Kaggle's API on 127.0.0.1 that checks what the real `kaggle` SDK sends.

Every call must be `POST /v1/kernels.KernelsApiService/<Method>` with the expected basic-auth header
and a JSON body whose fields are checked; anything else is recorded as a violation and answered 400.
"""

import base64
import json

from tests.standin import LoopbackServer, QuietHandler


class KaggleStandIn(LoopbackServer):
    def __init__(self, username, key, outputs, statuses=("QUEUED", "RUNNING", "COMPLETE"), push_error=None,
                 dataset_sources=(["oddrationale/mnist-in-csv"], ["zalando-research/fashionmnist"])):
        self.dataset_sources = dataset_sources
        self.expected_auth = "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()
        self.username = username
        self.outputs = outputs  # {file name: bytes}
        self.statuses = list(statuses)
        self.push_error = push_error
        self.calls = []
        self.violations = []
        self.pushed = None

    def make_handler(self):
        stand_in = self

        class Handler(QuietHandler):
            def do_GET(self):
                name = self.path.removeprefix("/files/")
                stand_in.calls.append(("GET", self.path, None))
                if not self.path.startswith("/files/") or name not in stand_in.outputs:
                    stand_in.violations.append(f"unexpected GET {self.path}")
                    return self.reply(404, {"code": 404, "message": "not found"})
                self.reply(200, stand_in.outputs[name], "application/octet-stream")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stand_in.calls.append(("POST", self.path, body))
                if self.headers.get("Authorization") != stand_in.expected_auth:
                    stand_in.violations.append(f"bad auth header on {self.path}: {self.headers.get('Authorization')}")
                    return self.reply(401, {"code": 401, "message": "Unauthenticated"})
                prefix = "/v1/kernels.KernelsApiService/"
                method = self.path.removeprefix(prefix) if self.path.startswith(prefix) else None
                handler = getattr(stand_in, f"on_{method}", None) if method else None
                if handler is None:
                    stand_in.violations.append(f"unexpected POST {self.path}")
                    return self.reply(404, {"code": 404, "message": "no such method"})
                problems, status, answer = handler(body, f"http://127.0.0.1:{self.server.server_port}")
                stand_in.violations.extend(problems)
                self.reply(400 if problems else status, answer if not problems else {"code": 400, "message": "; ".join(problems)})

        return Handler

    # the three kernel methods the adapter uses --------------------------------------------
    def on_SaveKernel(self, body, base):
        expected = {"language": "python", "kernelType": "script", "isPrivate": True, "enableGpu": False,
                    "enableTpu": False, "enableInternet": False, "dockerImagePinningType": "original"}
        problems = [f"SaveKernel {key}={body.get(key)!r}, expected {value!r}"
                    for key, value in expected.items() if body.get(key) != value]
        slug = body.get("slug", "")
        if not slug.startswith(f"{self.username}/portability-"):
            problems.append(f"SaveKernel slug {slug!r} is not {self.username}/portability-...")
        if not body.get("newTitle", "").startswith("Portability "):
            problems.append(f"SaveKernel title {body.get('newTitle')!r}")
        if body.get("datasetDataSources") not in self.dataset_sources:
            problems.append(f"SaveKernel datasetDataSources {body.get('datasetDataSources')!r}")
        text = body.get("text", "")
        for needed in ("def data_folder(settings):", "/kaggle/working", "BUNDLE['core/experiment.py'] = r'''",
                       "BUNDLE['shim.py'] = r'''", "BUNDLE['config.json'] = r'''", "def unpack():"):
            if needed not in text:
                problems.append(f"SaveKernel text lacks {needed!r}")
        self.pushed = body
        if self.push_error:
            return problems, 200, {"error": self.push_error}
        return problems, 200, {"ref": f"/code/{slug}", "url": f"{base}/code/{slug}", "versionNumber": 1,
                               "kernelId": 4242}

    def _check_kernel(self, body, method):
        if self.pushed is None:
            return [f"{method} before any SaveKernel"]
        owner, slug = self.pushed["slug"].split("/")
        if body.get("userName") != owner or body.get("kernelSlug") != slug:
            return [f"{method} for {body.get('userName')}/{body.get('kernelSlug')}, pushed {owner}/{slug}"]
        return []

    def on_GetKernelSessionStatus(self, body, base):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        answer = {"status": status}
        if status == "ERROR":
            answer["failureMessage"] = "Your notebook tried to allocate more memory than is available."
        return self._check_kernel(body, "GetKernelSessionStatus"), 200, answer

    def on_ListKernelSessionOutput(self, body, base):
        files = [{"url": f"{base}/files/{name}", "fileName": name} for name in self.outputs]
        return self._check_kernel(body, "ListKernelSessionOutput"), 200, {"files": files, "log": "kernel log\n"}
