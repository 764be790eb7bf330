"""An experiment run with several training seeds: its runs taken together, mean, standard deviation and range, and
whether a difference between two experiments is larger than their spread."""

import statistics
from dataclasses import dataclass

from imgclf.experiments.exp_show import Result
from imgclf.experiments.labs import SEED_KEY, repeat_of


@dataclass(frozen=True)
class Group:
    """One experiment of a lab: its single run, or its runs NAME-seedS (one per training seed)."""

    name: str
    runs: tuple[Result, ...]

    @property
    def params(self) -> dict[str, object]:
        """The params every run shares: the first run's, without its training seed."""
        return {k: v for k, v in self.runs[0].params.items() if k != SEED_KEY or len(self.runs) == 1}

    @property
    def seeds(self) -> list[int]:
        return [int(str(r.params.get(SEED_KEY))) for r in self.runs]

    @property
    def accuracy(self) -> float:
        return statistics.fmean(r.accuracy for r in self.runs)

    @property
    def accuracy_std(self) -> float:
        return sample_std([r.accuracy for r in self.runs])

    @property
    def accuracy_range(self) -> tuple[float, float]:
        return min(r.accuracy for r in self.runs), max(r.accuracy for r in self.runs)

    @property
    def loss(self) -> float:
        return statistics.fmean(r.loss for r in self.runs)

    @property
    def loss_std(self) -> float:
        return sample_std([r.loss for r in self.runs])

    @property
    def balanced_accuracy(self) -> float | None:
        """Test: the mean over the runs of the classes' mean recall (None where a run predates eval.json's)."""
        return _mean_of_all([r.balanced_accuracy for r in self.runs])

    @property
    def f1_macro(self) -> float | None:
        return _mean_of_all([r.f1_macro for r in self.runs])

    @property
    def train_seconds(self) -> float | None:
        """The mean over the runs that trained (None where DVC restored every run from its run-cache)."""
        timed = [r.train_seconds for r in self.runs if r.train_seconds is not None]
        return statistics.fmean(timed) if timed else None


def _mean_of_all(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else statistics.fmean(values)


def sample_std(values: list[float] | tuple[float, ...]) -> float:
    """The sample standard deviation (n - 1) over the seeds; 0 for a single run."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def group(results: list[Result], names: list[str]) -> list[Group]:
    """The lab's experiments `names` (in that order) from the finished runs: an experiment's seeded runs
    (NAME-seedS) where it has any, in seed order, else its single run NAME; experiments with neither are left out."""
    seeded: dict[str, list[Result]] = {}
    single: dict[str, Result] = {}
    for result in results:
        name, seed = repeat_of(result.name)
        if seed is None:
            single[result.name] = result
        else:
            seeded.setdefault(name, []).append(result)
    groups = []
    for name in names:
        if name in seeded:
            runs = sorted(seeded[name], key=lambda r: repeat_of(r.name)[1] or 0)
            groups.append(Group(name, tuple(runs)))
        elif name in single:
            groups.append(Group(name, (single[name],)))
    return groups


def within_noise(a: Group, b: Group) -> bool:
    """Whether two experiments' mean test accuracies differ within noise (means_within_noise). Single runs have no
    measured spread: False."""
    if len(a.runs) < 2 or len(b.runs) < 2:
        return False
    return means_within_noise((a.accuracy, a.accuracy_std), (b.accuracy, b.accuracy_std))


def means_within_noise(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """The noise rule of every --seeds verdict, a lab's and a search's: two (mean, standard deviation) pairs differ
    within noise when the difference of the means is no larger than the two standard deviations together."""
    (mean_a, std_a), (mean_b, std_b) = a, b
    return abs(mean_a - mean_b) <= std_a + std_b
