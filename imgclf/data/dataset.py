"""The one on-disk format between stages: an .npz of uint8 images (N x H x W x C), int64 labels, class names.

Loaded with allow_pickle=False, so a file received from someone else cannot run code.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgclf.atomic import atomic_path, write_json
from imgclf.errors import PipelineError


@dataclass(frozen=True)
class LabeledImages:
    images: np.ndarray  # uint8, N x H x W x C
    labels: np.ndarray  # int64, N, each in [0, len(class_names))
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 N x H x W x C, got {self.images.dtype} {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "LabeledImages":
        return LabeledImages(self.images[index], self.labels[index], self.class_names)


def save_images(path: Path, data: LabeledImages) -> None:
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            images=data.images,
            labels=data.labels.astype(np.int64),
            class_names=np.array(data.class_names, dtype=str),
        )


def load_images(path: Path) -> LabeledImages:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"images", "labels", "class_names"} - set(npz.files)
            if missing:
                raise PipelineError(f"{path}: missing arrays {sorted(missing)}; re-run the stage that writes it")
            images, labels, class_names = npz["images"], npz["labels"], tuple(str(c) for c in npz["class_names"])
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro` to build it") from None
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise PipelineError(f"{path}: not a readable .npz ({e}); delete it and run `dvc repro`") from None
    if images.dtype != np.uint8 or images.ndim != 4 or labels.shape != (len(images),):
        raise PipelineError(
            f"{path}: expected uint8 images N x H x W x C and N labels, "
            f"got images {images.dtype} {images.shape} and labels {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise PipelineError(f"{path}: labels must lie in [0, {len(class_names)}) to match its class names")
    return LabeledImages(images, labels.astype(np.int64), class_names)


def write_class_names(path: Path, class_names: tuple[str, ...]) -> None:
    write_json(path, list(class_names))


def read_class_names(path: Path) -> tuple[str, ...]:
    """The JSON list that travels beside a model, so its output indices can be named (no pickle)."""
    path = Path(path)
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro train` first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PipelineError(f"{path}: not valid JSON ({e}); retrain the model") from None
    if not isinstance(names, list) or not names or not all(isinstance(c, str) for c in names):
        raise PipelineError(f'{path}: must be a JSON list of class names, e.g. ["cat", "dog"]')
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        raise PipelineError(f"{path}: names the class {twice[0]!r} more than once; each output needs its own name")
    return tuple(names)
