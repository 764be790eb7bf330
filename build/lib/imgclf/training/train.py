"""train: fit the model on the shards of data/split/train/, validating on val/, logging each epoch with DVCLive."""

import dataclasses
import hashlib
import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from imgclf.atomic import atomic_dir, write_json
from imgclf.data.backbones import BACKBONES, fetched_weights
from imgclf.data.shards import Shards
from imgclf.errors import PipelineError
from imgclf.params import TrainParams
from imgclf.training.cluster import check_workers_agree, fit_on_cluster
from imgclf.training.devices import cluster_workers, is_chief, is_multi_worker, jit_compile, set_precision, strategy_for
from imgclf.training.input_pipeline import in_order, shuffle_buffer_images, training_batches
from imgclf.training.learning_check import stuck_at_chance
from imgclf.training.livelog import keras_series
from imgclf.training.models import augmentation, build_model, set_backbone_trainable
from imgclf.training.optimization import build_loss, build_optimizer, learning_rate

FINGERPRINT_FILE = "fingerprint.json"
RESUME_DIR = ".resume"  # in the model folder but no DVC output: DVC leaves it alone between runs
FINE_TUNE_DIR = "fine-tune"  # in RESUME_DIR: the backups of a pretrained model's second phase, with its optimizer
LOG_SNAPSHOT = "dvclive-after-epoch-{}"  # in RESUME_DIR: the DVCLive log as of a backed-up epoch


def fingerprint(params: TrainParams, train_data: Shards, val_data: Shards) -> str:
    """What a backup belongs to: resuming is only right with the same params, data (each set's shard index lists
    its shards' checksums) and code. DVC re-runs train when its code changes; resuming a backup of the old code
    would mix the two, or fail to load its weights into a changed model."""
    digest = hashlib.md5(json.dumps(dataclasses.asdict(params), sort_keys=True).encode(), usedforsecurity=False)
    digest.update(f"{train_data.digest} {val_data.digest}".encode())
    package = Path(__file__).resolve().parents[1]  # imgclf/
    for source in sorted(package.rglob("*.py")):
        digest.update(f"{source.relative_to(package).as_posix()}\0".encode() + source.read_bytes())
    return digest.hexdigest()


def resume_epoch(backup_dir: Path, expected: str) -> int:
    """Epochs completed by an interrupted run of the same params, data and code (0 when there is none, or
    another's, which is removed)."""
    try:
        found = json.loads((backup_dir / FINGERPRINT_FILE).read_text())["fingerprint"]
    except FileNotFoundError:
        found = None
    except (OSError, ValueError, KeyError, TypeError):  # damaged: no run's backup
        found = ""
    if found == expected:
        backed_up = [
            folder / "training_metadata.json"
            for folder in (backup_dir, backup_dir / FINE_TUNE_DIR)
            if (folder / "training_metadata.json").is_file()
        ]
        try:
            return max(int(json.loads(metadata.read_text())["epoch"]) for metadata in backed_up)
        except (OSError, ValueError, KeyError, TypeError):  # killed before its first backup (max of nothing)
            pass
    elif found is not None:
        print(f"{backup_dir}: the backup of an interrupted run with other params, data or code; starting over")
    shutil.rmtree(backup_dir, ignore_errors=True)
    backup_dir.mkdir(parents=True)
    write_json(backup_dir / FINGERPRINT_FILE, {"fingerprint": expected})
    return 0


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


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, saving a completed epoch at most every `every_s` seconds (and always the last):
    each save costs a fraction of a second, too much to pay after every short epoch. With `live_dir`, a copy of the
    DVCLive log goes with each backup: DVC deletes the log (an output) before it runs train again, and a resumed run
    carries on from the copy that holds exactly the epochs it resumes after (the one before is kept, as Keras keeps
    the weights before, for a kill in mid-save)."""

    def __init__(self, backup_dir: Path, every_s: float, live_dir: Path | None) -> None:
        # double_checkpoint: a kill mid-save falls back to the one before. delete_checkpoint=False: Keras would
        # remove backup_dir at the end of each fit, the fingerprint and fine-tune/ with it, and a pretrained model
        # killed while fine-tuning would start over; train removes the backups once the whole run is done
        super().__init__(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
        self.backup_dir, self.live_dir = Path(backup_dir), live_dir
        self.every_s, self.last_save = every_s, time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if time.monotonic() - self.last_save >= self.every_s or epoch + 1 == self.params.get("epochs"):
            if self.live_dir is not None:
                with atomic_dir(self.backup_dir / LOG_SNAPSHOT.format(epoch + 1)) as snapshot:
                    shutil.copytree(self.live_dir, snapshot, dirs_exist_ok=True)
            super().on_epoch_end(epoch, logs)
            self.last_save = time.monotonic()
            if self.live_dir is not None:
                kept = sorted(self.backup_dir.glob(LOG_SNAPSHOT.format("*")), key=lambda p: int(p.name.split("-")[-1]))
                for old in kept[:-2]:
                    shutil.rmtree(old)


def restore_log(backup_dir: Path, live_dir: Path, epochs_done: int) -> None:
    """The DVCLive log as of the backed-up epoch, in place of whatever the log folder holds now."""
    snapshot = Path(backup_dir) / FINE_TUNE_DIR / LOG_SNAPSHOT.format(epochs_done)
    if not snapshot.is_dir():
        snapshot = Path(backup_dir) / LOG_SNAPSHOT.format(epochs_done)
    with atomic_dir(Path(live_dir)) as restored:
        shutil.copytree(snapshot, restored, dirs_exist_ok=True)


def restore_backup(model: keras.Model, backup_dir: Path) -> None:
    """The weights (and optimizer state) of the last epoch backed up in `backup_dir`."""
    restorer = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)
    restorer.set_model(model)
    restorer.on_train_begin()


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
    params: TrainParams, first_epoch: int, live_dir: Path, backup_dir: Path, total_epochs: int, last_phase: bool
) -> list:
    """The callbacks of one phase, which starts at `first_epoch` (from 0). Early stopping watches the last phase
    only: a pretrained model's frozen phase always runs its train.epochs."""
    stopping = params.early_stopping
    callbacks = [keras.callbacks.TerminateOnNaN()]
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


def train(
    params: TrainParams,
    train_data: Shards,
    val_data: Shards,
    live_dir: Path,
    backup_dir: Path,
    weights_file: Path | None = None,
) -> tuple[keras.Model, dict[str, float]]:
    """Returns the trained model and the final figures for metrics/train.json. `weights_file`: a pretrained
    model's backbone weights (random without).

    Completed epochs are backed up in `backup_dir` (every `backup_every_s` seconds at most); a run that was killed
    resumes from its last backed-up epoch when trained again with the same params and data, and ends as an
    uninterrupted run would (bit for bit without dropout and augmentation, whose random draws are not backed up).
    The backup is removed once training completes."""
    if val_data.class_names != train_data.class_names or val_data.image_shape != train_data.image_shape:
        raise PipelineError(
            f"{train_data.root} and {val_data.root} disagree on class names or image shape; re-run `dvc repro split`"
        )
    strategy = strategy_for(params)  # first: MultiWorkerMirroredStrategy must exist before any other TF op
    check_batch_divides(params, strategy, train_data)
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    steps_per_epoch = -(-len(train_data) // params.batch_size)
    set_precision(params)
    with strategy.scope():
        try:
            model = build_model(params, train_data.image_shape, len(train_data.class_names), weights_file)
        except ValueError as e:
            raise PipelineError(
                f"train.model = {params.model} cannot take images of shape {train_data.image_shape} "
                f"({str(e).splitlines()[0]}); raise preprocess.image_size or use fewer blocks"
            ) from None
    expected = fingerprint(params, train_data, val_data)
    first_epoch = resume_epoch(Path(backup_dir), expected)
    if is_multi_worker(strategy):
        check_workers_agree(strategy, expected, first_epoch)
    phases = training_phases(params, steps_per_epoch, Path(backup_dir))
    total_epochs = phases[-1].end
    if first_epoch:
        left = f"resuming from epoch {first_epoch + 1}" if first_epoch < total_epochs else "nothing left to train"
        print(f"{left}: epochs 1-{first_epoch} were completed by an interrupted run")
        if is_chief():
            restore_log(backup_dir, live_dir, first_epoch)
    buffer = shuffle_buffer_images(train_data, params.shuffle_buffer_mb)
    val_batches = in_order(val_data, params.batch_size)
    history: dict[str, list[float]] = {}
    start = time.perf_counter()
    for phase in phases:
        if first_epoch > phase.end:
            continue  # a later phase's backup holds the whole model
        if phase.backbone_trainable is not None:
            set_backbone_trainable(model, phase.backbone_trainable, params.pretrained.weights == "imagenet")
        with strategy.scope():
            model.compile(
                optimizer=build_optimizer(params, phase.lr),
                loss=build_loss(params, len(train_data.class_names)),
                metrics=["accuracy"],
                jit_compile=jit_compile(params),
            )
        if first_epoch == phase.end:  # completed by an interrupted run: the next phase, or the model, is its weights
            restore_backup(model, phase.backup_dir)
            continue
        model._initial_epoch = None  # Keras keeps the epoch BackupAndRestore restored for every later fit
        epochs = range(max(first_epoch, phase.start), phase.end)
        callbacks = training_callbacks(
            params, epochs.start, live_dir, phase.backup_dir, total_epochs, last_phase=phase is phases[-1]
        )
        for name, values in fit_phase(
            model, strategy, params, train_data, buffer, val_batches, epochs, steps_per_epoch, callbacks
        ).items():
            history.setdefault(name, []).extend(values)
        if model.stop_training:  # TerminateOnNaN
            break
    seconds = time.perf_counter() - start
    shutil.rmtree(backup_dir, ignore_errors=True)
    # DVCLive's summary of the last step repeats metrics/train.json, and is no DVC output (as a metric, its keys
    # would crowd `dvc exp show`): a run restored from DVC's run-cache would show a stale copy beside it
    (Path(live_dir) / "metrics.json").unlink(missing_ok=True)
    losses = history.get("loss", [])  # none when a run was killed after its last backup, before removing it
    epochs_run = first_epoch + len(losses)
    if not all(math.isfinite(loss) for loss in losses):
        raise PipelineError(
            f"the training loss became NaN or infinite in epoch {epochs_run}; "
            f"lower train.lr (now {params.lr:g}) or pick another train.optimizer"
        )

    # each Keras history series over every epoch, those an interrupted run completed included (read from its log)
    whole_run = {
        name: (keras_series(live_dir, name)[:first_epoch] if first_epoch else []) + history.get(name, [])
        for name in ("loss", "accuracy", "val_loss", "val_accuracy")
    }
    monitor = params.early_stopping.monitor
    monitored = whole_run[monitor]
    best = min if monitor.endswith("loss") else max
    metrics = {
        "train_loss": float(whole_run["loss"][-1]),
        "train_accuracy": float(whole_run["accuracy"][-1]),
        "val_loss": float(whole_run["val_loss"][-1]),
        "val_accuracy": float(whole_run["val_accuracy"][-1]),
        "epochs_run": epochs_run,
        "best_epoch": 1 + monitored.index(best(monitored)),
        "best_val_accuracy": max(whole_run["val_accuracy"]),
        "stopped_epoch": epochs_run if epochs_run < total_epochs else 0,
        "train_seconds": round(seconds, 3),
        "images_per_second": round(len(losses) * len(train_data) / seconds, 1),
        "replicas": strategy.num_replicas_in_sync,
    }
    warning = stuck_at_chance(whole_run["val_accuracy"], whole_run["accuracy"], val_data.labels())
    if warning and is_chief():
        print(warning)
    return model, metrics


def fit_phase(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    params: TrainParams,
    train_data: Shards,
    buffer: int,
    val_batches: tf.data.Dataset,
    epochs: range,
    steps_per_epoch: int,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Train the compiled model for `epochs` (absolute numbers); returns the Keras history of those epochs."""
    if is_multi_worker(strategy):

        def this_workers_batches(context: tf.distribute.InputContext) -> tf.data.Dataset:
            local_replicas = strategy.num_replicas_in_sync // context.num_input_pipelines
            return training_batches(
                train_data,
                context.get_per_replica_batch_size(params.batch_size),
                params.seed,
                epochs,
                buffer,
                augmentation(params),
                worker=context.input_pipeline_id,
                workers=context.num_input_pipelines,
                batches_per_epoch=steps_per_epoch * local_replicas,
            )

        return fit_on_cluster(model, strategy, this_workers_batches, val_batches, epochs, steps_per_epoch, callbacks)
    train_batches = training_batches(train_data, params.batch_size, params.seed, epochs, buffer, augmentation(params))
    return model.fit(
        train_batches,
        validation_data=val_batches,
        initial_epoch=epochs.start,
        epochs=epochs.stop,
        steps_per_epoch=steps_per_epoch,
        shuffle=False,  # the input pipeline shuffles
        verbose=0,  # EpochLog prints
        callbacks=callbacks,
    ).history


def backbone_weights(params: TrainParams, weights_dir: Path) -> Path | None:
    """The weights file fetch put in weights_dir for train.pretrained (None: no pretrained weights wanted)."""
    if params.model != "pretrained" or params.pretrained.weights != "imagenet":
        return None
    return fetched_weights(weights_dir, BACKBONES[params.pretrained.backbone])


def check_batch_divides(params: TrainParams, strategy: tf.distribute.Strategy, train_data: Shards) -> None:
    """Replicas share each batch evenly; in a cluster, each worker reads its own shards, so needs at least one."""
    replicas = strategy.num_replicas_in_sync
    if params.batch_size % replicas:
        raise PipelineError(
            f"train.batch_size = {params.batch_size} cannot be shared evenly by {replicas} replicas; "
            f"use a multiple of {replicas}"
        )
    workers = cluster_workers() if is_multi_worker(strategy) else 1
    if len(train_data.files) < workers:
        raise PipelineError(
            f"{train_data.root}: {len(train_data.files)} shard(s) for {workers} workers, which read a shard each at "
            f"least; lower preprocess.shard_mb (now {len(train_data.files)} shards) and re-run `dvc repro split`"
        )
