"""Training phases: one for most models; a pretrained model trains its head with the backbone frozen, then
fine-tunes the whole network, each phase with its own optimizer and backups."""

from dataclasses import dataclass
from pathlib import Path

import keras

from imgclf.config.params import TrainParams
from imgclf.fitting.optimization import learning_rate
from imgclf.fitting.resume import FINE_TUNE_DIR


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one optimizer: epochs [start, end) at `lr`, backed up in `backup_dir`.
    `backbone_trainable` is None for a model without a pretrained backbone."""

    start: int
    end: int
    lr: float | keras.optimizers.schedules.LearningRateSchedule
    backbone_trainable: bool | None
    backup_dir: Path


def training_phases(params: TrainParams, steps_per_epoch: int, backup_dir: Path) -> list[Phase]:
    """One phase of train.epochs; a pretrained model trains them with its backbone frozen, then fine-tunes the
    whole network for train.pretrained.fine_tune_epochs at its own learning rate. A backbone without ImageNet
    weights (weights none) has nothing to keep: it trains in both phases."""
    pretrained = params.model == "pretrained"
    frozen = params.pretrained.weights == "imagenet"
    first = Phase(
        0, params.epochs, learning_rate(params, steps_per_epoch), not frozen if pretrained else None, backup_dir
    )
    if not pretrained or not params.pretrained.fine_tune_epochs:
        return [first]
    end = params.epochs + params.pretrained.fine_tune_epochs
    return [first, Phase(params.epochs, end, params.pretrained.fine_tune_lr, True, backup_dir / FINE_TUNE_DIR)]
