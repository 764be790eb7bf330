"""imgclf tune for real on a tiny sample, in a temporary copy of this repository: a 4-trial study in SQLite whose
trials are DVC experiments, one of them pruned, interrupted during its 4th trial and run again to its end."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tests.helpers.project import processes_in, project_env, run, tune_project

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out

HOPELESS_LR = 1.0e-7
# Random draws, seeded: lr 0.01, 0.003, then the hopeless one twice, so the fourth trial trains (TPE would take a
# learning rate that completed, which DVC's run-cache restores without training)
TUNE = [sys.executable, "-m", "imgclf.search.tune", "tune_check", "--trials", "4", "--seed", "1", "--sampler", "random"]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project whose committed pipeline has run, as after `make repro`: --apply's undo restores its outputs."""
    return new_project(tmp_path_factory, built=True)


@pytest.fixture
def other_project(tmp_path_factory) -> Path:
    """A project of its own: trials of another study would fill the run-cache that `project`'s study relies on."""
    return new_project(tmp_path_factory)


def new_project(tmp_path_factory, built: bool = False) -> Path:
    return tune_project(tmp_path_factory.mktemp("tune"), built)


def interrupted_during_the_fourth_trial(project: Path) -> str:
    """Runs the study; on its third trial's line, waits until the fourth trial trains, then sends Ctrl-C."""
    out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    ours = str(Path(sys.executable).parent)  # not on PATH, as for `.venv/bin/imgclf tune` without activating
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != ours)
    tuner = subprocess.Popen(TUNE, cwd=project, env={**project_env(), "PATH": path}, **out)
    lines = []
    for line in tuner.stdout:
        lines.append(line)
        if line.startswith("   2  "):
            log = project / ".tune" / "tune_check-tune" / "tune_check-tune-0003.log"
            deadline = time.monotonic() + 120
            while "Running stage 'train'" not in (log.read_text() if log.exists() else ""):
                assert time.monotonic() < deadline, "the fourth trial never reached train"
                time.sleep(0.5)
            tuner.send_signal(signal.SIGINT)
    tuner.wait(timeout=180)
    assert tuner.returncode == 1
    return "".join(lines)


def test_a_two_objective_study_finds_the_front_of_accuracy_and_training_time(other_project: Path, tmp_path: Path):
    project = other_project
    two = [*TUNE[:4], "--trials", "3", "--seed", "1", "--objective", "val_accuracy,train_seconds", "--out", tmp_path]
    shown = run([str(part) for part in two], project).stdout
    assert "objective val_accuracy,train_seconds" in shown and "none pruner" in shown
    assert "  tune_check-tune-time-0000  complete  val " in shown and "      Pareto front: " in shown

    study = optuna.load_study(
        study_name="tune_check-tune-time", storage=f"sqlite:///{project}/.tune/tune_check-tune-time.db"
    )
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3, "no pruning: even the hopeless lr completes"
    for trial in study.trials:
        commit = trial.user_attrs["commit"]
        timing = json.loads(run(["git", "show", f"{commit}:metrics/timing.json"], project).stdout)
        own = timing.get("train", {}).get("train_seconds")
        earlier = [t.values[1] for t in study.trials[: trial.number] if t.params == trial.params]
        assert trial.values[1] == (own if own is not None else earlier[0]), "a run-cached trial: the first's time"
    report = (tmp_path / "tune-tune_check-time" / "report.md").read_text()
    assert f"**Pareto front: {len(study.best_trials)} trials.**" in report
    assert (tmp_path / "tune-tune_check-time" / "pareto.png").stat().st_size > 0
    assert run(["git", "status", "--porcelain"], project).stdout == ""


def test_a_study_of_experiments_pruned_interrupted_and_resumed(project: Path):
    first = interrupted_during_the_fourth_trial(project)
    assert first.splitlines()[-1] == (
        "error: interrupted with 3 of 4 trials done; run the same command to go on (interrupted trials run again)"
    )
    assert "   2  tune_check-tune-0002  pruned    at epoch 2" in first, "the hopeless lr stops after 2 of 5 epochs"
    assert run(["git", "status", "--porcelain"], project).stdout == "", "the workspace is as committed"
    leftovers = [p.name for p in (project / ".dvc" / "tmp" / "exps" / "standalone").iterdir() if p.name != "run"]
    assert leftovers == [], "DVC removed the interrupted trial's copy of the repository"
    assert processes_in(project) == [], "no dvc or stage process is left"

    second = run(TUNE, project).stdout
    assert "trial 3 was interrupted: its params run again" in second
    assert second.splitlines()[-2].startswith("4 of 4 trials done")
    assert second.splitlines()[-1] == "reports/tune-tune_check/report.md", "a complete study: the report to commit"

    study = optuna.load_study(study_name="tune_check-tune", storage=f"sqlite:///{project}/.tune/tune_check-tune.db")
    states = [t.state for t in study.trials]
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 4
    assert states.count(TrialState.FAIL) == 1, "the interrupted trial, run again as another"
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == 3)
    assert retry.params == study.trials[3].params

    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    experiments = {e["name"]: e["data"] for b in shown for g in b["experiments"] or [] for e in g["revs"]}
    completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert sorted(experiments) == sorted(t.user_attrs["experiment"] for t in completed), "pruned ones leave none"
    for trial in completed:
        experiment = experiments[trial.user_attrs["experiment"]]
        assert experiment["rev"] == trial.user_attrs["commit"]
        assert experiment["params"]["params.yaml"]["data"]["train"]["lr"] == json.loads(trial.params["train.lr"])
        metrics = experiment["metrics"]
        assert metrics["metrics/train.json"]["data"]["val_accuracy"] == trial.value, "chosen on validation"
        assert metrics["metrics/eval.json"]["data"]["test_accuracy"] == trial.user_attrs["test_accuracy"]
        assert metrics["metrics/timing.json"]["data"]["train"]["trial"] == trial.number
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(json.loads(t.params["train.lr"]) == HOPELESS_LR and t.last_step < 5 for t in pruned)

    report = (project / "reports" / "tune-tune_check" / "report.md").read_text()
    best = max(completed, key=lambda t: (t.value, -t.number))
    assert f"**Best: {best.user_attrs['experiment']}** (trial {best.number})" in report
    assert "the test set took no part in the choice" in report
    for picture in ("history.png", "importances.png", "slices.png"):
        assert f"![{picture}]({picture})" in report
        assert (project / "reports" / "tune-tune_check" / picture).stat().st_size > 0

    shutil.rmtree(project / "reports" / "tune-tune_check")  # read: from here on the workspace is HEAD's
    dvc_status = run(["dvc", "status", "--json"], project).stdout
    applied = run([*TUNE, "--seeds", "2", "--apply", "--out", str(project.parent / "elsewhere")], project).stdout
    assert f"applied {best.user_attrs['experiment']}" in applied, "a complete study runs no trial: it applies"
    verdict = next(line for line in applied.splitlines() if line.startswith("over 2 seeds: "))
    assert verdict.startswith(f"over 2 seeds: {best.user_attrs['experiment']} val ")
    seeded = set(run(["dvc", "exp", "ls", "--name-only"], project).stdout.split())
    assert {f"{best.user_attrs['experiment']}-seed{seed}" for seed in (42, 43)} <= seeded
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["train"]["lr"] == json.loads(best.params["train.lr"])

    undo = applied.split("to go back to HEAD (params, dvc.lock, metrics, model):\n", 1)[1].splitlines()
    assert undo[-1] == "  dvc checkout" and any(line.startswith("  git checkout HEAD -- ") for line in undo)
    for command in undo:
        run(["bash", "-c", command.strip()], project)
    assert run(["git", "status", "--porcelain"], project).stdout == "", "the workspace is HEAD's again"
    assert run(["dvc", "status", "--json"], project).stdout == dvc_status


def test_ctrl_c_while_applying_finishes_the_apply_and_leaves_the_branch_checked_out(project: Path):
    """Ctrl-C from the terminal (to the whole process group) as DVC starts applying, and a moment into it."""
    branch = run(["git", "symbolic-ref", "HEAD"], project).stdout
    for delay in (0.0, 0.6):
        tuner = subprocess.Popen([*TUNE, "--apply", "--out", str(project.parent / "elsewhere")], cwd=project,
                                 env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not any(" exp apply " in p for p in processes_in(project)):
            assert tuner.poll() is None and time.monotonic() < deadline, tuner.stdout.read()
            time.sleep(0.02)
        time.sleep(delay)
        os.killpg(tuner.pid, signal.SIGINT)
        said = tuner.communicate(timeout=120)[0]
        assert tuner.returncode == 0, said
        assert ": it finishes first (a few seconds); then undo it as below if you wish" in said
        assert run(["git", "symbolic-ref", "HEAD"], project).stdout == branch, "HEAD is on its branch"
        undo = said.split("to go back to HEAD (params, dvc.lock, metrics, model):\n", 1)[1].splitlines()
        for command in undo:
            run(["bash", "-c", command.strip()], project)
        assert run(["git", "status", "--porcelain"], project).stdout == "", "the undo takes back the whole apply"
