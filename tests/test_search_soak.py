"""The search under lost machines, soaked: three clones of one repository run one study of 12 tiny trials on a real
PostgreSQL server, and two of them die at random moments (their whole process trees at once), five times with five
kill schedules. Each time the study ends with exactly 12 finished, the lost trials' params ran again, no param set
completed twice, nothing is left running and no process is left over. About 15 minutes on 2 cores: `make soak`."""

import random
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from imgclf.search import local_postgres
from tests.helpers.machines import kill_machine, pushed_project, start, tree
from tests.helpers.project import processes_in, run

pytestmark = [pytest.mark.slow, pytest.mark.soak, pytest.mark.filterwarnings("ignore::UserWarning:platformdirs")]

TRIALS = 12
SOAK_LAB = """
soak:
  title: tiny trials for the search's soak test
  base:
    data.dataset: mnist_5k
    preprocess.max_per_class: 10
    train.model: mlp
    train.optimizer: adam
    train.epochs: 8
  sweeps: []
  tiny: {}
  search:
    train.lr: {low: 0.0003, high: 0.03, log: true}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("postgres")
    url = local_postgres.start(folder)
    yield url
    local_postgres.stop(folder)


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> dict[str, str]:
    return pushed_project(tmp_path_factory.mktemp("origin"), SOAK_LAB)


@pytest.mark.parametrize("schedule", range(5))
def test_a_study_loses_two_machines_at_random_and_still_ends_whole(schedule: int, server: str, origin: dict,
                                                                    tmp_path: Path):  # fmt: skip
    rng = random.Random(schedule)
    study_name = f"soak-{schedule}"
    tune = f"{sys.executable} -m imgclf.search.tune soak --trials {TRIALS} --study {study_name} --storage {server}"
    tune += " --grace 10 --pruner none"
    machines = {}
    for name in ("a", "b", "c"):
        run(["git", "clone", "-q", origin["GIT_REMOTE"], str(tmp_path / name)], tmp_path)
        machines[name] = start(tune, tmp_path / name, {}, tmp_path / f"{name}.log")
    doomed = rng.sample(sorted(machines), 2)
    deaths = sorted(rng.uniform(15, 150) for _ in doomed)
    began = time.monotonic()
    for name, at in zip(doomed, deaths, strict=True):
        time.sleep(max(0.0, at - (time.monotonic() - began)))
        kill_machine(machines[name])
    survivor = next(name for name in machines if name not in doomed)
    log = tmp_path / f"{survivor}.log"
    assert machines[survivor].wait(timeout=1500) == 0, log.read_text()
    assert f"{TRIALS} of {TRIALS} trials done" in log.read_text()

    study = optuna.load_study(study_name=study_name, storage=server.replace("://", "+psycopg2://", 1))
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == TRIALS, f"schedule {schedule}: killed {doomed} at {deaths}"
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING)), "nothing left running or queued"
    lost = [t for t in study.trials if t.state == TrialState.FAIL and not t.user_attrs.get("surplus")]
    for trial in lost:
        again = [t for t in finished if trial.number in t.system_attrs.get("retry_history", [])]
        assert [t.params for t in again] == [trial.params], f"trial {trial.number}'s params ran again, once"
    lrs = [t.params["train.lr"] for t in finished]
    assert len(set(lrs)) == len(lrs), "no param set completed twice"
    for name in doomed:
        assert tree(machines[name].pid) == [] and processes_in(tmp_path / name) == [], f"{name}: nothing left over"
        made = subprocess.run([sys.executable, "-m", "dvc", "exp", "ls", "--name-only"], cwd=tmp_path / name,
                              capture_output=True, text=True).stdout.split()  # fmt: skip
        failed = {t.user_attrs.get("experiment") for t in lost}
        assert not failed & set(made), "no experiment of a trial the study calls failed"
