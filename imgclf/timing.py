"""metrics/timing.json: an experiment's wall-clock figures (training time and images/s, export latency), kept apart
from the outputs DVC hashes. Those are byte-identical for identical inputs, so dvc.lock is too and DVC's run-cache
works; timings differ on every run and would change both. DVC shows this file as a metric (dvc.yaml's top-level
`metrics:`) and commits it with each experiment. The commit holds it empty, and a plain `dvc repro` leaves it
so (it removes the stage's section an earlier experiment left): a run's times are not a result to commit, and
`git status` stays clean after `make repro`. Each section names the md5 of the model it timed: a stage that DVC
restored from its run-cache does not run and leaves the file as it was, and a reader tells those figures from
this model's."""

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from imgclf.atomic import write_json
from imgclf.exp_workspace import in_experiment


def record(timing_file: Path, stage: str, figures: dict, model_file: Path, env: Mapping[str, str] = os.environ) -> None:
    """In an experiment, sets the stage's section of the timing file (the other stages' sections stay), with the
    model's md5; in a plain `dvc repro`, removes it. The file is rewritten only when that changes it."""
    try:
        read = json.loads(Path(timing_file).read_text())
    except (OSError, ValueError):
        read = None
    timing = dict(read) if isinstance(read, dict) else {}
    if in_experiment(env):
        with open(model_file, "rb") as f:
            timing[stage] = {**figures, "model_md5": hashlib.file_digest(f, "md5").hexdigest()}
    else:
        timing.pop(stage, None)
    if timing != read:
        write_json(timing_file, dict(sorted(timing.items())))


def timed_for(timing: dict, stage: str, model_md5: str | None) -> dict:
    """The stage's figures if they were measured on the model of that md5, else {}."""
    section = timing.get(stage) if isinstance(timing, dict) else None
    if not isinstance(section, dict) or not model_md5 or section.get("model_md5") != model_md5:
        return {}
    return {k: v for k, v in section.items() if k != "model_md5"}
