import dataclasses
import os
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from imgclf.config.params import Params, TrainParams, load_params
from imgclf.data.dataset import LabeledImages
from imgclf.data.shards import MB, Shards, open_shards, write_shards
from imgclf.experiments.labs import Lab, load_labs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def labs() -> dict[str, Lab]:
    """sweeps.yaml's labs and recipes, as the sweep command reads them."""
    return load_labs(REPO / "sweeps.yaml")


@pytest.fixture
def raw() -> dict:
    """The repository's params.yaml as plain YAML (tests change it, then parse or validate it)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def params() -> Params:
    """The repository's own params.yaml: tests vary it with dataclasses.replace."""
    return load_params(REPO / "params.yaml")


def blobs(n_per_class: int = 40, num_classes: int = 3, side: int = 8, seed: int = 0) -> LabeledImages:
    """Small, learnable images: each class (at most 4) is a bright square in its own quadrant of a noisy image."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    images = rng.integers(0, 60, size=(len(labels), side, side, 1), dtype=np.uint8)
    half = side // 2
    for i, c in enumerate(labels):
        row, col = (c % 2) * half, (c // 2) * half
        images[i, row : row + half, col : col + half, 0] = 220
    order = rng.permutation(len(labels))
    names = tuple(f"class_{c}" for c in range(num_classes))
    return LabeledImages(images[order], labels[order], names)


def sharded(root: Path, data: LabeledImages, per_shard: int = 1_000_000) -> Shards:
    """`data` written as shards of `per_shard` images (one shard by default), opened."""
    write_shards(root, data, per_shard * int(np.prod(data.images.shape[1:])) / MB)
    return open_shards(root)


def train_val(
    where: Path, train: LabeledImages | None = None, val: LabeledImages | None = None
) -> tuple[Shards, Shards]:
    """Training and validation shards in `where` (by default blobs of seeds 1 and 2, of 120 and 30 images)."""
    train = blobs(seed=1) if train is None else train
    val = blobs(n_per_class=10, seed=2) if val is None else val
    return sharded(where / "train-shards", train), sharded(where / "val-shards", val)


def quick_mlp(train: TrainParams, **changes: object) -> TrainParams:
    """`train` with a 16-unit MLP fitted by Adam in batches of 16: learns blobs() in a few epochs."""
    small = dataclasses.replace(train.mlp, hidden_units=(16,))
    return dataclasses.replace(train, **{"mlp": small, "optimizer": "adam", "lr": 0.01, "batch_size": 16, **changes})


def png_bomb(path: Path, side: int = 50_000) -> Path:
    """A PNG header that claims side x side gray pixels, a few hundred bytes on disk: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit gray, no interlace
    body = zlib.compress(b"\0" * (side + 1) * 4)  # the first rows only
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs, left with 16 KB free (less than a backup of the test's model); skipped where this user may not
    mount one."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        subprocess.run(["fallocate", "-l", str(2 * 2**20 - 16 * 1024), str(where / "filler")], check=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
