"""A study's database that fails under a running study, for real: a SQLite file deleted, truncated, overwritten,
made immutable or its disk full ends the search with one line naming the file and what to do; a PostgreSQL server
stopped for a few seconds is waited for by the tuner's calls and by the train stage's pruning link, and one that
stays down is one line."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

from imgclf.errors import PipelineError
from imgclf.search import steady_storage
from imgclf.search.steady_storage import storage_faults_as_lines
from imgclf.search.storage import Storage, storage_url
from imgclf.search.study import open_study

RERUN = "run the same command again"


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"x" * 4096)
                f.flush()
        except OSError:
            pass


FAULTS = {
    "deleted": (lambda db: db.unlink(), "is gone (deleted?): restore it, or run the same command again to begin"),
    "truncated": (lambda db: os.truncate(db, 100), "is damaged (database disk image is malformed): move it away"),
    "overwritten": (lambda db: db.write_bytes(b"x" * 5000), "is damaged (file is not a database): move it away"),
    "immutable": (lambda db: subprocess.run(["chattr", "+i", db], check=True), "cannot be written (disk I/O"),
    "disk full": (lambda db: fill(db.parent), "the disk is full (writing the study's file "),
}


def test_a_waiting_trial_is_claimed_by_one_worker_only(tmp_path: Path):
    """Interrupted trials' params wait in the study; with --jobs 2 (or two tuners) on SQLite, two workers that read
    one waiting at once both ran it, and the second failed to record it ("Cannot tell a COMPLETE trial")."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=url)
    for x in range(16):
        study.enqueue_trial({"x": x})
    claimed: list[int] = []

    def worker() -> None:
        mine = optuna.load_study(study_name="s", storage=steady_storage.SteadyRDBStorage(url))  # its own connections
        claimed.extend(mine.ask({"x": optuna.distributions.IntDistribution(0, 99)}).number for _ in range(4))

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(claimed) == list(range(16)), "each waiting trial once"


@pytest.fixture
def folder(tmp_path: Path, request):
    """A folder for the study's file; for the disk-full fault, a 1 MB tmpfs (mounting needs root)."""
    if "disk full" in request.node.name:
        if shutil.which("mount") is None or os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", tmp_path], check=True)
    yield tmp_path
    subprocess.run(["chattr", "-i", tmp_path / "s.db"], capture_output=True)
    subprocess.run(["umount", "--lazy", tmp_path], capture_output=True)  # the study may still hold its file open


@pytest.mark.parametrize("fault", FAULTS)
def test_a_study_file_that_fails_mid_study_is_one_line_naming_it(fault: str, folder: Path):
    url = f"sqlite:///{folder}/s.db"
    study = open_study(Storage(url, grace_s=60), "s", optuna.pruners.NopPruner())
    harm, said = FAULTS[fault]

    def objective(trial) -> float:
        if trial.number == 1:
            harm(folder / "s.db")
        return trial.suggest_float("x", 0, 1)

    with pytest.raises(PipelineError) as refused, storage_faults_as_lines(url, url, RERUN):
        study.optimize(objective, n_trials=3)
    assert said in str(refused.value) and "\n" not in str(refused.value)
    assert f"study's file {folder / 's.db'}" in str(refused.value)


@pytest.mark.slow  # a real PostgreSQL server, started three times
def test_a_postgresql_server_that_blinks_is_waited_for_and_one_that_stays_down_is_one_line(tmp_path, monkeypatch):
    from imgclf.fitting.pruning import TrialPruning
    from imgclf.search.link import TrialLink
    from imgclf.search.local_postgres import start, stop
    from imgclf.search.storage import tuner

    url = storage_url(start(tmp_path), "s", tmp_path)
    try:
        study = open_study(Storage(url, grace_s=60), "s", optuna.pruners.NopPruner())
        trial = study.ask()
        again = [sys.executable, "-m", "imgclf.search.local_postgres", "start", str(tmp_path)]  # as a user would

        def blink() -> float:
            stop(tmp_path)
            threading.Timer(4, subprocess.run, [again], {"capture_output": True}).start()
            return time.monotonic()

        began = blink()
        pruning = TrialPruning(TrialLink(url, "s", trial.number, "none", 5, "val_accuracy", *tuner()))
        assert time.monotonic() - began > 3, "the train stage's link waited for the server to open the study"
        began = blink()
        pruning.on_epoch_end(0, {"val_accuracy": 0.5})
        assert time.monotonic() - began > 3, "it waited for the server to take the epoch's figure"
        study.tell(trial, 0.5)
        assert [(t.state.name, t.intermediate_values) for t in study.trials] == [("COMPLETE", {1: 0.5})]

        stop(tmp_path)
        monkeypatch.setattr(steady_storage, "BLIP_S", 3)
        with pytest.raises(PipelineError) as refused, storage_faults_as_lines(url, url, RERUN):
            study.ask()
        assert str(refused.value).startswith(f"--storage {url}: the database did not answer for 3 s (")
        assert str(refused.value).endswith("start it, then run the same command again (the study goes on where it "
                                           "stopped)")  # fmt: skip
    finally:
        stop(tmp_path)
