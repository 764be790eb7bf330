"""A temporary DVC project: a copy of this repository's files in a fresh git repo, and a way to run commands in it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO


def project_env(extra_env: dict | None = None) -> dict[str, str]:
    """This environment with the test's Python first on PATH (the stages' `python`), and git's identity set."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "DVC_NO_ANALYTICS": "1",
        **(extra_env or {}),
    }


def run(cmd: list[str], cwd: Path, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=project_env(extra_env), capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def copy_repo(target: Path) -> None:
    """The files git would commit (tracked, or new and not ignored): what a fresh clone holds."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)


def tune_project(folder: Path, built: bool = False) -> Path:
    """A fresh repository of this project's files with the tune_check lab, committed; `built`: its committed
    pipeline has run, as after `make repro`."""
    copy_repo(folder)
    with open(folder / "sweeps.yaml", "a") as f:
        f.write(TUNE_CHECK_LAB)
    run(["git", "init", "-q"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", "baseline"], folder)
    if built:
        run(["dvc", "repro", "--quiet"], folder)
        run(["git", "add", "-A"], folder)
        run(["git", "commit", "-qm", "its results", "--allow-empty"], folder)  # empty where dvc.lock was current
    return folder


def processes_in(folder: Path) -> list[str]:
    """The command lines of the processes working in `folder` or below (DVC's copies of the repository)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(proc / "cwd").readlink().is_relative_to(folder):
                found.append((proc / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue
    return found


# A lab for the search's end-to-end tests: four trials of it take about a minute, one learning rate hopeless
TUNE_CHECK_LAB = """
tune_check:
  title: a tiny search with one hopeless learning rate
  base:
    data.dataset: mnist_5k
    preprocess.max_per_class: 20
    train.model: mlp
    train.optimizer: adam
    train.epochs: 5
  sweeps: []
  tiny: {}
  search:
    train.lr: {choice: [0.003, 0.01, 1.0e-7]}
"""
