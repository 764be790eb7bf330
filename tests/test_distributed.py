"""tf.distribute on this CPU machine: two logical CPU devices for MirroredStrategy."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imgclf.devices import is_chief, strategy_for
from imgclf.errors import PipelineError
from tests.conftest import REPO

SCRIPT = str(REPO / "tests" / "run_distributed.py")


def test_mirrored_strategy_over_two_logical_cpus(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, SCRIPT, str(tmp_path / "m.json")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["replicas"] == 2 and metrics["epochs_run"] == 4
    assert metrics["val_accuracy"] > 0.8


def test_a_multi_worker_cluster_is_refused_clearly_until_keras_supports_it(monkeypatch, params):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    with pytest.raises(PipelineError, match=r"MultiWorkerMirroredStrategy \(keras-team/keras#20585\)"):
        strategy_for(params.train)


def test_only_the_chief_writes(monkeypatch):
    assert is_chief()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()
