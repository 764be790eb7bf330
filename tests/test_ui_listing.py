"""The web app's listing when DVC fails or hangs: the last listing stays, saying why and as of when, DVC is asked
again later, and a request that comes while another asks DVC gets the last listing at once."""

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
