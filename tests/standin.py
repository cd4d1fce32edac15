"""The shared part of the platform stand-ins: an HTTP server on 127.0.0.1 only, run in a thread, that
sends every request, whatever its method, to the stand-in's `route(request, body)`.

Strict by construction: a request the stand-in cannot read (malformed JSON or XML, a wrong archive)
is answered 400 in the platform's error format and recorded in `violations`, never a dropped
connection; `reject` answers a wrong request the way the real API does and records it. Every test
that uses a stand-in asserts `violations == []`."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Subclasses give `route(request, body)`, `path` (the API root) and may change `error_body`."""

    path = ""
    protocol = "HTTP/1.0"
    error_type = "application/json"

    def route(self, request, body):
        raise NotImplementedError

    def error_body(self, status, message):
        return {"code": status, "message": message}

    def reject(self, request, status, message):
        """Answer a request the real API would refuse, and record it: the client sent something wrong."""
        self.violations.append(f"{request.command} {request.path}: {message}")
        request.reply(status, self.error_body(status, message), self.error_type)

    def make_handler(self):
        stand_in = self

        class Handler(QuietHandler):
            protocol_version = stand_in.protocol

            def dispatch(self):
                body = self.read_body()
                try:
                    stand_in.route(self, body)
                except Exception as error:  # an unreadable request is an answer and a violation
                    stand_in.reject(self, 400, f"malformed request ({type(error).__name__}: {error})")

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

        return Handler

    def __enter__(self):
        self.violations = getattr(self, "violations", [])
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.make_handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding") == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))

    def reply(self, status, answer, content_type="application/json", headers=None):
        if isinstance(answer, bytes):
            payload = answer
        else:
            payload = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer is the headers of the GET answer
            self.wfile.write(payload)
