"""A stand-in for Kaggle's API on 127.0.0.1 that checks what the real `kaggle` SDK sends.

Every call must be `POST /v1/kernels.KernelsApiService/<Method>` with a JSON content type, the expected
basic-auth header and a body whose fields are checked; output files are GETs on signed URLs. Anything
else is answered as the API would (401, 404, 405, 400) and recorded as a violation.
"""

import base64
import hmac
import json
import urllib.parse

from tests.standin import LoopbackServer


class KaggleStandIn(LoopbackServer):
    def __init__(self, username, key, outputs, statuses=("QUEUED", "RUNNING", "COMPLETE"), push_error=None,
                 dataset_sources=(["oddrationale/mnist-in-csv"], ["zalando-research/fashionmnist"]), kernel_type="script"):
        self.kernel_type = kernel_type
        self.dataset_sources = dataset_sources
        self.expected_auth = "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()
        self.username = username
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
        if request.headers.get("Authorization") != self.expected_auth:
            return self.reject(request, 401, "Unauthenticated")
        prefix = "/v1/kernels.KernelsApiService/"
        method = parsed.path.removeprefix(prefix) if parsed.path.startswith(prefix) else None
        if method not in ("SaveKernel", "GetKernelSessionStatus", "ListKernelSessionOutput"):
            return self.reject(request, 404, f"no such method {parsed.path}")
        payload = json.loads(body or b"{}")
        self.calls[-1] = ("POST", request.path, payload)
        problems, status, answer = getattr(self, f"on_{method}")(payload, f"http://127.0.0.1:{request.server.server_port}")
        if problems:
            return self.reject(request, 400, "; ".join(problems))
        request.reply(status, answer)

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
        request.reply(200, self.outputs[name], "application/octet-stream")

    # the three kernel methods the adapter uses --------------------------------------------
    def on_SaveKernel(self, body, base):
        expected = {"language": "python", "kernelType": self.kernel_type, "isPrivate": True, "enableGpu": False,
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
        if self.kernel_type == "notebook":
            problems += self._check_notebook(text)
            text = "".join(cell["source"] for cell in json.loads(text)["cells"]) if not problems else ""
        for needed in ("def data_folder(settings):", "/kaggle/working", "BUNDLE['core/experiment.py'] = r'''",
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

    def on_GetKernelSessionStatus(self, body, base):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        answer = {"status": status}
        if status == "ERROR":
            answer["failureMessage"] = "Your notebook tried to allocate more memory than is available."
        return self._check_kernel(body, "GetKernelSessionStatus"), 200, answer

    def on_ListKernelSessionOutput(self, body, base):
        files = [{"url": f"{base}/files/{name}?sig={self.signature(name)}", "fileName": name} for name in self.outputs]
        return self._check_kernel(body, "ListKernelSessionOutput"), 200, {"files": files, "log": "kernel log\n"}
