"""Progress lines: repainted on a terminal, a line at most every 30 s in a log, always a closing line with the rate."""

import io
import itertools

import pytest

from imgclf import progress as progress_module
from imgclf.progress import Progress


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
