"""plot: matplotlib PNGs of the training curves (from DVCLive's logs) and the test confusion matrix."""

import csv
from pathlib import Path

from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from imgclf.atomic import atomic_path
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


def _save(fig: Figure, out: Path) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
