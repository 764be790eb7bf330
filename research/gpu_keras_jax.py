"""Benchmark: a CIFAR-10 recipe on one GPU where TensorFlow cannot be installed, through Keras 3's JAX backend.

The recipe's own model, augmentation, optimizer, learning-rate schedule and loss come from imgclf, built from
params.yaml and the recipe's sweeps.yaml base; the images are read and split as preprocess and split read and
split a photo folder (same decoder, same class order, same validation images). What differs from `dvc repro`:
Keras runs on JAX, which compiles every step with XLA; the augmentation runs on the GPU inside the training step,
not in tf.data; batches are shuffled by Keras, not by train.seed's tf.data order (with train.augment.alternate_flip,
by research/flip_batches.py, in numpy). Mixed precision follows train.mixed_precision (precision_policy).

    KERAS_BACKEND=jax python research/gpu_keras_jax.py CIFAR10_JPG_DIR recipe_cifar10_full --run "" \\
        --run "train.epochs=40" --seeds 0 1 --target 0.94 --budget-s 400 --commit abc1234 --out DIR

Each run (one per --run and seed; the schedule stretches to train.epochs) is written to DIR/NAME.json and .md as
soon as it ends, so a run cut off by a time limit leaves the ones before it. A run whose estimated time
would overrun --budget-s is recorded as not run.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import yaml

from research.flip_batches import AlternatingFlipBatches
from imgclf.config.params import EvaluateParams, Params
from imgclf.data.folder import find_root, list_images, load_images, split_dirs
from imgclf.data.preprocess import first_per_class, interleave_classes
from imgclf.data.split import stratified_split
from research.lab_params import lab_base_params
from imgclf.fitting.augmentation import augmentation, flips_alternate
from imgclf.fitting.lookahead import Lookahead
from imgclf.fitting.optimization import build_loss, build_optimizer, learning_rate
from imgclf.modeling.models import build_model
from imgclf.modeling.whitening import WHITENING_IMAGES, whiten_stem


def load_split(folder: Path, params: Params) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train, val and test images and labels, as preprocess (class order, max_per_class) and split would give them."""
    p, parts, class_names = params.preprocess, {}, None
    for name, path in split_dirs(find_root(folder)).items():
        files, _ = list_images(path, class_names)
        class_names = files.class_names
        keep = first_per_class(files.labels, p.max_per_class)
        keep = keep[interleave_classes(files.labels[keep])]
        files = type(files)([files.paths[i] for i in keep], files.labels[keep], files.class_names)
        data, _ = load_images(files, p.image_size, p.resize, "rgb", True, p.max_pixels)
        parts[name] = (data.images, data.labels)
    images, labels = parts.pop("train")
    keep, val = stratified_split(labels, class_names, params.split.val_fraction, params.split.seed,
                                 "split.val_fraction", ("train", "validation"))  # fmt: skip
    return {"train": (images[keep], labels[keep]), "val": (images[val], labels[val]), "test": parts["test"]}


class EpochClock(keras.callbacks.Callback):
    """Seconds since fit began at each epoch's end (the first includes XLA's compilation), and val accuracy."""

    def on_train_begin(self, logs=None) -> None:
        self.start, self.seconds, self.val_accuracy = time.perf_counter(), [], []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.seconds.append(round(time.perf_counter() - self.start, 2))
        self.val_accuracy.append(round(float(logs["val_accuracy"]), 4))
        print(f"epoch {epoch + 1}: {self.seconds[-1]:.1f} s, val_accuracy {self.val_accuracy[-1]:.4f}", flush=True)


def test_views(model: keras.Model, images: np.ndarray, params: EvaluateParams) -> np.ndarray:
    """The probabilities of evaluate's test-time views (imgclf.evaluation.evaluate.predict_views), with numpy."""

    def mirror_averaged(views: np.ndarray) -> np.ndarray:
        probabilities = model.predict(views, batch_size=1024, verbose=0)
        if params.tta:
            probabilities = (probabilities + model.predict(views[:, :, ::-1], batch_size=1024, verbose=0)) / 2
        return probabilities

    probabilities, s = mirror_averaged(images), params.tta_shift
    if s:
        padded = np.pad(images, [(0, 0), (s, s), (s, s), (0, 0)], mode="reflect")
        shifted = mirror_averaged(padded[:, : -2 * s, : -2 * s]) + mirror_averaged(padded[:, 2 * s :, 2 * s :])
        probabilities = probabilities / 2 + shifted / 4
    return probabilities


def precision_policy(mixed_precision: str) -> str:
    """train.mixed_precision on a GPU: bfloat16 as set, off as float32, and on or auto as float16."""
    return {"bfloat16": "mixed_bfloat16", "off": "float32"}.get(mixed_precision, "mixed_float16")


def train_and_test(params: Params, data: dict, target: float) -> dict:
    t = params.train
    keras.utils.set_random_seed(t.seed)
    keras.mixed_precision.set_global_policy(precision_policy(t.mixed_precision))
    (x, y), shape = data["train"], data["train"][0].shape[1:]
    steps = -(-len(x) // t.batch_size)
    classes = int(y.max()) + 1
    model = build_model(t, shape, classes)
    if t.model == "airbench" and t.airbench.whiten:  # as train does
        whiten_stem(model, x[:WHITENING_IMAGES])
    inputs = keras.Input(shape, dtype="uint8")
    augment = augmentation(t)  # active in training steps only, as in the pipeline's tf.data map (rounded to uint8)
    pixels = inputs
    if augment is not None:
        for layer in augment.layers:  # Keras marks them not jit-able for TensorFlow's XLA; their JAX ops compile
            layer.supports_jit = True
        pixels = keras.layers.Lambda(lambda v: keras.ops.clip(keras.ops.round(v), 0, 255))(augment(inputs))
    trainer = keras.Model(inputs, model(pixels))
    trainer.compile(optimizer=build_optimizer(t, learning_rate(t, steps), trainer), loss=build_loss(t, classes),
                    metrics=["accuracy"], jit_compile=True)  # fmt: skip
    clock = EpochClock()
    lookahead = [Lookahead(t.lookahead, t.lookahead_every, steps, t.epochs)] if t.lookahead else []
    if flips_alternate(t):  # augmentation() then leaves the flip to the batches
        batches = AlternatingFlipBatches(x, y, t.batch_size, t.seed)
        feed = {"x": batches, "steps_per_epoch": batches.steps_per_epoch, "shuffle": False}  # shuffled by seed there
    else:
        feed = {"x": x, "y": y, "batch_size": t.batch_size, "shuffle": True}
    trainer.fit(**feed, epochs=t.epochs, validation_data=data["val"], callbacks=[clock, *lookahead], verbose=0)
    test_x, test_y = data["test"]
    plain = float((model.predict(test_x, batch_size=1024, verbose=0).argmax(1) == test_y).mean())
    probabilities = test_views(model, test_x, params.evaluate)
    reached = [s for s, v in zip(clock.seconds, clock.val_accuracy, strict=True) if v >= target]
    steady = (clock.seconds[-1] - clock.seconds[0]) / max(1, len(clock.seconds) - 1)
    return {"test_accuracy": round(float((probabilities.argmax(1) == test_y).mean()), 4),
            "test_accuracy_without_tta": round(plain, 4), "train_seconds": clock.seconds[-1],
            "first_epoch_seconds": clock.seconds[0], "seconds_per_later_epoch": round(steady, 2),
            "images_per_second": round(len(x) / steady) if len(clock.seconds) > 1 else None,
            "seconds_to_target": reached[0] if reached else None, "best_val_accuracy": max(clock.val_accuracy),
            "val_accuracy_by_epoch": clock.val_accuracy}  # fmt: skip


def card() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout  # fmt: skip
        return "; ".join(line.strip() for line in out.splitlines() if line.strip())
    except (OSError, subprocess.SubprocessError):
        return "no NVIDIA GPU (nvidia-smi)"


def seed_means(runs: list[dict]) -> list[str]:
    """A table of each change's test accuracy over the seeds it ran with: the mean, then every seed's."""
    by_changes: dict[str, list[float]] = {}
    for r in runs:
        changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in r["changes"].items()) or "none"
        by_changes.setdefault(changes, []).extend([r["test_accuracy"]] if "test_accuracy" in r else [])
    lines = ["| changes to the recipe | mean test accuracy (TTA) | each seed |", "|---|---|---|"]
    for changes, values in by_changes.items():
        mean = f"{sum(values) / len(values):.2%}" if values else "not run"
        lines.append(f"| {changes} | {mean} | {' / '.join(f'{v:.2%}' for v in values)} |")
    return lines


def write(out: Path, name: str, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# {result['recipe']} on {result['device']}", "",
             f"Commit {result['commit']}, {result['date']}; {result['software']}; {result['route']}. Train s counts "
             "from fit's start, the GPU's warm-up and XLA's compilation included; images/s is over the later "
             "epochs (their validation included).", "",
             *seed_means(result["runs"]), "",
             "| changes to the recipe | seed | test accuracy (TTA) | without TTA | train s | s to target | images/s "
             "| best val |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in result["runs"]:
        changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in r["changes"].items()) or "none"
        if "not_run" in r:
            lines.append(f"| {changes} | {r['seed']} | not run: {r['not_run']} | | | | | |")
            continue
        reached = r["seconds_to_target"]
        to_target = reached if reached is not None else f"not reached ({result['target']:.0%})"
        lines.append(
            f"| {changes} | {r['seed']} | {r['test_accuracy']:.2%} | {r['test_accuracy_without_tta']:.2%} | "
            f"{r['train_seconds']} | {to_target} | {r['images_per_second']} | {r['best_val_accuracy']:.2%} |"
        )
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="CIFAR-10 as train/<class>/*.jpg and test/<class>/*.jpg")
    parser.add_argument("recipe", help="a recipe (lab) of sweeps.yaml, e.g. recipe_cifar10_full")
    changes = "one run's changes to the recipe, 'key=value;key=value' ('' for none); in order"
    parser.add_argument("--run", action="append", required=True, help=changes)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.seed values: each run once per seed")
    parser.add_argument("--target", type=float, default=0.94, help="the validation accuracy to time")
    parser.add_argument("--budget-s", type=float, default=400, help="skip a run estimated to end past this")
    parser.add_argument("--commit", required=True, help="the commit this tree is (the device copy has no .git)")
    parser.add_argument("--out", type=Path, required=True, help="folder for NAME.json and NAME.md")
    parser.add_argument("--name", default="gpu_keras_jax", help="the results' file name, without suffix")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    runs = [{k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in spec.split(";") if s)} for spec in args.run]
    fixed = [k for run in runs for k in run if k.split(".")[0] in ("data", "preprocess", "split")]
    if fixed:
        parser.error(f"{fixed[0]}: the images are read once, with the recipe's own data, preprocess and split")
    base = lab_base_params(args.recipe)
    data = load_split(args.folder, base)
    print({k: len(v[1]) for k, v in data.items()}, f"read in {time.perf_counter() - began:.1f} s", flush=True)
    import jax

    route = f"Keras on JAX (XLA), {precision_policy(base.train.mixed_precision)}, augmentation on the GPU"
    result = {"recipe": args.recipe, "target": args.target, "device": card(),
              "software": f"Keras {keras.__version__}, JAX {jax.__version__} ({jax.default_backend()})",
              "route": route, "commit": args.commit,
              "date": datetime.date.today().isoformat(), "runs": []}  # fmt: skip
    per_epoch = 0.0
    for changes in runs:
        for seed in args.seeds:
            params = lab_base_params(args.recipe, {**changes, "train.seed": seed})
            left, estimate = args.budget_s - (time.perf_counter() - began), 20 + params.train.epochs * per_epoch
            if estimate > left:
                run = {"not_run": f"estimated {estimate:.0f} s, {left:.0f} s left"}
            else:
                run = train_and_test(params, data, args.target)
                per_epoch = max(per_epoch, run["seconds_per_later_epoch"])
            precision = precision_policy(params.train.mixed_precision)
            result["runs"].append({"changes": changes, "seed": seed, "precision": precision, **run})
            write(args.out, args.name, result)
            print(json.dumps(result["runs"][-1]), flush=True)


if __name__ == "__main__":
    main()
