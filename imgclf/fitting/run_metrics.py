"""metrics/train.json's figures: each Keras history series over the whole run, an interrupted run's epochs
included, and the final, best and stopping figures taken from them."""

import math
from pathlib import Path

from imgclf.config.params import TrainParams
from imgclf.errors import PipelineError
from imgclf.livelog import keras_series


def history_of_run(history: dict[str, list[float]], first_epoch: int, live_dir: Path) -> dict[str, list[float]]:
    """Each Keras history series over every epoch, those an interrupted run completed included (from its log)."""
    return {
        name: (keras_series(live_dir, name)[:first_epoch] if first_epoch else []) + history.get(name, [])
        for name in ("loss", "accuracy", "val_loss", "val_accuracy")
    }


def final_metrics(
    params: TrainParams,
    history: dict[str, list[float]],
    whole_run: dict[str, list[float]],
    first_epoch: int,
    total_epochs: int,
) -> dict[str, float]:
    """metrics/train.json's figures of the whole run (`whole_run`: history_of_run's series); a NaN or infinite loss
    in the epochs this run trained (`history`) is an error naming the epoch."""
    losses = history.get("loss", [])  # none when a run was killed after its last backup, before removing it
    epochs_run = first_epoch + len(losses)
    if not all(math.isfinite(loss) for loss in losses):
        raise PipelineError(
            f"the training loss became NaN or infinite in epoch {epochs_run}; "
            f"lower train.lr (now {params.lr:g}) or pick another train.optimizer"
        )
    monitored = whole_run[params.early_stopping.monitor]
    best = min if params.early_stopping.monitor.endswith("loss") else max
    return {
        "train_loss": float(whole_run["loss"][-1]),
        "train_accuracy": float(whole_run["accuracy"][-1]),
        "val_loss": float(whole_run["val_loss"][-1]),
        "val_accuracy": float(whole_run["val_accuracy"][-1]),
        "epochs_run": epochs_run,
        "best_epoch": 1 + monitored.index(best(monitored)),
        "best_val_accuracy": max(whole_run["val_accuracy"]),
        "stopped_epoch": epochs_run if epochs_run < total_epochs else 0,
    }
