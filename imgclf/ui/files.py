"""An experiment's files, read from its revision through DVC (its cache, or its remote): only the outputs DVC names
for that experiment, by their exact path, so no other file of the machine can be asked for. A folder output comes
as one zip, written while it is sent, so memory stays bounded whatever the folder holds."""

import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

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


class Pending:
    """A write-only stream that keeps what was written until taken: zipfile writes to it, the response sends it."""

    def __init__(self):
        self.blocks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.blocks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        blocks, self.blocks = self.blocks, []
        yield from blocks


def zipped_folder(project: Path, rev: str, folder: str) -> Iterator[bytes]:
    """The folder output at `rev` as a zip whose entries sit under the folder's own name. A name in DVC's listing
    that would leave the folder (`..`, an absolute path) is left out."""
    from dvc.api import DVCFileSystem

    fs = DVCFileSystem(url=str(project), rev=rev)
    top = PurePosixPath(folder)
    pending = Pending()
    with zipfile.ZipFile(pending, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path, info in sorted(fs.find(folder, detail=True).items()):
            inside = PurePosixPath(path.lstrip("/")).relative_to(top)
            if ".." in inside.parts or inside.is_absolute():
                continue
            entry = zipfile.ZipInfo(str(top.name / inside))
            entry.compress_type = zipfile.ZIP_DEFLATED
            size = info.get("size")
            entry.file_size = size or 0
            with fs.open(path, "rb") as source, archive.open(entry, "w", force_zip64=size is None) as target:
                while block := source.read(CHUNK):
                    target.write(block)
                    yield from pending.take()
            yield from pending.take()
    yield from pending.take()
