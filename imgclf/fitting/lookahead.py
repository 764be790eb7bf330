"""airbench94's Lookahead: a slow copy of the weights that the training weights are pulled back to every few steps,
with a pull that grows over training, so that early training runs at full speed and late training is averaged.

Every `every` steps the slow copy moves toward the weights by 1 - d, and the weights are set to it; d rises with
the cube of progress to `peak` ** `every` (peak per step; airbench94: 0.95 every 5 steps). The model ends with the
slow copy. Keras' own averaging (`use_ema` with `ema_overwrite_frequency`) has a fixed momentum, which from the
first steps would hold the weights back. The slow copy is not backed up: a run resumed after a kill starts it
again from the restored weights, so it ends close to, not bit for bit as, an uninterrupted run.
"""

import keras
import numpy as np


class Lookahead(keras.callbacks.Callback):
    def __init__(self, peak: float, every: int, steps_per_epoch: int, total_epochs: int) -> None:
        super().__init__()
        self.peak, self.every = peak, every
        self.steps_per_epoch, self.total_steps = steps_per_epoch, steps_per_epoch * total_epochs
        self.epoch, self.slow = 0, None

    def decay(self, step: int) -> float:
        """The share of the slow copy kept at `step` (counted from 1 over the whole run)."""
        return self.peak**self.every * (step / self.total_steps) ** 3

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.slow = [np.array(w) for w in self.model.get_weights()]  # all of them, batch norm's statistics too

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        step = self.epoch * self.steps_per_epoch + batch + 1
        if step % self.every:
            return
        kept = self.decay(step)
        self.slow = [s + (1 - kept) * (w - s) for s, w in zip(self.slow, self.model.get_weights(), strict=True)]
        self.model.set_weights(self.slow)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.set_weights(self.slow)
