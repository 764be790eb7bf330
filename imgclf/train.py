"""train: fit the model on data/split/train.npz, validating on val.npz, logging each epoch with DVCLive."""

import math
import time
from pathlib import Path

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from imgclf.atomic import atomic_path
from imgclf.dataset import LabeledImages, read_class_names, write_class_names
from imgclf.devices import is_chief, jit_compile, set_precision, strategy_for
from imgclf.errors import PipelineError
from imgclf.models import augmentation, build_model, build_optimizer
from imgclf.params import TrainParams

MODEL_FILE = "model.keras"
CLASS_NAMES_FILE = "class_names.json"


def input_pipeline(
    data: LabeledImages, batch_size: int, seed: int, shuffle: bool, augment: keras.Sequential | None = None
) -> tf.data.Dataset:
    """Batches gathered by index from one in-memory copy: shuffled each epoch, augmented, prefetched."""
    images, labels = tf.constant(data.images), tf.constant(data.labels)
    batches = tf.data.Dataset.range(len(data))
    if shuffle:
        batches = batches.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    batches = batches.batch(batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))
    if augment is not None:
        batches = batches.map(
            lambda x, y: (tf.cast(tf.clip_by_value(tf.round(augment(x, training=True)), 0, 255), tf.uint8), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.with_options(options).prefetch(tf.data.AUTOTUNE)


def train(
    params: TrainParams, train_data: LabeledImages, val_data: LabeledImages, live_dir: Path
) -> tuple[keras.Model, dict[str, float]]:
    """Returns the trained model and the final figures for metrics/train.json."""
    if val_data.class_names != train_data.class_names or val_data.images.shape[1:] != train_data.images.shape[1:]:
        raise PipelineError("train.npz and val.npz disagree on class names or image shape; re-run `dvc repro split`")
    strategy = strategy_for(params)  # first: a multi-worker strategy must exist before TensorFlow runs any op
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    steps_per_epoch = -(-len(train_data) // params.batch_size)
    set_precision(params)
    with strategy.scope():
        try:
            model = build_model(params, train_data.images.shape[1:], len(train_data.class_names))
        except ValueError as e:
            raise PipelineError(
                f"train.model = {params.model} cannot take images of shape {train_data.images.shape[1:]} "
                f"({str(e).splitlines()[0]}); raise preprocess.image_size or use fewer blocks"
            ) from None
        model.compile(
            optimizer=build_optimizer(params, steps_per_epoch),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile(params),
        )
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if is_chief():
        callbacks.append(DVCLiveCallback(live=Live(str(live_dir), dvcyaml=False, save_dvc_exp=False)))
    stopping = params.early_stopping
    if stopping.enabled:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor, patience=stopping.patience, restore_best_weights=stopping.restore_best_weights
            )
        )
    start = time.perf_counter()
    history = model.fit(
        input_pipeline(train_data, params.batch_size, params.seed, shuffle=True, augment=augmentation(params)),
        validation_data=input_pipeline(val_data, params.batch_size, params.seed, shuffle=False),
        epochs=params.epochs,
        shuffle=False,  # the input pipeline shuffles
        verbose=2,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    losses = history.history["loss"]
    if not all(math.isfinite(loss) for loss in losses):
        raise PipelineError(
            f"the training loss became NaN or infinite in epoch {len(losses)}; "
            f"lower train.lr (now {params.lr:g}) or pick another train.optimizer"
        )
    monitored = history.history[stopping.monitor]
    best = min if stopping.monitor.endswith("loss") else max
    final = {name: float(values[-1]) for name, values in history.history.items()}
    metrics = {
        "loss": final["loss"],
        "accuracy": final["accuracy"],
        "val_loss": final["val_loss"],
        "val_accuracy": final["val_accuracy"],
        "epochs_run": len(losses),
        "best_epoch": 1 + monitored.index(best(monitored)),
        "stopped_epoch": len(losses) if len(losses) < params.epochs else 0,
        "train_seconds": round(seconds, 3),
        "images_per_second": round(len(losses) * len(train_data) / seconds, 1),
        "replicas": strategy.num_replicas_in_sync,
    }
    return model, metrics


def save_model(model: keras.Model, class_names: tuple[str, ...], model_dir: Path) -> None:
    with atomic_path(Path(model_dir) / MODEL_FILE) as tmp:
        model.save(tmp)
    write_class_names(Path(model_dir) / CLASS_NAMES_FILE, class_names)


def load_model(model_dir: Path) -> tuple[keras.Model, tuple[str, ...]]:
    """Loads with Keras safe mode: a .keras file from someone else cannot run arbitrary code."""
    model_path, names_path = Path(model_dir) / MODEL_FILE, Path(model_dir) / CLASS_NAMES_FILE
    for path in (model_path, names_path):
        if not path.is_file():
            raise PipelineError(f"{path}: not found; run `dvc repro train` first")
    try:
        model = keras.saving.load_model(model_path, safe_mode=True)
    except Exception as e:  # Keras raises many types for a bad file; all mean the same to the user
        raise PipelineError(f"{model_path}: cannot load the model ({type(e).__name__}: {e}); retrain it") from None
    class_names = read_class_names(names_path)
    if model.output_shape[-1] != len(class_names):
        raise PipelineError(
            f"{names_path}: {len(class_names)} class names, but the model has {model.output_shape[-1]} outputs"
        )
    return model, class_names
