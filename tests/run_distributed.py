"""Train a small model under tf.distribute in a fresh process (devices can only be set before TensorFlow starts).

python tests/run_distributed.py mirrored OUT.json   # two logical CPU devices, MirroredStrategy
TF_CONFIG=... python tests/run_distributed.py cluster OUT.json   # one worker of a MultiWorker cluster
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tensorflow as tf

from imgclf.params import load_params
from imgclf.train import train
from tests.conftest import REPO, blobs, quick_mlp


def main(out: Path) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    params = load_params(REPO / "params.yaml").train
    params = quick_mlp(params, epochs=4, distribute="mirrored")
    _, metrics = train(
        params,
        blobs(seed=1),
        blobs(n_per_class=10, seed=2),
        out.parent / f"{out.stem}-live",
        out.parent / f"{out.stem}-backup",
    )
    out.write_text(json.dumps(metrics))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
