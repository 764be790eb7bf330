"""The baseline of benchmarks/labs.py: the MNIST lab as one plain Keras script, no DVC and no imgclf. Same data
(the IDX files), same split sizes, same 784-800-10 network, optimizer, batch size and epochs as the pipeline.

    python benchmarks/plain_keras_mnist.py /path/to/mnist --epochs 100   # prints a JSON line
"""

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.quiet  # noqa: F401  (before TensorFlow: no native start-up lines)

# isort: split
import keras
import numpy as np


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = np.frombuffer(raw, ">u4", ndim, 4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    args = parser.parse_args()
    start = time.perf_counter()
    keras.utils.set_random_seed(42)
    x = read_idx(args.mnist_dir / "train-images-idx3-ubyte.gz")
    y = read_idx(args.mnist_dir / "train-labels-idx1-ubyte.gz").astype("int64")
    x_test = read_idx(args.mnist_dir / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(args.mnist_dir / "t10k-labels-idx1-ubyte.gz").astype("int64")
    order = np.random.default_rng(42).permutation(len(x))
    n_val = int(len(x) * args.val_fraction)
    val, train = order[:n_val], order[n_val:]
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(800, activation="relu", kernel_initializer="random_normal"),
            keras.layers.Dense(10, activation="softmax", kernel_initializer="random_normal"),
        ]
    )
    model.compile(keras.optimizers.SGD(args.lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    fit_start = time.perf_counter()
    model.fit(
        x[train], y[train], batch_size=args.batch_size, epochs=args.epochs, validation_data=(x[val], y[val]), verbose=0
    )
    fit_seconds = time.perf_counter() - fit_start
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(json.dumps({"accuracy": accuracy, "loss": loss, "train_seconds": fit_seconds,
                      "script_seconds": time.perf_counter() - start}))  # fmt: skip


if __name__ == "__main__":
    main()
