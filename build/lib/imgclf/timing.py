"""metrics/timing.json: a run's wall-clock figures (training time and images/s, export latency), kept apart from
the outputs DVC hashes. Those are byte-identical for identical inputs, so dvc.lock is too and DVC's run-cache
works; timings differ on every run and would change both. DVC shows this file as a metric (dvc.yaml's top-level
`metrics:`), git tracks it, and each section names the md5 of the model it timed: a stage that DVC restored from
its run-cache does not run and leaves the file as it was, and a reader tells those figures from this model's."""

import hashlib
import json
from pathlib import Path

from imgclf.atomic import write_json


def record(timing_file: Path, stage: str, figures: dict, model_file: Path) -> None:
    """Sets the stage's section of the timing file (the other stages' sections stay), with the model's md5."""
    try:
        timing = json.loads(Path(timing_file).read_text())
    except (OSError, ValueError):
        timing = {}
    timing = timing if isinstance(timing, dict) else {}
    with open(model_file, "rb") as f:
        timing[stage] = {**figures, "model_md5": hashlib.file_digest(f, "md5").hexdigest()}
    write_json(timing_file, dict(sorted(timing.items())))


def timed_for(timing: dict, stage: str, model_md5: str | None) -> dict:
    """The stage's figures if they were measured on the model of that md5, else {}."""
    section = timing.get(stage) if isinstance(timing, dict) else None
    if not isinstance(section, dict) or not model_md5 or section.get("model_md5") != model_md5:
        return {}
    return {k: v for k, v in section.items() if k != "model_md5"}
