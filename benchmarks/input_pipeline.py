"""Benchmark: training images/s streaming from shards, against the in-memory tf.data pipeline imgclf used before
shards and a plain `model.fit` on numpy arrays: the same model, data and batch size, in one process, interleaved
repeat by repeat so that machine noise hits all alike. Goal: shards at least 0.95x the in-memory pipeline.

    python benchmarks/input_pipeline.py data/split/train --epochs 4 --repeats 3 --out benchmarks/results

Besides the default shuffle buffer, shards are also timed with a buffer of a quarter of the set (`--small-buffer`),
the case of a set larger than the buffer.

Latest result: benchmarks/results/input_pipeline.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.quiet  # noqa: F401  (before TensorFlow: no native start-up lines)

# isort: split
import keras
import tensorflow as tf

from imgclf.config.params import load_params
from imgclf.data.dataset import LabeledImages
from imgclf.data.shards import open_shards
from imgclf.fitting.memory import keep_large_blocks_returnable
from imgclf.modeling.input_pipeline import shuffle_buffer_images, training_batches
from imgclf.modeling.models import build_model


def in_memory_batches(data: LabeledImages, batch_size: int, seed: int, epochs: range) -> tf.data.Dataset:
    """imgclf's training pipeline before shards (imgclf/train.py at 443c97b): batches gathered by index from
    one in-memory copy, each epoch shuffled whole by its own seed."""
    images, labels = tf.constant(data.images), tf.constant(data.labels)
    n = len(data)
    indices = tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(
        lambda epoch: tf.data.Dataset.range(n).shuffle(n, seed=seed + epoch).batch(batch_size)
    )
    return indices.map(lambda i: (tf.gather(images, i), tf.gather(labels, i))).prefetch(tf.data.AUTOTUNE)


def timed_fit(params, shards, data, epochs: int, pipeline: str, buffer: int) -> float:
    """Images per second over all but the first epoch (which traces and warms up)."""
    keras.utils.set_random_seed(params.seed)
    model = build_model(params, shards.image_shape, len(shards.class_names))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stamps = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()))
    steps = -(-len(shards) // params.batch_size)
    if pipeline == "numpy_fit":
        model.fit(data.images, data.labels, batch_size=params.batch_size, epochs=epochs, verbose=0, callbacks=[record])
    else:
        if pipeline == "in_memory":
            batches = in_memory_batches(data, params.batch_size, params.seed, range(epochs))
        else:
            batches = training_batches(shards, params.batch_size, params.seed, range(epochs), buffer)
        model.fit(batches, epochs=epochs, steps_per_epoch=steps, verbose=0, callbacks=[record])
    return (epochs - 1) * len(shards) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_shards", type=Path, help="a folder of shards, e.g. data/split/train")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    keep_large_blocks_returnable()  # as the train stage does; process-wide, so for every input alike
    shards = open_shards(args.train_shards)
    data = shards.load_all()
    params = dataclasses.replace(load_params().train, epochs=args.epochs)
    buffers = {
        "shards": shuffle_buffer_images(shards, params.shuffle_buffer_mb),
        "shards_small_buffer": max(1, len(shards) // 4),
    }
    runs: dict[str, list[float]] = {"numpy_fit": [], "in_memory": [], "shards": [], "shards_small_buffer": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(timed_fit(params, shards, data, args.epochs, name, buffers.get(name, 0)))
    best = {name: max(values) for name, values in runs.items()}
    median = {name: statistics.median(values) for name, values in runs.items()}
    summary = {
        "data": str(args.train_shards),
        "images": len(shards),
        "image_shape": list(shards.image_shape),
        "shards": len(shards.files),
        "buffer_images": buffers,
        "model": params.model,
        "batch_size": params.batch_size,
        "images_per_second": {name: [round(v, 1) for v in values] for name, values in runs.items()},
        "shards_to_in_memory": {
            "best": round(best["shards"] / best["in_memory"], 3),
            "median": round(median["shards"] / median["in_memory"], 3),
        },
        "small_buffer_to_in_memory": {
            "best": round(best["shards_small_buffer"] / best["in_memory"], 3),
            "median": round(median["shards_small_buffer"] / median["in_memory"], 3),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "input_pipeline.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = (
        f"# Training throughput: {len(shards):,} images of {tuple(shards.image_shape)} in {len(shards.files)} shards "
        f"({args.train_shards}), {params.model}, batch {params.batch_size}\n\n"
        "Images/s over epochs 2-{e} of each fit, {r} repeats interleaved; the best and the median of each compared "
        "with the in-memory pipeline's.\n\n"
        "| input | images/s (each repeat) | best | median | best vs in-memory | median vs in-memory |\n"
        "|---|---|---|---|---|---|\n".format(e=args.epochs, r=args.repeats)
        + "".join(
            f"| {n} | {', '.join(f'{v:,.0f}' for v in runs[n])} | {best[n]:,.0f} | {median[n]:,.0f} | "
            f"{best[n] / best['in_memory']:.3f}x | {median[n] / median['in_memory']:.3f}x |\n"
            for n in runs
        )
        + f"\nshuffle buffer: {buffers['shards']:,} images (train.shuffle_buffer_mb {params.shuffle_buffer_mb:g}); "
        f"small buffer: {buffers['shards_small_buffer']:,}.\n"
    )
    (args.out / "input_pipeline.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
