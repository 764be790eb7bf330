"""A study that loses a machine: its trial is failed once its heartbeat is stale and its params run again, the
machines left wait for it instead of counting it done, a trial too many runs nothing, and a trial's training stops
when its tuner is gone or the study no longer runs it."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from imgclf.errors import PipelineError
from imgclf.search.link import TrialLink
from imgclf.search.storage import Storage
from imgclf.search.study import is_surplus, make_pruner, open_study
from tests.helpers.search import a_search

LR = {"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1, log=True)}


class Objective:
    """A trial that takes a moment and gives its learning rate as its figure."""

    def __init__(self, search) -> None:
        self.search = search
        self.ran: list[float] = []

    def __call__(self, trial) -> float:
        lr = trial.suggest_float("train.lr", 0.001, 0.1, log=True)
        self.ran.append(lr)
        return lr


@pytest.mark.slow  # waits out real grace periods and polls
def test_a_lost_machines_trial_is_waited_for_then_failed_and_its_params_run_again(tmp_path: Path, monkeypatch):
    from imgclf.search import run_trials

    monkeypatch.setattr(run_trials, "POLL_S", 0.2)
    search = a_search(tmp_path, trials=3, grace_s=2)
    study = open_study(search.storage, "s", make_pruner("none", 5))
    study.optimize(Objective(search), n_trials=2)
    lost = study.ask(LR)  # another machine's trial: it beat once, then its machine died
    search.storage.optuna.record_heartbeat(search.storage.trial_id("s", lost.number))

    objective = Objective(search)
    started = time.monotonic()
    run_trials.run_trials(study, objective)
    waited = time.monotonic() - started

    assert 2 <= waited < 10, "waited for the grace period, not for ever and not at all"
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 2 + [TrialState.FAIL, TrialState.COMPLETE], "3 finished, as asked"
    assert objective.ran == [lost.params["train.lr"]], "the lost trial's params, and nothing else"
    assert study.trials[3].system_attrs["failed_trial"] == lost.number


@pytest.mark.slow  # waits out real grace periods and polls
def test_a_machine_waits_while_the_last_trials_run_elsewhere(tmp_path: Path, monkeypatch, capsys):
    from imgclf.search import run_trials

    monkeypatch.setattr(run_trials, "POLL_S", 0.2)
    search = a_search(tmp_path, trials=2, grace_s=60)
    study = open_study(search.storage, "s", make_pruner("none", 5))
    study.optimize(Objective(search), n_trials=1)
    elsewhere = study.ask(LR)
    search.storage.optuna.record_heartbeat(search.storage.trial_id("s", elsewhere.number))

    def finish_elsewhere() -> None:
        time.sleep(1)
        study.tell(elsewhere, 0.05)

    threading.Thread(target=finish_elsewhere).start()
    objective = Objective(search)
    run_trials.run_trials(study, objective)
    assert objective.ran == [], "the study had its 2 trials: this machine ran none"
    assert "waiting for 1 trial(s) running elsewhere" in capsys.readouterr().out
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_of_two_tuners_asking_for_the_last_trial_at_once_the_later_runs_nothing(tmp_path: Path):
    study = open_study(Storage(f"sqlite:///{tmp_path}/s.db"), "s", make_pruner("none", 5))
    study.optimize(lambda t: t.suggest_float("train.lr", 0.001, 0.1), n_trials=2)
    first, second = study.ask(), study.ask()
    assert not is_surplus(study, first.number, 3) and is_surplus(study, second.number, 3)
    study.tell(first, state=TrialState.FAIL)
    assert not is_surplus(study, second.number, 3), "one failed below it: it is needed"


def a_pruning_callback(tmp_path: Path, **link):
    from imgclf.fitting.pruning import TrialPruning

    url = f"sqlite:///{tmp_path}/s.db"
    study = open_study(Storage(url), "s", make_pruner("none", 5))
    trial = study.ask(LR)
    callback = TrialPruning(TrialLink(url, "s", trial.number, "none", 5, **link))

    class Model:
        stop_training = False

    callback.set_model(Model())
    callback.set_params({"epochs": 5})
    return study, trial, callback


def test_training_stops_when_another_machine_failed_its_trial(tmp_path: Path):
    study, trial, callback = a_pruning_callback(tmp_path)
    callback.on_epoch_end(0, {"val_accuracy": 0.5})
    study.tell(trial, state=TrialState.FAIL)  # stale, as another machine saw it
    with pytest.raises(PipelineError, match=r"trial 0 of study s is fail in the study, no longer running"):
        callback.on_epoch_end(1, {"val_accuracy": 0.5})


def test_training_stops_when_its_tuner_is_gone(tmp_path: Path):
    from imgclf.search.link import process_started

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_started(gone.pid)
    gone.wait()
    _, _, callback = a_pruning_callback(tmp_path, tuner_pid=gone.pid, tuner_started=started)
    with pytest.raises(PipelineError, match=rf"its tuner \(pid {gone.pid}\) is gone; stopped training"):
        callback.on_epoch_end(0, {"val_accuracy": 0.5})
    (tmp_path / "b").mkdir()
    _, _, alive = a_pruning_callback(tmp_path / "b", tuner_pid=os.getpid(), tuner_started=process_started(os.getpid()))
    alive.on_epoch_end(0, {"val_accuracy": 0.5})


TUNER = """
import subprocess, sys, time
from pathlib import Path
from imgclf.search.trial_run import TrialProcesses
log = Path(sys.argv[1])
TrialProcesses().run([sys.executable, "-c", "import time; time.sleep(600)"], Path("."), None, log)
"""


def test_a_trial_does_not_outlive_its_tuner_killed_outright(tmp_path: Path):
    """SIGKILL to the tuner's own process group (as `kill -9 -PGID` or a crash): the trial, in a session of its
    own, is stopped by its guard within a few seconds."""
    tuner = subprocess.Popen([sys.executable, "-c", TUNER, str(tmp_path / "trial.log")], start_new_session=True)
    deadline = time.monotonic() + 30
    while not (trial := sleepers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert trial, "the trial started"
    os.killpg(tuner.pid, signal.SIGKILL)
    tuner.wait()
    deadline = time.monotonic() + 10
    while sleepers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sleepers() == [], "the trial stopped with its tuner"


def sleepers() -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"]) if "time.sleep(600)" in " ".join(p.info["cmdline"] or [])]


@pytest.mark.slow  # waits out real grace periods and polls
def test_a_lost_trial_is_failed_while_this_machine_trains_its_own(tmp_path: Path, monkeypatch):
    """A long trial of this tuner's does not keep a lost machine's trial running past the grace period."""
    from imgclf.search import run_trials

    monkeypatch.setattr(run_trials, "POLL_S", 0.2)
    search = a_search(tmp_path, trials=2, grace_s=1)
    study = open_study(search.storage, "s", make_pruner("none", 5))
    lost = study.ask(LR)
    search.storage.optuna.record_heartbeat(search.storage.trial_id("s", lost.number))
    seen: list[str] = []

    class Long(Objective):
        def __call__(self, trial) -> float:
            lr = super().__call__(trial)
            deadline = time.monotonic() + 8
            while not seen and time.monotonic() < deadline:
                if search.storage.state("s", lost.number) == "FAIL":
                    seen.append(f"failed after {time.monotonic() - started:.1f} s")
                time.sleep(0.1)
            return lr

    started = time.monotonic()
    objective = Long(search)
    run_trials.run_trials(study, objective)
    assert seen, "the lost trial stayed running through this machine's trial"
    assert objective.ran[1] == lost.params["train.lr"], "then its params ran"
