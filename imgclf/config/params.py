"""params.yaml -> validated, typed Params. params.yaml is the only place defaults live.

Every key must be present and known; each value is checked against its type and range so that a
mistake stops a stage with one line naming the key, the value and what is allowed.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from imgclf.config.typed_config import Invalid, bounded, build
from imgclf.config.yaml_file import read_yaml
from imgclf.errors import PipelineError

MIB, GIB = 1 << 20, 1 << 30


def machine_memory() -> int:
    """Bytes of memory this machine has: sizes that could never fit in it are refused before anything runs."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@dataclass(frozen=True)
class MirrorsParams:
    """Base URLs (http, https, file) or local directories holding each dataset's published files."""

    mnist: tuple[str, ...]
    fashion_mnist: tuple[str, ...]
    cifar10: tuple[str, ...]


@dataclass(frozen=True)
class DataParams:
    dataset: Literal["mnist_5k", "mnist", "fashion_mnist", "cifar10", "folder"]
    folder: str  # dataset folder: a directory, or a .zip / .tar.gz path or URL, of root/<class>/<image>
    mirrors: MirrorsParams
    retries: int = bounded(ge=0)
    timeout_s: float = bounded(gt=0)
    max_unpacked_gb: float = bounded(gt=0)  # an archive of photos may unpack to at most this much

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_gb * GIB)

    def __post_init__(self) -> None:
        if self.dataset == "folder" and not self.folder:
            raise ValueError("dataset folder needs data.folder: your photos (class sub-folders) or an archive of them")


@dataclass(frozen=True)
class PreprocessParams:
    image_size: int = bounded(ge=0)  # 0 keeps the dataset's own size; a photo folder needs one
    resize: Literal["stretch", "pad"]
    color: Literal["auto", "rgb", "grayscale"]
    on_bad_image: Literal["skip", "stop"]
    max_megapixels: float = bounded(gt=0)  # a photo of more pixels is skipped (or stops the stage) undecoded
    max_per_class: int = bounded(ge=0)  # 0 keeps every image; N keeps the first N of each class
    shard_mb: float = bounded(gt=0)  # the size of each .npz shard preprocess and split write

    @property
    def max_pixels(self) -> int:
        return round(self.max_megapixels * 1e6)

    def __post_init__(self) -> None:
        memory = machine_memory()
        image = self.image_size**2 * 3 * 4  # one RGB image as the network's float32 input
        if image > memory / 4:
            raise ValueError(
                f"image_size = {self.image_size}: one {self.image_size} x {self.image_size} image takes "
                f"{image / GIB:,.0f} GiB as the network's input (float32 RGB), more than a quarter of this machine's "
                f"{memory / GIB:,.0f} GiB memory; use a size such as 32, 64 or 224"
            )
        if self.shard_mb * MIB > memory / 8:
            raise ValueError(
                f"shard_mb = {self.shard_mb:g} MB is more than this machine can hold: a stage holds a shard and a "
                f"block of images of this size at once, at most {memory / 8 / MIB:,.0f} MB here (an eighth of its "
                f"{memory / GIB:,.0f} GiB memory); 32 suits any set"
            )


@dataclass(frozen=True)
class SplitParams:
    val_fraction: float = bounded(gt=0, lt=1)
    test_fraction: float = bounded(gt=0, lt=1)  # used only when the dataset has no official test set
    seed: int = bounded(ge=0)


Activation = Literal["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "linear"]


@dataclass(frozen=True)
class MlpParams:
    hidden_units: tuple[int, ...] = bounded(ge=1)
    activation: Activation
    initializer: Literal[
        "random_normal", "random_uniform", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform"
    ]
    dropout: float = bounded(ge=0, lt=1)


@dataclass(frozen=True)
class CnnParams:
    conv_blocks: int = bounded(ge=1)  # block i: Conv(32 * 2**i) x2, MaxPool, Dropout .25
    dense_units: int = bounded(ge=1)


@dataclass(frozen=True)
class ConvPoolParams:
    filters: tuple[int, ...] = bounded(ge=1)  # one conv-pool block per entry
    kernel_sizes: tuple[int, ...] = bounded(ge=1)  # one per block, usually decreasing
    padding: tuple[Literal["same", "valid"], ...]  # one per block
    activation: Activation  # of the convolutions; the width/depth study used none (linear)
    dense_units: tuple[int, ...] = bounded(ge=1)

    def __post_init__(self) -> None:
        for name in ("kernel_sizes", "padding"):
            given = len(getattr(self, name))
            if given != len(self.filters):
                raise ValueError(f"{name} has {given} entries; give one per filters entry")


@dataclass(frozen=True)
class AirbenchParams:
    widths: tuple[int, ...] = bounded(ge=1)  # one block per entry: Conv-MaxPool-BN-GELU, Conv-BN-GELU
    whiten: bool  # the stem set from the training images' patch covariance and frozen (airbench's whitening)
    dirac: bool  # each block convolution's first filters start as the identity (airbench's Dirac initialisation)


@dataclass(frozen=True)
class PretrainedParams:
    """An ImageNet backbone with a new softmax head: train.epochs at train.lr with the backbone frozen, then
    fine_tune_epochs at fine_tune_lr with the whole network trainable."""

    backbone: Literal["MobileNetV3Small", "EfficientNetB0", "ResNet50"]  # imgclf/data/backbones.py
    weights: Literal["imagenet", "none"]  # imagenet: fetched and verified; none: randomly initialised
    mirrors: tuple[str, ...]  # base URLs or local directories holding each backbone's published weights file
    dropout: float = bounded(ge=0, lt=1)  # before the new head
    fine_tune_epochs: int = bounded(ge=0)  # 0: the backbone stays frozen
    fine_tune_lr: float = bounded(gt=0)


@dataclass(frozen=True)
class AugmentParams:
    enabled: bool
    rotation: float = bounded(ge=0, le=180)  # degrees
    shift: float = bounded(ge=0, lt=1)  # fraction of width and height
    shear: float = bounded(ge=0, lt=1)
    zoom: float = bounded(ge=0, lt=1)
    horizontal_flip: bool
    alternate_flip: bool  # with horizontal_flip: each image mirrored in every other epoch, not at random (airbench)
    interpolation: Literal["bilinear", "nearest"]  # how moved pixels are resampled


@dataclass(frozen=True)
class EarlyStoppingParams:
    enabled: bool
    monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"]
    patience: int = bounded(ge=0)
    restore_best_weights: bool


@dataclass(frozen=True)
class TrainParams:
    model: Literal["mlp", "cnn", "convpool", "smallvgg", "airbench", "pretrained"]
    mlp: MlpParams
    cnn: CnnParams
    convpool: ConvPoolParams
    airbench: AirbenchParams
    pretrained: PretrainedParams
    optimizer: Literal["sgd", "adam", "rmsprop"]
    lr: float = bounded(gt=0)
    momentum: float = bounded(ge=0, lt=1)  # SGD and RMSprop only
    nesterov: bool  # SGD only
    schedule: Literal["constant", "inverse_time", "cosine", "linear", "step"]
    warmup_epochs: float = bounded(ge=0)  # cosine and linear: from 0 up to lr first, stepped per batch
    decay: float = bounded(ge=0)  # inverse_time: lr / (1 + decay * step), the old Keras SGD `decay`
    step_epochs: int = bounded(ge=1)  # step: multiply lr by step_factor every step_epochs
    step_factor: float = bounded(gt=0, le=1)
    epochs: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)
    weight_decay: float = bounded(ge=0)  # decoupled, as Keras applies it: each step takes lr * weight_decay of a weight
    label_smoothing: float = bounded(ge=0, lt=1)
    class_weight: Literal["none", "balanced"]  # balanced: a small class counts in the loss as much as a large one
    batch_norm_bias_lr: float = bounded(gt=0)  # SGD moves batch norm's biases at this many times lr (airbench94: 64)
    ema: float = bounded(ge=0, lt=1)  # momentum of a moving average of the weights, which the model ends with; 0: none
    ema_every: int = bounded(ge=0)  # with ema: the weights jump to their average every this many steps (Lookahead)
    lookahead: float = bounded(ge=0, lt=1)  # the momentum per step a slow copy of the weights rises to; 0: none
    lookahead_every: int = bounded(ge=1)  # steps between pulls of the weights back to their slow copy
    augment: AugmentParams
    early_stopping: EarlyStoppingParams
    shuffle_buffer_mb: float = bounded(gt=0)  # images held for shuffling; a training set this small is shuffled whole
    mixed_precision: Literal["auto", "on", "off", "bfloat16"]  # on: float16; auto: on only when a GPU is visible
    xla: Literal["auto", "on", "off"]  # Keras jit_compile; auto: XLA where Keras supports it (GPU)
    distribute: Literal["auto", "mirrored", "none"]  # auto: MultiWorkerMirrored under TF_CONFIG, Mirrored on 2+ GPUs
    cluster_wait_s: float = bounded(gt=0)  # in a TF_CONFIG cluster: how long a worker waits for the others to start
    backup_every_s: float = bounded(ge=0)  # back up a completed epoch (to resume a killed run) at most this often
    seed: int = bounded(ge=0)

    def __post_init__(self) -> None:
        if self.ema_every and not self.ema:
            raise ValueError("train.ema_every needs a weight average to jump to: set train.ema, e.g. 0.95")
        if self.lookahead and self.ema:
            raise ValueError("train.lookahead and train.ema each average the weights: set one of them to 0")
        if self.batch_norm_bias_lr != 1 and self.optimizer != "sgd":
            raise ValueError(
                f"train.batch_norm_bias_lr is for train.optimizer sgd (now {self.optimizer}); set it back to 1"
            )


@dataclass(frozen=True)
class EvaluateParams:
    batch_size: int = bounded(ge=1)
    tta: bool  # also classify each test image flipped left-right, and average the two
    tta_shift: int = bounded(ge=0)  # also classify each test image shifted this many pixels up-left and down-right


@dataclass(frozen=True)
class PlotParams:
    misclassified: int = bounded(ge=0)  # how many misclassified test images plots/misclassified.png shows


@dataclass(frozen=True)
class ExportParams:
    calibration_images: int = bounded(ge=1)  # training images that calibrate the int8 TFLite model
    latency_images: int = bounded(ge=1)  # test images classified one at a time for metrics/export.json's latency
    batch_size: int = bounded(ge=1)  # for checking each format on the test set


@dataclass(frozen=True)
class Params:
    data: DataParams
    preprocess: PreprocessParams
    split: SplitParams
    train: TrainParams
    evaluate: EvaluateParams
    plot: PlotParams
    export: ExportParams


def load_params(path: Path = Path("params.yaml")) -> Params:
    return parse_params(read_yaml(path), source=str(path))


def parse_params(raw: object, source: str = "params.yaml") -> Params:
    try:
        return build(Params, raw)
    except Invalid as e:
        raise PipelineError(f"{source}: {e}") from None
