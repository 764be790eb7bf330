"""split: stratified, seeded train / validation / test sets from data/prepared/, and the data report."""

import json
import math
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from imgclf.dataset import LabeledImages, load_images, save_images
from imgclf.errors import PipelineError
from imgclf.params import SplitParams


def stratified_split(
    data: LabeledImages, fraction: float, seed: int, key: str, parts: tuple[str, str], left: str = ""
) -> tuple[LabeledImages, LabeledImages]:
    """Carve `fraction` of `data` out, keeping class proportions; `key` names the param, `parts` the two sets
    (kept, carved) and `left` what `data` is left after, for the errors. Every class must reach both sets: a test
    set without pandas would report an accuracy that says nothing about pandas."""
    counts = np.bincount(data.labels, minlength=len(data.class_names))
    per_class = math.ceil(1 / min(fraction, 1 - fraction))

    def too_few(c: int, where: str) -> PipelineError:
        return PipelineError(
            f"class {data.class_names[c]!r} has {counts[c]} image{'s' if counts[c] != 1 else ''}{left}: {where}; "
            f"a class needs about {per_class} for {key} = {fraction:g}: add images of it, or remove the class"
        )

    for c in np.flatnonzero(counts < 2):
        raise too_few(c, f"too few to split into {parts[0]} and {parts[1]}")
    try:
        keep, carved = train_test_split(
            np.arange(len(data)), test_size=fraction, stratify=data.labels, random_state=seed
        )
    except ValueError as e:
        raise PipelineError(
            f"cannot split {len(data)} images with {key} = {fraction}: {e}; use more images per class or change {key}"
        ) from None
    for part, indices in zip(parts, (keep, carved), strict=True):
        missing = np.flatnonzero(np.bincount(data.labels[indices], minlength=len(counts)) == 0)
        for c in missing:
            raise too_few(c, f"none in the {part} set")
    return data.subset(np.sort(keep)), data.subset(np.sort(carved))


def split(params: SplitParams, prepared_dir: Path) -> dict[str, LabeledImages]:
    """Keep the test and validation sets the dataset ships (an official test set, a photo folder's val/ or test/);
    carve test_fraction, then val_fraction, out of the training images for those it does not."""
    pool = load_images(Path(prepared_dir) / "train.npz")
    shipped = {}
    for name in ("test", "val"):
        path = Path(prepared_dir) / f"{name}.npz"
        if path.exists():
            shipped[name] = load_images(path)
            if shipped[name].class_names != pool.class_names:
                raise PipelineError(f"{path}: class names differ from train.npz; re-run preprocess")
    left = ""
    if "test" in shipped:
        test = shipped["test"]
    else:
        pool, test = stratified_split(pool, params.test_fraction, params.seed, "split.test_fraction", ("train", "test"))
        left = " left after the test set"
    if "val" in shipped:
        train, val = pool, shipped["val"]
    else:
        train, val = stratified_split(
            pool, params.val_fraction, params.seed, "split.val_fraction", ("train", "validation"), left
        )
    return {"train": train, "val": val, "test": test}


def write_splits(splits: dict[str, LabeledImages], split_dir: Path) -> None:
    for name, data in splits.items():
        save_images(Path(split_dir) / f"{name}.npz", data)


IMBALANCE_RATIO = 1.5  # warn when the largest class has this many times the images of the smallest


def data_report(splits: dict[str, LabeledImages], prepared_dir: Path) -> dict:
    """Per-class counts of each split, the files preprocess skipped, and a warning when classes are imbalanced."""
    class_names = splits["train"].class_names
    counts = {
        name: dict(zip(class_names, np.bincount(data.labels, minlength=len(class_names)).tolist(), strict=True))
        for name, data in splits.items()
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
        "image_shape": list(splits["train"].images.shape[1:]),
        "images": {name: len(data) for name, data in splits.items()},
        "class_counts": counts,
        "skipped": skipped,
        "warnings": warnings,
    }
