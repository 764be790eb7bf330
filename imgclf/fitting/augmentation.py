"""Training-time augmentation, from params: Keras preprocessing layers, and whether flips alternate by epoch."""

import keras
from keras import layers

from imgclf.config.params import TrainParams


def augmentation(params: TrainParams) -> keras.Sequential | None:
    """The labs' ImageDataGenerator as Keras preprocessing layers, applied to training batches only."""
    a = params.augment
    if not a.enabled:
        return None
    steps, moved = [], {"fill_mode": "nearest", "interpolation": a.interpolation, "seed": params.seed}
    if a.rotation:
        steps.append(layers.RandomRotation(a.rotation / 360, **moved))
    if a.shift:
        steps.append(layers.RandomTranslation(a.shift, a.shift, **moved))
    if a.shear:
        steps.append(layers.RandomShear(a.shear, a.shear, **moved))
    if a.zoom:
        steps.append(layers.RandomZoom(a.zoom, **moved))
    if a.horizontal_flip and not a.alternate_flip:
        steps.append(layers.RandomFlip("horizontal", seed=params.seed))
    return keras.Sequential(steps, name="augmentation")


def flips_alternate(params: TrainParams) -> bool:
    """Whether training mirrors each image in every other epoch (the input pipeline's) instead of at random."""
    a = params.augment
    return a.enabled and a.horizontal_flip and a.alternate_flip
