"""evaluate: test-set metrics, scikit-learn's classification report, and per-example predictions."""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    log_loss,
    precision_recall_fscore_support,
)

from imgclf.atomic import write_json, write_text
from imgclf.data.shards import Shards
from imgclf.errors import PipelineError
from imgclf.modeling.input_pipeline import in_order


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    report_text: str
    report: dict
    actual: np.ndarray  # true class index per test image
    predictions: np.ndarray  # predicted class index per test image
    class_names: tuple[str, ...]


def evaluate(
    model: keras.Model, class_names: tuple[str, ...], test: Shards, batch_size: int, tta: bool, tta_shift: int
) -> Evaluation:
    """Predicts the test set a shard at a time: only its labels and the probabilities stay in memory. The
    test-time views `tta` and `tta_shift` are those of `predict_views`."""
    if test.class_names != class_names:
        raise PipelineError(
            f"the test set's classes {list(test.class_names)} differ from the model's {list(class_names)}; "
            "re-run `dvc repro`"
        )
    if tuple(model.input_shape[1:]) != test.image_shape:
        raise PipelineError(
            f"the model takes images of shape {model.input_shape[1:]}, the test set has {test.image_shape}"
        )
    if tta_shift >= min(test.image_shape[:2]):
        raise PipelineError(
            f"evaluate.tta_shift: {tta_shift} pixels is not less than the test images' side "
            f"{min(test.image_shape[:2])}; set it to 0 (no shifted views) or 1-2, as airbench94's 1"
        )
    labels_of_test = test.labels()
    probabilities = predict_views(model, in_order(test, batch_size).map(lambda x, _: x), tta, tta_shift)
    predictions = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels_of_test, predictions, labels=labels, average="macro", zero_division=0
    )
    metrics = {
        "test_accuracy": float(accuracy_score(labels_of_test, predictions)),
        "balanced_accuracy": float(balanced_accuracy_score(labels_of_test, predictions)),  # the classes' mean recall
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


FAR_BELOW = 0.5  # a class whose recall is under this share of the other classes' median recall is called out


def neglected_class(result: Evaluation) -> str | None:
    """One line when accuracy hides a class: its recall is 0, or far below the others'; else None."""
    recalls = {n: result.report[n]["recall"] for n in result.class_names if result.report[n]["support"] > 0}
    if len(recalls) < 2:
        return None
    worst = min(recalls, key=recalls.get)
    others = float(np.median([r for n, r in recalls.items() if n != worst]))
    if recalls[worst] > 0 and recalls[worst] >= FAR_BELOW * others:
        return None
    support = int(result.report[worst]["support"])
    found = round(recalls[worst] * support)
    m = result.metrics
    return (
        f"class {worst} has recall {recalls[worst]:.2%} ({found} of {support} test images), against a median of "
        f"{others:.2%} for the others: accuracy {m['test_accuracy']:.2%} hides it (balanced accuracy "
        f"{m['balanced_accuracy']:.2%}); try train.class_weight: balanced"
    )


def predict_views(model: keras.Model, images: tf.data.Dataset, tta: bool, tta_shift: int) -> np.ndarray:
    """The model's probabilities for each image. With `tta`, averaged with those of its left-right mirror. With
    `tta_shift`, half of the result comes from two shifted copies, `tta_shift` pixels up-left and down-right with
    the borders reflected, each also mirrored with `tta`: airbench94's test-time views."""

    def mirror_averaged(views: tf.data.Dataset) -> np.ndarray:
        probabilities = model.predict(views, verbose=0)
        if tta:
            probabilities = (probabilities + model.predict(views.map(lambda x: tf.reverse(x, axis=[2])), verbose=0)) / 2
        return probabilities

    probabilities = mirror_averaged(images)
    if tta_shift:
        s = tta_shift
        padded = images.map(lambda x: tf.pad(x, [[0, 0], [s, s], [s, s], [0, 0]], mode="REFLECT"))
        down_right = mirror_averaged(padded.map(lambda x: x[:, : -2 * s, : -2 * s]))
        up_left = mirror_averaged(padded.map(lambda x: x[:, 2 * s :, 2 * s :]))
        probabilities = probabilities / 2 + (down_right + up_left) / 4
    return probabilities


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
