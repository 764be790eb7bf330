"""`imgclf ui`: one local web app for the repository it is started in, at http://127.0.0.1:PORT.

    imgclf ui                          # the experiments of HEAD, the studies under .tune/
    imgclf ui --all-commits            # the experiments of every commit and branch
    imgclf ui --storage postgresql://user@host/db   # also the studies of a shared database
    imgclf ui --host 0.0.0.0 --remote  # listen beyond this machine: the URL then carries a token
    imgclf ui --actions                # the pages may apply, queue, remove and push (each confirmed first)

Served by waitress; nothing is fetched from the network, so it works on a GPU box reached by `ssh -L PORT:...`."""

import argparse
import ipaddress
import secrets
import socket
import sys
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.errors import PipelineError

LOOPBACK = "127.0.0.1"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765, help="the port to listen on (default 8765; 0: any free)")
    parser.add_argument("--host", default=LOOPBACK, help="the address to listen on (default 127.0.0.1)")
    parser.add_argument("--remote", action="store_true", help="allow a --host other than this machine's loopback")
    parser.add_argument("--all-commits", action="store_true", help="list the experiments of every commit")
    parser.add_argument("--storage", action="append", default=[], help="a study database URL (repeatable)")
    parser.add_argument("--actions", action="store_true", help="let the pages apply, queue, remove and push")
    return parser.parse_args(argv)


def check_host(host: str, remote: bool) -> bool:
    """Whether the address reaches beyond this machine (then a token guards the app); refused without --remote."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not remote:
        raise PipelineError(f"--host {host} reaches beyond this machine: add --remote to allow it (a token guards it)")
    return not loopback


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if not 0 <= args.port <= 65535:
        raise PipelineError(f"--port {args.port}: give a number from 0 to 65535")
    guarded = check_host(args.host, args.remote)
    project = Path(".").resolve()
    if not (project / "dvc.yaml").exists():
        raise PipelineError(f"{project}: no dvc.yaml here; start imgclf ui in the project's repository")
    from waitress.server import create_server

    from imgclf.ui.app import create_app

    token = secrets.token_urlsafe(24) if guarded else None
    app = create_app(project, args.storage, token=token, all_commits=args.all_commits, actions=args.actions)
    try:
        server = create_server(app, host=args.host, port=args.port, threads=4)
    except OSError as e:
        raise PipelineError(f"--port {args.port}: cannot listen there ({e.strerror}); give another --port") from None
    port = server.effective_port
    shown = socket.getfqdn() if args.host in ("0.0.0.0", "::") else args.host  # every address: name this one
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"imgclf ui: {url}  (Ctrl-C stops it)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        print("imgclf ui: stopped", file=sys.stderr)


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
