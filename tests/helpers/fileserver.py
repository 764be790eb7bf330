"""A local HTTP server on 127.0.0.1 for download tests: serves bytes, and misbehaves on request."""

import hashlib
import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class FileServer:
    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    # name -> "truncate" (Content-Length says more than is sent), or "drop:N" (cut the first N transfers midway)
    faults: dict[str, str] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)  # GET requests, by name
    validators: bool = True  # send an ETag and Last-Modified with each file, as S3, GCS and most servers do
    refuse_head: bool = False  # answer HEAD requests with 405 Method Not Allowed, as some servers do


@contextmanager
def serve() -> Iterator[FileServer]:
    state = FileServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def send_head(self, name: str) -> bytes | None:
            body = state.files.get(name)
            if body is None:
                self.send_error(404)
                return None
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            if state.validators:
                self.send_header("ETag", f'"{hashlib.md5(body).hexdigest()}"')
                self.send_header("Last-Modified", "Tue, 24 Nov 2026 08:00:00 GMT")  # the ETag tells changes apart
            self.end_headers()
            return body

        def do_HEAD(self) -> None:
            if state.refuse_head:
                self.send_error(405)
                return
            self.send_head(self.path.lstrip("/").split("/")[-1])

        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("/")[-1]
            state.requests[name] += 1
            body = self.send_head(name)
            if body is None:
                return
            fault = state.faults.get(name, "")
            if fault == "truncate" or (fault.startswith("drop:") and state.requests[name] <= int(fault[5:])):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/data"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
