"""Write outputs so that an interrupted stage never leaves a half-written file that looks complete."""

import errno
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from imgclf.disk_space import FULL, is_disk_full


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _clear_leftovers(path: Path) -> None:
    """The temporaries of `path` that a killed writer left (a SIGKILL runs no clean-up): the next write of the same
    output removes them, so a re-run of the stage leaves nothing behind."""
    _remove(path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"))


def _remove(leftovers: Iterable[Path]) -> None:
    for leftover in leftovers:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _disk_full_writing(path: Path, error: Exception) -> OSError:
    """A full disk met while writing `path`, as an OSError naming `path`: a write's own error names no file, a
    temporary's name is not the output's, and h5py's or a converter's error is no OSError at all."""
    code = error.errno if isinstance(error, OSError) and error.errno in FULL else errno.ENOSPC
    return OSError(code, os.strerror(code), str(path))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make outputs private, unlike any other written file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except Exception as e:
        if is_disk_full(e):
            raise _disk_full_writing(path, e) from e
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `path` as a whole only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    except Exception as e:
        if is_disk_full(e):
            raise _disk_full_writing(path, e) from e
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data: object) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def remove_temporaries(folder: Path) -> None:
    """Delete what a killed writer left behind in `folder` (the hidden temporaries of the functions above)."""
    _remove(Path(folder).glob(".*.tmp*"))
