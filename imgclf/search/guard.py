"""Runs one trial's command (`dvc exp run ...`) and stops it when the tuner that started it is gone.

    python -m imgclf.search.guard TUNER_PID -- COMMAND...

The tuner starts this in a session of its own, so a terminal's Ctrl-C reaches the tuner alone, which passes it on.
If the tuner dies instead (SIGKILL, a crash), nobody would: the guard notices within a second that its parent
changed, and gives the command's process group Ctrl-C, then SIGKILL if it has not ended in PATIENCE_S. DVC then
removes its copy of the repository and keeps no experiment, and the trial's params run again elsewhere. Linux's
parent-death signal would reach `dvc` only, not the stage it starts."""

import contextlib
import os
import signal
import subprocess
import sys

POLL_S = 1.0
PATIENCE_S = 60.0


def stop_group(child: subprocess.Popen) -> None:
    """Ctrl-C to the command's process group (ours: the guard ignores it), SIGKILL after PATIENCE_S."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgrp(), signal.SIGINT)
    try:
        child.wait(timeout=PATIENCE_S)
    except subprocess.TimeoutExpired:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    tuner, separator, *command = argv
    if separator != "--" or not command:
        sys.exit("usage: python -m imgclf.search.guard TUNER_PID -- COMMAND...")
    child = subprocess.Popen(command)  # inherits SIGINT as we had it: set before it, ignored it would stay ignored
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the group's Ctrl-C is for the command; we wait for its end
    signal.signal(signal.SIGTERM, lambda *_: stop_group(child))
    while True:
        try:
            return child.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            if os.getppid() != int(tuner):
                stop_group(child)
                return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
