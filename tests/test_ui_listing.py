"""The web app's listing when DVC fails or hangs: the last listing stays, saying why and as of when, DVC is asked
again later, and a request that comes while another asks DVC gets the last listing at once."""

import subprocess
import threading
import time

from imgclf.errors import PipelineError
from imgclf.ui import rows as rows_module
from imgclf.ui.rows import ExperimentList, Row
from imgclf.ui.rows import baselines as rows_module_baselines

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


def test_experiments_of_commits_the_listing_leaves_out_are_counted_once_per_listing(tmp_path, monkeypatch):
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
    head = git("rev-parse", "HEAD")
    monkeypatch.setattr(rows_module, "dvc", lambda *args, **kwargs: "[]")
    monkeypatch.setattr(rows_module, "read_rows", lambda *args: [Row("main", "baselines", "baseline", head, head)])
    counted = []
    monkeypatch.setattr(rows_module, "baselines", lambda project: counted.append(1) or rows_module_baselines(project))
    experiments = ExperimentList(tmp_path, {})
    experiments.read()
    assert experiments.elsewhere == 2, "DVC lists HEAD's experiments: the page says two more ran before"
    experiments.read()
    assert experiments.elsewhere == 2 and len(counted) == 1, "the refs did not change: no page counts them again"
    everything = ExperimentList(tmp_path, {}, all_commits=True)
    everything.read()
    assert everything.elsewhere == 0
