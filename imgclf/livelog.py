"""Reading back DVCLive's per-epoch logs (what `DVCLiveCallback` writes for Keras: train/ and eval/ series)."""

import csv
from pathlib import Path

from imgclf.errors import PipelineError


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
