"""What an `imgclf tune` study optimises: the validation accuracy alone, or that and a cost to keep small beside it,
such as the seconds training took or the saved model's size. With a cost the study has two objectives: its result is
a Pareto front (no trial on it is both more accurate and cheaper than another), and it cannot prune, for Optuna's
pruners take one objective."""

from dataclasses import dataclass

from imgclf.errors import PipelineError

ACCURACY = "val_accuracy"
COSTS = {  # the cost's name in --objective: how reports name it, its unit, and the default study's suffix
    "train_seconds": ("training time", "s", "time"),
    "model_bytes": ("model size", "bytes", "size"),
}


@dataclass(frozen=True)
class Objective:
    cost: str | None = None  # one of COSTS, or None: the validation accuracy alone

    @property
    def multi(self) -> bool:
        return self.cost is not None

    @property
    def directions(self) -> tuple[str, ...]:
        return ("maximize", "minimize") if self.multi else ("maximize",)

    @property
    def text(self) -> str:
        return f"{ACCURACY},{self.cost}" if self.multi else ACCURACY

    @property
    def cost_label(self) -> str:
        label, unit, _ = COSTS[self.cost]
        return f"{label} ({unit})"

    def study_suffix(self) -> str:
        """The default study's name after LAB-tune: a two-objective study is another study (Optuna fixes a study's
        directions when it is made)."""
        return "" if self.cost is None else "-" + COSTS[self.cost][2]


def parse_objective(text: str) -> Objective:
    """`val_accuracy` or `val_accuracy,COST`."""
    parts = [p.strip() for p in text.split(",")]
    if parts[0] != ACCURACY or len(parts) > 2 or (len(parts) == 2 and parts[1] not in COSTS):
        raise PipelineError(
            f"--objective {text}: give {ACCURACY}, or {ACCURACY},COST with COST one of {', '.join(COSTS)}"
        )
    return Objective(parts[1] if len(parts) == 2 else None)


def pruner_for(objective: Objective, asked: str | None) -> str:
    """The pruner the study runs with: median unless asked; a two-objective study prunes nothing."""
    if not objective.multi:
        return asked or "median"
    if asked not in (None, "none"):
        raise PipelineError(
            f"--pruner {asked}: a study with two objectives ({objective.text}) cannot prune, for Optuna's pruners "
            "take one objective; leave --pruner out"
        )
    return "none"


def cost_text(cost: str, value: float, named: bool = True) -> str:
    """A cost as a line shows it, `train 84 s` or `2.6 MB`; in a table's column of its name, `84 s`."""
    if cost == "train_seconds":  # three figures below 100 s: close trials' times stay apart
        return (
            f"{'train ' if named else ''}{value:.0f} s" if value >= 100 else f"{'train ' if named else ''}{value:.3g} s"
        )
    return f"{value / 1e6:.1f} MB"
