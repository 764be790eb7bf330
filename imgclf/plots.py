"""plot: matplotlib PNGs of the training curves (from DVCLive's logs), the test confusion matrix and a grid of
misclassified test images."""

import csv
import math
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from imgclf.atomic import atomic_path
from imgclf.dataset import LabeledImages
from imgclf.errors import PipelineError
from imgclf.livelog import read_series


def plot_training_curves(live_dir: Path, out: Path) -> None:
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for split, label in (("train", "train"), ("eval", "validation")):
            ax.plot(*read_series(live_dir, split, metric), label=label)
        ax.set(title=metric.capitalize(), xlabel="epoch", ylabel=metric)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, out)


def read_predictions(path: Path) -> tuple[list[str], list[str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r["actual"] for r in rows], [r["predicted"] for r in rows]
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro evaluate` first") from None
    except KeyError as e:
        raise PipelineError(f"{path}: missing column {e}; expected actual,predicted") from None


def plot_confusion_matrix(predictions: Path, class_names: list[str], out: Path) -> None:
    actual, predicted = read_predictions(predictions)
    size = max(5.0, 0.55 * len(class_names) + 2)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        actual, predicted, labels=class_names, ax=ax, colorbar=False, xticks_rotation="vertical"
    )
    ax.set_title(f"Confusion matrix ({len(actual)} test images)")
    _save(fig, out)


def plot_misclassified(test: LabeledImages, predictions: Path, limit: int, out: Path) -> None:
    """The first `limit` test images the model got wrong, each titled with its true and predicted class."""
    actual, predicted = read_predictions(predictions)
    if actual != [test.class_names[label] for label in test.labels]:
        raise PipelineError(f"{predictions}: its rows do not match the test set; re-run `dvc repro evaluate`")
    wrong = [i for i, (a, p) in enumerate(zip(actual, predicted, strict=True)) if a != p][:limit]
    columns = max(1, math.ceil(math.sqrt(len(wrong))))
    rows = max(1, math.ceil(len(wrong) / columns))
    fig = Figure(figsize=(1.9 * columns, 2.1 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i in zip(axes, wrong, strict=False):
        image = test.images[i]
        ax.imshow(image[:, :, 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true: {actual[i]}\npred: {predicted[i]}", fontsize=9, color="firebrick")
    total = sum(a != p for a, p in zip(actual, predicted, strict=True))
    fig.suptitle(
        f"Misclassified test images: {len(wrong)} of {total} shown" if total else "No misclassified test images"
    )
    _save(fig, out)


def _save(fig: Figure, out: Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
