"""split: stratified, seeded train / validation / test sets of shards from data/prepared/, and the data report."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from imgclf.config.params import SplitParams
from imgclf.data.shards import Shards, ShardWriter, open_shards
from imgclf.errors import PipelineError


@dataclass(frozen=True)
class Part:
    """One set split writes: the images of `source` at `indices` (ascending), and their labels."""

    source: Shards
    indices: np.ndarray
    labels: np.ndarray


def stratified_split(
    labels: np.ndarray,
    class_names: tuple[str, ...],
    fraction: float,
    seed: int,
    key: str,
    parts: tuple[str, str],
    left: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Carve `fraction` of the images with these `labels` out, keeping class proportions: the positions kept and
    carved, ascending. `key` names the param, `parts` the two sets (kept, carved) and `left` what the images are
    left after, for the errors. Every class must reach both sets: a test set without pandas would report an
    accuracy that says nothing about pandas."""
    counts = np.bincount(labels, minlength=len(class_names))
    per_class = math.ceil(1 / min(fraction, 1 - fraction))

    def too_few(c: int, where: str) -> PipelineError:
        return PipelineError(
            f"class {class_names[c]!r} has {counts[c]} image{'s' if counts[c] != 1 else ''}{left}: {where}; "
            f"a class needs about {per_class} for {key} = {fraction:g}: add images of it, or remove the class"
        )

    for c in np.flatnonzero(counts < 2):
        raise too_few(c, f"too few to split into {parts[0]} and {parts[1]}")
    try:
        keep, carved = train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as e:
        raise PipelineError(
            f"cannot split {len(labels)} images with {key} = {fraction}: {e}; use more images per class or change {key}"
        ) from None
    for part, indices in zip(parts, (keep, carved), strict=True):
        missing = np.flatnonzero(np.bincount(labels[indices], minlength=len(counts)) == 0)
        for c in missing:
            raise too_few(c, f"none in the {part} set")
    return np.sort(keep), np.sort(carved)


def split(params: SplitParams, prepared_dir: Path) -> dict[str, Part]:
    """Keep the test and validation sets the dataset ships (an official test set, a photo folder's val/ or test/);
    carve test_fraction, then val_fraction, out of the training images for those it does not. Only labels are
    read here: the images move in `write_splits`, a shard at a time."""
    pool = open_shards(Path(prepared_dir) / "train")
    labels = pool.labels()
    whole = Part(pool, np.arange(len(labels)), labels)
    shipped = {}
    for name in ("test", "val"):
        path = Path(prepared_dir) / name
        if path.exists():
            source = open_shards(path)
            if source.class_names != pool.class_names or source.image_shape != pool.image_shape:
                raise PipelineError(f"{path}: class names or image shape differ from {pool.root}; re-run preprocess")
            source_labels = source.labels()
            shipped[name] = Part(source, np.arange(len(source_labels)), source_labels)

    def carve(part: Part, fraction: float, key: str, names: tuple[str, str], left: str = "") -> tuple[Part, Part]:
        keep, carved = stratified_split(part.labels, pool.class_names, fraction, params.seed, key, names, left)
        return tuple(Part(pool, part.indices[i], part.labels[i]) for i in (keep, carved))  # type: ignore[return-value]

    left = ""
    if "test" in shipped:
        test = shipped["test"]
    else:
        whole, test = carve(whole, params.test_fraction, "split.test_fraction", ("train", "test"))
        left = " left after the test set"
    if "val" in shipped:
        train, val = whole, shipped["val"]
    else:
        train, val = carve(whole, params.val_fraction, "split.val_fraction", ("train", "validation"), left)
    return {"train": train, "val": val, "test": test}


ROWS_AT_ONCE = 256  # images copied out of a shard at a time: never a second shard's worth of memory


def write_splits(parts: dict[str, Part], split_dir: Path, shard_mb: float) -> None:
    """Each part into split_dir/<name>/ as shards, one part after the other: memory holds one shard read and one
    being written (a pass over the source each, from the page cache)."""
    for name, part in parts.items():
        source = part.source
        with ShardWriter(
            Path(split_dir) / name, source.class_names, source.image_shape, shard_mb, f"{split_dir}/{name}"
        ) as writer:
            start = 0
            for index, count in enumerate(source.counts):
                lo, hi = np.searchsorted(part.indices, [start, start + count])
                if hi > lo:
                    shard = source.read(index)
                    for first in range(lo, hi, ROWS_AT_ONCE):
                        rows = part.indices[first : min(hi, first + ROWS_AT_ONCE)] - start
                        writer.add(shard.images[rows], shard.labels[rows])
                start += count


IMBALANCE_RATIO = 1.5  # warn when the largest class has this many times the images of the smallest


def data_report(splits: dict[str, Part], prepared_dir: Path) -> dict:
    """Per-class counts of each split, the files preprocess skipped, and a warning when classes are imbalanced."""
    class_names = splits["train"].source.class_names
    counts = {
        name: dict(zip(class_names, np.bincount(part.labels, minlength=len(class_names)).tolist(), strict=True))
        for name, part in splits.items()
    }
    warnings = []
    smallest, largest = min(counts["train"].values()), max(counts["train"].values())
    if largest > IMBALANCE_RATIO * smallest:
        rare = min(counts["train"], key=counts["train"].get)
        warnings.append(
            f"classes are imbalanced: {largest} images in the largest training class, {smallest} in {rare!r}; "
            "gather more of the rare classes for a fair classifier"
        )
    report_path = Path(prepared_dir) / "report.json"
    skipped = json.loads(report_path.read_text(encoding="utf-8"))["skipped"] if report_path.exists() else []
    return {
        "image_shape": list(splits["train"].source.image_shape),
        "images": {name: len(part.labels) for name, part in splits.items()},
        "class_counts": counts,
        "skipped": skipped,
        "warnings": warnings,
    }
