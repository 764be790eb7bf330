"""One search as plain values: what `imgclf tune` was asked, and what it worked out from sweeps.yaml and
params.yaml before its first trial. The trials, the --seeds re-runs and the report all read it."""

from dataclasses import dataclass, field
from pathlib import Path

from imgclf.experiments.labs import Overrides
from imgclf.experiments.search_space import Space
from imgclf.search.objectives import Objective
from imgclf.search.record import Settings
from imgclf.search.storage import Storage, redacted


@dataclass(frozen=True)
class Search:
    project: Path  # the repository's root: trials are its experiments
    lab: str
    study: str
    storage: Storage
    committed: dict  # the committed params.yaml
    shared: Overrides  # the lab's base, its tiny sample's, -S: every trial's
    overrides: dict  # -S as given
    space: Space  # what the trials sample
    trials: int  # finished trials (complete or pruned) the study should have in all
    jobs: int = 1  # trials at once on this machine
    timeout_s: float | None = None  # no new trial after this many seconds of this run
    sampler: str = "tpe"
    seed: int | None = None
    pruner: str = "median"
    epochs: int = 1  # each trial's training epochs: the pruners' budget
    keeps_best: bool = False  # early stopping restores the best epoch's weights: the objective is that epoch's
    tiny: bool = False
    objective: Objective = field(default_factory=Objective)
    push: str | None = None  # a git remote: each completed trial's experiment and data go there
    history: str = "code"  # which experiments of the past the study learns from (search/history.py's HISTORY)

    def settings(self) -> Settings:
        return Settings(self.lab, self.study, redacted(self.storage.url), self.sampler, self.pruner, self.seed,
                        self.trials, self.timeout_s, self.tiny, self.overrides, self.objective.text,
                        history=self.history)  # fmt: skip
