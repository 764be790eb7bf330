"""Is what the workspace changed already kept by an experiment? `dvc exp run` leaves its results in the workspace
(params.yaml, dvc.lock, metrics, the DVCLive log) and keeps the same files in the experiment's commit. Replacing
them, as `dvc exp apply` does, then loses nothing: that experiment still holds them."""

import subprocess
from pathlib import Path


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


def experiment_holding(project: Path, paths: list[str]) -> str | None:
    """The newest experiment of HEAD whose commit holds each of `paths` exactly as the workspace has it, or None."""
    if not paths:
        return None
    head = git(project, "rev-parse", "HEAD").stdout.strip()
    if not head:
        return None
    present = [p for p in paths if (project / p).is_file()]
    hashed = git(project, "hash-object", "--", *present).stdout.split() if present else []
    wanted = dict(zip(present, hashed, strict=True)) | {p: None for p in paths if p not in present}
    refs = git(project, "for-each-ref", "--sort=-committerdate", "--format=%(objectname) %(refname)",
               f"refs/exps/{head[:2]}/{head[2:]}/").stdout.splitlines()  # fmt: skip
    for line in refs:
        commit, ref = line.split(" ", 1)
        listed = git(project, "ls-tree", "-r", commit, "--", *paths).stdout.splitlines()
        held = {entry.split("\t", 1)[1]: entry.split()[2] for entry in listed}
        if all(held.get(path) == blob for path, blob in wanted.items()):
            return ref.rsplit("/", 1)[-1]
    return None
