"""Small files in the exact published formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10's python archive."""

import gzip
import io
import pickle
import struct
import tarfile

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, gzipped, as MNIST publishes them."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def idx_dataset(n_train: int, n_test: int, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 30, size=(n, 28, 28)).astype(np.uint8)
        images[:, labels[0] : labels[0] + 5, 10:18] = 255
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 6, 8:20] = 250
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(images)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(labels)
    return files


def cifar10_tar_gz(n_per_batch: int, seed: int = 0, extra: dict[str, bytes] | None = None) -> bytes:
    """cifar-10-python.tar.gz: Python 2 style pickles of dicts with bytes keys and a uint8 array of N x 3072."""
    rng = np.random.default_rng(seed)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    members = {"batches.meta": {b"label_names": names, b"num_cases_per_batch": n_per_batch, b"num_vis": 3072}}
    for i, batch in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        labels = [(i + j) % 10 for j in range(n_per_batch)]
        members[batch] = {
            b"batch_label": batch.encode(),
            b"labels": labels,
            b"data": rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{j}.png".encode() for j in range(n_per_batch)],
        }
    payloads = {name: pickle.dumps(value, protocol=2) for name, value in members.items()}
    payloads.update(extra or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in payloads.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
