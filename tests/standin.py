"""The shared part of the platform stand-ins: an HTTP server on 127.0.0.1 only, run in a thread."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Subclasses give `make_handler()` (a BaseHTTPRequestHandler class) and `path` (the API root)."""

    path = ""

    def make_handler(self):
        raise NotImplementedError

    def __enter__(self):
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

    def reply(self, status, answer, content_type="application/json"):
        if isinstance(answer, bytes):
            payload = answer
        else:
            payload = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
