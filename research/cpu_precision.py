"""Benchmark: how fast a recipe's network trains here in float32, in mixed bfloat16 (train.mixed_precision
bfloat16) and in float32 compiled by XLA (train.xla on), as training images per second, each against float32 in the
same run.

    python research/cpu_precision.py recipe_cifar10_fast

The network, optimizer, loss and input pipeline (augmentation included) are the recipe's own (sweeps.yaml over
params.yaml), built by the functions train uses; the images are random 32 x 32 ones in shards, since speed does not
depend on what the pixels show. Each fit's steps are timed one by one and the median step gives its images/s: on
this shared machine whole fits stall now and then for seconds, and a stall would otherwise decide the figure. The
settings take turns, round after round, so a change in the machine's speed falls on each alike. Results go under
the recipe's name in research/results/cpu_precision.json and .md; the other recipes' stay.
"""

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.quiet  # noqa: F401  (before TensorFlow: no native start-up lines)

# isort: split
import keras

from imgclf.config.params import TrainParams
from imgclf.data.dataset import LabeledImages
from imgclf.data.shards import Shards, open_shards, write_shards
from imgclf.distribution.devices import jit_compile, set_precision
from research.lab_params import lab_base_params
from imgclf.experiments.provenance import machine
from imgclf.fitting.augmentation import augmentation, flips_alternate
from imgclf.fitting.optimization import build_loss, build_optimizer, learning_rate
from imgclf.modeling.input_pipeline import training_batches
from imgclf.modeling.models import build_model
from imgclf.modeling.whitening import whiten_stem

SETTINGS = {  # name -> (train.mixed_precision, train.xla)
    "float32": ("off", "off"),
    "mixed bfloat16": ("bfloat16", "off"),
    "float32, XLA": ("off", "on"),
}
CLASSES = 10


def compiled_model(params: TrainParams, images: np.ndarray, steps_per_epoch: int) -> keras.Model:
    set_precision(params)
    keras.utils.set_random_seed(params.seed)
    model = build_model(params, images.shape[1:], CLASSES)
    if params.model == "airbench" and params.airbench.whiten:
        whiten_stem(model, images[:5000])
    model.compile(
        optimizer=build_optimizer(params, learning_rate(params, steps_per_epoch), model),
        loss=build_loss(params, CLASSES),
        jit_compile=jit_compile(params),
    )
    return model


class StepTimes(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def images_per_second(model: keras.Model, params: TrainParams, shards: Shards, steps: int) -> float:
    """From the median of `steps` timed steps, after 3 that build, trace and warm up."""
    batches = training_batches(
        shards, params.batch_size, params.seed, range(2), len(shards), augmentation(params),
        alternate_flips=flips_alternate(params),
    )  # fmt: skip
    times = StepTimes()
    model.fit(batches, epochs=1, steps_per_epoch=steps + 3, verbose=0, callbacks=[times])
    return params.batch_size / statistics.median(times.seconds[3:])


def markdown(results: dict) -> str:
    lines = ["# Training speed by precision on this machine's CPU", ""]
    for recipe, result in results.items():
        lines += [
            f"## {recipe}",
            "",
            f"Commit {result['commit']}, {result['date']}; {result['machine']}; CPU: {result['cpu']}. "
            f"{result['rounds']} rounds of {result['steps']} timed steps in batches of {result['batch_size']}, through "
            "the recipe's input pipeline; images/s from each round's median step, then the median round.",
            "",
            "| setting | train.mixed_precision | train.xla | images/s | against float32 | each round |",
            "|---|---|---|---|---|---|",
        ]
        base = result["settings"]["float32"]["images_per_s"]
        for name, row in result["settings"].items():
            rounds = ", ".join(f"{r:.0f}" for r in row["rounds"])
            lines.append(
                f"| {name} | {row['train.mixed_precision']} | {row['train.xla']} | {row['images_per_s']:.0f} "
                f"| {row['images_per_s'] / base:.2f}x | {rounds} |"
            )
        lines.append("")
    return "\n".join(lines)


def cpu_name() -> str:
    """The CPU's model name and which of the bfloat16 units oneDNN can use it has (Linux: /proc/cpuinfo)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    units = [unit for flag, unit in (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512_BF16")) if flag in flags]
    return f"{names[0] if names else 'unknown'}, {' and '.join(units) or 'no bfloat16 units'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="a recipe (a lab of sweeps.yaml), e.g. recipe_cifar10_fast")
    parser.add_argument("--steps", type=int, default=40, help="steps timed per round (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every setting (default 3)")
    parser.add_argument("--out", type=Path, default=Path("research/results"))
    args = parser.parse_args()
    recipe = lab_base_params(args.recipe).train
    rng = np.random.default_rng(0)
    count = (args.steps + 3) * recipe.batch_size
    images = LabeledImages(
        rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, CLASSES, count).astype(np.int64),
        tuple(str(label) for label in range(CLASSES)),
    )
    speeds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as scratch:
        write_shards(Path(scratch) / "train", images, 16)
        shards = open_shards(Path(scratch) / "train")
        for round_number in range(args.rounds):
            for name, (precision, xla) in SETTINGS.items():
                params = dataclasses.replace(recipe, mixed_precision=precision, xla=xla)
                model = compiled_model(params, images.images, args.steps)
                speeds[name].append(images_per_second(model, params, shards, args.steps))
                print(f"round {round_number + 1}: {name}: {speeds[name][-1]:.0f} images/s", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "commit": commit,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "cpu": cpu_name(),
        "steps": args.steps,
        "batch_size": recipe.batch_size,
        "rounds": args.rounds,
        "settings": {
            name: {
                "train.mixed_precision": precision,
                "train.xla": xla,
                "images_per_s": round(statistics.median(speeds[name]), 1),
                "rounds": [round(s, 1) for s in speeds[name]],
            }
            for name, (precision, xla) in SETTINGS.items()
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cpu_precision.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.recipe] = result
    path.write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "cpu_precision.md").write_text(markdown(results))
    print(markdown({args.recipe: result}))


if __name__ == "__main__":
    main()
