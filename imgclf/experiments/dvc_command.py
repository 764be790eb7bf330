"""DVC's command line from Python, in the project's environment: its output, or one line saying what failed.

DVC lets one command at a time take a repository; another refuses at once ("Unable to acquire lock") and does
nothing. Such a command waits its turn here: it tries again every BUSY_PAUSE_S, up to BUSY_WAIT_S."""

import random
import subprocess
import sys
import time
from pathlib import Path

from imgclf.errors import PipelineError

BUSY = ("Unable to acquire lock", "Stash apply resulted in merge conflicts", "index.lock': File exists")
BUSY_WAIT_S = 900  # the longest a command waits for another DVC command on the repository to finish
BUSY_PAUSE_S = 5.0  # between its tries


def dvc(*args: str, cwd: Path = Path("."), own_session: bool = False, timeout_s: float | None = None) -> str:
    """DVC's output; `own_session`: in a session of its own, where the terminal's Ctrl-C does not reach it (a
    command that must not stop halfway, such as `dvc exp apply`, whose caller holds Ctrl-C until it ends);
    `timeout_s`: a command still running then is killed, and that is the failure."""
    waited_since = None
    while True:
        try:
            result = subprocess.run(
                [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True,
                start_new_session=own_session, timeout=timeout_s,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PipelineError(f"dvc {' '.join(args)} did not answer in {timeout_s:g} s, and was stopped") from None
        if result.returncode == 0:
            return result.stdout
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        if not is_busy(result.stderr + result.stdout) or not busy_pause(waited_since, f"dvc {args[0]} {args[1]}"):
            raise PipelineError(f"dvc {' '.join(args)} failed: {message[-1] if message else result.returncode}")
        waited_since = waited_since or time.monotonic()


def is_busy(output: str) -> bool:
    """Whether DVC refused because another DVC or git command held the repository: it did nothing."""
    return any(sign in output for sign in BUSY)


def busy_pause(waited_since: float | None, who: str) -> bool:
    """Sleeps before the next try and returns True, or returns False once BUSY_WAIT_S have passed. The first pause
    says so (commands that collided try again apart, at random within the pause)."""
    if waited_since is None:
        print(f"      {who} waits: another DVC command holds the repository", file=sys.stderr, flush=True)
    elif time.monotonic() - waited_since > BUSY_WAIT_S:
        return False
    time.sleep(BUSY_PAUSE_S * random.uniform(0.5, 1.5))
    return True
