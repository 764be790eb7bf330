"""The labs' architectures and the recipes' airbench network, each one readable function. Every model takes raw
uint8 images and scales them itself, so a saved model needs no preprocessing code beside it; the softmax stays
float32 under mixed precision."""

from pathlib import Path

import keras
import numpy as np
from keras import layers

from imgclf.config.params import TrainParams
from imgclf.data.backbones import BACKBONES, IMAGENET_BGR_MEAN
from imgclf.modeling.whitening import stem_width

BACKBONE_LAYER = "backbone"  # the pretrained model's backbone, frozen then fine-tuned by name


def scaled_input(input_shape: tuple[int, ...]) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=input_shape, dtype="uint8")
    return inputs, layers.Rescaling(1 / 255)(inputs)


def mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden_units: tuple[int, ...],
    activation: str,
    initializer: str,
    dropout: float,
) -> keras.Model:
    """The MNIST lab's multi-layer perceptron (784-800-10), or the photo tutorial's 3072-1024-512-k."""
    inputs, x = scaled_input(input_shape)
    x = layers.Flatten()(x)
    for units in hidden_units:
        x = layers.Dense(units, activation=activation, kernel_initializer=initializer)(x)
        if dropout:
            x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_initializer=initializer, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mlp")


def cnn(input_shape: tuple[int, ...], num_classes: int, conv_blocks: int, dense_units: int) -> keras.Model:
    """The CIFAR-10 lab's network: per block [Conv x2, MaxPool, Dropout .25] with 32, 64, ... filters;
    Dense, Dropout .5, softmax."""
    inputs, x = scaled_input(input_shape)
    for block in range(conv_blocks):
        filters = 32 * 2**block
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="cnn")


def convpool(
    input_shape: tuple[int, ...],
    num_classes: int,
    filters: tuple[int, ...],
    kernel_sizes: tuple[int, ...],
    padding: tuple[str, ...],
    activation: str,
    dense_units: tuple[int, ...],
) -> keras.Model:
    """The width/depth study: Conv-MaxPool blocks (width = filters, depth = blocks), then a dense relu head. The
    study's convolutions have no activation (`linear`) and its fourth is unpadded (`valid`)."""
    inputs, x = scaled_input(input_shape)
    for width, kernel, pad in zip(filters, kernel_sizes, padding, strict=True):
        x = layers.Conv2D(width, kernel, padding=pad, activation=activation)(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    for units in dense_units:
        x = layers.Dense(units, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="convpool")


def smallvgg(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """The photo-folder tutorial's SmallVGGNet: CONV-RELU-BN-POOL-DROPOUT, then (CONV-RELU-BN) x2 and x3 blocks
    with POOL-DROPOUT, then Dense 512 with BN and Dropout."""
    inputs, x = scaled_input(input_shape)
    x = _conv_relu_bn(x, 32)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Dropout(0.25)(x)
    for filters, repeats in ((64, 2), (128, 3)):
        for _ in range(repeats):
            x = _conv_relu_bn(x, filters)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.BatchNormalization(momentum=SCRATCH_BATCH_NORM_MOMENTUM)(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="smallvgg")


def airbench(
    input_shape: tuple[int, ...], num_classes: int, widths: tuple[int, ...], whiten: bool, dirac: bool
) -> keras.Model:
    """airbench94's network (Keller Jordan, 2024): a 2 x 2 stem convolution, then per width a block of Conv-MaxPool-
    BN-GELU and Conv-BN-GELU, a global max pool and a linear head scaled by 1/9. Batch norm without scale and with
    momentum 0.6, as there. With `whiten` the stem has the width whitening needs (24 for RGB, as there), and train
    sets it from the training images (imgclf.modeling.whitening); without, it has 24 filters and learns. With
    `dirac`, each block convolution's first filters start as the identity (start_as_identity)."""
    inputs, x = scaled_input(input_shape)
    x = layers.Conv2D(stem_width(input_shape[-1]) if whiten else 24, 2, activation="gelu", name="stem")(x)
    convolutions = []
    for width in widths:
        convolutions.append(layers.Conv2D(width, 3, padding="same", use_bias=False))
        x = _airbench_bn_gelu(layers.MaxPooling2D(2)(convolutions[-1](x)))
        convolutions.append(layers.Conv2D(width, 3, padding="same", use_bias=False))
        x = _airbench_bn_gelu(convolutions[-1](x))
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dense(num_classes, use_bias=False)(x)
    x = layers.Rescaling(1 / 9)(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    if dirac:
        for convolution in convolutions:
            start_as_identity(convolution)
    return keras.Model(inputs, outputs, name="airbench")


def start_as_identity(convolution: layers.Conv2D) -> None:
    """airbench's Dirac initialisation (torch.nn.init.dirac_ on the first filters): filter i < input channels passes
    channel i through unchanged and sees nothing else; the other filters keep their random start. A convolution as
    wide as its input starts as the identity, so a deep stack starts close to its shallower self."""
    kernel = keras.ops.convert_to_numpy(convolution.kernel).copy()  # (rows, columns, in, out)
    rows, columns, channels_in, channels_out = kernel.shape
    passed = min(channels_in, channels_out)
    kernel[:, :, :, :passed] = 0
    kernel[rows // 2, columns // 2, np.arange(passed), np.arange(passed)] = 1
    convolution.kernel.assign(kernel)


def pretrained(
    input_shape: tuple[int, ...], num_classes: int, backbone: str, weights_file: Path | None, dropout: float
) -> keras.Model:
    """An ImageNet backbone from keras.applications (its weights from `weights_file`, random without one) with a new
    softmax head. The model resizes the images to the backbone's size and scales them as the backbone was trained,
    so it still takes raw uint8 images."""
    spec = BACKBONES[backbone]
    size = (spec.size, spec.size)
    inputs = keras.Input(shape=input_shape, dtype="uint8")
    x = layers.Rescaling(1.0)(inputs)  # to float, still 0-255
    if input_shape[:2] != size:
        # training=False: Keras' image preprocessing layers default to training=True, and a layer's resolved value
        # becomes the default of every layer after it in the call; so a call without `training`, as a SavedModel's
        # serve() and the ONNX export make, would run the backbone's batch norm on the batch's own statistics.
        # Keras still passes fit's training=True on to every layer.
        x = layers.Resizing(*size, name="resize_to_backbone")(x, training=False)
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    if spec.scaling == "caffe":
        caffe = layers.Conv2D(3, 1, trainable=False, name="rgb_to_bgr_minus_imagenet_mean")
        x = caffe(x)
        channels_reversed = np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)
        caffe.set_weights([channels_reversed, -np.array(IMAGENET_BGR_MEAN, "float32")])
    base = getattr(keras.applications, spec.constructor)(
        include_top=False, weights=None, input_shape=(*size, 3), name=BACKBONE_LAYER
    )
    if weights_file is not None:
        base.load_weights(weights_file)
    else:
        settle_batch_norm_faster(base)
    x = base(x)
    x = layers.GlobalAveragePooling2D()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"pretrained_{backbone}")


SCRATCH_BATCH_NORM_MOMENTUM = 0.9


def settle_batch_norm_faster(backbone: keras.Model) -> None:
    """A backbone trained from scratch averages its batch-norm statistics with momentum 0.9. The published 0.999
    (MobileNetV3; 0.99 elsewhere) is made for ImageNet's 10,000 steps an epoch: on CIFAR-10's 3,200 images (100
    steps an epoch) the averages lagged the fast-changing weights, each batch-norm layer shrank the signal further
    at inference, and validation accuracy stayed at chance while training accuracy reached 75%. Measured after 200
    steps at momentum 0.99, the 26th batch norm's output spread 0.06 times as much at inference as in training; at
    0.9, 1.2 times."""
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = min(layer.momentum, SCRATCH_BATCH_NORM_MOMENTUM)


def set_backbone_trainable(model: keras.Model, trainable: bool, imagenet_statistics: bool) -> None:
    """Freeze or unfreeze a pretrained model's backbone; takes effect at the next compile. With
    `imagenet_statistics`, its batch-norm layers stay frozen, which in Keras 3 also keeps them in inference mode:
    their statistics stay ImageNet's while fine-tuning, as Keras' transfer-learning guide recommends for small sets.
    (Calling the backbone with training=False would not do it: a functional model passes its own `training` on to
    every layer it holds.)"""
    backbone = model.get_layer(BACKBONE_LAYER)
    backbone.trainable = trainable
    if imagenet_statistics:
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False


def _airbench_bn_gelu(x: keras.KerasTensor) -> keras.KerasTensor:
    x = layers.BatchNormalization(momentum=0.6, scale=False, epsilon=1e-12)(x)
    return layers.Activation("gelu")(x)


def _conv_relu_bn(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.BatchNormalization(momentum=SCRATCH_BATCH_NORM_MOMENTUM)(x)


def build_model(
    params: TrainParams, input_shape: tuple[int, ...], num_classes: int, weights_file: Path | None = None
) -> keras.Model:
    """`weights_file`: the backbone's ImageNet weights, for train.model pretrained with weights imagenet."""
    if params.model == "pretrained":
        p = params.pretrained
        return pretrained(input_shape, num_classes, p.backbone, weights_file, p.dropout)
    if params.model == "cnn":
        return cnn(input_shape, num_classes, params.cnn.conv_blocks, params.cnn.dense_units)
    if params.model == "convpool":
        c = params.convpool
        return convpool(input_shape, num_classes, c.filters, c.kernel_sizes, c.padding, c.activation, c.dense_units)
    if params.model == "smallvgg":
        return smallvgg(input_shape, num_classes)
    if params.model == "airbench":
        a = params.airbench
        return airbench(input_shape, num_classes, a.widths, a.whiten, a.dirac)
    m = params.mlp
    return mlp(input_shape, num_classes, m.hidden_units, m.activation, m.initializer, m.dropout)
