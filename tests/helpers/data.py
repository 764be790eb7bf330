"""Images and shards built for tests: learnable blobs, photo files, a PNG that claims to be huge."""

import dataclasses
import zlib
from pathlib import Path

import cv2
import numpy as np

from imgclf.config.params import TrainParams
from imgclf.data.dataset import LabeledImages
from imgclf.data.shards import MB, Shards, open_shards, write_shards

RED_BGR = (0, 0, 255)


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


def photo(path: Path, color_bgr=RED_BGR, size=(40, 30), **kwargs) -> Path:
    """An image file of a flat color, written by OpenCV in the format its suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = color_bgr
    ok, encoded = cv2.imencode(kwargs.get("suffix", path.suffix), kwargs.get("image", image))
    assert ok
    path.write_bytes(encoded.tobytes())
    return path
