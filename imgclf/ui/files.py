"""An experiment's files, read from its revision through DVC (its cache, or its remote): only the outputs DVC names
for that experiment, by their exact path, so no other file of the machine can be asked for."""

from collections.abc import Iterator
from pathlib import Path

REPORT = "metrics/classification_report.txt"  # the per-class report the evaluate stage writes
MOST_SHOWN_BYTES = 1_000_000  # a report larger than this is offered as a file, not shown in the page
CHUNK = 1 << 20


def chunks(project: Path, rev: str, path: str) -> Iterator[bytes]:
    import dvc.api

    with dvc.api.open(path, repo=str(project), rev=rev, mode="rb") as f:
        while block := f.read(CHUNK):
            yield block


def report_text(project: Path, rev: str, files: dict[str, int]) -> str | None:
    """The experiment's classification report, or None where it has none (or one too large to show)."""
    if not 0 < files.get(REPORT, 0) <= MOST_SHOWN_BYTES:
        return None
    return b"".join(chunks(project, rev, REPORT)).decode("utf-8", errors="replace")
