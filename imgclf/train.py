"""train: fit the model on data/split/train.npz, validating on val.npz, logging each epoch with DVCLive."""

import time
from pathlib import Path

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback

from imgclf.atomic import atomic_path
from imgclf.dataset import LabeledImages, read_class_names, write_class_names
from imgclf.errors import PipelineError
from imgclf.models import build_model, build_optimizer
from imgclf.params import TrainParams

MODEL_FILE = "model.keras"
CLASS_NAMES_FILE = "class_names.json"


def train(
    params: TrainParams, train_data: LabeledImages, val_data: LabeledImages, live_dir: Path
) -> tuple[keras.Model, dict[str, float]]:
    """Returns the trained model and the final figures for metrics/train.json."""
    if val_data.class_names != train_data.class_names or val_data.images.shape[1:] != train_data.images.shape[1:]:
        raise PipelineError("train.npz and val.npz disagree on class names or image shape; re-run `dvc repro split`")
    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_model(params, train_data.images.shape[1:], len(train_data.class_names))
    model.compile(optimizer=build_optimizer(params), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    live = Live(str(live_dir), dvcyaml=False, save_dvc_exp=False)
    start = time.perf_counter()
    history = model.fit(
        train_data.images,
        train_data.labels,
        batch_size=params.batch_size,
        epochs=params.epochs,
        validation_data=(val_data.images, val_data.labels),
        shuffle=True,
        verbose=2,
        callbacks=[DVCLiveCallback(live=live)],
    )
    seconds = time.perf_counter() - start
    epochs_run = len(history.history["loss"])
    final = {name: float(values[-1]) for name, values in history.history.items()}
    metrics = {
        "loss": final["loss"],
        "accuracy": final["accuracy"],
        "val_loss": final["val_loss"],
        "val_accuracy": final["val_accuracy"],
        "epochs_run": epochs_run,
        "train_seconds": round(seconds, 3),
        "images_per_second": round(epochs_run * len(train_data) / seconds, 1),
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
