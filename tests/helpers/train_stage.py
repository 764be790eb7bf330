"""The train stage run as `dvc repro` runs it, on a small split written for it: for tests that kill or starve it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from imgclf.stage_deps import stage_argv
from tests.helpers import REPO
from tests.helpers.data import blobs, sharded


def run_train_stage(workdir: Path, code: Path = REPO) -> subprocess.Popen:
    """The train stage as `dvc repro` runs it, with the imgclf and stages packages of `code`."""
    return subprocess.Popen(
        [sys.executable, "-m", *stage_argv("train", REPO)],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(code)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def epochs_backed_up(metadata: Path) -> int:
    try:
        return json.loads(metadata.read_text())["epoch"]
    except (OSError, ValueError, KeyError):  # not written yet, or caught mid-write
        return 0


def twelve_epochs_on_four_shards(workdir: Path):
    """A train stage's params and split data in `workdir`: 12 epochs, from 4 shards, through a shuffle buffer of a
    third of the images."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"].update({"epochs": 12, "batch_size": 16, "backup_every_s": 0, "shuffle_buffer_mb": 60 * 64 / 2**20})
    raw["train"]["mlp"]["hidden_units"] = [64]
    (workdir / "params.yaml").write_text(yaml.safe_dump(raw))
    data = sharded(workdir / "data" / "split" / "train", blobs(n_per_class=60, seed=1), per_shard=50)
    val = sharded(workdir / "data" / "split" / "val", blobs(n_per_class=10, seed=2), per_shard=50)
    assert len(data.files) == 4
    return data, val
