"""A running experiment's progress, read from the DVCLive log in the folder DVC runs it in. `dvc exp show` names
that folder but reads only the metrics files dvc.yaml declares, which the train stage writes when it ends."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from imgclf.experiments.vega import LIVE_SERIES
from imgclf.livelog import parse_series

VAL_SERIES = f"{LIVE_SERIES}/eval/accuracy.tsv"  # validation accuracy per epoch, as DVCLive logs it


@dataclass(frozen=True)
class Progress:
    epochs: int  # epochs DVCLive has logged so far
    best_val_accuracy: float | None  # the best of them, as metrics/train.json will say when the run ends


def progress_in(root: str | None) -> Progress | None:
    """The progress logged under a running experiment's folder; None where it has logged nothing yet. Until its
    train stage logs, the folder holds the log its commit holds (an earlier run's), which is not its progress."""
    if not root:
        return None
    try:
        text = (Path(root) / VAL_SERIES).read_text()
    except (OSError, UnicodeDecodeError):
        return None
    committed = subprocess.run(["git", "show", f"HEAD:{VAL_SERIES}"], cwd=root, capture_output=True, text=True)
    if committed.returncode == 0 and committed.stdout == text:
        return None
    try:
        values = list(parse_series(text, "accuracy").values())
    except ValueError:
        return None
    return Progress(len(values), max(values)) if values else None
