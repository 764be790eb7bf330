"""The Keras side of `imgclf tune`: each epoch's objective goes to the trial in the study's storage, and training
stops when the study's pruner says so, or when the trial is no longer the study's to run: its tuner is gone, or
another machine failed it as stale (and runs its params again). Only a trial's train stage has it
(imgclf/search/link.py)."""

import keras

from imgclf.errors import PipelineError
from imgclf.search.link import TrialLink, tuner_alive
from imgclf.search.steady_storage import gone_line, sqlite_path, storage_faults_as_lines
from imgclf.search.storage import Storage, redacted
from imgclf.search.study import make_pruner

RERUN = "run the tuner's command again"


class TrialPruning(keras.callbacks.Callback):
    def __init__(self, link: TrialLink) -> None:
        super().__init__()
        self.link = link
        self.storage: Storage | None = None
        with self.storage_faults():
            self._load(link)

    def _load(self, link: TrialLink) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        if link.storage.startswith("sqlite") and not sqlite_path(link.storage).exists():  # not a new, empty one
            raise PipelineError(gone_line(sqlite_path(link.storage), RERUN))
        self.storage = Storage(link.storage)
        pruner = make_pruner(link.pruner, link.epochs)  # as the tuner's: a study's pruner is not stored
        try:
            study = optuna.load_study(study_name=link.study, storage=self.storage.optuna, pruner=pruner)
        except KeyError:
            raise PipelineError(f"{redacted(link.storage)} has no study {link.study} (replaced?); {RERUN}") from None
        self.trial = optuna.Trial(study, self.storage.trial_id(link.study, link.trial))
        self.reports = len(study.directions) == 1  # Optuna takes no epoch figures from a two-objective trial
        self.pruned_at = 0  # the epoch after which the pruner stopped training; 0 while it has not

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with self.storage_faults():
            self._epoch_end(epoch, logs)

    def _epoch_end(self, epoch: int, logs: dict | None) -> None:
        self._orphaned()
        value = (logs or {}).get(self.link.objective)
        if value is None or not self.reports:
            return
        self.trial.report(float(value), epoch + 1)
        last = (self.params or {}).get("epochs")  # the fit's last epoch: a run that reached it has nothing to save
        if (last is None or epoch + 1 < last) and self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.trial.set_user_attr("pruned_at_epoch", self.pruned_at)
            self.model.stop_training = True

    def stop_if_orphaned(self) -> None:
        """Raises when the study no longer waits for this training: its result would count nowhere."""
        with self.storage_faults():
            self._orphaned()

    def storage_faults(self):
        opened = self.storage.opened if self.storage else None
        return storage_faults_as_lines(self.link.storage, redacted(self.link.storage), RERUN, opened)

    def _orphaned(self) -> None:
        where = f"trial {self.link.trial} of study {self.link.study}"
        if not tuner_alive(self.link):
            raise PipelineError(f"{where}: its tuner (pid {self.link.tuner_pid}) is gone; stopped training")
        state = self.storage.state(self.link.study, self.link.trial)
        if state != "RUNNING":
            raise PipelineError(f"{where} is {state.lower()} in the study, no longer running; stopped training")
