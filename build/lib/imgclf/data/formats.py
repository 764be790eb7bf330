"""Readers for the published dataset formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10's python archive."""

import codecs
import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from imgclf.errors import PipelineError

IDX_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) as an array of the shape its header declares."""
    try:
        with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise PipelineError(f"{path}: cannot read it ({e}); delete it and run `dvc repro fetch`") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise PipelineError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    if len(shape) != ndim or len(raw) - header != int(np.prod(shape)):
        raise PipelineError(f"{path}: IDX header declares shape {shape}, but the data has {len(raw) - header} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise PipelineError(
            f"{images_path} and {labels_path}: expected N x H x W images and N labels, "
            f"got {images.shape} and {labels.shape}"
        )
    return images[..., np.newaxis], labels.astype(np.int64)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's batches are pickles of dicts, lists, bytes and numpy arrays: allow those, refuse any other class,
    so a tampered archive cannot run code."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}:
            return np._core.multiarray._reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if (module, name) == ("_codecs", "encode"):  # how Python 3 pickles bytes at protocol 2
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_batch(archive: tarfile.TarFile, member: str, path: Path) -> dict:
    try:
        data = archive.extractfile(member).read()
        return _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except KeyError:
        raise PipelineError(f"{path}: no {member} inside; is it cifar-10-python.tar.gz?") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as e:
        raise PipelineError(f"{path}: {member} is not a CIFAR-10 batch ({e})") from None


CIFAR10_DIR = "cifar-10-batches-py"


def read_cifar10(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    """{'train': (images, labels), 'test': (...)} as uint8 N x 32 x 32 x 3 RGB, and the class names."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            return _read_cifar10_batches(archive, path)
    except (OSError, tarfile.TarError) as e:
        raise PipelineError(f"{path}: not a readable .tar.gz ({e}); delete it and run `dvc repro fetch`") from None


def _read_cifar10_batches(archive: tarfile.TarFile, path: Path) -> tuple[dict, tuple[str, ...]]:
    meta = _load_batch(archive, f"{CIFAR10_DIR}/batches.meta", path)
    class_names = tuple(n.decode() for n in meta[b"label_names"])
    splits = {}
    for split, members in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        batches = [_load_batch(archive, f"{CIFAR10_DIR}/{m}", path) for m in members]
        data = np.concatenate([np.asarray(b[b"data"], dtype=np.uint8) for b in batches])
        labels = np.concatenate([np.asarray(b[b"labels"], dtype=np.int64) for b in batches])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
            raise PipelineError(f"{path}: {split} batches hold {data.shape} pixels for {len(labels)} labels")
        splits[split] = (data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels)
    return splits, class_names
