"""export: the trained model in the formats other runtimes load, each checked against Keras on the test set.

- `model_float16.tflite`: TFLite with float16 weights;
- `model_int8.tflite`: TFLite with int8 weights and activations, calibrated on training images;
- `model.onnx`: ONNX (Keras' export, through tf2onnx), run here with onnxruntime.

Every format takes the same raw uint8 images as the Keras model (its pixel scaling is inside). `class_names.json`
goes beside them, so `python -m imgclf.serving.predict --model exported/model.onnx` works from the folder alone.

The TFLite files are converted from a SavedModel, which is checked like the others but not kept: TensorFlow 2.21
writes a random UUID into its fingerprint.pb and orders its variables by memory address, so every export gave new
bytes and a changed dvc.lock. `python -m imgclf.serving.saved_model models DIR` writes one for TF Serving.
"""

import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from imgclf.atomic import atomic_dir
from imgclf.config.params import ExportParams
from imgclf.data.dataset import write_class_names
from imgclf.data.shards import Shards
from imgclf.disk_space import is_disk_full
from imgclf.errors import PipelineError
from imgclf.modeling.input_pipeline import in_order
from imgclf.serving.onnx_ops import register_onnx_ops

# Pinned versions warn of their own future (TF 2.21's tf.lite.Interpreter, to be replaced by the ai_edge_litert
# package; tf2onnx's check for np.object): nothing a user can act on, so not shown
warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated", category=UserWarning)
warnings.filterwarnings("ignore", message=r"In the future `np.object` will be defined", category=FutureWarning)

FLOAT_AGREEMENT = 0.995  # a float format whose top-1 labels agree with Keras' less often is a broken conversion
SAVED_MODEL = "saved_model"  # checked, then discarded: its bytes differ on every export
FILES = {
    "tflite_float16": "model_float16.tflite",
    "tflite_int8": "model_int8.tflite",
    "onnx": "model.onnx",
}


class TFLiteModel:
    """A .tflite file behind the part of Keras' model API that predict and this module use."""

    def __init__(self, path: Path) -> None:
        self.interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=1)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_shape = (None, *self.input["shape"][1:])

    def predict(self, images: np.ndarray, verbose: int = 0) -> np.ndarray:
        self.interpreter.resize_tensor_input(self.input["index"], images.shape)
        self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.input["index"], images.astype(self.input["dtype"]))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).astype(np.float32)


class OnnxModel:
    """A .onnx file run by onnxruntime, behind the same part of Keras' model API."""

    def __init__(self, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0]
        self.input_shape = (None, *self.input.shape[1:])

    def predict(self, images: np.ndarray, verbose: int = 0) -> np.ndarray:
        return self.session.run(None, {self.input.name: images})[0].astype(np.float32)


class SavedModel:
    def __init__(self, path: Path) -> None:
        self.loaded = tf.saved_model.load(str(path))  # kept: its function refers to the variables it holds

    def predict(self, images: np.ndarray, verbose: int = 0) -> np.ndarray:
        return np.asarray(self.loaded.serve(tf.constant(images)), dtype=np.float32)


def load_exported(path: Path) -> TFLiteModel | OnnxModel:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; run `dvc repro export` first")
    try:
        return TFLiteModel(path) if path.suffix == ".tflite" else OnnxModel(path)
    except Exception as e:  # the runtimes raise many types for a bad file
        raise PipelineError(f"{path}: cannot load it ({type(e).__name__}: {e}); run `dvc repro -f export`") from None


def spread(total: int, count: int) -> list[int]:
    """`count` positions spread evenly over `total` images (all of them when fewer): a set may list class after
    class, as mnist_5k does, and int8 calibration must see every class's range of activations."""
    return np.unique(np.linspace(0, total - 1, min(count, total)).astype(np.int64)).tolist()


def spread_images(shards: Shards, count: int) -> np.ndarray:
    return shards.take(spread(len(shards), count))


def float32_copy(model: keras.Model) -> keras.Model:
    """`model` itself when it computes in float32; a model trained with train.mixed_precision, rebuilt to compute in
    float32 with the same weights (which mixed precision keeps in float32), for the formats that have no float16 or
    bfloat16 kernels: TFLite, ONNX."""
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model

    def in_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=in_float32, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def write_formats(model: keras.Model, calibration: np.ndarray, out: Path, saved_model: Path) -> None:
    with converting(model, SAVED_MODEL):
        model.export(str(saved_model), format="tf_saved_model", verbose=False)
    for name in ("tflite_float16", "tflite_int8"):
        with converting(model, name):
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if name == "tflite_float16":
                converter.target_spec.supported_types = [tf.float16]
            else:
                converter.representative_dataset = lambda: ([image[None]] for image in calibration)
            (out / FILES[name]).write_bytes(converter.convert())
    register_onnx_ops()
    with converting(model, "onnx"):
        model.export(str(out / FILES["onnx"]), format="onnx", verbose=False)
        OnnxModel(out / FILES["onnx"])  # onnxruntime refuses an op it lacks here, not at the first prediction


@contextmanager
def converting(model: keras.Model, name: str) -> Iterator[None]:
    """A converter's failure as one line naming the format and the model: re-running the stage cannot help (a full
    disk aside)."""
    try:
        yield
    except Exception as e:  # the converters and runtimes raise many types
        if is_disk_full(e):
            raise  # not the model's fault: exit_on_error says what to free
        reason = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise PipelineError(
            f"export: the {model.name} model cannot be converted to {name} ({type(e).__name__}: {reason[:300]}); "
            "re-running will not help: please report it with params.yaml's train section"
        ) from None


def size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def latency_ms(run: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> float:
    """Mean milliseconds `run` takes to classify one image alone (batch 1), after one warm-up call."""
    run(images[:1])
    start = time.perf_counter()
    for image in images:
        run(image[None])
    return 1000 * (time.perf_counter() - start) / len(images)


def export(
    model: keras.Model, class_names: tuple[str, ...], train: Shards, test: Shards, out_dir: Path, params: ExportParams
) -> dict:
    """Writes every format into `out_dir` and returns, per format, its size, latency, top-1 agreement with Keras
    and test accuracy (int8 also its accuracy delta). A float format below 99.5% agreement stops the stage."""
    with atomic_dir(out_dir) as tmp, tempfile.TemporaryDirectory() as scratch:
        saved_model = Path(scratch) / SAVED_MODEL
        write_formats(float32_copy(model), spread_images(train, params.calibration_images), tmp, saved_model)
        write_class_names(tmp / "class_names.json", class_names)
        # Keras through predict_on_batch: predict builds a tf.data pipeline per call, which is not the model's cost
        runs = {"keras": model.predict_on_batch, SAVED_MODEL: SavedModel(saved_model).predict}
        runs |= {name: load_exported(tmp / FILES[name]).predict for name in ("tflite_float16", "tflite_int8", "onnx")}
        predicted: dict[str, list[np.ndarray]] = {name: [] for name in runs}
        actual = []
        for images, labels in in_order(test, params.batch_size).as_numpy_iterator():
            actual.append(labels)
            for name, run in runs.items():
                predicted[name].append(np.asarray(run(images)).argmax(axis=1))
        labels = np.concatenate(actual)
        timing = spread_images(test, params.latency_images)
        keras_labels = np.concatenate(predicted["keras"])
        keras_accuracy = float(np.mean(keras_labels == labels))
        report = {"keras": {"test_accuracy": keras_accuracy, "latency_ms": round(latency_ms(runs["keras"], timing), 3)}}
        for name in (SAVED_MODEL, *FILES):
            mine = np.concatenate(predicted[name])
            accuracy = float(np.mean(mine == labels))
            if name in FILES:
                on_disk = {"file": FILES[name], "size_bytes": size_bytes(tmp / FILES[name])}
            else:  # the SavedModel: not kept, and its size varies with its fingerprint.pb
                on_disk = {"file": "(checked, not kept)"}
            report[name] = {
                **on_disk,
                "latency_ms": round(latency_ms(runs[name], timing), 3),
                "top1_agreement": float(np.mean(mine == keras_labels)),
                "test_accuracy": accuracy,
                "accuracy_delta": accuracy - keras_accuracy,
            }
        floats = (SAVED_MODEL, "tflite_float16", "onnx")
        broken = [n for n in floats if report[n]["top1_agreement"] < FLOAT_AGREEMENT]
        if broken:
            figures = ", ".join(f"{n} {report[n]['top1_agreement']:.2%}" for n in broken)
            raise PipelineError(
                f"exported models disagree with the Keras model on the test set ({figures}; at least "
                f"{FLOAT_AGREEMENT:.1%} expected): the conversion is broken; please report it with metrics/export.json"
            )
    return report
