"""Which lines of `dvc exp run --run-all`'s output a sweep relays: the experiments' own logs, not DVC's generic
hints. The sweep says itself what to do next (its report, `dvc exp show`), and DVC 3.67's summary line
"Ran experiment(s): " comes out empty (it names the experiments from a generator it has already used up).
Errors are untouched: DVC writes them to stderr, which the sweep does not read."""

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
