"""A study's record for its report: each trial as plain values, the settings the search ran with, and where its
numbers came from (experiments/provenance.py's, as a lab's report). Read from the Optuna study and the trials'
experiment commits."""

import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from imgclf.experiments.exp_show import data_md5_of, lock_at
from imgclf.experiments.provenance import other_setting, partial_reason_of, provenance_of
from imgclf.experiments.search_space import Space, values_of

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


@dataclass(frozen=True)
class Settings:
    """How the search ran: what a reader needs to run it again."""

    lab: str
    study: str
    storage: str  # without a password
    sampler: str
    pruner: str
    seed: int | None
    trials: int
    timeout_s: float | None
    tiny: bool
    overrides: dict = field(default_factory=dict)  # -S
    objective: str = "val_accuracy"  # or val_accuracy,COST: two objectives (imgclf/search/objectives.py)
    code_dirty: bool = False  # the trials ran uncommitted changes to the code DVC tracks (search/setup.py)
    history: str = "code"  # which experiments of the past the study learned from (search/history.py)


@dataclass(frozen=True)
class TrialRecord:
    number: int
    state: str
    experiment: str | None
    commit: str | None
    params: dict
    val_accuracy: float | None  # what the search maximised
    cost: float | None  # what a two-objective search kept small beside it
    test_accuracy: float | None
    test_loss: float | None
    epochs_run: int | None  # a pruned trial's: the epochs it trained
    seconds: float | None
    host: str | None
    error: str | None
    history: str | None = None  # an experiment of the past the study learned from: the commit it ran on


def trial_records(study, space: Space) -> list[TrialRecord]:
    records = []
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        state = "surplus" if a.get("surplus") else STATES.get(t.state.name, t.state.name.lower())  # ran nothing
        epochs = a.get("pruned_at_epoch") if state == "pruned" else a.get("epochs_run")
        values = (t.values or [None, None]) if state == "complete" else [None, None]
        records.append(
            TrialRecord(
                t.number, state, a.get("experiment"), a.get("commit"), values_of(t.params, space), values[0],
                values[1] if len(values) > 1 else None, a.get("test_accuracy"), a.get("test_loss"), epochs,
                None if seconds is None else round(seconds, 1), a.get("host"), a.get("error"), a.get("history"),
            )
        )  # fmt: skip
    return records


def ranked(records: list[TrialRecord]) -> list[TrialRecord]:
    """Completed trials, best validation accuracy first (ties: the earlier trial)."""
    return sorted((r for r in records if r.state == "complete"), key=lambda r: (-r.val_accuracy, r.number))


def pareto_front(records: list[TrialRecord]) -> list[TrialRecord]:
    """The completed trials no other beats on both objectives (higher val accuracy, lower cost), most accurate
    first; ties in both keep the earlier trial."""
    front: list[TrialRecord] = []
    done = [r for r in records if r.state == "complete" and r.cost is not None]
    for r in sorted(done, key=lambda r: (-r.val_accuracy, r.cost, r.number)):
        if all(r.cost < f.cost for f in front):
            front.append(r)
    return front


def study_partial_reason(settings: Settings, records: list[TrialRecord]) -> str | None:
    """Why this study may not replace the committed report (partial_reason_of), or None: all its trials done, on the
    lab's own setup (other_setting's rule, the seed counting), one at least completed."""
    counted = sum(r.state in ("complete", "pruned") and not r.history for r in records)
    unfinished = f"{counted} of its {settings.trials} trials done" if counted < settings.trials else None
    key = other_setting({}, settings.overrides, seeds_vary=False)
    other = "--tiny: a tiny sample" if settings.tiny else f"-S {key}: not the lab's setup" if key else None
    other = "uncommitted code" if settings.code_dirty else other
    return partial_reason_of(unfinished, other or (None if ranked(records) else "no trial completed"))


def study_provenance(records: list[TrialRecord], project: Path) -> dict:
    """A search's provenance: the commits the trials ran on (their experiments' parents), the data of the best one,
    the hosts that ran them."""
    parents = []
    for r in records:
        if not r.commit:
            continue
        shown = subprocess.run(["git", "rev-parse", f"{r.commit}^"], cwd=project, capture_output=True, text=True)
        if shown.returncode == 0:
            parents.append(shown.stdout.strip())
    best = ranked(records)
    data = data_md5_of(lock_at(project)(best[0].commit)) if best else None
    return provenance_of(parents, data, hosts=(r.host for r in records if r.host))


def as_json(settings: Settings, records: list[TrialRecord], source: dict, reason: str | None) -> dict:
    best = ranked(records)
    front = [r.number for r in pareto_front(records)] if "," in settings.objective else None
    return {
        "settings": asdict(settings),
        "best": asdict(best[0]) if best else None,
        "pareto_front": front,
        "partial": reason,
        "provenance": source,
        "trials": [asdict(r) for r in records],
    }
