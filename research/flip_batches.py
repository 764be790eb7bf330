"""Training batches for Keras' fit from arrays in memory, with airbench's alternating flip, for a backend without
tf.data (research/gpu_keras_jax.py). The pipeline's own is imgclf.modeling.input_pipeline.mirrored_in_epoch."""

import keras
import numpy as np


class AlternatingFlipBatches(keras.utils.PyDataset):
    """Each epoch shuffled by its own seed (seed + epoch); each image mirrored left-right in every other epoch,
    starting in the first or the second by a coin of the seed. The pipeline tosses that coin from the image's
    pixels, as tf.data has no index; here the index is at hand.

    One endless run of batches, numbered across epochs, for fit with `steps_per_epoch`: a batch depends on its
    number alone, so the batches Keras reads ahead or peeks at to build the model cannot shift an epoch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.images, self.labels, self.batch_size, self.seed = images, labels, batch_size, seed
        self.steps_per_epoch = -(-len(images) // batch_size)
        self.mirrored_first = np.random.default_rng(seed).integers(0, 2, len(images)).astype(bool)
        self.epoch, self.order = -1, np.arange(0)

    @property
    def num_batches(self) -> None:
        return None  # endless: Keras numbers the batches on across epochs

    def __getitem__(self, number: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, step = divmod(number, self.steps_per_epoch)
        if epoch != self.epoch:
            self.epoch, self.order = epoch, np.random.default_rng(self.seed + epoch).permutation(len(self.images))
        picked = self.order[step * self.batch_size : (step + 1) * self.batch_size]
        images = self.images[picked]
        mirrored = self.mirrored_first[picked] == (epoch % 2 == 0)
        images[mirrored] = images[mirrored][:, :, ::-1]
        return images, self.labels[picked]
