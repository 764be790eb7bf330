import dataclasses
import gzip
from pathlib import Path

import numpy as np
import pytest

from imgclf.data.catalog import MNIST_5K
from imgclf.data.download import RemoteFile
from imgclf.data.fetch import copy_verified, fetch
from imgclf.data.preprocess import first_per_class, preprocess, read_mnist_5k
from imgclf.data.shards import open_shards
from imgclf.errors import PipelineError
from tests.helpers.published import cifar10_tar_gz, idx_dataset


def write_mnist_csv(path: Path, rows: np.ndarray) -> None:
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")


def test_fetch_copies_the_verified_default_dataset(tmp_path: Path, params):
    fetch(params.data, tmp_path / "raw")
    assert [p.name for p in (tmp_path / "raw" / "mnist_5k").iterdir()] == [MNIST_5K.name]


def test_checksum_mismatch_names_both_hashes_and_leaves_nothing(tmp_path: Path):
    source = tmp_path / "source.csv.gz"
    source.write_bytes(b"tampered")
    with pytest.raises(PipelineError, match=r"source.csv.gz: md5 [0-9a-f]{32} does not match the published 0{32}"):
        copy_verified(source, tmp_path / "copy.csv.gz", RemoteFile("copy.csv.gz", "0" * 32))


def test_real_default_dataset_becomes_5000_digits_500_a_class(tmp_path: Path, params):
    fetch(params.data, tmp_path / "raw")
    preprocess(params.data, params.preprocess, tmp_path / "raw", tmp_path / "prepared")
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == ["report.json", "train"]
    data = open_shards(tmp_path / "prepared" / "train").load_all()
    assert data.images.shape == (5000, 28, 28, 1) and data.images.dtype == np.uint8
    assert data.class_names == tuple("0123456789")
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.images.max() == 255 and data.images.mean() > 20  # real strokes, not an empty canvas


def test_tiny_sample_keeps_the_first_images_of_each_class(tmp_path: Path, params):
    pixels = np.arange(6)[:, None].repeat(784, axis=1)
    (tmp_path / "mnist_5k").mkdir()
    write_mnist_csv(tmp_path / "mnist_5k" / MNIST_5K.name, np.column_stack([pixels, [3, 1, 3, 1, 3, 1]]))
    small = dataclasses.replace(params.preprocess, max_per_class=2)
    preprocess(params.data, small, tmp_path, tmp_path / "prepared")
    data = open_shards(tmp_path / "prepared" / "train").load_all()
    assert data.labels.tolist() == [3, 1, 3, 1]
    assert data.images[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    assert first_per_class(np.array([0, 1, 0]), 0).tolist() == [0, 1, 2]


def test_malformed_csv_names_the_file(tmp_path: Path):
    write_mnist_csv(tmp_path / "short.csv.gz", np.zeros((2, 10)))
    with pytest.raises(PipelineError, match=r"short.csv.gz: expected rows of 784 pixels"):
        read_mnist_5k(tmp_path / "short.csv.gz")
    (tmp_path / "text.csv.gz").write_bytes(gzip.compress(b"a,b,c\n"))
    with pytest.raises(PipelineError, match="text.csv.gz: cannot read it as MNIST CSV"):
        read_mnist_5k(tmp_path / "text.csv.gz")


def test_idx_dataset_keeps_its_official_test_set(tmp_path: Path, params):
    (tmp_path / "raw" / "fashion_mnist").mkdir(parents=True)
    for name, payload in idx_dataset(n_train=60, n_test=20).items():
        (tmp_path / "raw" / "fashion_mnist" / name).write_bytes(payload)
    data = dataclasses.replace(params.data, dataset="fashion_mnist")
    preprocess(data, params.preprocess, tmp_path / "raw", tmp_path / "prepared")
    train, test = (open_shards(tmp_path / "prepared" / n).load_all() for n in ("train", "test"))
    assert train.images.shape == (60, 28, 28, 1) and test.images.shape == (20, 28, 28, 1)
    assert train.class_names[0] == "T-shirt/top" and test.labels.tolist() == [i % 10 for i in range(20)]

    bigger = dataclasses.replace(params.preprocess, image_size=32, color="rgb", max_per_class=3)
    preprocess(data, bigger, tmp_path / "raw", tmp_path / "prepared")
    train = open_shards(tmp_path / "prepared" / "train").load_all()
    assert train.images.shape == (30, 32, 32, 3)
    assert np.array_equal(train.images[..., 0], train.images[..., 2])


def test_cifar10_archive_becomes_rgb_train_and_test(tmp_path: Path, params):
    (tmp_path / "raw" / "cifar10").mkdir(parents=True)
    (tmp_path / "raw" / "cifar10" / "cifar-10-python.tar.gz").write_bytes(cifar10_tar_gz(n_per_batch=20))
    data = dataclasses.replace(params.data, dataset="cifar10")
    gray = dataclasses.replace(params.preprocess, color="grayscale")
    preprocess(data, gray, tmp_path / "raw", tmp_path / "prepared")
    train, test = (open_shards(tmp_path / "prepared" / n).load_all() for n in ("train", "test"))
    assert train.images.shape == (100, 32, 32, 1) and test.images.shape == (20, 32, 32, 1)
    assert train.class_names[:3] == ("airplane", "automobile", "bird")
