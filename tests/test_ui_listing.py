"""The web app's listing when DVC fails or hangs: the last listing stays, saying why and as of when, DVC is asked
again later, and a request that comes while another asks DVC gets the last listing at once."""

import subprocess
import threading
import time

from imgclf.errors import PipelineError
from imgclf.ui import rows as rows_module
from imgclf.ui.rows import ExperimentList, Row

ROW = Row("lab-a", "lab", "running", "e" * 40, "b" * 40)


def listed(tmp_path) -> ExperimentList:
    """A list that listed one running experiment 100 s ago."""
    experiments = ExperimentList(tmp_path, {})
    experiments.rows, experiments.listed_at = [ROW], time.time() - 100
    return experiments


def test_when_dvc_hangs_the_last_listing_stays_with_the_reason_and_dvc_is_asked_again_later(tmp_path, monkeypatch):
    asked = []

    def hangs(*args, **kwargs):
        asked.append(kwargs["timeout_s"])
        raise PipelineError("dvc exp show --json did not answer in 60 s, and was stopped")

    monkeypatch.setattr(rows_module, "dvc", hangs)
    experiments = listed(tmp_path)
    assert experiments.read() == [ROW]
    assert experiments.problem.startswith("dvc exp show --json did not answer in 60 s, and was stopped: the table is")
    assert experiments.read() == [ROW] and asked == [60], "within RETRY_S, DVC is not asked again"
    monkeypatch.setattr(rows_module, "RETRY_S", 0.0)
    experiments.read()
    assert len(asked) == 2


def test_a_request_while_another_asks_dvc_gets_the_last_listing_at_once(tmp_path):
    experiments = listed(tmp_path)
    with experiments.lock:  # another request is asking DVC
        answered = []
        reader = threading.Thread(target=lambda: answered.append(experiments.read()))
        reader.start()
        reader.join(timeout=5)
    assert answered == [[ROW]]


def test_experiments_of_commits_the_listing_leaves_out_are_counted(tmp_path):
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "the sweep ran here")
    swept = git("rev-parse", "HEAD")
    for name in ("lab-a", "lab-b"):
        git("update-ref", f"refs/exps/{swept[:2]}/{swept[2:]}/{name}", swept)
    git("commit", "-q", "--allow-empty", "-m", "its report")
    experiments = ExperimentList(tmp_path, {})
    experiments.rows = [Row("main", "baselines", "baseline", git("rev-parse", "HEAD"), git("rev-parse", "HEAD"))]
    assert experiments.elsewhere() == 2, "DVC lists HEAD's experiments: the page says two more ran before"
    assert ExperimentList(tmp_path, {}, all_commits=True).elsewhere() == 0
