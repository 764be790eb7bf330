import dataclasses
from pathlib import Path

import numpy as np
import pytest

from imgclf.data.shards import open_shards
from imgclf.data.split import data_report, split, write_splits
from imgclf.errors import PipelineError
from tests.helpers.data import blobs, sharded


def fingerprints(data) -> set[bytes]:
    return {image.tobytes() for image in data.images}


def written(parts, where: Path) -> dict:
    write_splits(parts, where, shard_mb=1)
    return {name: open_shards(where / name).load_all() for name in parts}


def test_split_is_stratified_disjoint_and_seeded(tmp_path: Path, params):
    sharded(tmp_path / "train", blobs(n_per_class=50, num_classes=4), per_shard=33)
    splits = written(split(params.split, tmp_path), tmp_path / "split")
    sizes = {name: len(data) for name, data in splits.items()}
    assert sizes == {"train": 128, "val": 32, "test": 40}
    for data in splits.values():
        counts = np.bincount(data.labels, minlength=4)
        assert counts.max() - counts.min() <= 1
    train, val, test = (fingerprints(splits[n]) for n in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    again = written(split(params.split, tmp_path), tmp_path / "again")
    assert np.array_equal(again["val"].images, splits["val"].images)
    other = written(split(dataclasses.replace(params.split, seed=7), tmp_path), tmp_path / "other")
    assert not np.array_equal(other["val"].images, splits["val"].images)


def test_official_test_set_is_kept_whole(tmp_path: Path, params):
    sharded(tmp_path / "train", blobs(n_per_class=50, seed=1))
    official = blobs(n_per_class=7, seed=2)
    sharded(tmp_path / "test", official)
    splits = written(split(params.split, tmp_path), tmp_path / "split")
    assert np.array_equal(splits["test"].images, official.images)
    assert len(splits["train"]) == 120 and len(splits["val"]) == 30
    assert sorted(p.name for p in (tmp_path / "split").iterdir()) == ["test", "train", "val"]


def test_too_few_images_names_the_param(tmp_path: Path, params):
    sharded(tmp_path / "train", blobs(n_per_class=2, num_classes=4))
    with pytest.raises(PipelineError, match=r"split.test_fraction = 0.2.*use more images per class"):
        split(params.split, tmp_path)


def test_data_report_counts_each_split_and_warns_on_imbalance(tmp_path: Path, params):
    balanced = blobs(n_per_class=50, num_classes=3)
    sharded(tmp_path / "train", balanced)
    (tmp_path / "report.json").write_text('{"skipped": [{"path": "cats/x.jpg", "reason": "empty file"}]}')
    report = data_report(split(params.split, tmp_path), tmp_path)
    assert report["images"] == {"train": 96, "val": 24, "test": 30}
    assert report["class_counts"]["test"] == {"class_0": 10, "class_1": 10, "class_2": 10}
    assert report["image_shape"] == [8, 8, 1]
    assert report["skipped"] == [{"path": "cats/x.jpg", "reason": "empty file"}]
    assert report["warnings"] == []

    rare = balanced.subset(
        np.flatnonzero(balanced.labels != 2)[:80].tolist() + np.flatnonzero(balanced.labels == 2)[:20].tolist()
    )
    sharded(tmp_path / "train", rare)
    (warning,) = data_report(split(params.split, tmp_path), tmp_path)["warnings"]
    assert "classes are imbalanced" in warning and "'class_2'" in warning


def with_classes(counts: dict[str, int]):
    """Images of the named classes, `counts[name]` of each."""
    data = blobs(n_per_class=max(counts.values()), num_classes=len(counts))
    keep = [i for c, n in enumerate(counts.values()) for i in np.flatnonzero(data.labels == c)[:n]]
    return dataclasses.replace(data.subset(sorted(keep)), class_names=tuple(counts))


def test_a_class_too_small_to_reach_every_split_is_refused_by_name(tmp_path: Path, params):
    """Two pandas: the test set would get none of them, and test accuracy would say nothing about pandas."""
    sharded(tmp_path / "train", with_classes({"cats": 30, "dogs": 30, "panda": 2}))
    with pytest.raises(PipelineError) as info:
        split(params.split, tmp_path)
    assert str(info.value) == (
        "class 'panda' has 1 image left after the test set: too few to split into train and validation; "
        "a class needs about 5 for split.val_fraction = 0.2: add images of it, or remove the class"
    )
    sharded(tmp_path / "train", with_classes({"cats": 40, "dogs": 40, "panda": 3}))
    with pytest.raises(PipelineError, match="class 'panda' has 2 images left after the test set: none in the valid"):
        split(params.split, tmp_path)


def test_a_class_of_one_image_is_named_not_numbered(tmp_path: Path, params):
    sharded(tmp_path / "train", with_classes({"cats": 30, "dogs": 30, "panda": 1}))
    with pytest.raises(PipelineError, match="class 'panda' has 1 image"):
        split(params.split, tmp_path)
