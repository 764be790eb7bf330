"""Reading back DVCLive's per-epoch logs (what `DVCLiveCallback` writes for Keras: train/ and eval/ series), and
the y axis a curve of them is drawn on."""

import csv
import math
from collections.abc import Iterable
from pathlib import Path

from imgclf.errors import PipelineError

WIDE_RANGE = 20.0  # largest / smallest value at which a linear axis stops showing the small ones


def read_series(live_dir: Path, split: str, metric: str) -> tuple[list[int], list[float]]:
    """(epochs counted from 1, values) of one metric; split is "train" or "eval" (validation)."""
    path = Path(live_dir) / "plots" / "metrics" / split / f"{metric}.tsv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return [int(r["step"]) + 1 for r in rows], [float(r[metric]) for r in rows]
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro train` first") from None
    except (KeyError, ValueError, TypeError) as e:
        raise PipelineError(f"{path}: not a DVCLive log with columns step and {metric} ({e})") from None


def keras_series(live_dir: Path, keras_name: str) -> list[float]:
    """A Keras history key (loss, val_accuracy, ...) as DVCLive logged it."""
    split, metric = ("eval", keras_name[4:]) if keras_name.startswith("val_") else ("train", keras_name)
    return read_series(live_dir, split, metric)[1]


def needs_log_scale(values: Iterable[float]) -> bool:
    """Whether a curve goes on a log axis: its values are all positive and span WIDE_RANGE or more. A photo run's
    first epoch can end with a loss of 60 and the next ones near 0.5; on a linear axis every epoch after the first
    lies flat along the bottom."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= WIDE_RANGE
