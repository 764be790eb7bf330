"""The callbacks of a training phase: Lookahead, DVCLive's log, epoch backups, early stopping, and the terminal's
epoch lines."""

import time
from pathlib import Path

import keras
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from imgclf.config.params import TrainParams
from imgclf.distribution.devices import is_chief
from imgclf.fitting.lookahead import Lookahead
from imgclf.fitting.resume import EpochBackup


class QueueSafeDVCLiveCallback(DVCLiveCallback):
    """DVCLive's Keras callback. At the end of training, DVCLive removes a signal file for VS Code that every
    experiment of a parallel `dvc queue` shares (<project>/.dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED), checking
    first that it exists: when two experiments end together, one removes it between the other's check and removal
    (the race of dvclive#624), and a training that completed every epoch failed. That removal is the last thing
    `Live.end` does, so its FileNotFoundError, and only that, is ignored."""

    def on_train_end(self, logs: dict | None = None) -> None:
        try:
            super().on_train_end(logs)
        except FileNotFoundError as e:
            if Path(e.filename or "").name != "DVCLIVE_STEP_COMPLETED":
                raise


class EpochLog(keras.callbacks.Callback):
    """One line for the first epoch, every `every`-th, the last and the one early stopping ends on: about ten
    lines for any run, readable in a terminal and in `dvc queue logs` alike (Keras' own log prints two lines an
    epoch, or repaints a progress bar into log files)."""

    def __init__(self, epochs: int, lines: int = 10) -> None:
        super().__init__()
        self.epochs, self.every = epochs, max(1, -(-epochs // lines))
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        if number == 1 or number % self.every == 0 or number == self.epochs or self.model.stop_training:
            figures = " - ".join(f"{name} {value:.4f}" for name, value in (logs or {}).items())
            print(f"epoch {number}/{self.epochs}: {figures} ({time.monotonic() - self.started:.1f} s)", flush=True)


def training_callbacks(
    params: TrainParams,
    first_epoch: int,
    live_dir: Path,
    backup_dir: Path,
    total_epochs: int,
    steps_per_epoch: int,
    last_phase: bool,
) -> list:
    """The callbacks of one phase, which starts at `first_epoch` (from 0). Early stopping watches the last phase
    only: a pretrained model's frozen phase always runs its train.epochs."""
    stopping = params.early_stopping
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if params.lookahead:
        callbacks.append(Lookahead(params.lookahead, params.lookahead_every, steps_per_epoch, total_epochs))
    if is_chief():  # in a cluster, the other workers log nothing
        live = Live(str(live_dir), resume=first_epoch > 0, dvcyaml=False, save_dvc_exp=False)
        live.step = first_epoch  # DVCLive resumes a log whose last step is 0 at step 0 again
        callbacks.append(QueueSafeDVCLiveCallback(live=live))
    callbacks.append(EpochBackup(backup_dir, params.backup_every_s, live_dir if is_chief() else None))  # after DVCLive
    if stopping.enabled and last_phase:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor, patience=stopping.patience, restore_best_weights=stopping.restore_best_weights
            )
        )
    return [*callbacks, EpochLog(total_epochs)]  # last: it sees whether early stopping ended the run
