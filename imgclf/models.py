"""Model builders: each architecture is one readable function. Models take raw uint8 images and scale them."""

import keras
from keras import layers

from imgclf.params import TrainParams


def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden_units: tuple[int, ...],
    activation: str,
    initializer: str,
) -> keras.Model:
    """The MNIST lab's multi-layer perceptron: flatten, dense hidden layers, softmax."""
    inputs = keras.Input(shape=input_shape, dtype="uint8")
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Flatten()(x)
    for units in hidden_units:
        x = layers.Dense(units, activation=activation, kernel_initializer=initializer)(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer=initializer)(x)
    return keras.Model(inputs, outputs, name="mlp")


def build_model(params: TrainParams, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    return mlp(input_shape, num_classes, params.hidden_units, params.activation, params.initializer)


def build_optimizer(params: TrainParams) -> keras.optimizers.Optimizer:
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=params.lr, momentum=params.momentum)
    if params.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=params.lr, momentum=params.momentum)
    return keras.optimizers.Adam(learning_rate=params.lr)
