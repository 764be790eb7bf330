"""Temporary files of a killed command (TensorFlow's autograph sources, export's SavedModel) stayed in $TMPDIR."""

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

WRITE_AND_DIE = (
    "import os, signal, sys, tempfile\n"
    "from imgclf.scratch import use_private_tempdir\n"
    "use_private_tempdir()\n"
    "tempfile.NamedTemporaryFile(prefix='__autograph_generated_file', suffix='.py', delete=False).close()\n"
    "if sys.argv[1] == 'kill':\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def run(tmp_path: Path, how: str) -> int:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", WRITE_AND_DIE, how], env=env).returncode


def test_a_killed_commands_temporary_files_are_removed_by_the_next(tmp_path: Path):
    (tmp_path / "imgclf-notapid").mkdir()  # not ours to judge
    assert run(tmp_path, "kill") == -9
    left = list(tmp_path.glob("imgclf-[0-9]*/__autograph_generated_file*.py"))
    assert len(left) == 1, "SIGKILL runs no clean-up"
    assert run(tmp_path, "exit") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgclf-notapid"], "both folders gone"


def test_a_second_command_in_one_process_keeps_its_folder_instead_of_nesting_one(tmp_path: Path):
    """Each command's exit_on_error asks for the folder: nested 21 deep, Chromium's socket path was too long."""
    code = (
        "from imgclf.scratch import use_private_tempdir\n"
        "first, second = use_private_tempdir(), use_private_tempdir()\n"
        "print(first == second, first.parent)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    said = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.split()
    assert said == ["True", str(tmp_path)]
