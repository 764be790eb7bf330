"""Train a small model under tf.distribute in a fresh process (devices can only be set before TensorFlow starts).

python tests/helpers/run_distributed.py OUT.json                  # two logical CPU devices, MirroredStrategy
TF_CONFIG=... python tests/helpers/run_distributed.py OUT.json [--seed N] [--pretrained WEIGHTS.h5]
                                                         # one worker of a MultiWorkerMirroredStrategy cluster

OUT.json gets the run's metrics and a digest of the trained weights (the workers of a cluster must agree on it).
The training set is 4 shards; in a cluster, each worker deletes the shards that are not its own before training.
--pretrained: a MobileNetV3Small starting from WEIGHTS.h5 (which the caller writes: in a cluster worker no TF op may
run before the strategy exists), 1 epoch frozen then 1 fine-tuning, instead of the MLP.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tensorflow as tf

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.distribution.devices import cluster_workers, tf_config
from imgclf.fitting.train import train
from tests.helpers import REPO
from tests.helpers.data import blobs, quick_mlp, sharded


def main(out: Path, seed: int | None, weights_file: Path | None) -> None:
    if not cluster_workers():
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    params = load_params(REPO / "params.yaml").train
    params = quick_mlp(params, epochs=4, distribute="mirrored", seed=params.seed if seed is None else seed)
    if weights_file is not None:
        params = dataclasses.replace(
            params,
            model="pretrained",
            epochs=1,
            batch_size=8,
            optimizer="adam",
            lr=0.01,
            pretrained=dataclasses.replace(params.pretrained, dropout=0.0, fine_tune_epochs=1, fine_tune_lr=0.001),
        )
    train_data = sharded(out.parent / f"{out.stem}-train", blobs(seed=1), per_shard=30)
    if cluster_workers():
        worker = tf_config()["task"]["index"]
        for index, path in enumerate(train_data.paths):
            if index % cluster_workers() != worker:
                path.unlink()
    model, metrics = train(
        params,
        train_data,
        sharded(out.parent / f"{out.stem}-val", blobs(n_per_class=10, seed=2)),
        out.parent / f"{out.stem}-live",
        out.parent / f"{out.stem}-backup",
        weights_file,
    )
    digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
    out.write_text(json.dumps({**metrics, "weights_sha256": digest}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--pretrained", type=Path, metavar="WEIGHTS.h5")
    args = parser.parse_args()
    exit_on_error(lambda: main(args.out, args.seed, args.pretrained))
