"""A run that learns its training images but nothing that carries over to validation, said in one line instead of
passing silently (batch norm on little data, a leak between classes, labels shuffled against the images)."""

import numpy as np

MARGIN = 0.02  # within this of chance, validation accuracy counts as chance
RISE = 0.2  # training accuracy this far above chance counts as learning


def stuck_at_chance(val_accuracy: list[float], train_accuracy: list[float], val_labels: np.ndarray) -> str | None:
    """A warning when validation accuracy stayed at chance (the largest class's share of the validation set) every
    epoch of a run of 3 or more while training accuracy rose well above it; else None."""
    if len(val_accuracy) < 3 or not len(val_labels):
        return None
    chance = float(np.bincount(val_labels).max() / len(val_labels))
    if max(val_accuracy) > chance + MARGIN or train_accuracy[-1] < chance + RISE:
        return None
    return (
        f"warning: val_accuracy stayed at chance ({chance:.3f}, the largest class's share) in all "
        f"{len(val_accuracy)} epochs while training accuracy rose to {train_accuracy[-1]:.3f}: the model learned "
        "nothing that carries over. With batch norm, a few hundred steps may be too few for its averages; try "
        "more epochs, a lower train.lr, or a model without batch norm, and check that the class folders differ"
    )
