"""Two trials at once in one repository, for real on a tiny sample: a trial that finds DVC's repository lock held
(a user's own DVC command beside the tuner) waits its turn instead of failing, and Ctrl-C with --jobs 2 records
both running trials as interrupted, so that the next run trains their params first."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.helpers.project import processes_in, project_env, run, tune_project

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out

TUNE = [sys.executable, "-m", "imgclf.search.tune", "tune_check", "--trials", "2", "--jobs", "2", "--seed", "1"]
HOLD_LOCK = """
import sys, time
from dvc.repo import Repo
repo = Repo(".")
sys.stdin.readline()
with repo.lock:  # as a user's own `dvc exp run` holds it
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tune_project(tmp_path)


def test_parallel_trials_wait_for_the_repository_and_ctrl_c_leaves_them_to_run_again(project: Path):
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, "15"], cwd=project, **pipes)
    tuner = subprocess.Popen(TUNE, cwd=project, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)  # fmt: skip
    lines = [tuner.stdout.readline()]
    assert lines[0].startswith("study tune_check-tune in "), lines
    holder.stdin.write("take it\n")  # as the trials start: a trial's DVC takes seconds to import
    holder.stdin.flush()
    assert holder.stdout.readline() == "held\n"
    logs = project / ".tune" / "tune_check-tune"
    deadline = time.monotonic() + 240
    while not any("Running stage 'train'" in p.read_text() for p in logs.glob("*.log")):
        assert tuner.poll() is None and time.monotonic() < deadline, "no trial reached train"
        time.sleep(0.5)
    tuner.send_signal(signal.SIGINT)
    first = lines[0] + tuner.communicate(timeout=180)[0]
    assert holder.wait() == 0
    assert tuner.returncode == 1, first
    assert "tune_check-tune-0000 waits: another DVC command holds the repository" in first, first
    assert "tune_check-tune-0001 waits: another DVC command holds the repository" in first, first
    assert first.splitlines()[-1] == (
        "error: interrupted with 0 of 2 trials done; run the same command to go on (interrupted trials run again)"
    )
    study = optuna.load_study(study_name="tune_check-tune", storage=f"sqlite:///{project}/.tune/tune_check-tune.db")
    assert [(t.state, t.user_attrs.get("interrupted")) for t in study.trials] == [(TrialState.FAIL, True)] * 2
    assert processes_in(project) == [], "no dvc or stage process is left"
    assert run(["git", "status", "--porcelain"], project).stdout == ""

    second = run(TUNE, project).stdout
    assert "trial 0 was interrupted: its params run again" in second and "trial 1 was interrupted" in second
    assert "2 of 2 trials done" in second
    study = optuna.load_study(study_name="tune_check-tune", storage=f"sqlite:///{project}/.tune/tune_check-tune.db")
    done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert sorted(t.user_attrs["retry_of"] for t in done) == [0, 1]
    assert all(t.params == study.trials[t.user_attrs["retry_of"]].params for t in done)
    assert all("error" not in t.user_attrs for t in study.trials), "no trial was lost to DVC's lock"
    assert json.loads(run(["dvc", "exp", "show", "--json"], project).stdout), "its experiments are DVC's"
