import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from imgclf.data.formats import read_cifar10, read_idx, read_idx_pair
from imgclf.errors import PipelineError
from tests.helpers.published import cifar10_tar_gz, idx_bytes


def test_idx_round_trip(tmp_path: Path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "images.gz").write_bytes(idx_bytes(images))
    (tmp_path / "labels.gz").write_bytes(idx_bytes(np.array([7, 1])))
    assert np.array_equal(read_idx(tmp_path / "images.gz"), images)
    pair_images, pair_labels = read_idx_pair(tmp_path / "images.gz", tmp_path / "labels.gz")
    assert pair_images.shape == (2, 3, 4, 1) and pair_labels.tolist() == [7, 1]


def test_idx_with_wrong_header_or_length_is_refused(tmp_path: Path):
    (tmp_path / "short.gz").write_bytes(idx_bytes(np.zeros((2, 3, 4)))[:-8])
    with pytest.raises(PipelineError, match="short.gz: cannot read it"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(PipelineError, match="text: not an IDX file"):
        read_idx(tmp_path / "text")


def test_cifar10_pixels_are_laid_out_as_rgb(tmp_path: Path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(cifar10_tar_gz(n_per_batch=4))
    splits, class_names = read_cifar10(path)
    images, labels = splits["train"]
    assert images.shape == (20, 32, 32, 3) and len(class_names) == 10
    with tarfile.open(path) as tar:
        first = pickle.loads(tar.extractfile("cifar-10-batches-py/data_batch_1").read(), encoding="bytes")
    red, green, blue = first[b"data"][0].reshape(3, 32, 32)
    assert np.array_equal(images[0, :, :, 0], red) and np.array_equal(images[0, :, :, 1], green)
    assert np.array_equal(images[0, :, :, 2], blue)
    assert labels[:4].tolist() == first[b"labels"]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar10_archive_that_would_run_code_is_refused(tmp_path: Path):
    evil = pickle.dumps({b"label_names": [RunsCode()]}, protocol=2)
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(cifar10_tar_gz(n_per_batch=2, extra={"batches.meta": evil}))
    with pytest.raises(
        PipelineError, match=r"batches.meta is not a CIFAR-10 batch \(refusing to load (posix|os).system"
    ):
        read_cifar10(path)


def test_truncated_cifar10_archive_names_the_file(tmp_path: Path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(cifar10_tar_gz(n_per_batch=2)[:500])
    with pytest.raises(PipelineError, match="cifar-10-python.tar.gz"):
        read_cifar10(path)
