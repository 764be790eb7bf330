"""The record fetch keeps of a photo folder's source (data/raw/folder.json), and how preprocess finds the photos.

A local directory is read where it is, never copied: the record lists every file with its md5, so DVC sees any
change to the folder as a change of fetch's output and re-runs what depends on it. An archive or a URL is unpacked
into data/raw/folder/, and the record names the source it came from.
"""

import errno
import hashlib
import json
import os
import stat
from pathlib import Path

from imgclf.atomic import write_json
from imgclf.errors import PipelineError

RECORD = "folder.json"
UNPACKED = "folder"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def visible_files(folder: Path) -> list[Path]:
    """Every file below `folder`, sorted, leaving out hidden files and anything in hidden folders (.DS_Store, .git):
    what the photo reader sees, and so what fetch records."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def unused_entries(folder: Path) -> list[tuple[Path, str]]:
    """What below `folder` the photo reader leaves out, each with why, hidden entries aside: files not of an image
    type, and entries that are no file at all (links to nothing or in a loop, FIFOs, sockets, devices), links to
    folders (not followed) and folders named like images (read as folders)."""
    found = []
    for top, folders, files in os.walk(folder):  # as visible_files: links to folders are not entered
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in folders:
            path = Path(top, name)
            if path.is_symlink():
                found.append((path, "a link to a folder: not followed"))
            elif is_image_file(path):
                found.append((path, "a folder named like an image: read as a folder, its images (if any) kept"))
        for path in (Path(top, name) for name in files if not name.startswith(".")):
            if not path.is_file():
                found.append((path, why_not_a_file(path)))
            elif not is_image_file(path):
                found.append((path, f"not an image type ({path.suffix or 'no suffix'})"))
    return sorted(found)


def why_not_a_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a link in a loop: it never reaches a file"
        if path.is_symlink() and e.errno == errno.ENOENT:
            return f"a link to nothing ({os.readlink(path)} does not exist)"
        return f"cannot be read ({e.strerror})"
    kinds = {stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device",
             stat.S_ISBLK: "a device"}  # fmt: skip
    kind = next((name for test, name in kinds.items() if test(mode)), "")
    return f"not a regular file: {kind or 'of an unknown kind'}"


def folder_files(root: Path, with_md5: bool = True) -> list[list]:
    """[relative path, size, md5] of every visible file below `root`."""
    files = []
    for path in visible_files(root):
        entry = [path.relative_to(root).as_posix(), path.stat().st_size]
        if with_md5:
            with path.open("rb") as f:
                entry.append(hashlib.file_digest(f, "md5").hexdigest())
        files.append(entry)
    return files


def record_local_folder(raw_dir: Path, source: str, folder: Path) -> None:
    write_json(raw_dir / RECORD, {"source": source, "folder": str(folder.resolve()), "files": folder_files(folder)})


def read_record(raw_dir: Path) -> dict | None:
    try:
        return json.loads((raw_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None


def photo_root(raw_dir: Path) -> Path:
    """Where preprocess reads the photos: the user's folder in place (checked unchanged since fetch listed it), or the
    unpacked copy of an archive."""
    record = read_record(raw_dir)
    if record is None:
        raise PipelineError(f"{raw_dir / RECORD}: missing or unreadable; run `dvc repro fetch` first")
    if "folder" not in record:
        return raw_dir / UNPACKED
    folder = Path(record["folder"])
    if not folder.is_dir():
        raise PipelineError(f"{folder}: the photo folder is gone since fetch listed it; run `dvc repro` again")
    listed = {name: size for name, size, _ in record["files"]}
    now = dict(map(tuple, folder_files(folder, with_md5=False)))
    if now != listed:
        changed = sorted(set(now.items()) ^ set(listed.items()))[0][0]
        raise PipelineError(f"{folder}: changed since fetch listed it (e.g. {changed}); run `dvc repro` again")
    return folder
