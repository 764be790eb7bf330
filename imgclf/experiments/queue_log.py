"""Which lines of `dvc exp run --run-all`'s output a sweep relays: the experiments' own logs, not DVC's generic
hints. The sweep says itself what to do next (its report, `dvc exp show`), and DVC 3.67's summary line
"Ran experiment(s): " comes out empty (it names the experiments from a generator it has already used up).
Errors are untouched: DVC writes them to stderr, which the sweep does not read."""

import os
import selectors
import subprocess
from collections.abc import Iterable, Iterator

# DVC's hints after a queue run: "dvc exp apply" (3.x) and "dvc exp branch" (2.x), and the Ctrl-C note of its
# log-following, which would be wrong here: Ctrl-C stops the sweep's experiments (sweep.run_or_stop).
HINTS = (
    "Following logs for all queued experiments",
    "To apply the results of an experiment to your workspace run:",
    "dvc exp apply <exp>",
    "To promote an experiment to a Git branch run:",
    "dvc exp branch <exp> <branch>",
)
RAN = "Ran experiment(s):"
POLL_S = 1.0  # how often lines_until_exit looks whether the process has exited, while it prints nothing


def dropped(line: str) -> bool:
    """A line of DVC's own that tells the sweep's user nothing: a generic hint, or "Ran experiment(s):" naming
    none."""
    text = line.strip()
    return text.startswith(HINTS) or text == RAN


def relayed(lines: Iterable[str]) -> Iterator[str]:
    """The lines worth printing, as they come; blank lines are held until a line that is kept follows, so the
    blank lines around a dropped hint go with it."""
    blank: list[str] = []
    for line in lines:
        if not line.strip():
            blank.append(line)
        elif dropped(line):
            blank.clear()
        else:
            yield from blank
            blank.clear()
            yield line


def lines_until_exit(process: subprocess.Popen) -> Iterator[str]:
    """`process`'s output lines as they come, until it has exited and said all it had. Not until the pipe's end:
    `dvc exp run --run-all` leaves its queue worker's keeper, a daemon, holding the pipe, and a worker whose idle
    monitor died (a broker message read half-written) never stops, so that end may never come."""
    fd = process.stdout.fileno()  # type: ignore[union-attr]
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if selector.select(timeout=POLL_S):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                yield from (line.decode(errors="replace") + "\n" for line in lines)
            elif process.poll() is not None:
                break
    if pending:
        yield pending.decode(errors="replace")
