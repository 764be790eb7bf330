"""tf.distribute on this CPU machine: MirroredStrategy over two logical CPU devices, and a MultiWorkerMirrored
cluster of two worker processes on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from imgclf.distribution.devices import cluster_workers, is_chief
from imgclf.errors import PipelineError
from tests.helpers import REPO

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out

SCRIPT = str(REPO / "tests" / "helpers" / "run_distributed.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("mirrored") / "m.json"
    result = subprocess.run([sys.executable, SCRIPT, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_mirrored_strategy_over_two_logical_cpus(mirrored: dict):
    assert mirrored["replicas"] == 2 and mirrored["epochs_run"] == 4
    assert mirrored["val_accuracy"] > 0.8


def run_cluster(
    tmp_path: Path, seeds: tuple[int | None, int | None] = (None, None), pretrained: Path | None = None
) -> list[tuple[int, str]]:
    """Two worker processes on 127.0.0.1 (with these train.seed overrides; a pretrained model from this weights
    file); their exit codes and outputs."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    workers = []
    for index, seed in enumerate(seeds):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        options = [] if seed is None else ["--seed", str(seed)]
        options += [] if pretrained is None else ["--pretrained", str(pretrained)]
        workers.append(
            subprocess.Popen(
                [sys.executable, SCRIPT, str(tmp_path / f"w{index}.json"), *options],
                env={**os.environ, "TF_CONFIG": config},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    return [(worker.wait(timeout=300), worker.communicate()[0]) for worker in workers]


def test_a_two_worker_cluster_trains_each_worker_on_its_own_shards(tmp_path: Path):
    """Each worker holds only its own 2 of the 4 training shards (the others are deleted): it never reads another's.
    Both take the same steps and end with the same weights."""
    for returncode, output in run_cluster(tmp_path):
        assert returncode == 0, output[-3000:]
    results = [json.loads((tmp_path / f"w{index}.json").read_text()) for index in range(2)]
    for index, result in enumerate(results):
        assert sorted(p.name for p in (tmp_path / f"w{index}-train").glob("*.npz")) == [
            f"0000{index}.npz",
            f"0000{index + 2}.npz",
        ]
        assert result["replicas"] == 2 and result["epochs_run"] == 4
        assert result["val_accuracy"] > 0.8
    assert results[0]["weights_sha256"] == results[1]["weights_sha256"]
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert results[0][name] == results[1][name]
    assert not (tmp_path / "w1-live").exists(), "only the chief logs with DVCLive"
    assert (tmp_path / "w0-live" / "plots" / "metrics" / "train" / "loss.tsv").is_file()


def test_a_two_worker_cluster_trains_a_pretrained_model_in_its_two_phases(tmp_path: Path):
    """Two phases, each compiled with its own optimizer and trainable set, through the cluster's own training loop."""
    import keras

    weights_file = tmp_path / "weights.h5"
    keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(224, 224, 3)).save(weights_file)
    for returncode, output in run_cluster(tmp_path, pretrained=weights_file):
        assert returncode == 0, output[-3000:]
        assert [line.split(":")[0] for line in output.splitlines() if line.startswith("epoch ")] == [
            "epoch 1/2",
            "epoch 2/2",
        ]
    results = [json.loads((tmp_path / f"w{index}.json").read_text()) for index in range(2)]
    assert [result["epochs_run"] for result in results] == [2, 2] and results[0]["replicas"] == 2
    assert results[0]["weights_sha256"] == results[1]["weights_sha256"], "the workers' replicas stay one model"
    logged = (tmp_path / "w0-live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in logged] == ["step", "0", "1"], "one log over both phases"


def test_workers_with_different_params_stop_with_one_clear_error(tmp_path: Path):
    for returncode, output in run_cluster(tmp_path, seeds=(1, 2)):
        assert returncode == 1
        error = [line for line in output.splitlines() if line.startswith("error: ")]  # then perhaps its details
        assert error and error[-1].startswith("error: the workers of the TF_CONFIG cluster disagree on params")


def test_only_the_chief_writes(monkeypatch):
    assert is_chief()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief()


@pytest.mark.parametrize("value", ["{not json", "[1, 2]"])
def test_a_tf_config_that_is_not_a_json_object_is_one_line(monkeypatch, value: str):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(PipelineError, match="^TF_CONFIG ") as info:
        cluster_workers()
    assert "\n" not in str(info.value)


def test_a_worker_whose_peer_never_starts_names_it_and_stops(tmp_path: Path):
    """It waited silently for good (11 minutes and more), ignoring SIGTERM."""
    me, silent = free_port(), free_port()
    cluster = {"worker": [f"127.0.0.1:{me}", f"127.0.0.1:{silent}"]}
    code = (
        "import dataclasses\n"
        "from imgclf.config.params import load_params\n"
        "from imgclf.distribution.devices import strategy_for\n"
        "strategy_for(dataclasses.replace(load_params().train, cluster_wait_s=3))\n"
    )
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == -9
    assert result.stderr.splitlines()[-1] == (
        f"error: TF_CONFIG: worker 1 (127.0.0.1:{silent}) did not join within 3 s (train.cluster_wait_s); "
        "start every worker of the cluster, or correct its address"
    )
