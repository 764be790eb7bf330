"""The trained model on disk: models/model.keras and models/class_names.json, written byte for byte the same for
the same weights, and read back safely for inference."""

import io
import json
import zipfile
from pathlib import Path

import keras
import numpy as np

from imgclf.atomic import atomic_path
from imgclf.data.dataset import read_class_names, write_class_names
from imgclf.disk_space import ensure_free
from imgclf.errors import PipelineError

MODEL_FILE = "model.keras"
CLASS_NAMES_FILE = "class_names.json"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold; Keras gives its JSON members this one


def weights_bytes(model: keras.Model) -> int:
    """The bytes of the model's variables and its optimizer's: about what a save of them writes."""
    optimizer = getattr(model, "optimizer", None)
    variables = [*model.weights, *(optimizer.variables if optimizer is not None else [])]
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


def save_model(model: keras.Model, class_names: tuple[str, ...], model_dir: Path) -> None:
    """models/model.keras, after a check that the disk has room for it and its temporary copy."""
    ensure_free(Path(model_dir), 2 * weights_bytes(model), "the trained model")
    with atomic_path(Path(model_dir) / MODEL_FILE) as tmp:
        model.save(tmp)
        tmp.write_bytes(without_save_time(tmp.read_bytes()))
    write_class_names(Path(model_dir) / CLASS_NAMES_FILE, class_names)


def without_save_time(archive: bytes) -> bytes:
    """A .keras archive with nothing of the moment it was saved: Keras writes the save time into metadata.json
    ("date_saved"), stamps the weights' zip entry with the current time, and numbers shared objects in config.json
    by their memory address (`shared_object_id`), so the same weights gave a new file, a new md5 and a changed
    dvc.lock on every run. Those three are made fixed; every other byte, and the members' order, is kept."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata).encode()
            elif entry.filename == "config.json":
                data = json.dumps(renumber_shared_objects(json.loads(data))).encode()
            info = zipfile.ZipInfo(entry.filename, date_time=ZIP_EPOCH)
            info.compress_type, info.external_attr = entry.compress_type, 0o644 << 16
            target.writestr(info, data)
    return out.getvalue()


def renumber_shared_objects(config: object, ids: dict | None = None) -> object:
    """config.json with each `shared_object_id` (an id() of this process) replaced by its order of first
    appearance: objects shared before are shared after, under numbers that do not change between runs."""
    ids = {} if ids is None else ids
    if isinstance(config, list):
        return [renumber_shared_objects(item, ids) for item in config]
    if not isinstance(config, dict):
        return config
    renumbered = {key: renumber_shared_objects(value, ids) for key, value in config.items()}
    if "shared_object_id" in config:
        renumbered["shared_object_id"] = ids.setdefault(config["shared_object_id"], len(ids) + 1)
    return renumbered


def load_model(model_dir: Path) -> tuple[keras.Model, tuple[str, ...]]:
    """Loads for inference, with Keras safe mode: a .keras file from someone else cannot run arbitrary code. The
    optimizer stays in the file (to train on elsewhere) but is not restored: a mixed-precision model's loss-scale
    optimizer would not fit this process's float32 one."""
    model_path, names_path = Path(model_dir) / MODEL_FILE, Path(model_dir) / CLASS_NAMES_FILE
    if (Path(model_dir) / "saved_model.pb").is_file():
        raise PipelineError(
            f"{model_dir}: a SavedModel (for TF Serving); give --model the folder of model.keras (models/), or an "
            "exported .tflite or .onnx file"
        )
    for path in (model_path, names_path):
        if not path.is_file():
            raise PipelineError(f"{path}: not found; run `dvc repro train` first")
    if not zipfile.is_zipfile(model_path):  # Keras would say "File not found" of a file that is there
        raise PipelineError(
            f"{model_path}: damaged, not a whole Keras model file (a .keras file is a zip archive; this one is cut "
            f"short or overwritten); retrain it with `dvc repro -f train`, or restore the cached copy with "
            f"`dvc checkout --force {model_path}`"
        )
    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a bad file; all mean the same to the user
        raise PipelineError(f"{model_path}: cannot load the model ({type(e).__name__}: {e}); retrain it") from None
    class_names = read_class_names(names_path)
    if model.output_shape[-1] != len(class_names):
        raise PipelineError(
            f"{names_path}: {len(class_names)} class names, but the model has {model.output_shape[-1]} outputs"
        )
    return model, class_names
