"""Progress lines: repainted on a terminal, a line at most every 30 s in a log, always a closing line with the rate."""

import contextlib
import io
import itertools
import os
import pty
import subprocess
import sys

import pytest

from imgclf import progress as progress_module
from imgclf.progress import Progress
from tests.helpers import REPO


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """time.monotonic advancing 10 s a call."""
    ticks = itertools.count(0, 10.0)
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(ticks))


def test_a_log_gets_a_line_every_30_seconds_and_the_closing_line(clock):
    log = io.StringIO()
    with Progress("decoded", "images", 10, stream=log) as progress:
        for _ in range(10):
            progress.add()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "decoded 3/10 images in 30.0 s (0.1 images/s)"
    assert lines[-1] == "decoded 10/10 images in 110.0 s (0.1 images/s)"
    assert len(lines) == 4, "10 s a step: a line at 30, 60 and 90 s, and the closing one"


def test_a_quick_loop_writes_only_its_closing_line():
    log = io.StringIO()
    with Progress("listed", "files", stream=log) as progress:
        progress.add(50_000)
    assert log.getvalue().startswith("listed 50,000 files in 0.") and log.getvalue().count("\n") == 1


def test_a_terminal_line_is_repainted_in_place(clock):
    terminal = Terminal()
    with Progress("read", "images", 3, stream=terminal) as progress:
        for _ in range(3):
            progress.add()
    out = terminal.getvalue()
    assert out.count("\r") == 4 and out.count("\n") == 1 and out.endswith("\n")
    assert out.split("\r")[-1] == "read 3/3 images in 40.0 s (0.1 images/s)\x1b[K\n"


def test_an_error_leaves_the_terminal_on_a_fresh_line_and_writes_no_total():
    terminal = Terminal()
    with pytest.raises(ValueError), Progress("read", "images", 3, stream=terminal):
        raise ValueError("bad file")
    assert terminal.getvalue() == "\n"


COMMAND_WITH_PROGRESS = """
import os, time
from imgclf.cli import exit_on_error
from imgclf.progress import Progress

def main():
    os.write(2, b"I0000 00:00:1795509620.030733    5264 cpu_feature_guard.cc:227] oneDNN custom operations are on\\n")
    with Progress("counted", "things", 3) as progress:
        for _ in range(3):
            time.sleep(0.3)
            progress.add()

exit_on_error(main)
"""


def test_a_command_on_a_terminal_repaints_its_progress_line_and_still_drops_native_noise():
    """Commands pass stderr through a pipe that drops TensorFlow's start-up lines; their progress lines must still
    see the terminal behind it, and reach it before the line ends."""
    controller, terminal = pty.openpty()
    command = subprocess.Popen(
        [sys.executable, "-c", COMMAND_WITH_PROGRESS],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        cwd=REPO,
    )
    os.close(terminal)
    seen = b""
    with contextlib.suppress(OSError):  # EIO once the command has exited and closed its side
        while chunk := os.read(controller, 4096):
            seen += chunk
    os.close(controller)
    assert command.wait(timeout=30) == 0
    painted = seen.decode().split("\r")
    assert [part.split(" in ")[0] for part in painted if part.strip()] == [
        "counted 1/3 things",
        "counted 2/3 things",
        "counted 3/3 things",
        "counted 3/3 things",
    ], seen
    assert b"oneDNN" not in seen
