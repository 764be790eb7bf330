"""Unpack a user's .zip / .tar.gz of photos, refusing any entry that would land outside the target folder."""

import tarfile
import zipfile
from pathlib import Path

from imgclf.errors import PipelineError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def extract_archive(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target)
        else:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    _refuse_absolute(archive, member.name)
                tar.extractall(target, filter="data")  # refuses '..', links out of the folder, devices
    except tarfile.FilterError as e:
        raise PipelineError(
            f"{archive}: refusing unsafe entry ({e}); the archive tries to write outside its folder"
        ) from None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise PipelineError(f"{archive}: cannot unpack it ({e})") from None


def _extract_zip(archive: Path, target: Path) -> None:
    root = target.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _refuse_absolute(archive, info.filename)
            if not (root / info.filename).resolve().is_relative_to(root):
                raise PipelineError(
                    f"{archive}: refusing unsafe entry {info.filename!r}; it would be written outside the folder"
                )
        zf.extractall(root)


def _refuse_absolute(archive: Path, name: str) -> None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise PipelineError(f"{archive}: refusing unsafe entry {name!r}; archives must hold relative paths")
