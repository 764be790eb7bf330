"""split: stratified, seeded train / validation / test sets from data/prepared/."""

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from imgclf.dataset import LabeledImages, load_images, save_images
from imgclf.errors import PipelineError
from imgclf.params import SplitParams


def stratified_split(data: LabeledImages, fraction: float, seed: int, key: str) -> tuple[LabeledImages, LabeledImages]:
    """Carve `fraction` of `data` out, keeping class proportions; `key` names the param for the error."""
    try:
        keep, carved = train_test_split(
            np.arange(len(data)), test_size=fraction, stratify=data.labels, random_state=seed
        )
    except ValueError as e:
        raise PipelineError(
            f"cannot split {len(data)} images with {key} = {fraction}: {e}; use more images per class or change {key}"
        ) from None
    return data.subset(np.sort(keep)), data.subset(np.sort(carved))


def split(params: SplitParams, prepared_dir: Path) -> dict[str, LabeledImages]:
    """Keep the dataset's official test set where it has one; otherwise carve test_fraction out first."""
    pool = load_images(Path(prepared_dir) / "train.npz")
    official_test = Path(prepared_dir) / "test.npz"
    if official_test.exists():
        test = load_images(official_test)
        if test.class_names != pool.class_names:
            raise PipelineError(f"{official_test}: class names differ from train.npz; re-run preprocess")
    else:
        pool, test = stratified_split(pool, params.test_fraction, params.seed, "split.test_fraction")
    train, val = stratified_split(pool, params.val_fraction, params.seed, "split.val_fraction")
    return {"train": train, "val": val, "test": test}


def write_splits(splits: dict[str, LabeledImages], split_dir: Path) -> None:
    for name, data in splits.items():
        save_images(Path(split_dir) / f"{name}.npz", data)
