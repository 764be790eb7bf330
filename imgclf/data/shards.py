"""A set of images too large to hold at once: a folder of .npz shards, each in dataset.py's format and of bounded
size, plus `shards.json`, which lists them in order with their image counts and checksums.

    data/split/train/shards.json
    data/split/train/00000.npz  00001.npz  ...

Writers add images a batch at a time and hold one shard; readers take one shard at a time. A shard holds
`images_in_mb(image_shape, shard_mb)` images (the last one fewer): as many as fit, at least one.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from imgclf.atomic import atomic_dir, write_json
from imgclf.data.dataset import LabeledImages, load_images, save_images
from imgclf.errors import PipelineError
from imgclf.progress import Progress

INDEX_FILE = "shards.json"
MB = 1 << 20


def images_in_mb(image_shape: tuple[int, ...], mb: float) -> int:
    """How many images of this shape `mb` megabytes hold, at least one (a shard, a decoded block, a buffer)."""
    return max(1, int(mb * MB) // int(np.prod(image_shape)))


@dataclass(frozen=True)
class Shards:
    """A written set of shards, read one shard at a time."""

    root: Path
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    files: tuple[str, ...]
    counts: tuple[int, ...]
    digest: str  # md5 of shards.json: it lists every shard's md5, so this names the whole content

    def __len__(self) -> int:
        return sum(self.counts)

    @property
    def paths(self) -> list[Path]:
        return [self.root / name for name in self.files]

    def read(self, index: int) -> LabeledImages:
        path = self.paths[index]
        data = load_images(path)
        if data.class_names != self.class_names or data.images.shape != (self.counts[index], *self.image_shape):
            raise PipelineError(
                f"{path}: does not match {self.root / INDEX_FILE} (its images or class names differ); "
                "re-run the stage that wrote it (`dvc repro -f`)"
            )
        return data

    def __iter__(self) -> Iterator[LabeledImages]:
        return (self.read(i) for i in range(len(self.files)))

    def labels(self) -> np.ndarray:
        """Every label in order: 8 bytes an image, read without the images (an .npz member loads on its own)."""
        parts = []
        for path, count in zip(self.paths, self.counts, strict=True):
            try:
                with np.load(path, allow_pickle=False) as npz:
                    labels = npz["labels"]
            except (OSError, ValueError, KeyError) as e:
                raise PipelineError(f"{path}: not a readable shard ({e}); re-run `dvc repro -f`") from None
            if labels.shape != (count,):
                raise PipelineError(f"{path}: holds {labels.shape} labels, {INDEX_FILE} says {count}; re-run it")
            parts.append(labels.astype(np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def take(self, indices: list[int]) -> np.ndarray:
        """The images at these positions of the whole set, in that order (reading only the shards that hold them)."""
        ends = np.cumsum(self.counts)
        images = np.zeros((len(indices), *self.image_shape), np.uint8)
        wanted = np.asarray(indices, dtype=np.int64)
        shard_of = np.searchsorted(ends, wanted, side="right")
        for shard in np.unique(shard_of):
            here = np.flatnonzero(shard_of == shard)
            images[here] = self.read(int(shard)).images[wanted[here] - (ends[shard] - self.counts[shard])]
        return images

    def load_all(self) -> LabeledImages:
        """The whole set in memory: for small sets only (tests, the benchmark's in-memory baseline)."""
        images = np.zeros((len(self), *self.image_shape), np.uint8)
        labels = np.zeros(len(self), np.int64)
        start = 0
        for data in self:
            images[start : start + len(data)], labels[start : start + len(data)] = data.images, data.labels
            start += len(data)
        return LabeledImages(images, labels, self.class_names)


def open_shards(root: Path) -> Shards:
    root = Path(root)
    index_path = root / INDEX_FILE
    try:
        text = index_path.read_bytes()
        index = json.loads(text)
        shards = Shards(
            root,
            tuple(str(c) for c in index["class_names"]),
            tuple(int(s) for s in index["image_shape"]),
            tuple(str(s["file"]) for s in index["shards"]),
            tuple(int(s["images"]) for s in index["shards"]),
            hashlib.md5(text, usedforsecurity=False).hexdigest(),
        )
    except FileNotFoundError:
        raise PipelineError(f"{index_path}: not found; run `dvc repro` to build {root}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise PipelineError(
            f"{index_path}: not a shard index ({type(e).__name__}: {e}); re-run `dvc repro -f`"
        ) from None
    if len(shards.image_shape) != 3 or any(Path(name).name != name for name in shards.files):
        raise PipelineError(f"{index_path}: bad image shape or shard names; re-run the stage that wrote it")
    verify(shards, [str(s.get("md5")) for s in index["shards"]])
    return shards


def verify(shards: Shards, md5s: list[str]) -> None:
    """Every shard against the md5 its index lists, so that a deleted, truncated or altered shard stops a stage at
    its start with its name, not in the middle of training with a TensorFlow traceback. It costs a read: md5 ran at
    0.34 GB/s on 2 busy cores here (2026-11-27), half a second for CIFAR-10's shards."""
    for path, md5 in zip(shards.paths, md5s, strict=True):
        try:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "md5").hexdigest()
        except FileNotFoundError:
            message = f"{path}: missing, though {INDEX_FILE} lists it; run `dvc repro` to restore it"
            raise PipelineError(message) from None
        if digest != md5:
            raise PipelineError(
                f"{path}: damaged (its md5 is not the one {INDEX_FILE} lists); run `dvc repro` to restore it"
            )


class ShardWriter:
    """Writes images into `root` as shards of `per_shard` images, one at a time, holding one shard in memory.

    The folder appears whole when the block ends without an error (atomic_dir); a failed or killed write leaves
    the previous content of `root`, or nothing. With `progress`, a line reports the images written under that
    name (the folder's final one, where `root` is inside a temporary folder)."""

    def __init__(
        self,
        root: Path,
        class_names: tuple[str, ...],
        image_shape: tuple[int, ...],
        shard_mb: float,
        progress: str | None = None,
    ) -> None:
        self.root, self.class_names = Path(root), tuple(class_names)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.per_shard = images_in_mb(self.image_shape, shard_mb)
        self.buffer = np.zeros((0, *self.image_shape), np.uint8)  # grows with the images added, up to a shard
        self.labels = np.zeros(0, np.int64)
        self.filled = 0
        self.written: list[dict] = []
        self.progress = Progress(f"wrote {progress}:", "images") if progress else None

    def __enter__(self) -> "ShardWriter":
        self._atomic = atomic_dir(self.root)
        self.tmp = self._atomic.__enter__()
        return self

    def add(self, images: np.ndarray, labels: np.ndarray) -> None:
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"images of shape {images.shape[1:]} in a set of {self.image_shape}")
        start = 0
        while start < len(images):
            take = min(self.per_shard - self.filled, len(images) - start)
            self._hold(self.filled + take)
            self.buffer[self.filled : self.filled + take] = images[start : start + take]
            self.labels[self.filled : self.filled + take] = labels[start : start + take]
            self.filled += take
            start += take
            if self.filled == self.per_shard:
                self._flush()

    def _hold(self, count: int) -> None:
        """Room for `count` images: never more than the set needs, whatever the shard size."""
        if count > len(self.buffer):
            size = min(self.per_shard, max(count, 2 * len(self.buffer)))
            self.buffer = np.concatenate(
                [self.buffer, np.zeros((size - len(self.buffer), *self.image_shape), np.uint8)]
            )
            self.labels = np.concatenate([self.labels, np.zeros(size - len(self.labels), np.int64)])

    def _flush(self) -> None:
        if not self.filled:
            return
        name = f"{len(self.written):05d}.npz"
        data = LabeledImages(self.buffer[: self.filled], self.labels[: self.filled], self.class_names)
        save_images(self.tmp / name, data)
        md5 = hashlib.md5((self.tmp / name).read_bytes(), usedforsecurity=False).hexdigest()
        self.written.append({"file": name, "images": self.filled, "md5": md5})
        if self.progress:
            self.progress.add(self.filled)
        self.filled = 0

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self._flush()
            index = {
                "class_names": list(self.class_names),
                "image_shape": list(self.image_shape),
                "images": sum(s["images"] for s in self.written),
                "shards": self.written,
            }
            write_json(self.tmp / INDEX_FILE, index)
            if self.progress:
                self.progress.close()
        self._atomic.__exit__(kind, error, tb)


def write_shards(root: Path, data: LabeledImages, shard_mb: float, progress: str | None = None) -> None:
    with ShardWriter(root, data.class_names, data.images.shape[1:], shard_mb, progress) as writer:
        writer.add(data.images, data.labels)
