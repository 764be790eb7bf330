"""evaluate: test-set metrics, scikit-learn's classification report, and per-example predictions."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from sklearn.metrics import accuracy_score, classification_report, log_loss, precision_recall_fscore_support

from imgclf.atomic import write_json, write_text
from imgclf.data.shards import Shards
from imgclf.errors import PipelineError
from imgclf.training.input_pipeline import in_order


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    report_text: str
    report: dict
    actual: np.ndarray  # true class index per test image
    predictions: np.ndarray  # predicted class index per test image
    class_names: tuple[str, ...]


def evaluate(model: keras.Model, class_names: tuple[str, ...], test: Shards, batch_size: int, tta: bool) -> Evaluation:
    """Predicts the test set a shard at a time: only its labels and the probabilities stay in memory. With `tta`,
    each image's probabilities are averaged with its left-right mirror's (test-time augmentation)."""
    if test.class_names != class_names:
        raise PipelineError(
            f"the test set's classes {list(test.class_names)} differ from the model's {list(class_names)}; "
            "re-run `dvc repro`"
        )
    if tuple(model.input_shape[1:]) != test.image_shape:
        raise PipelineError(
            f"the model takes images of shape {model.input_shape[1:]}, the test set has {test.image_shape}"
        )
    labels_of_test = test.labels()
    images = in_order(test, batch_size).map(lambda x, _: x)
    probabilities = model.predict(images, verbose=0)
    if tta:
        mirrored = images.map(lambda x: keras.ops.flip(x, axis=2))
        probabilities = (probabilities + model.predict(mirrored, verbose=0)) / 2
    predictions = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels_of_test, predictions, labels=labels, average="macro", zero_division=0
    )
    metrics = {
        "test_accuracy": float(accuracy_score(labels_of_test, predictions)),
        "test_loss": float(log_loss(labels_of_test, probabilities, labels=labels)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
        "test_images": len(test),
    }
    report_args = dict(labels=labels, target_names=list(class_names), zero_division=0, digits=4)
    return Evaluation(
        metrics=metrics,
        report_text=classification_report(labels_of_test, predictions, **report_args),
        report=classification_report(labels_of_test, predictions, output_dict=True, **report_args),
        actual=labels_of_test,
        predictions=predictions,
        class_names=class_names,
    )


def predictions_csv(result: Evaluation) -> str:
    """`actual,predicted` class names, one row per test image: the input of DVC's confusion template."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["actual", "predicted"])
    names = result.class_names
    writer.writerows((names[a], names[p]) for a, p in zip(result.actual, result.predictions, strict=True))
    return out.getvalue()


def write_evaluation(result: Evaluation, metrics_dir: Path) -> None:
    metrics_dir = Path(metrics_dir)
    write_json(metrics_dir / "eval.json", result.metrics)
    write_text(metrics_dir / "classification_report.txt", result.report_text)
    write_json(metrics_dir / "classification_report.json", result.report)
    write_text(metrics_dir / "predictions.csv", predictions_csv(result))
