"""`dvc exp show --json`, read: each experiment's params, test metrics, training figures, the commit it ran on and
the md5 of the data it trained and was tested on. compare, report and sweep read experiments through here."""

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from imgclf.experiments.labs import flatten
from imgclf.timing import timed_for

# What an experiment trained and tested on, and the stage that read each: `dvc exp show` merges every stage's deps
# into one entry per path, where a stage the run did not reach (export, after a sweep's `plot`) still holds the
# hashes of an older run's data.
DATA_DEPS = {"data/split/train": "train", "data/split/val": "train", "data/split/test": "evaluate"}


@dataclass(frozen=True)
class Result:
    name: str
    params: dict[str, object]  # flattened: dotted key -> value
    accuracy: float  # test
    loss: float  # test
    train_seconds: float | None  # None: train was restored from DVC's run-cache, not timed in this run
    images_per_second: float | None
    epochs_run: int | None = None  # None for experiments run before train.json had these
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    commit: str | None = None  # the baseline commit the experiment ran on
    data_md5: dict[str, str] | None = None  # DATA_DEPS -> DVC's md5 of each, from its run's dvc.lock
    balanced_accuracy: float | None = None  # test: the classes' mean recall (None before eval.json had it)
    f1_macro: float | None = None  # test


@dataclass
class Experiments:
    """`dvc exp show --json`, read: the finished experiments, the state of the others, the committed params."""

    finished: dict[str, Result] = field(default_factory=dict)
    unfinished: dict[str, str] = field(default_factory=dict)  # name -> queued, running or failed
    committed: dict[str, object] = field(default_factory=dict)  # the baseline commit's params, flattened


def params_of(data: dict) -> dict[str, object]:
    """The params.yaml of one experiment (or commit) of `dvc exp show --json`, flattened."""
    return flatten(((data.get("params") or {}).get("params.yaml") or {}).get("data") or {})


def data_md5_of(lock: dict) -> dict[str, str] | None:
    """DVC's md5 of DATA_DEPS as the stages that read them recorded it in one run's dvc.lock."""
    stages = (lock.get("stages") if isinstance(lock, dict) else None) or {}
    found = {}
    for path, stage in DATA_DEPS.items():
        deps = (stages.get(stage) or {}).get("deps") or []
        found[path] = next((d.get("md5") for d in deps if isinstance(d, dict) and d.get("path") == path), None)
    return {path: md5 for path, md5 in found.items() if md5} or None


def lock_at(project: Path) -> Callable[[str], dict]:
    """A function from a git revision (an experiment's, a commit's) to that revision's dvc.lock, read."""

    def read(rev: str) -> dict:
        shown = subprocess.run(["git", "show", f"{rev}:dvc.lock"], cwd=project, capture_output=True, text=True)
        return (yaml.safe_load(shown.stdout) or {}) if shown.returncode == 0 else {}

    return read


def result_of(name: str, data: dict, commit: str | None = None, lock: dict | None = None) -> Result | None:
    """One experiment (or commit) of `dvc exp show --json`, with the dvc.lock of its revision; None without test
    metrics."""
    metrics = data.get("metrics") or {}
    evaluation = (metrics.get("metrics/eval.json") or {}).get("data")
    training = (metrics.get("metrics/train.json") or {}).get("data")
    params = params_of(data)
    if not (evaluation and training and params and "test_accuracy" in evaluation):
        return None
    model_md5 = ((data.get("outs") or {}).get("models/model.keras") or {}).get("hash")
    timing = timed_for((metrics.get("metrics/timing.json") or {}).get("data") or {}, "train", model_md5) or training
    return Result(
        name=name,
        params=params,
        accuracy=evaluation["test_accuracy"],
        loss=evaluation["test_loss"],
        train_seconds=timing.get("train_seconds"),  # train.json held it before timing.json
        images_per_second=timing.get("images_per_second"),
        epochs_run=training.get("epochs_run"),
        best_epoch=training.get("best_epoch"),
        best_val_accuracy=training.get("best_val_accuracy"),
        commit=commit,
        data_md5=data_md5_of(lock or {}),
        balanced_accuracy=evaluation.get("balanced_accuracy"),
        f1_macro=evaluation.get("f1_macro"),
    )


def experiment_runs(
    baseline: dict, lock_of: Callable[[str], dict] | None = None
) -> Iterator[tuple[str, dict, str, Result | None]]:
    """The experiments of one baseline of `dvc exp show --json`: name (or short rev), entry, state and result. A
    run without test metrics has none: queued, running or failed, or a success that is not one (its metrics are
    the baseline's), which counts as failed. `lock_of`: a revision's dvc.lock (lock_at), for the data md5s."""
    commit = baseline.get("rev") if baseline.get("rev") != "workspace" else None
    for group in baseline.get("experiments") or []:
        state = (group.get("executor") or {}).get("state", "success")
        for exp in group.get("revs") or []:
            name = exp.get("name") or str(exp.get("rev", ""))[:7]
            lock = lock_of(exp["rev"]) if lock_of and state == "success" and exp.get("rev") else None
            result = result_of(name, exp.get("data") or {}, commit, lock) if state == "success" else None
            yield name, exp, "failed" if state == "success" and not result else state, result


def read_experiments(shown: list[dict], lock_of: Callable[[str], dict] | None = None) -> Experiments:
    """`dvc exp show --json` -> Experiments; where a name ran twice, the newest run counts. Without `lock_of`, the
    results hold no data md5s."""
    found = Experiments()
    newest: dict[str, str] = {}
    for baseline in shown:
        if baseline.get("rev") != "workspace" and not found.committed:
            found.committed = params_of(baseline.get("data") or {})
        for name, exp, state, result in experiment_runs(baseline, lock_of):
            stamp = (exp.get("data") or {}).get("timestamp") or ""
            if not exp.get("name") or (name in newest and newest[name] >= stamp):
                continue
            newest[name] = stamp
            found.finished.pop(name, None)
            found.unfinished.pop(name, None)
            if result:
                found.finished[name] = result
            else:
                found.unfinished[name] = state
    return found


def shown_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(shown_value, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def differing_keys(results: list) -> list[str]:
    """The params keys whose value differs between the results (anything with a `params` dict)."""
    keys = dict.fromkeys(key for r in results for key in r.params)
    return [k for k in keys if len({json.dumps(r.params.get(k)) for r in results}) > 1]
