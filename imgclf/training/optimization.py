"""How a model is fitted: the learning-rate schedule (stepped per batch), the optimizer with its weight decay and
weight average, and the loss with its label smoothing. Keras' own classes wherever they exist."""

import keras
from keras import ops

from imgclf.params import TrainParams


@keras.saving.register_keras_serializable(package="imgclf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Up from 0 to `peak` linearly over `warmup_steps`, then linearly down to 0 at `total_steps`: the triangular
    ("one-cycle") schedule of airbench and of fast ResNet runs."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int) -> None:
        self.peak, self.warmup_steps, self.total_steps = peak, warmup_steps, total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rising = step / max(self.warmup_steps, 1)
        falling = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * ops.clip(ops.minimum(rising, falling), 0.0, 1.0)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


def learning_rate(params: TrainParams, steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    schedules = keras.optimizers.schedules
    total, warmup = params.epochs * steps_per_epoch, round(params.warmup_epochs * steps_per_epoch)
    if params.schedule == "inverse_time":
        return schedules.InverseTimeDecay(params.lr, decay_steps=1, decay_rate=params.decay)
    if params.schedule == "cosine":
        if warmup:
            return schedules.CosineDecay(0.0, total - warmup, warmup_target=params.lr, warmup_steps=warmup)
        return schedules.CosineDecay(params.lr, decay_steps=total)
    if params.schedule == "linear":
        return WarmupLinearDecay(params.lr, warmup, total)
    if params.schedule == "step":
        return schedules.ExponentialDecay(
            params.lr, params.step_epochs * steps_per_epoch, params.step_factor, staircase=True
        )
    return params.lr


def build_optimizer(
    params: TrainParams, lr: float | keras.optimizers.schedules.LearningRateSchedule
) -> keras.optimizers.Optimizer:
    """Weight decay as Keras applies it, decoupled: each step takes lr * weight_decay of every weight (SGD's
    coupled L2 of the references, passed through momentum m, is about weight_decay * (1 - m) here). With `ema`,
    the model ends with the moving average of its weights; with `ema_every` too, the weights also jump to it every
    that many steps, as airbench94's Lookahead does."""
    shared = {
        "learning_rate": lr,
        "weight_decay": params.weight_decay or None,
        "use_ema": params.ema > 0,
        "ema_momentum": params.ema or 0.99,
        "ema_overwrite_frequency": params.ema_every or None,
    }
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=params.momentum, nesterov=params.nesterov, **shared)
    if params.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(momentum=params.momentum, **shared)
    return keras.optimizers.Adam(**shared)


@keras.saving.register_keras_serializable(package="imgclf")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels with label smoothing, which Keras offers for one-hot labels only: each
    label becomes (1 - smoothing) on its class plus smoothing spread over all classes."""

    def __init__(self, smoothing: float, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.smoothing, self.num_classes = smoothing, num_classes

    def call(self, y_true, y_pred):
        one_hot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.num_classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "smoothing": self.smoothing, "num_classes": self.num_classes}


def build_loss(params: TrainParams, num_classes: int) -> str | keras.losses.Loss:
    if params.label_smoothing:
        return SmoothedSparseCrossentropy(params.label_smoothing, num_classes)
    return "sparse_categorical_crossentropy"
