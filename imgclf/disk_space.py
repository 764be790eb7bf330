"""A full disk as one line, never a crash: the free space checked before a large write that native code makes (h5py,
which TensorFlow's savers use, can crash outright on a full disk), and ENOSPC from any other write recognised."""

import errno
import shutil
from pathlib import Path

from imgclf.errors import PipelineError, printable

MARGIN_BYTES = 4 * 2**20  # beside the estimate: metadata, a log line, the file system's own blocks
FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(PipelineError):
    """Too little space to write an output; the line says where, how much and what to do."""


def free_bytes(folder: Path) -> int:
    """The space free to this user on the file system that holds `folder` (or its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def ensure_free(folder: Path, needed: int, what: str, then: str = "then run the stage again") -> None:
    """Raises DiskFull unless `needed` bytes (and a margin) are free where `folder` is."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        raise DiskFull(
            f"{printable(folder)}: {free / 2**20:.1f} MB free, {what} needs about "
            f"{(needed + MARGIN_BYTES) / 2**20:.1f} MB; free some space there (df -h shows it), {then}"
        )


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC or EDQUOT, also where a library wrapped it in its own message (h5py: "errno = 28")."""
    if isinstance(error, OSError) and error.errno in FULL:
        return True
    text = str(error)
    return "No space left on device" in text or "Disk quota exceeded" in text


def disk_full_line(error: BaseException, rerun: str = "run the stage again") -> str:
    """One line for a write that found the disk full; `rerun` says how to try again."""
    path = getattr(error, "filename", None)
    where = f"writing {printable(path)}" if path else "writing an output"
    return (
        f"the disk is full ({where}); nothing half-written is kept: free some space (df -h shows where), then {rerun}"
    )
