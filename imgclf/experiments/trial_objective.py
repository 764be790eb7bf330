"""What one trial of `imgclf tune` does: sample the space, run the experiment, and give the study its figure."""

from dataclasses import dataclass, field
from pathlib import Path

from imgclf.errors import PipelineError
from imgclf.experiments.labs import Experiment, Overrides, check
from imgclf.experiments.objectives import Objective
from imgclf.experiments.search_space import Space, sample
from imgclf.experiments.study import STUDY_DIR, owner
from imgclf.experiments.trial_run import (
    TrialFailed,
    TrialProcesses,
    experiment_commit,
    experiment_name,
    push_experiment,
    read_result,
    run_experiment,
)
from imgclf.trial_link import TrialLink


@dataclass(frozen=True)
class TrialObjective:
    project: Path
    committed: dict  # the committed params.yaml
    shared: Overrides  # the lab's base, its tiny sample's, -S
    space: Space
    storage: str
    study: str
    pruner: str
    epochs: int
    keeps_best: bool  # early stopping restores the best epoch's weights
    processes: TrialProcesses
    push: str | None = None  # a git remote: each completed trial's experiment and data go there (dvc exp push)
    objective: Objective = field(default_factory=Objective)

    def __call__(self, trial) -> float | tuple[float, float]:
        """The trial's val accuracy (and its cost, in a two-objective study); a pruned trial raises
        optuna.TrialPruned, a failed one TrialFailed."""
        for key, value in owner().items():
            trial.set_user_attr(key, value)
        values = sample(trial, self.space)
        run = Experiment(experiment_name(self.study, trial.number), {**self.shared, **values}, values)
        trial.set_user_attr("experiment", run.name)
        log = self.project / STUDY_DIR / self.study / f"{run.name}.log"
        try:
            check(self.committed, [run])
            link = TrialLink(self.storage, self.study, trial._trial_id, self.pruner, self.epochs)
            run_experiment(run, self.committed, link, self.project, log, self.processes)
        except (TrialFailed, PipelineError) as e:
            if "pruned_at_epoch" in trial.study._storage.get_trial_user_attrs(trial._trial_id):
                import optuna

                raise optuna.TrialPruned() from None
            trial.set_user_attr("error", str(e))
            raise TrialFailed(str(e)) from None
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        result = read_result(experiment_commit(run.name, self.project), self.project, self.keeps_best)
        for key, value in vars(result).items():
            trial.set_user_attr(key, value)
        if self.push:
            trial.set_user_attr("pushed", push_experiment(run.name, self.push, self.project))
        if not self.objective.multi:
            return result.val_accuracy
        return result.val_accuracy, cost_of(trial, self.objective.cost, getattr(result, self.objective.cost))


def cost_of(trial, cost: str, measured: float | None) -> float:
    """The trial's cost. DVC's run cache restores a training it has seen (a trial whose params an earlier one had)
    without running it, so there is no time of its own: the earlier trial's is taken."""
    if measured is not None:
        return float(measured)
    same = [t for t in trial.study.get_trials(deepcopy=False) if t.params == trial.params and t.number != trial.number]
    earlier = [t.user_attrs[cost] for t in same if t.user_attrs.get(cost) is not None]
    if not earlier:
        raise TrialFailed(f"its {cost} is unknown: DVC's run cache restored its training, which no trial timed")
    trial.set_user_attr(cost, earlier[0])
    return float(earlier[0])
