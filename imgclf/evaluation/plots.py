"""plot: matplotlib PNGs of the training curves (from DVCLive's logs), the test confusion matrix and a grid of
misclassified test images."""

import csv
import itertools
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from sklearn.metrics import ConfusionMatrixDisplay

from imgclf.atomic import atomic_path
from imgclf.data.shards import Shards
from imgclf.errors import PipelineError
from imgclf.livelog import needs_log_scale, read_series


def training_curves(live_dir: Path) -> Figure:
    """Loss and accuracy per epoch, training beside validation; the x axis marks whole epochs only, and a loss that
    spans orders of magnitude goes on a log axis (imgclf.livelog)."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        values = []
        for split, label in (("train", "train"), ("eval", "validation")):
            epochs, series = read_series(live_dir, split, metric)
            ax.plot(epochs, series, label=label)
            values += list(series)
        logarithmic = metric == "loss" and needs_log_scale(values)
        if logarithmic:  # ticks at 1, 2 and 5 of each power of ten, written as plain numbers
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
        scale = " (log scale)" if logarithmic else ""
        ax.set(title=metric.capitalize() + scale, xlabel="epoch", ylabel=metric + scale)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        ax.legend()
    return fig


def plot_training_curves(live_dir: Path, out: Path) -> None:
    _save(training_curves(live_dir), out)


def read_predictions(path: Path) -> tuple[list[str], list[str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return [r["actual"] for r in rows], [r["predicted"] for r in rows]
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro evaluate` first") from None
    except KeyError as e:
        raise PipelineError(f"{path}: missing column {e}; expected actual,predicted") from None


LABELLED_CLASSES = 30  # a confusion matrix with more rows is unreadable (and each cell's label costs memory)


def plot_confusion_matrix(predictions: Path, class_names: list[str], out: Path) -> None:
    """Every class, each cell labelled; past LABELLED_CLASSES classes, the most confused of them only (most errors,
    as the true or the predicted class), so the picture stays readable and its size bounded."""
    actual, predicted = read_predictions(predictions)
    index = {name: i for i, name in enumerate(class_names)}
    pairs = np.array([(index[a], index[p]) for a, p in zip(actual, predicted, strict=True)]).reshape(-1, 2)
    title = f"Confusion matrix ({len(actual)} test images)"
    shown = np.arange(len(class_names))
    if len(class_names) > LABELLED_CLASSES:
        wrong = pairs[pairs[:, 0] != pairs[:, 1]]
        errors = np.bincount(wrong.ravel(), minlength=len(class_names))
        most = np.argsort(-errors, kind="stable")[:LABELLED_CLASSES]
        shown = np.sort(most[errors[most] > 0] if np.count_nonzero(errors) >= 2 else most)  # no error-free filler
        title = f"The {len(shown)} most confused of {len(class_names)} classes\n({len(actual)} test images)"
    position = np.full(len(class_names), -1)
    position[shown] = np.arange(len(shown))
    kept = pairs[(position[pairs[:, 0]] >= 0) & (position[pairs[:, 1]] >= 0)]
    counts = np.zeros((len(shown), len(shown)), np.int64)
    np.add.at(counts, (position[kept[:, 0]], position[kept[:, 1]]), 1)
    size = max(5.0, 0.55 * len(shown) + 2)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.subplots()
    names = [class_names[i] for i in shown]
    ConfusionMatrixDisplay(counts, display_labels=names).plot(ax=ax, colorbar=False, xticks_rotation="vertical")
    ax.set_title(title)
    _save(fig, out)


def pick_misclassified(actual: list[str], predicted: list[str], limit: int) -> list[int]:
    """Up to `limit` wrongly classified images, taken from each true class in turn (the first wrong one of every
    class, then the second...), so that a grid shows the classes' mistakes, not only the first classes'."""
    by_class: dict[str, list[int]] = {}
    for i, (a, p) in enumerate(zip(actual, predicted, strict=True)):
        if a != p:
            by_class.setdefault(a, []).append(i)
    rounds = itertools.zip_longest(*by_class.values())
    return [i for turn in rounds for i in turn if i is not None][:limit]


def plot_misclassified(test: Shards, predictions: Path, limit: int, out: Path) -> None:
    """Up to `limit` test images the model got wrong, across classes, each titled with its true and predicted
    class."""
    actual, predicted = read_predictions(predictions)
    if actual != [test.class_names[label] for label in test.labels()]:
        raise PipelineError(f"{predictions}: its rows do not match the test set; re-run `dvc repro evaluate`")
    wrong = pick_misclassified(actual, predicted, limit)
    images = test.take(wrong)
    columns = max(1, math.ceil(math.sqrt(len(wrong))))
    rows = max(1, math.ceil(len(wrong) / columns))
    fig = Figure(figsize=(1.9 * columns, 2.1 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, i, image in zip(axes, wrong, images, strict=False):
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
