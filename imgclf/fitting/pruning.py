"""The Keras side of `imgclf tune`: each epoch's objective goes to the trial in the study's storage, and training
stops when the study's pruner says so. Only a trial's train stage has it (imgclf/trial_link.py)."""

import keras

from imgclf.trial_link import TrialLink, make_pruner, open_storage


class TrialPruning(keras.callbacks.Callback):
    def __init__(self, link: TrialLink) -> None:
        super().__init__()
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        pruner = make_pruner(link.pruner, link.epochs)  # as the tuner's: a study's pruner is not stored
        study = optuna.load_study(study_name=link.study, storage=open_storage(link.storage), pruner=pruner)
        self.trial = optuna.Trial(study, link.trial_id)
        self.objective = link.objective
        self.reports = len(study.directions) == 1  # Optuna takes no epoch figures from a two-objective trial
        self.pruned_at = 0  # the epoch after which the pruner stopped training; 0 while it has not

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.objective)
        if value is None or not self.reports:
            return
        self.trial.report(float(value), epoch + 1)
        last = (self.params or {}).get("epochs")  # the fit's last epoch: a run that reached it has nothing to save
        if (last is None or epoch + 1 < last) and self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.trial.set_user_attr("pruned_at_epoch", self.pruned_at)
            self.model.stop_training = True
