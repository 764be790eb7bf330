"""How a model is fitted: the learning-rate schedule (stepped per batch), the optimizer with its weight decay and
weight average, and the loss with its label smoothing. Keras' own classes wherever they exist."""

import keras
from keras import ops

from imgclf.config.params import TrainParams


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
    params: TrainParams, lr: float | keras.optimizers.schedules.LearningRateSchedule, model: keras.Model
) -> keras.optimizers.Optimizer:
    """Weight decay as Keras applies it, decoupled: each step takes lr * weight_decay of every weight (SGD's
    coupled L2 of the references, passed through momentum m, is about weight_decay * (1 - m) here). With `ema`,
    the model ends with the moving average of its weights; with `ema_every` too, the weights also jump to it every
    that many steps, as airbench94's Lookahead does. SGD's steps move `model`'s batch-norm biases at
    batch_norm_bias_lr times the rate."""
    shared = {
        "learning_rate": lr,
        "weight_decay": params.weight_decay or None,
        "use_ema": params.ema > 0,
        "ema_momentum": params.ema or 0.99,
        "ema_overwrite_frequency": params.ema_every or None,
    }
    if params.optimizer == "sgd":
        if params.batch_norm_bias_lr != 1:
            return SGDWithFasterBiases(
                batch_norm_biases(model),
                params.batch_norm_bias_lr,
                momentum=params.momentum,
                nesterov=params.nesterov,
                **shared,
            )
        return keras.optimizers.SGD(momentum=params.momentum, nesterov=params.nesterov, **shared)
    if params.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(momentum=params.momentum, **shared)
    return keras.optimizers.Adam(**shared)


def batch_norm_biases(model: keras.Model) -> tuple[str, ...]:
    """The paths of the batch-norm offsets (beta) in `model` and in the models it holds."""
    paths: list[str] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.center:
            paths.append(layer.beta.path)
        elif isinstance(layer, keras.Model):
            paths.extend(batch_norm_biases(layer))
    return tuple(paths)


@keras.saving.register_keras_serializable(package="imgclf")
class SGDWithFasterBiases(keras.optimizers.SGD):
    """SGD whose steps move the variables at `fast_paths` at `lr_scale` times the learning rate: airbench94's 64x
    for batch norm's biases, which without a scale to learn must shift each channel's threshold fast. Their weight
    decay, which Keras applies apart from the step, keeps the plain rate, as there."""

    def __init__(self, fast_paths: tuple[str, ...], lr_scale: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fast_paths, self.lr_scale = tuple(fast_paths), lr_scale

    def build(self, variables: list) -> None:
        super().build(variables)
        wanted = set(self.fast_paths)
        self._fast_keys = {self._var_key(variable) for variable in variables if variable.path in wanted}

    def update_step(self, gradient, variable, learning_rate) -> None:
        if self._var_key(variable) in self._fast_keys:
            learning_rate = learning_rate * self.lr_scale
        super().update_step(gradient, variable, learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "fast_paths": list(self.fast_paths), "lr_scale": self.lr_scale}


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
