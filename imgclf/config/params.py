"""params.yaml -> validated, typed Params: each param's type and bounds. params.yaml is the only place defaults live,
and its comments the only place each param is described (docs/params.md is generated from them).

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
    mnist: tuple[str, ...]
    fashion_mnist: tuple[str, ...]
    cifar10: tuple[str, ...]


@dataclass(frozen=True)
class DataParams:
    dataset: Literal["mnist_5k", "mnist", "fashion_mnist", "cifar10", "folder"]
    folder: str
    mirrors: MirrorsParams
    retries: int = bounded(ge=0)
    timeout_s: float = bounded(gt=0)
    max_unpacked_gb: float = bounded(gt=0)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_gb * GIB)

    def __post_init__(self) -> None:
        if self.dataset == "folder" and not self.folder:
            raise ValueError("dataset folder needs data.folder: your photos (class sub-folders) or an archive of them")


@dataclass(frozen=True)
class PreprocessParams:
    image_size: int = bounded(ge=0)
    resize: Literal["stretch", "pad"]
    color: Literal["auto", "rgb", "grayscale"]
    on_bad_image: Literal["skip", "stop"]
    max_megapixels: float = bounded(gt=0)
    max_per_class: int = bounded(ge=0)
    shard_mb: float = bounded(gt=0)

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
    test_fraction: float = bounded(gt=0, lt=1)
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
    conv_blocks: int = bounded(ge=1)
    dense_units: int = bounded(ge=1)


@dataclass(frozen=True)
class ConvPoolParams:
    filters: tuple[int, ...] = bounded(ge=1)
    kernel_sizes: tuple[int, ...] = bounded(ge=1)
    padding: tuple[Literal["same", "valid"], ...]
    activation: Activation
    dense_units: tuple[int, ...] = bounded(ge=1)

    def __post_init__(self) -> None:
        for name in ("kernel_sizes", "padding"):
            given = len(getattr(self, name))
            if given != len(self.filters):
                raise ValueError(f"{name} has {given} entries; give one per filters entry")


@dataclass(frozen=True)
class AirbenchParams:
    widths: tuple[int, ...] = bounded(ge=1)
    whiten: bool
    dirac: bool


@dataclass(frozen=True)
class PretrainedParams:
    backbone: Literal["MobileNetV3Small", "EfficientNetB0", "ResNet50"]
    weights: Literal["imagenet", "none"]
    mirrors: tuple[str, ...]
    dropout: float = bounded(ge=0, lt=1)
    fine_tune_epochs: int = bounded(ge=0)
    fine_tune_lr: float = bounded(gt=0)


@dataclass(frozen=True)
class AugmentParams:
    enabled: bool
    rotation: float = bounded(ge=0, le=180)
    shift: float = bounded(ge=0, lt=1)
    shear: float = bounded(ge=0, lt=1)
    zoom: float = bounded(ge=0, lt=1)
    horizontal_flip: bool
    alternate_flip: bool
    interpolation: Literal["bilinear", "nearest"]


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
    momentum: float = bounded(ge=0, lt=1)
    nesterov: bool
    schedule: Literal["constant", "inverse_time", "cosine", "linear", "step"]
    warmup_epochs: float = bounded(ge=0)
    decay: float = bounded(ge=0)
    step_epochs: int = bounded(ge=1)
    step_factor: float = bounded(gt=0, le=1)
    epochs: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)
    weight_decay: float = bounded(ge=0)
    label_smoothing: float = bounded(ge=0, lt=1)
    class_weight: Literal["none", "balanced"]
    batch_norm_bias_lr: float = bounded(gt=0)
    ema: float = bounded(ge=0, lt=1)
    ema_every: int = bounded(ge=0)
    lookahead: float = bounded(ge=0, lt=1)
    lookahead_every: int = bounded(ge=1)
    augment: AugmentParams
    early_stopping: EarlyStoppingParams
    shuffle_buffer_mb: float = bounded(gt=0)
    mixed_precision: Literal["auto", "on", "off", "bfloat16"]
    xla: Literal["auto", "on", "off"]
    distribute: Literal["auto", "mirrored", "none"]
    cluster_wait_s: float = bounded(gt=0)
    backup_every_s: float = bounded(ge=0)
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
    tta: bool
    tta_shift: int = bounded(ge=0)


@dataclass(frozen=True)
class PlotParams:
    misclassified: int = bounded(ge=0)


@dataclass(frozen=True)
class ExportParams:
    calibration_images: int = bounded(ge=1)
    latency_images: int = bounded(ge=1)
    batch_size: int = bounded(ge=1)


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
