"""Machines on one host for the search's tests: a project pushed to a bare git remote with a DVC remote beside it,
clones of it, a tuner started as a machine would run it, and a machine's death (its whole process tree at once)."""

import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.helpers.project import copy_repo, project_env, run


def pushed_project(root: Path, extra_lab: str = "") -> dict[str, str]:
    """This repository committed and pushed to root/origin.git, and an empty DVC remote: the env a clone needs."""
    seed = root / "seed"
    seed.mkdir()
    copy_repo(seed)
    if extra_lab:
        with open(seed / "sweeps.yaml", "a") as f:
            f.write(extra_lab)
    run(["git", "init", "-q", "-b", "main"], seed)
    run(["git", "add", "-A"], seed)
    run(["git", "commit", "-qm", "baseline"], seed)
    run(["git", "init", "-q", "--bare", str(root / "origin.git")], root)
    run(["git", "push", "-q", str(root / "origin.git"), "HEAD:main"], seed)
    run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], root / "origin.git")
    return {"GIT_REMOTE": str(root / "origin.git"), "DVC_REMOTE": str(root / "dvc-remote")}


def start(script: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`bash -c script` as a machine runs it: a session of its own, output into `log`."""
    with open(log, "w") as out:
        return subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=project_env(env),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_machine(machine: subprocess.Popen) -> None:
    """Every process of the machine at once, as a power cut: frozen first, so none starts another meanwhile."""
    for _ in range(3):
        for process in tree(machine.pid):
            process.send_signal(signal.SIGSTOP)
    for process in tree(machine.pid):
        process.send_signal(signal.SIGKILL)
    machine.wait()


def wait_for_training(folder: Path, timeout_s: float = 300) -> Path:
    """The log of the first trial in `folder`'s clone that reached its train stage."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in folder.glob("**/.tune/*/*.log"):
            if "Running stage 'train'" in log.read_text(errors="replace"):
                return log
        time.sleep(0.5)
    raise AssertionError(f"no trial in {folder} reached train in {timeout_s} s")
