"""The sharded format between stages, and the tf.data pipelines that stream it."""

import json
from pathlib import Path

import numpy as np
import pytest

from imgclf.data.preprocess import interleave_classes
from imgclf.data.shards import INDEX_FILE, ShardWriter, open_shards
from imgclf.errors import PipelineError
from imgclf.modeling.input_pipeline import in_order, shuffle_buffer_images, training_batches
from tests.helpers.data import blobs, sharded


def keys(images: np.ndarray) -> list[bytes]:
    return [image.tobytes() for image in images]


@pytest.mark.parametrize(
    ("images", "per_shard", "counts"),
    [(30, 30, [30]), (31, 30, [30, 1]), (61, 30, [30, 30, 1]), (1, 30, [1]), (5, 1, [1] * 5)],
)
def test_shard_boundaries_keep_every_image_once_in_order(tmp_path: Path, images: int, per_shard: int, counts: list):
    """Exactly one shard, a last shard of one image, shards of one image each."""
    data = blobs(n_per_class=images, num_classes=1).subset(np.arange(images))
    shards = sharded(tmp_path / "set", data, per_shard=per_shard)
    assert list(shards.counts) == counts and len(shards) == images
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == sorted([*shards.files, INDEX_FILE])
    whole = shards.load_all()
    assert np.array_equal(whole.images, data.images) and np.array_equal(whole.labels, data.labels)
    assert np.array_equal(shards.labels(), data.labels)
    picked = [images - 1, 0, images // 2]
    assert np.array_equal(shards.take(picked), data.images[picked])
    batches = list(in_order(shards, batch_size=7).as_numpy_iterator())
    assert np.array_equal(np.concatenate([x for x, _ in batches]), data.images)


def test_a_failed_write_leaves_the_previous_set(tmp_path: Path):
    old = sharded(tmp_path / "set", blobs(n_per_class=4), per_shard=5)
    with pytest.raises(RuntimeError), ShardWriter(tmp_path / "set", old.class_names, old.image_shape, 1) as writer:
        writer.add(blobs(n_per_class=50).images, blobs(n_per_class=50).labels)
        raise RuntimeError("killed")
    assert open_shards(tmp_path / "set").digest == old.digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"], "no temporary left"


def test_a_damaged_or_mismatched_set_is_one_clear_error(tmp_path: Path):
    with pytest.raises(PipelineError, match=r"shards.json: not found; run `dvc repro`"):
        open_shards(tmp_path / "missing")
    shards = sharded(tmp_path / "set", blobs(n_per_class=4), per_shard=5)
    index = json.loads((tmp_path / "set" / INDEX_FILE).read_text())
    index["shards"][0]["images"] = 4
    (tmp_path / "set" / INDEX_FILE).write_text(json.dumps(index))
    with pytest.raises(PipelineError, match=r"00000.npz: does not match .*shards.json"):
        open_shards(tmp_path / "set").read(0)
    (tmp_path / "set" / INDEX_FILE).write_text("{")
    with pytest.raises(PipelineError, match="shards.json: not a shard index"):
        open_shards(tmp_path / "set")
    index["shards"][0]["file"] = "../../etc/passwd"
    (tmp_path / "set" / INDEX_FILE).write_text(json.dumps(index))
    with pytest.raises(PipelineError, match="bad image shape or shard names"):
        open_shards(tmp_path / "set")
    assert len(shards) == 12


def test_a_writer_holds_no_more_than_the_images_it_is_given(tmp_path: Path):
    """A 30,000 MB shard size on a 300-image folder tried to reserve 29 GiB up front."""
    data = blobs(n_per_class=10)
    with ShardWriter(tmp_path / "set", data.class_names, data.images.shape[1:], 30_000) as writer:
        writer.add(data.images[:7], data.labels[:7])
        writer.add(data.images[7:], data.labels[7:])
        assert writer.buffer.nbytes <= 2 * data.images.nbytes
    assert np.array_equal(open_shards(tmp_path / "set").load_all().images, data.images)


@pytest.mark.parametrize("damage", ["deleted", "truncated", "flipped byte", "wrong md5 in the index"])
def test_a_damaged_shard_is_named_before_any_training(tmp_path: Path, damage: str):
    """Train read a damaged shard in the middle of an epoch: a 60-line TensorFlow traceback, or no error at all."""
    sharded(tmp_path / "set", blobs(n_per_class=4), per_shard=5)
    shard = tmp_path / "set" / "00001.npz"
    data = shard.read_bytes()
    if damage == "deleted":
        shard.unlink()
    elif damage == "truncated":
        shard.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        shard.write_bytes(data[:-30] + bytes([data[-30] ^ 1]) + data[-29:])
    else:
        index = json.loads((tmp_path / "set" / INDEX_FILE).read_text())
        index["shards"][1]["md5"] = "0" * 32
        (tmp_path / "set" / INDEX_FILE).write_text(json.dumps(index))
    with pytest.raises(PipelineError, match=rf"^{shard}: (missing|damaged).*; run `dvc repro` to restore it$"):
        open_shards(tmp_path / "set")


def epoch_of(batches: list) -> tuple[list[bytes], list]:
    images = np.concatenate([x for x, _ in batches])
    return keys(images), [len(x) for x, _ in batches]


def test_each_epoch_draws_every_image_once_mixing_shards_deterministically(tmp_path: Path):
    data = blobs(n_per_class=40)  # 120 images
    shards = sharded(tmp_path / "set", data, per_shard=25)  # 25, 25, 25, 25, 20
    buffer = 30  # a quarter of the set
    batches = list(training_batches(shards, 16, seed=3, epochs=range(3), buffer=buffer).as_numpy_iterator())
    assert len(batches) == 3 * 8
    epochs = [epoch_of(batches[i * 8 : (i + 1) * 8]) for i in range(3)]
    for images, sizes in epochs:
        assert sorted(images) == sorted(keys(data.images)), "every image once an epoch"
        assert sizes == [16] * 7 + [8]
    assert epochs[0][0] != epochs[1][0] != epochs[2][0], "each epoch its own order"
    first_batch = set(epochs[0][0][:16])
    shard_of = {key: i // 25 for i, key in enumerate(keys(data.images))}
    assert first_batch != set(keys(data.images[:16])), "not the file order"
    assert len({shard_of[k] for k in first_batch}) >= 2 or buffer < 25

    again = list(training_batches(shards, 16, seed=3, epochs=range(3), buffer=buffer).as_numpy_iterator())
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again, strict=True)), "same seed, same batches"
    resumed = list(training_batches(shards, 16, seed=3, epochs=range(2, 3), buffer=buffer).as_numpy_iterator())
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches[16:], resumed, strict=True)), "epoch 3 alone"


def test_a_set_within_the_buffer_is_shuffled_whole(tmp_path: Path):
    shards = sharded(tmp_path / "set", blobs(n_per_class=40), per_shard=25)
    assert shuffle_buffer_images(shards, 1) == 120  # 120 images of 64 bytes in 1 MB
    assert shuffle_buffer_images(shards, 10 * 64 / 2**20) == 10
    assert shuffle_buffer_images(shards, 1e-9) == 1


def test_a_shard_without_some_class_trains_and_evaluates_like_any(tmp_path: Path):
    """Interleaved by class, every shard holds every class; a shard of one image cannot, and need not."""
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    order = interleave_classes(labels)
    assert sorted(order.tolist()) == list(range(100))
    for start in range(0, 100, 10):
        assert np.bincount(labels[order[start : start + 10]], minlength=3).tolist() == [5, 3, 2]
    for c in range(3):
        assert np.all(np.diff(order[labels[order] == c]) > 0), "each class keeps its file order"
    data = blobs(n_per_class=5)  # 15 images: the last shard holds one, of one class
    shards = sharded(tmp_path / "set", data, per_shard=7)
    assert list(shards.counts) == [7, 7, 1]
    batches = list(training_batches(shards, 4, seed=1, epochs=range(1), buffer=3).as_numpy_iterator())
    assert sorted(keys(np.concatenate([x for x, _ in batches]))) == sorted(keys(data.images))


def test_a_worker_reads_only_its_own_shards_and_takes_the_same_steps(tmp_path: Path):
    data = blobs(n_per_class=40)
    shards = sharded(tmp_path / "set", data, per_shard=25)  # 5 shards: worker 0 gets 0, 2, 4; worker 1 gets 1, 3
    shard_of = {key: i // 25 for i, key in enumerate(keys(data.images))}
    for worker, own in ((0, {0, 2, 4}), (1, {1, 3})):
        batches = list(
            training_batches(
                shards, 8, seed=3, epochs=range(2), buffer=30, worker=worker, workers=2, batches_per_epoch=8
            ).as_numpy_iterator()
        )
        assert [len(x) for x, _ in batches] == [8] * 16, "full batches, the same count on every worker"
        seen = {shard_of[k] for x, _ in batches for k in keys(x)}
        assert seen == own
