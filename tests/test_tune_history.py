"""Which experiments already run a search learns from, and the trials they become: each experiment that does not
qualify is skipped with its reason (other setup, outside the space, other code, other data, missing metric)."""

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import optuna
import pytest

from imgclf.experiments.exp_refs import baselines
from imgclf.experiments.search_space import Range, distributions_of, sample, sampled_params
from imgclf.search.history import Past, history_trial, reason_skipped, same_code, summary
from imgclf.search.plan import Search
from imgclf.search.storage import Storage

SPACE = (
    Range("train.lr", low=0.001, high=0.1, log=True),
    Range("train.batch_size", low=32, high=256, step=32),
    Range("train.mlp.hidden_units", choice=([800], [800, 500])),
)
SETUP = {"data.dataset": "mnist", "train.epochs": 20, "train.lr": 0.01, "train.batch_size": 128,
         "train.mlp.hidden_units": [800]}  # fmt: skip
SPLIT = {"data/split/train": "9c17", "data/split/val": "dd58", "data/split/test": "fa38"}  # a data set, in md5s


def past(**changed) -> Past:
    return Past("tawny-arms", "e" * 40, "b" * 40, {**SETUP, **changed}, "2026-12-01T10:00:00")


def test_an_experiment_of_this_setup_inside_the_space_qualifies_whatever_its_searched_values():
    assert reason_skipped(past(**{"train.lr": 0.05, "train.mlp.hidden_units": [800, 500]}), SETUP, SPACE) is None
    assert reason_skipped(past(**{"train.lr": "1e-02"}), SETUP, SPACE) is None, "YAML 1.1 reads 1e-02 as text"


@pytest.mark.parametrize(
    "changed, reason",
    [
        ({"train.epochs": 5}, "other setup"),  # a key the space does not search: another lab base, or --tiny
        ({"data.dataset": "cifar10"}, "other setup"),
        ({"train.seed": 43}, "other setup"),  # a key the trials do not have: a --seeds repeat
        ({"train.lr": 0.5}, "outside the space"),
        ({"train.batch_size": 100}, "outside the space"),  # between the step's points
        ({"train.mlp.hidden_units": [512]}, "outside the space"),  # not one of the choices
    ],
)
def test_an_experiment_that_does_not_belong_to_the_search_is_skipped_with_its_reason(changed, reason):
    assert reason_skipped(past(**changed), SETUP, SPACE) == reason


def test_an_experiments_values_are_the_params_a_trial_would_have_sampled():
    study = optuna.create_study()
    trial = study.ask()
    sample(trial, SPACE)
    assert trial.distributions == distributions_of(SPACE), "history and new trials share one space"
    params, outside = sampled_params({"train.lr": 0.05, "train.batch_size": 64.0, "train.mlp.hidden_units": [800]},
                                     SPACE)  # fmt: skip
    assert (params, outside) == ({"train.lr": 0.05, "train.batch_size": 64, "train.mlp.hidden_units": "[800]"}, None)


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit(folder: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", message)
    return git(folder, "rev-parse", "HEAD")


def lock(data: dict[str, str]) -> str:
    """A dvc.lock's text with the split's md5s where the train and evaluate stages record them."""

    def deps(*names: str) -> list[dict]:
        return [{"path": f"data/split/{n}", "md5": data[f"data/split/{n}"]} for n in names]

    return json.dumps({"stages": {"train": {"deps": deps("train", "val")}, "evaluate": {"deps": deps("test")}}})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    return tmp_path


def test_only_experiments_of_commits_with_heads_code_count_unless_all(repo: Path):
    stage = "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n"
    old = commit(repo, {"dvc.yaml": stage, "train.py": "print(1)\n"}, "old code")
    swept = commit(repo, {"train.py": "print(2)\n"}, "the code the sweep ran")
    commit(repo, {"reports/lab.md": "a report\n"}, "its report: the code is the same")
    for base, name in ((old, "a"), (swept, "b"), (swept, "c")):
        git(repo, "update-ref", f"refs/exps/{base[:2]}/{base[2:]}/{name}", base)  # as DVC names them
    assert baselines(repo) == {old: 1, swept: 2}
    assert same_code(repo, [old, swept]) == [swept], "HEAD's code is the sweep's; the old commit's is not"


def search(project: Path, objective_cost: str | None = None) -> Search:
    from imgclf.search.objectives import Objective

    return Search(project, "lab", "lab-tune", Storage(f"sqlite:///{project}/study.db"), {}, {}, {}, SPACE, trials=4,
                  objective=Objective(objective_cost))  # fmt: skip


def experiment_commit(repo: Path, data: dict[str, str], metrics: bool = True) -> str:
    files = {"dvc.lock": lock(data)}
    shutil.rmtree(repo / "metrics", ignore_errors=True)
    shutil.rmtree(repo / "dvclive", ignore_errors=True)
    if metrics:
        files["metrics/train.json"] = json.dumps({"val_accuracy": 0.97, "best_epoch": 9, "epochs_run": 10})
        files["metrics/eval.json"] = json.dumps({"test_accuracy": 0.96, "test_loss": 0.12})
        files["metrics/timing.json"] = json.dumps({"train": {"train_seconds": 30.5}})
        files["dvclive/plots/metrics/eval/accuracy.tsv"] = "step\taccuracy\n0\t0.91\n1\t0.97\n"
    return commit(repo, files, "an experiment")


def test_an_experiment_becomes_a_completed_trial_with_its_name_commit_and_figures(repo: Path):
    rev = experiment_commit(repo, SPLIT)
    ran = Past("lab-lr-0.05", rev, "b" * 40, {**SETUP, "train.lr": 0.05}, "")
    trial, reason = history_trial(ran, search(repo), SPLIT)
    assert reason is None and trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.params == {"train.lr": 0.05, "train.batch_size": 128, "train.mlp.hidden_units": "[800]"}
    assert trial.values == [0.97] and trial.intermediate_values == {1: 0.91, 2: 0.97}, "epochs as the pruner sees"
    attrs = trial.user_attrs
    assert (attrs["experiment"], attrs["commit"], attrs["history"]) == ("lab-lr-0.05", rev, "b" * 40)
    assert (attrs["test_accuracy"], attrs["train_seconds"]) == (0.96, 30.5)
    study = optuna.create_study(direction="maximize")
    study.add_trials([trial])
    assert study.best_trial.user_attrs["experiment"] == "lab-lr-0.05"
    assert summary([trial], Counter({"other setup": 12, "other data": 1})) == [
        f"from history: 1 experiment of {'b' * 7}, best val 97.00% (lab-lr-0.05); --trials counts new trials only",
        "from history: 13 experiments skipped: 12 other setup, 1 other data",
    ]


def test_an_experiment_on_other_data_or_without_its_figures_is_skipped(repo: Path):
    other = experiment_commit(repo, {**SPLIT, "data/split/train": "0000"})
    assert history_trial(Past("x", other, "b" * 40, SETUP, ""), search(repo), SPLIT) == (None, "other data")
    bare = experiment_commit(repo, SPLIT, metrics=False)
    assert history_trial(Past("y", bare, "b" * 40, SETUP, ""), search(repo), SPLIT) == (None, "missing metric")
    timed = experiment_commit(repo, SPLIT)
    two = search(repo, "model_bytes")  # a two-objective study: its cost must be there too
    assert history_trial(Past("z", timed, "b" * 40, SETUP, ""), two, SPLIT) == (None, "missing metric")
