"""Does the workspace's params.yaml still hold the params its metrics were made with? `dvc exp run -S` leaves its
values in params.yaml, and a run that fails leaves them beside the previous run's metrics: shown together, one
run's settings would be paired with another run's results. dvc.lock records the params each stage last ran with."""

import json
from pathlib import Path

import yaml

from imgclf.config.yaml_file import load_text
from imgclf.exp_workspace import RESTORE_PARAMS
from imgclf.experiments.exp_show import shown_value
from imgclf.experiments.labs import flatten

METRIC_STAGES = ("fetch", "preprocess", "split", "train", "evaluate")  # what test accuracy and loss come from


def read(path: Path) -> dict:
    try:
        found = load_text(path.read_text()) if path.name == "params.yaml" else yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return found if isinstance(found, dict) else {}


def params_unlike_metrics(project: Path) -> dict[str, tuple[object, object]]:
    """key -> (its value in params.yaml, the value the metrics were made with), for each key that differs."""
    current = flatten(read(Path(project) / "params.yaml"))
    stages = read(Path(project) / "dvc.lock").get("stages") or {}
    differ = {}
    for stage in METRIC_STAGES:
        recorded = (((stages.get(stage) or {}).get("params")) or {}).get("params.yaml") or {}
        for key, made_with in flatten(recorded).items():
            if json.dumps(current.get(key)) != json.dumps(made_with):
                differ.setdefault(key, (current.get(key), made_with))
    return differ


def mismatch_warning(project: Path) -> str | None:
    """One line saying which params the workspace's metrics were not made with, or None when they agree."""
    differ = params_unlike_metrics(project)
    if not differ:
        return None
    shown = [f"{key} {shown_value(now)} (made with {shown_value(was)})" for key, (now, was) in list(differ.items())[:3]]
    more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
    return (
        f"the workspace's metrics were not made with its params.yaml: {', '.join(shown)}{more}; "
        f"`dvc repro` makes them, or `{RESTORE_PARAMS}` returns to the committed params"
    )
