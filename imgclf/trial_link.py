"""How `imgclf tune` tells the train stage of a trial's `dvc exp run` which Optuna trial it is: environment
variables, which DVC passes on to the stages of a `--temp` run. A `dvc repro` or a plain `dvc exp run` has none of
them, so its training is the same, byte for byte; re-running a trial's experiment is such a run."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from imgclf.errors import PipelineError

STORAGE = "IMGCLF_TUNE_STORAGE"  # the study's storage URL, absolute: the run happens in a copy of the repo
STUDY = "IMGCLF_TUNE_STUDY"
TRIAL_ID = "IMGCLF_TUNE_TRIAL_ID"  # Optuna's trial id in that storage
OBJECTIVE = "IMGCLF_TUNE_OBJECTIVE"  # the Keras log the pruner watches, e.g. val_accuracy
PRUNER = "IMGCLF_TUNE_PRUNER"  # the study's pruner (Optuna keeps none in storage): its name and the epochs
PRUNERS = ("median", "hyperband", "halving", "none")


@dataclass(frozen=True)
class TrialLink:
    storage: str
    study: str
    trial_id: int
    pruner: str = "median"
    epochs: int = 1
    objective: str = "val_accuracy"

    def env(self) -> dict[str, str]:
        return {
            STORAGE: self.storage,
            STUDY: self.study,
            TRIAL_ID: str(self.trial_id),
            PRUNER: f"{self.pruner}:{self.epochs}",
            OBJECTIVE: self.objective,
        }


def trial_link(env: Mapping[str, str] = os.environ) -> TrialLink | None:
    """The trial this run belongs to, or None outside `imgclf tune`."""
    if not env.get(TRIAL_ID):
        return None
    pruner, _, epochs = env.get(PRUNER, "median:1").partition(":")
    return TrialLink(env[STORAGE], env[STUDY], int(env[TRIAL_ID]), pruner, int(epochs or 1), env[OBJECTIVE])


def open_storage(url: str, heartbeat_s: int | None = None):
    """Optuna's storage at `url`, as the tuner and each trial's train stage open it: SQLite waits up to a minute
    for its lock (a trial writes once an epoch, beside the tuner's heartbeat), instead of failing at once. With
    `heartbeat_s`, the tuner's running trials beat that often; one silent for 3 beats is failed, and its params run
    once more (Optuna's RetryHeartbeatStaleTrialCallback)."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    warnings.filterwarnings("ignore", category=ExperimentalWarning)  # heartbeats: experimental since Optuna 2.9
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    if heartbeat_s is None:
        return RDBStorage(url, engine_kwargs=engine)
    retry = RetryHeartbeatStaleTrialCallback(max_retry=1)
    beat = {"heartbeat_interval": heartbeat_s, "grace_period": 3 * heartbeat_s, "heartbeat_stale_trial_callback": retry}
    return RDBStorage(url, engine_kwargs=engine, **beat)


def make_pruner(name: str, epochs: int):
    """median: from a trial's 2nd epoch on, stop it when its figure is below the median of the earlier trials' at
    that epoch, once 2 trials have finished. Hyperband and successive halving take epochs as their budget."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise PipelineError(f"--pruner {name}: choose one of {', '.join(PRUNERS)}")
