"""A real WebDAV server process (WsgiDAV) on 127.0.0.1: the storage a DVC remote pushes to and pulls from."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def webdav_server(root: Path) -> Iterator[str]:
    """Serves `root` (anonymous read and write) until the block ends; yields the remote's URL for DVC."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    wsgidav = Path(sys.executable).parent / "wsgidav"
    command = [wsgidav, "--host", "127.0.0.1", "--port", str(port), "--root", root, "--auth", "anonymous"]
    server = subprocess.Popen([*map(str, command), "--no-config"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"WsgiDAV did not start: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.1)
        yield f"webdav://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(10)
