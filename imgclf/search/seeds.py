"""`imgclf tune --seeds K`: the study's two best trials trained again with K training seeds each, and whether the
winner's validation accuracy beats the runner-up's beyond the seeds' noise, by the rule of a lab's --seeds
(repeats.means_within_noise)."""

import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.labs import SEED_KEY, Experiment
from imgclf.experiments.repeats import means_within_noise, sample_std
from imgclf.search.plan import Search
from imgclf.search.record import TrialRecord
from imgclf.search.storage import STUDY_DIR
from imgclf.search.trial_run import TrialProcesses, experiment_commit, git, read_result, run_experiment


@dataclass(frozen=True)
class Seeded:
    experiment: str  # the trial's; its runs are EXPERIMENT-seedS
    seeds: tuple[int, ...]
    val: tuple[float, ...]
    test: tuple[float, ...]

    @property
    def val_mean(self) -> float:
        return statistics.fmean(self.val)

    @property
    def val_std(self) -> float:
        return sample_std(self.val)


def rerun_with_seeds(
    top: list[TrialRecord], seeds: list[int], search: Search, processes: TrialProcesses
) -> list[Seeded]:
    """Each of the `top` trials once per training seed, as a DVC experiment NAME-seedS (the split stays); those of
    an earlier --seeds run are replaced."""
    project = search.project
    names = {f"{r.experiment}-seed{seed}" for r in top for seed in seeds}
    earlier = names & set(dvc("exp", "ls", "--name-only", cwd=project).split())
    if earlier:
        dvc("exp", "remove", *sorted(earlier), cwd=project)
    found = []
    for record in top:
        val, test = [], []
        for seed in seeds:
            name = f"{record.experiment}-seed{seed}"
            run = Experiment(name, {SEED_KEY: seed}, {SEED_KEY: seed})
            log = project / STUDY_DIR / search.study / f"{name}.log"
            run_experiment(run, trial_params(record, project), None, project, log, processes)
            result = read_result(experiment_commit(name, project), project, search.keeps_best)
            val.append(result.val_accuracy)
            test.append(result.test_accuracy)
            print(f"      {name}: val {result.val_accuracy:.2%}", flush=True)
        found.append(Seeded(record.experiment, tuple(seeds), tuple(val), tuple(test)))
    return found


def trial_params(record: TrialRecord, project: Path) -> dict:
    """The params.yaml the trial's experiment ran with: a re-run with another seed changes that seed alone."""
    return yaml.safe_load(git(["show", f"{record.commit}:params.yaml"], project))


def verdict(seeded: list[Seeded]) -> str:
    """One line: each trial's mean ± std over the seeds, and whether the first beats the second beyond noise (or the
    second beats it: the study's winner was picked on one seed)."""
    shown = ", ".join(f"{s.experiment} val {s.val_mean:.2%} ± {s.val_std:.2%}" for s in seeded)
    if len(seeded) < 2:
        return f"over {len(seeded[0].seeds)} seeds: {shown}"
    winner, runner_up = seeded[:2]
    if means_within_noise((winner.val_mean, winner.val_std), (runner_up.val_mean, runner_up.val_std)):
        beats = "is within noise of the runner-up"
    elif winner.val_mean > runner_up.val_mean:
        beats = "beats the runner-up beyond noise"
    else:
        beats = "falls behind the runner-up beyond noise"
    return f"over {len(seeded[0].seeds)} seeds: {shown}: the winner {beats}"
