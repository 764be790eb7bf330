"""How `imgclf tune` tells the train stage of a trial's `dvc exp run` which Optuna trial it is, and which tuner runs
it: environment variables, which DVC passes on to the stages of a `--temp` run. A `dvc repro` or a plain `dvc exp
run` has none of them, so its training is the same, byte for byte; re-running a trial's experiment is such a run."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "IMGCLF_TUNE_"
FIELDS = {  # the variable after PREFIX -> what it holds
    "STORAGE": "the study's storage URL, absolute: the run happens in a copy of the repo",
    "STUDY": "the study's name",
    "TRIAL": "the trial's number in the study",
    "OBJECTIVE": "the Keras log the pruner watches, e.g. val_accuracy",
    "PRUNER": "the study's pruner (Optuna keeps none in storage): median, hyperband, halving or none",
    "EPOCHS": "the training's epochs, the budget of hyperband and halving",
    "TUNER_PID": "the tuner's process id: a trial stops when its tuner is gone",
    "TUNER_STARTED": "when that process started (seconds since the epoch): a reused pid is another process",
}


@dataclass(frozen=True)
class TrialLink:
    storage: str
    study: str
    trial: int
    pruner: str = "median"
    epochs: int = 1
    objective: str = "val_accuracy"
    tuner_pid: int = 0
    tuner_started: float = 0.0

    def env(self) -> dict[str, str]:
        values = (self.storage, self.study, self.trial, self.objective, self.pruner, self.epochs, self.tuner_pid,
                  self.tuner_started)  # fmt: skip
        return {PREFIX + name: str(value) for name, value in zip(FIELDS, values, strict=True)}


def trial_link(env: Mapping[str, str] = os.environ) -> TrialLink | None:
    """The trial this run belongs to, or None outside `imgclf tune`."""
    if not env.get(PREFIX + "TRIAL"):
        return None
    value = {name: env.get(PREFIX + name, "") for name in FIELDS}
    return TrialLink(
        value["STORAGE"], value["STUDY"], int(value["TRIAL"]), value["PRUNER"] or "median", int(value["EPOCHS"] or 1),
        value["OBJECTIVE"] or "val_accuracy", int(value["TUNER_PID"] or 0), float(value["TUNER_STARTED"] or 0),
    )  # fmt: skip


def process_started(pid: int) -> float | None:
    """When process `pid` started, or None when there is none."""
    import psutil

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return None


def tuner_alive(link: TrialLink) -> bool:
    """Whether the tuner that started this trial still runs (on this machine: DVC runs its stages locally)."""
    if not link.tuner_pid:
        return True
    return process_started(link.tuner_pid) == link.tuner_started
