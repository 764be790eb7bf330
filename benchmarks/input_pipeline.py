"""Benchmark: training images/sec through imgclf's tf.data input pipeline against a plain `model.fit` on numpy
arrays, same model, data and batch size, in one process (goal: ratio >= 1.0).

    python benchmarks/input_pipeline.py data/split/train.npz --epochs 5 --out benchmarks/results
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras

from imgclf.dataset import load_images
from imgclf.models import build_model
from imgclf.params import load_params
from imgclf.train import input_pipeline


def timed_fit(params, data, epochs: int, pipeline: bool) -> float:
    """Images per second over all but the first epoch (which traces and warms up)."""
    keras.utils.set_random_seed(params.seed)
    model = build_model(params, data.images.shape[1:], len(data.class_names))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stamps = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()))
    if pipeline:
        steps = -(-len(data) // params.batch_size)
        batches = input_pipeline(data, params.batch_size, params.seed, range(epochs))
        model.fit(batches, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[record])
    else:
        model.fit(data.images, data.labels, batch_size=params.batch_size, epochs=epochs, verbose=0, callbacks=[record])
    return (epochs - 1) * len(data) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_npz", type=Path)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    data = load_images(args.train_npz)
    params = dataclasses.replace(load_params().train, epochs=args.epochs)
    runs = {"numpy_fit": [], "tf_data": []}
    for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
        runs["numpy_fit"].append(timed_fit(params, data, args.epochs, pipeline=False))
        runs["tf_data"].append(timed_fit(params, data, args.epochs, pipeline=True))
    best = {name: max(values) for name, values in runs.items()}
    summary = {
        "data": str(args.train_npz),
        "images": len(data),
        "model": params.model,
        "batch_size": params.batch_size,
        "images_per_second": {name: [round(v, 1) for v in values] for name, values in runs.items()},
        "ratio_best": round(best["tf_data"] / best["numpy_fit"], 3),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "input_pipeline.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = (
        f"# Input pipeline benchmark: {len(data)} images of {args.train_npz}, "
        f"{params.model}, batch {params.batch_size}\n\n"
        "| input | images/s (each repeat) | best |\n|---|---|---|\n"
        + "".join(f"| {n} | {', '.join(f'{v:.0f}' for v in runs[n])} | {best[n]:.0f} |\n" for n in runs)
        + f"\ntf.data / numpy fit (best of each): {summary['ratio_best']}x\n"
    )
    (args.out / "input_pipeline.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
