"""Unpack a user's .zip / .tar.gz of photos, refusing any entry that would land outside the target folder, and
any archive that would unpack to more than a bound (data.max_unpacked_gb) or holds a decompression bomb."""

import tarfile
import zipfile
from pathlib import Path

from imgclf.errors import PipelineError

MB, GB = 1 << 20, 1 << 30
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


# An entry this large that compresses more than this ratio is refused: photos (JPEG, PNG, WebP) hardly compress
# at all, while zeros deflate 1,000:1 (a 2 GiB entry in a 2 MB zip).
BOMB_BYTES, BOMB_RATIO = 64 << 20, 100


def extract_archive(archive: Path, target: Path, max_bytes: int, label: str | None = None) -> None:
    """Unpack into `target`; the sizes are checked from the entries' headers before anything is written (zipfile
    and tarfile never write more than a header says). Messages call the archive `label` (a URL it came from)."""
    target.mkdir(parents=True, exist_ok=True)
    label = label or str(archive)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, target, max_bytes, label)
        else:
            with tarfile.open(archive) as tar:
                members = tar.getmembers()
                for member in members:
                    _refuse_absolute(label, member.name)
                _bound(label, [(m.name, m.size, None) for m in members], max_bytes)
                tar.extractall(target, filter="data")  # refuses '..', links out of the folder, devices
    except tarfile.FilterError as e:
        raise PipelineError(
            f"{label}: refusing unsafe entry ({e}); the archive tries to write outside its folder"
        ) from None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise PipelineError(f"{label}: cannot unpack it ({e})") from None


def _extract_zip(archive: Path, target: Path, max_bytes: int, label: str) -> None:
    root = target.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _refuse_absolute(label, info.filename)
            if not (root / info.filename).resolve().is_relative_to(root):
                raise PipelineError(
                    f"{label}: refusing unsafe entry {info.filename!r}; it would be written outside the folder"
                )
        _bound(label, [(i.filename, i.file_size, i.compress_size) for i in zf.infolist()], max_bytes)
        zf.extractall(root)


def _bound(label: str, entries: list[tuple[str, int, int | None]], max_bytes: int) -> None:
    """Refuses a bomb entry (name, unpacked size, compressed size where the format keeps one), and the entry that
    takes the unpacked total past `max_bytes`."""
    total = 0
    for name, size, compressed in entries:
        if compressed is not None and size > BOMB_BYTES and size > BOMB_RATIO * max(compressed, 1):
            raise PipelineError(
                f"{label}: refusing entry {name!r}: {size / MB:,.0f} MB from {compressed / MB:,.2f} MB "
                f"({size // max(compressed, 1):,}:1), as a decompression bomb, not a photo, unpacks"
            )
        total += size
        if total > max_bytes:
            raise PipelineError(
                f"{label}: entry {name!r} takes it past data.max_unpacked_gb ({max_bytes / GB:g} GB unpacked); "
                "raise that param if the archive is what you expect"
            )


def _refuse_absolute(label: str, name: str) -> None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise PipelineError(f"{label}: refusing unsafe entry {name!r}; archives must hold relative paths")
