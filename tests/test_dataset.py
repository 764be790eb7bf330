from pathlib import Path

import numpy as np
import pytest

from imgclf.data.dataset import LabeledImages, load_images, read_class_names, save_images, write_class_names
from imgclf.errors import PipelineError
from tests.helpers.data import blobs


def test_round_trip_keeps_arrays_and_class_names(tmp_path: Path):
    data = blobs()
    save_images(tmp_path / "train.npz", data)
    loaded = load_images(tmp_path / "train.npz")
    assert loaded.images.dtype == np.uint8 and loaded.images.shape == data.images.shape
    assert np.array_equal(loaded.images, data.images) and np.array_equal(loaded.labels, data.labels)
    assert loaded.labels.dtype == np.int64
    assert loaded.class_names == data.class_names


def test_pickled_arrays_are_refused(tmp_path: Path):
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.array([object()], dtype=object), labels=np.zeros(1), class_names=np.array(["a"]))
    with pytest.raises(PipelineError, match=r"evil.npz: not a readable .npz"):
        load_images(path)


def test_bad_files_name_the_file(tmp_path: Path):
    with pytest.raises(PipelineError, match="missing.npz: not found"):
        load_images(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(PipelineError, match="junk.npz"):
        load_images(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", images=np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(PipelineError, match=r"partial.npz: missing arrays \['class_names', 'labels'\]"):
        load_images(tmp_path / "partial.npz")
    np.savez(
        tmp_path / "labels.npz",
        images=np.zeros((2, 2, 2, 1), np.uint8),
        labels=np.array([0, 5]),
        class_names=np.array(["a", "b"]),
    )
    with pytest.raises(PipelineError, match=r"labels must lie in \[0, 2\)"):
        load_images(tmp_path / "labels.npz")


def test_images_must_be_uint8_nhwc():
    with pytest.raises(ValueError, match="uint8 N x H x W x C"):
        LabeledImages(np.zeros((2, 4, 4), np.uint8), np.zeros(2, np.int64), ("a",))


def test_class_names_are_json(tmp_path: Path):
    write_class_names(tmp_path / "class_names.json", ("cat", "dog"))
    assert (tmp_path / "class_names.json").read_text() == '[\n  "cat",\n  "dog"\n]\n'
    assert read_class_names(tmp_path / "class_names.json") == ("cat", "dog")
    (tmp_path / "class_names.json").write_text('{"a": 1}')
    with pytest.raises(PipelineError, match="must be a JSON list of class names"):
        read_class_names(tmp_path / "class_names.json")


def test_a_class_named_twice_is_refused(tmp_path: Path):
    (tmp_path / "class_names.json").write_text('["cat", "cat", "cat"]')
    with pytest.raises(PipelineError) as refused:
        read_class_names(tmp_path / "class_names.json")
    assert str(refused.value).endswith("names the class 'cat' more than once; each output needs its own name")
