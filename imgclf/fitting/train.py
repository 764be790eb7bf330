"""train: fit the model on the shards of data/split/train/, validating on val/, logging each epoch with DVCLive."""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from imgclf.config.params import TrainParams
from imgclf.data.backbones import BACKBONES, fetched_weights
from imgclf.data.shards import Shards
from imgclf.distribution.cluster import check_workers_agree, fit_on_cluster
from imgclf.distribution.devices import (
    check_batch_divides,
    is_chief,
    is_multi_worker,
    jit_compile,
    set_precision,
    strategy_for,
)
from imgclf.errors import PipelineError
from imgclf.fitting.augmentation import augmentation, flips_alternate
from imgclf.fitting.callbacks import training_callbacks
from imgclf.fitting.learning_check import stuck_at_chance
from imgclf.fitting.optimization import build_loss, build_optimizer
from imgclf.fitting.phases import Phase, training_phases
from imgclf.fitting.resume import fingerprint, restore_backup, restore_log, resume_epoch
from imgclf.fitting.run_metrics import final_metrics, history_of_run
from imgclf.modeling.input_pipeline import in_order, shuffle_buffer_images, training_batches
from imgclf.modeling.models import build_model, set_backbone_trainable
from imgclf.modeling.whitening import whiten_stem, whitening_sample


@dataclass(frozen=True)
class TrainingData:
    """What every phase trains and validates on: the shards, the shuffle buffer (images), the validation batches."""

    train: Shards
    val: Shards
    buffer: int
    val_batches: tf.data.Dataset
    steps_per_epoch: int


def train(
    params: TrainParams,
    train_data: Shards,
    val_data: Shards,
    live_dir: Path,
    backup_dir: Path,
    weights_file: Path | None = None,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
) -> tuple[keras.Model, dict[str, float]]:
    """Returns the trained model and the final figures for metrics/train.json. `weights_file`: a pretrained
    model's backbone weights (random without); `extra_callbacks` join every phase's (a tuning trial's pruning).

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
    set_precision(params)
    model = build_in_scope(params, strategy, train_data, weights_file)
    data = TrainingData(
        train_data,
        val_data,
        shuffle_buffer_images(train_data, params.shuffle_buffer_mb),
        in_order(val_data, params.batch_size),
        -(-len(train_data) // params.batch_size),
    )
    phases = training_phases(params, data.steps_per_epoch, Path(backup_dir))
    first_epoch = resume_point(params, strategy, data, Path(backup_dir), live_dir, phases[-1].end)
    start = time.perf_counter()
    history = run_phases(model, strategy, params, data, phases, first_epoch, live_dir, extra_callbacks)
    seconds = time.perf_counter() - start
    shutil.rmtree(backup_dir, ignore_errors=True)
    # DVCLive's summary of the last step repeats metrics/train.json, and is no DVC output (as a metric, its keys
    # would crowd `dvc exp show`): a run restored from DVC's run-cache would show a stale copy beside it
    (Path(live_dir) / "metrics.json").unlink(missing_ok=True)
    whole_run = history_of_run(history, first_epoch, live_dir)
    metrics = final_metrics(params, history, whole_run, first_epoch, phases[-1].end)
    metrics["train_seconds"] = round(seconds, 3)
    metrics["images_per_second"] = round(len(history.get("loss", [])) * len(train_data) / seconds, 1)
    metrics["replicas"] = strategy.num_replicas_in_sync
    warning = stuck_at_chance(whole_run["val_accuracy"], whole_run["accuracy"], val_data.labels())
    if warning and is_chief():
        print(warning)
    return model, metrics


def build_in_scope(
    params: TrainParams, strategy: tf.distribute.Strategy, train_data: Shards, weights_file: Path | None
) -> keras.Model:
    """The model of train.model for these images, its variables placed by the strategy."""
    with strategy.scope():
        try:
            model = build_model(params, train_data.image_shape, len(train_data.class_names), weights_file)
        except ValueError as e:
            raise PipelineError(
                f"train.model = {params.model} cannot take images of shape {train_data.image_shape} "
                f"({str(e).splitlines()[0]}); raise preprocess.image_size or use fewer blocks"
            ) from None
        if params.model == "airbench" and params.airbench.whiten:
            whiten_stem(model, whitening_sample(train_data))
        return model


def resume_point(
    params: TrainParams,
    strategy: tf.distribute.Strategy,
    data: TrainingData,
    backup_dir: Path,
    live_dir: Path,
    total_epochs: int,
) -> int:
    """Epochs an interrupted run of the same params, data and code completed (0: none); its DVCLive log restored."""
    expected = fingerprint(params, data.train, data.val)
    first_epoch = resume_epoch(backup_dir, expected)
    if is_multi_worker(strategy):
        check_workers_agree(strategy, expected, first_epoch)
    if first_epoch:
        left = f"resuming from epoch {first_epoch + 1}" if first_epoch < total_epochs else "nothing left to train"
        print(f"{left}: epochs 1-{first_epoch} were completed by an interrupted run")
        if is_chief():
            restore_log(backup_dir, live_dir, first_epoch)
    return first_epoch


def run_phases(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    params: TrainParams,
    data: TrainingData,
    phases: list[Phase],
    first_epoch: int,
    live_dir: Path,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
) -> dict[str, list[float]]:
    """Compiles and fits each phase from `first_epoch` on; the Keras history of the epochs this run trained."""
    history: dict[str, list[float]] = {}
    for phase in phases:
        if first_epoch > phase.end:
            continue  # a later phase's backup holds the whole model
        if phase.backbone_trainable is not None:
            set_backbone_trainable(model, phase.backbone_trainable, params.pretrained.weights == "imagenet")
        with strategy.scope():
            model.compile(
                optimizer=build_optimizer(params, phase.lr, model),
                loss=build_loss(params, len(data.train.class_names)),
                metrics=["accuracy"],
                jit_compile=jit_compile(params),
            )
        if first_epoch == phase.end:  # completed by an interrupted run: the next phase, or the model, is its weights
            restore_backup(model, phase.backup_dir)
            continue
        model._initial_epoch = None  # Keras keeps the epoch BackupAndRestore restored for every later fit
        epochs = range(max(first_epoch, phase.start), phase.end)
        callbacks = training_callbacks(
            params,
            epochs.start,
            live_dir,
            phase.backup_dir,
            phases[-1].end,
            data.steps_per_epoch,
            last_phase=phase is phases[-1],
        )
        callbacks[-1:-1] = extra_callbacks  # before the epoch log, which shows the epoch a pruner stopped on
        for name, values in fit_phase(model, strategy, params, data, epochs, callbacks).items():
            history.setdefault(name, []).extend(values)
        if model.stop_training:  # TerminateOnNaN, or a tuning trial's pruner
            break
    return history


def fit_phase(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    params: TrainParams,
    data: TrainingData,
    epochs: range,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Train the compiled model for `epochs` (absolute numbers); returns the Keras history of those epochs."""
    if is_multi_worker(strategy):
        if params.class_weight != "none":
            raise PipelineError("train.class_weight: balanced is not supported on a TF_CONFIG cluster; set it to none")

        def this_workers_batches(context: tf.distribute.InputContext) -> tf.data.Dataset:
            local_replicas = strategy.num_replicas_in_sync // context.num_input_pipelines
            return training_batches(
                data.train,
                context.get_per_replica_batch_size(params.batch_size),
                params.seed,
                epochs,
                data.buffer,
                augmentation(params),
                worker=context.input_pipeline_id,
                workers=context.num_input_pipelines,
                batches_per_epoch=data.steps_per_epoch * local_replicas,
                alternate_flips=flips_alternate(params),
            )

        return fit_on_cluster(
            model, strategy, this_workers_batches, data.val_batches, epochs, data.steps_per_epoch, callbacks
        )
    train_batches = training_batches(
        data.train,
        params.batch_size,
        params.seed,
        epochs,
        data.buffer,
        augmentation(params),
        alternate_flips=flips_alternate(params),
    )
    return model.fit(
        train_batches,
        class_weight=class_weights(params, data.train),
        validation_data=data.val_batches,
        initial_epoch=epochs.start,
        epochs=epochs.stop,
        steps_per_epoch=data.steps_per_epoch,
        shuffle=False,  # the input pipeline shuffles
        verbose=0,  # EpochLog prints
        callbacks=callbacks,
    ).history


def class_weights(params: TrainParams, train: Shards) -> dict[int, float] | None:
    """Keras' class_weight for train.class_weight: balanced, as scikit-learn's "balanced" heuristic computes it:
    images / (classes x the class's images), over the classes the training set holds."""
    if params.class_weight == "none":
        return None
    labels = train.labels()
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    return {int(c): float(w) for c, w in zip(present, weights, strict=True)}


def backbone_weights(params: TrainParams, weights_dir: Path) -> Path | None:
    """The weights file fetch put in weights_dir for train.pretrained (None: no pretrained weights wanted)."""
    if params.model != "pretrained" or params.pretrained.weights != "imagenet":
        return None
    return fetched_weights(weights_dir, BACKBONES[params.pretrained.backbone])
