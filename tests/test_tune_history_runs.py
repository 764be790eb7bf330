"""End to end: a study learns from the experiments already run on its setup (here one `dvc exp run` of the lab,
made before a report was committed), does not count them in --trials, lists them in its report, does not add them
twice when it goes on, and `--history none` learns from none."""

import sys
from pathlib import Path

import optuna
import pytest

from imgclf.search.study import counted
from tests.helpers.project import run, tune_project

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out

BASE = ["data.dataset=mnist_5k", "preprocess.max_per_class=20", "train.model=mlp", "train.optimizer=adam",
        "train.epochs=5"]  # tune_check's base (tests/helpers/project.py)  # fmt: skip
TUNE = [sys.executable, "-m", "imgclf.search.tune", "tune_check", "--trials", "1", "--seed", "1"]


def study_named(project: Path, name: str):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{project}/.tune/{name}.db")


def test_a_study_takes_the_experiments_already_run_as_trials_once(tmp_path: Path):
    project = tune_project(tmp_path / "project")
    sets = [arg for value in [*BASE, "train.lr=0.003"] for arg in ("-S", value)]
    run(["dvc", "exp", "run", "--temp", "-q", "-n", "early-a", *sets], project)
    run(["git", "commit", "-q", "--allow-empty", "-m", "a report: the code is the same"], project)

    first = run(TUNE, project).stdout
    said = next(line for line in first.splitlines() if line.startswith("from history: "))
    assert said.startswith("from history: 1 experiment of ") and "(early-a); --trials counts new trials only" in said
    study = study_named(project, "tune_check-tune")
    learned, new = study.trials
    assert (learned.user_attrs["experiment"], learned.params["train.lr"]) == ("early-a", "0.003")
    assert new.user_attrs["experiment"] == "tune_check-tune-0001" and counted(study) == 1, "--trials 1: one new"
    report = (project / "reports" / "tune-tune_check" / "report.md").read_text()
    assert "**From history: 1 experiment** of commits with this code" in report and "| early-a (history) |" in report

    again = run(TUNE, project).stdout
    assert "from history" not in again and len(study_named(project, "tune_check-tune").trials) == 2, "not twice"

    cold = run([*TUNE, "--history", "none", "--study", "cold"], project).stdout
    assert "from history" not in cold
    assert [t.user_attrs.get("history") for t in study_named(project, "cold").trials] == [None]
