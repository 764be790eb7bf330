"""airbench's whitened stem: a first convolution set from the training images instead of learnt.

Its filters are the eigenvectors of the covariance of the images' k x k patches, each divided by the square root
of its eigenvalue, once with each sign; its bias subtracts the patches' mean. Every patch direction then reaches
the next layer with zero mean and unit variance. The filters stay frozen, as there.
"""

import keras
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from imgclf.data.shards import Shards, images_in_mb

WHITENING_IMAGES = 5000  # airbench estimates the covariance from the first 5,000 training images
WHITENING_MB = 256  # but never more images than this holds (5,000 photos of 224 px would be 750 MB)
PATCH_ROWS = 1_000_000  # patches flattened at a time: 96 MB for 2 x 2 RGB patches in float64
RELATIVE_EPS = 5e-4  # airbench's eps, on pixels scaled to unit variance: here times the pixels' variance


def stem_width(channels: int, kernel: int = 2) -> int:
    """The filters a whitened k x k stem needs: two (one each sign) per dimension of a patch."""
    return 2 * kernel * kernel * channels


def patch_whitening(images: np.ndarray, kernel: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A Conv2D kernel (k, k, channels, 2 k k channels) and bias that whiten the k x k patches of `images` (uint8,
    scaled by 1/255 as the model's first layer does): their outputs have zero mean and about unit variance."""
    channels = images.shape[-1]
    dims = kernel * kernel * channels
    total, outer, count = np.zeros(dims), np.zeros((dims, dims)), 0
    step = max(1, PATCH_ROWS // ((images.shape[1] - kernel + 1) * (images.shape[2] - kernel + 1)))
    for start in range(0, len(images), step):
        x = images[start : start + step].astype(np.float64) / 255
        patches = sliding_window_view(x, (kernel, kernel), axis=(1, 2))  # (n, h', w', channels, k, k)
        flat = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, dims)  # in Keras' kernel order: (k, k, channels)
        total += flat.sum(axis=0)
        outer += flat.T @ flat
        count += len(flat)
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eps = RELATIVE_EPS * np.trace(covariance) / dims
    filters = eigenvectors[:, ::-1] / np.sqrt(np.maximum(eigenvalues[::-1], 0) + eps)  # largest variance first
    filters = np.concatenate([filters, -filters], axis=1)
    kernel_weights = filters.reshape(kernel, kernel, channels, 2 * dims)
    return kernel_weights.astype(np.float32), (-mean @ filters).astype(np.float32)


def whitening_sample(shards: Shards) -> np.ndarray:
    """The first training images, as many as airbench uses and memory allows."""
    return shards.take(list(range(min(WHITENING_IMAGES, len(shards), images_in_mb(shards.image_shape, WHITENING_MB)))))


def whiten_stem(model: keras.Model, images: np.ndarray) -> None:
    """Sets the model's layer named 'stem' from the images' patches (whitening_sample's) and freezes it."""
    stem = model.get_layer("stem")
    stem.set_weights(list(patch_whitening(images, stem.kernel_size[0])))
    stem.trainable = False
