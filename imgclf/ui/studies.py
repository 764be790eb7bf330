"""The search studies of a repository: each `imgclf tune` study under .tune/ (one SQLite file a study) and in any
database URL given to `imgclf ui --storage`, with its trials and the experiment each trial made. Read through
Optuna's public API; a file that is locked, damaged or from a newer Optuna is a study with a problem, not a crash."""

import base64
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from imgclf.search.objectives import parse_objective
from imgclf.search.storage import STUDY_DIR, redacted


@dataclass(frozen=True)
class Trial:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    values: tuple[float, ...] | None
    params: dict[str, object]
    experiment: str | None  # the DVC experiment it made (STUDY-NNNN)
    seconds: float | None
    error: str | None = None


@dataclass
class Study:
    name: str
    storage: str  # its URL, without a password
    trials: list[Trial] = field(default_factory=list)
    directions: tuple[str, ...] = ("maximize",)
    objective: str = "val_accuracy"
    problem: str | None = None  # why it could not be read

    @property
    def best(self) -> Trial | None:
        done = [t for t in self.trials if t.state == "COMPLETE" and t.values]
        if not done:
            return None
        sign = 1 if self.directions[0] == "maximize" else -1
        return max(done, key=lambda t: sign * t.values[0])

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for t in self.trials:
            found[t.state] = found.get(t.state, 0) + 1
        return found


def storage_urls(project: Path, given: list[str]) -> list[str]:
    files = sorted((project / STUDY_DIR).glob("*.db"))
    return [read_only(f) for f in files] + list(given)


def read_only(file: Path) -> str:
    """A SQLite URL that cannot write: Optuna would otherwise create its tables in a file that lacks them."""
    return f"sqlite:///file:{file.resolve()}?mode=ro&uri=true"


def standing(project: Path, study: str, experiment: str) -> tuple[Study, Trial] | None:
    """The trial that made this experiment, and its study, when the experiment is a trial of a study under .tune/
    (its group names the study); None otherwise."""
    files = {f.stem: f for f in (project / STUDY_DIR).glob("*.db")}
    if study not in files:
        return None
    found = next((s for s in read_studies([read_only(files[study])]) if s.name == study and not s.problem), None)
    trial = next((t for t in found.trials if t.experiment == experiment), None) if found else None
    return (found, trial) if found and trial else None


def trial_of(trial) -> Trial:
    seconds = trial.duration.total_seconds() if trial.duration else None
    return Trial(
        number=trial.number,
        state=trial.state.name,
        values=tuple(trial.values) if trial.values else None,
        params=dict(trial.params),
        experiment=trial.user_attrs.get("experiment"),
        seconds=seconds,
        error=trial.user_attrs.get("error"),
    )


def shown_storage(url: str) -> str:
    """A storage as the page names it: a study file's path, or the URL without its password."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///").removeprefix("file:").split("?")[0]
    return redacted(url)


def study_file_name(url: str) -> str:
    """What a storage that could not be read is called on the page: its file's name, or its URL."""
    path = url.removeprefix("sqlite:///").removeprefix("file:").split("?")[0]
    return Path(path).stem if url.startswith("sqlite:") else redacted(url)


def read_studies(urls: list[str]) -> list[Study]:
    """Every study of every storage; a storage that cannot be read is one Study with its problem said."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = []
    for url in urls:
        try:
            storage = optuna.storages.RDBStorage(url, skip_compatibility_check=False)
            for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                setup = study.user_attrs.get("setup") or {}
                found.append(
                    Study(summary.study_name, redacted(url), [trial_of(t) for t in study.get_trials(deepcopy=False)],
                          tuple(d.name.lower() for d in study.directions), setup.get("objective", "val_accuracy"))
                )  # fmt: skip
        except Exception as e:  # locked, damaged, newer schema, server gone: said on the page
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            found.append(Study(study_file_name(url), redacted(url), problem=reason[:300]))
    return found


def study_pictures(url: str, name: str) -> dict[str, str]:
    """The report's pictures of one study, drawn now (history, importances, slices, Pareto front) and Optuna's
    parallel coordinates, as data: URLs of PNGs."""
    import optuna

    from imgclf.search.plots import draw

    study = optuna.load_study(study_name=name, storage=url)
    goal = parse_objective((study.user_attrs.get("setup") or {}).get("objective", "val_accuracy"))
    with tempfile.TemporaryDirectory() as folder:
        names = [*draw(study, Path(folder), goal), *parallel_coordinates(study, Path(folder), goal)]
        return {n: "data:image/png;base64," + base64.b64encode((Path(folder) / n).read_bytes()).decode() for n in names}


def parallel_coordinates(study, folder: Path, goal) -> list[str]:
    """Optuna's parallel coordinates of the params against the validation accuracy; none before two trials end."""
    import warnings

    import matplotlib.pyplot as plt
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # marked experimental
        try:
            target = (lambda t: t.values[0]) if goal.multi else None
            axes = plot_parallel_coordinate(study, target=target, target_name="validation accuracy")
        except (ValueError, RuntimeError):
            plt.close("all")
            return []
    for lines in axes.collections:
        lines.set_cmap("viridis")  # Optuna's blues draw the best trial's line nearly white
    shown = [label.get_text() for label in axes.get_xticklabels()]
    params = sorted({name for t in study.trials for name in t.params})  # Optuna's order
    axes.set_xticks(axes.get_xticks(), uncut(shown, params), rotation=20, ha="right")
    figure = axes.figure
    figure.set_size_inches(10, 5)
    figure.savefig(folder / "parallel.png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return ["parallel.png"]


def uncut(shown: list[str], params: list[str]) -> list[str]:
    """The parallel coordinates' axis names whole: Optuna cuts a name of 20 characters or more to 17 and "...",
    and `train.mlp.hidden_units` loses what it is. Its axes are the target's, then the params'."""
    names = [shown[0], *params]
    if len(names) != len(shown):
        return shown
    same = all(a == b or (a.endswith("...") and b.startswith(a[:-3])) for a, b in zip(shown, names, strict=True))
    return names if same else shown
