"""A local HTTP server on 127.0.0.1 for download tests: serves bytes, and misbehaves on request."""

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
    requests: Counter = field(default_factory=Counter)


@contextmanager
def serve() -> Iterator[FileServer]:
    state = FileServer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("/")[-1]
            state.requests[name] += 1
            body = state.files.get(name)
            if body is None:
                self.send_error(404)
                return
            fault = state.faults.get(name, "")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
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
