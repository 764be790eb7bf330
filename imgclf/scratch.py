"""Each command's own temporary folder, $TMPDIR/imgclf-<pid>, where every temporary file of the process goes, its
libraries' included (TensorFlow's autograph sources, the SavedModel that export converts from). A process killed
with SIGKILL runs no clean-up; the next command removes the folders of processes that no longer run."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "imgclf-"


def use_private_tempdir() -> Path:
    base = Path(tempfile.gettempdir())
    if base.name == f"{PREFIX}{os.getpid()}":  # a second command in this process (the imgclf command, a test)
        return base
    for folder in base.glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX)
        if pid.isdigit() and not _running(int(pid)) and _owned(folder):
            shutil.rmtree(folder, ignore_errors=True)
    mine = base / f"{PREFIX}{os.getpid()}"
    mine.mkdir(exist_ok=True)
    tempfile.tempdir = str(mine)
    os.environ["TMPDIR"] = str(mine)  # and its child processes'
    atexit.register(shutil.rmtree, mine, ignore_errors=True)
    return mine


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _owned(folder: Path) -> bool:
    try:
        return folder.stat().st_uid == os.getuid()
    except OSError:
        return False
