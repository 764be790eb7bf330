"""Reading back DVCLive's per-epoch logs (what `DVCLiveCallback` writes for Keras: train/ and eval/ series), and
the y axis a curve of them is drawn on."""

import math
from collections.abc import Iterable
from pathlib import Path

from imgclf.errors import PipelineError

WIDE_RANGE = 20.0  # largest / smallest value at which a linear axis stops showing the small ones


def parse_series(text: str, metric: str) -> dict[int, float]:
    """A DVCLive series' TSV text (a header naming `step` and the metric, then a row per epoch) as {epoch counted
    from 1: value}. A last line that is not numbers is the one DVCLive is writing now, and is left out; any other
    raises ValueError."""
    header, *rows = text.splitlines() or [""]
    step_at, value_at = header.split("\t").index("step"), header.split("\t").index(metric)
    found = {}
    for number, line in enumerate(rows, 1):
        fields = line.split("\t")
        try:
            found[int(fields[step_at]) + 1] = float(fields[value_at])
        except (IndexError, ValueError):
            if number < len(rows):
                raise ValueError(f"line {number + 1} is not a step and a number: {line!r}") from None
    return found


def read_series(live_dir: Path, split: str, metric: str) -> tuple[list[int], list[float]]:
    """(epochs counted from 1, values) of one metric; split is "train" or "eval" (validation)."""
    path = Path(live_dir) / "plots" / "metrics" / split / f"{metric}.tsv"
    try:
        series = parse_series(path.read_text(encoding="utf-8"), metric)
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run `dvc repro train` first") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PipelineError(f"{path}: not a DVCLive log with columns step and {metric} ({e})") from None
    return list(series), list(series.values())


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
