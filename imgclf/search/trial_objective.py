"""What one trial of `imgclf tune` does: sample the space, run the experiment, and give the study its figure."""

from dataclasses import dataclass

import yaml

from imgclf.errors import PipelineError
from imgclf.experiments.exp_show import data_md5_of, lock_at
from imgclf.experiments.labs import Experiment, check, flatten
from imgclf.experiments.search_space import same_value, sample
from imgclf.search.link import TrialLink
from imgclf.search.objectives import ACCURACY
from imgclf.search.plan import Search
from imgclf.search.setup import data_check
from imgclf.search.storage import STUDY_DIR, owner, tuner
from imgclf.search.study import is_surplus
from imgclf.search.trial_run import (
    TrialFailed,
    TrialProcesses,
    experiment_commit,
    experiment_name,
    git,
    push_experiment,
    read_result,
    remove_experiments,
    run_experiment,
)


class Surplus(TrialFailed):
    """The study had its trials finished or running elsewhere when this one started: it ran nothing."""


@dataclass(frozen=True)
class TrialObjective:
    search: Search
    processes: TrialProcesses

    def __call__(self, trial) -> float | tuple[float, float]:
        """The trial's val accuracy (and its cost, in a two-objective study); a pruned trial raises
        optuna.TrialPruned, a failed one TrialFailed."""
        s = self.search
        for key, value in owner().items():
            trial.set_user_attr(key, value)
        if is_surplus(trial.study, trial.number, s.trials):
            trial.set_user_attr("surplus", True)
            raise Surplus(f"the study had {s.trials} trials finished or running when trial {trial.number} began")
        values = sample(trial, s.space)
        run = Experiment(experiment_name(s.study, trial.number), {**s.shared, **values}, values)
        trial.set_user_attr("experiment", run.name)
        log = s.project / STUDY_DIR / s.study / f"{run.name}.log"
        try:
            check(s.committed, [run])
            link = TrialLink(s.storage.url, s.study, trial.number, s.pruner, s.epochs, ACCURACY, *tuner())
            run_experiment(run, s.committed, link, s.project, log, self.processes)
        except KeyboardInterrupt:  # Ctrl-C in this thread, or TrialInterrupted from any
            trial.set_user_attr("interrupted", True)
            raise
        except (TrialFailed, PipelineError) as e:
            if "pruned_at_epoch" in attrs_now(trial):
                import optuna

                raise optuna.TrialPruned() from None
            trial.set_user_attr("error", str(e))
            raise TrialFailed(str(e)) from None
        result = read_result(experiment_commit(run.name, s.project), s.project, s.keeps_best)
        self.check_experiment(trial, run, result.commit)
        for key, value in vars(result).items():
            trial.set_user_attr(key, value)
        if s.push:
            trial.set_user_attr("pushed", push_experiment(run.name, s.push, s.project))
        if not s.objective.multi:
            return result.val_accuracy
        return result.val_accuracy, cost_of(trial, s.objective.cost, getattr(result, s.objective.cost))

    def check_experiment(self, trial, run: Experiment, commit: str) -> None:
        """The experiment DVC kept ran the trial's params on the study's data; else it is removed and the trial
        fails (params DVC mixed up are queued again; other data stops the study: it is another study)."""
        project = self.search.project
        ran = flatten(yaml.safe_load(git(["show", f"{commit}:params.yaml"], project)) or {})
        mixed = sorted(k for k, v in run.point.items() if not same_value(ran.get(k), v))
        other_data = data_check(trial.study, data_md5_of(lock_at(project)(commit)))
        if not (mixed or other_data):
            return
        remove_experiments(run.name, project, exact=True)
        if other_data:
            trial.set_user_attr("error", other_data)
            raise PipelineError(
                f"trial {trial.number}: {other_data}; a study is one data set: name another --study (and give "
                "--history none where the experiments it learned from are another data set's)"
            )
        error = f"DVC's experiment ran other params than the trial's ({', '.join(mixed)}); they run again"
        trial.set_user_attr("error", error)
        trial.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
        raise TrialFailed(error)


def attrs_now(trial) -> dict:
    """The trial's user attrs as the storage holds them now: the train stage writes some from its own process."""
    return next(t.user_attrs for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)


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
