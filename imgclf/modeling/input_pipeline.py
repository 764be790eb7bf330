"""tf.data pipelines over a set of shards: training batches shuffled across shards, and batches in order.

Memory stays bounded whatever the set's size: a pipeline holds the shard it is reading, the shuffle buffer and a
few prefetched batches. Training shuffles in two steps, both seeded by train.seed + epoch: the order of the
shards, then a buffer of `buffer` images that each image enters in that order and leaves at random. A set no
larger than the buffer is shuffled whole. Each epoch depends on its number alone, so a resumed run sees exactly
the batches an uninterrupted one would.
"""

import keras
import numpy as np
import tensorflow as tf

from imgclf.data.shards import Shards, images_in_mb


def shuffle_buffer_images(shards: Shards, buffer_mb: float) -> int:
    """How many images `buffer_mb` megabytes hold, at least one; never more than the set."""
    return max(1, min(len(shards), images_in_mb(shards.image_shape, buffer_mb)))


def images_of(shards: Shards, order: tf.data.Dataset) -> tf.data.Dataset:
    """One (image, label) element per image of the shards whose indices `order` yields, read a shard at a time."""

    def read(index: np.int64) -> tuple[np.ndarray, np.ndarray]:
        data = shards.read(int(index))
        return data.images, data.labels

    def shard_elements(index: tf.Tensor) -> tf.data.Dataset:
        images, labels = tf.numpy_function(read, [index], (tf.uint8, tf.int64), stateful=False)
        images = tf.ensure_shape(images, (None, *shards.image_shape))
        # unbatch copies each image out; from_tensor_slices' slices would share the shard's buffer, and the
        # images a shuffle buffer holds would keep every shard they came from alive (2.6x the buffer, measured)
        return tf.data.Dataset.from_tensors((images, tf.ensure_shape(labels, (None,)))).unbatch()

    return order.flat_map(shard_elements)


def in_order(shards: Shards, batch_size: int) -> tf.data.Dataset:
    """Every image once, in the set's order (validation, evaluation)."""
    order = tf.data.Dataset.range(len(shards.files))
    options = tf.data.Options()  # in a cluster, every worker reads the whole set and keeps its part of each batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    batches = images_of(shards, order).batch(batch_size)
    batches = batches.apply(tf.data.experimental.assert_cardinality(-(-len(shards) // batch_size)))  # for Keras
    return batches.with_options(options).prefetch(tf.data.AUTOTUNE)


def training_batches(
    shards: Shards,
    batch_size: int,
    seed: int,
    epochs: range,
    buffer: int,
    augment: keras.Sequential | None = None,
    worker: int = 0,
    workers: int = 1,
    batches_per_epoch: int | None = None,
    alternate_flips: bool = False,
) -> tf.data.Dataset:
    """The batches of `epochs` in a row, each epoch shuffled by its own seed (seed + epoch). With
    `alternate_flips`, each image is mirrored in every other epoch (mirrored_in_epoch).

    With `workers` > 1 (a multi-worker cluster, where `batch_size` is this worker's share), this worker reads only
    its own shards, every `workers`-th from the `worker`-th, and gives exactly `batches_per_epoch` full batches
    each epoch, going round its shards again when it has fewer images than its share: every worker must take the
    same number of steps."""
    own = tf.data.Dataset.from_tensor_slices(np.arange(worker, len(shards.files), workers, dtype=np.int64))
    count = len(range(worker, len(shards.files), workers))

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        order = own.shuffle(max(1, count), seed=seed + epoch)
        images = images_of(shards, order)
        if alternate_flips:
            images = images.map(
                lambda x, y: (mirrored_in_epoch(x, epoch, seed), y), num_parallel_calls=tf.data.AUTOTUNE
            )
        images = images.shuffle(buffer, seed=seed + epoch)
        if workers == 1:
            return images.batch(batch_size)
        return images.repeat().batch(batch_size, drop_remainder=True).take(batches_per_epoch)

    batches = tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(epoch_batches)
    per_epoch = batches_per_epoch if workers > 1 else -(-len(shards) // batch_size)
    batches = batches.apply(tf.data.experimental.assert_cardinality(len(epochs) * per_epoch))
    if augment is not None:
        batches = batches.map(
            lambda x, y: (tf.cast(tf.clip_by_value(tf.round(augment(x, training=True)), 0, 255), tf.uint8), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = policy.OFF if workers > 1 else policy.DATA
    return batches.with_options(options).prefetch(tf.data.AUTOTUNE)


def mirrored_in_epoch(image: tf.Tensor, epoch: tf.Tensor, seed: int) -> tf.Tensor:
    """airbench's alternating flip: an image is mirrored left-right in every other epoch, starting in the first or
    the second by a coin that its pixels and the seed decide. Random flips mirror an image in about half its epochs
    at random, and can leave it the same way round for several in a row; here every two epochs show both."""
    coin = tf.strings.to_hash_bucket_strong(tf.io.serialize_tensor(image), 2, key=[seed, 0])
    mirrored = tf.not_equal(coin, epoch % 2)
    return tf.cond(mirrored, lambda: tf.reverse(image, axis=[1]), lambda: image)
