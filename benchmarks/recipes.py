"""Benchmark: each recipe (sweeps.yaml, recipe_*) against the lab it should beat, in one run, on one machine, on a
fresh clone of this repository's HEAD. Each side is `dvc exp run --force plot` (fetch to plot, an experiment so that
it records its training time) with its sweeps.yaml base as params; it records test accuracy, wall time, training
images per second, and the training seconds the recipe took to pass the lab's test accuracy on its validation set
(epochs to pass it, times the seconds per epoch).

    python benchmarks/recipes.py --mnist ../shared/datasets/mnist recipe_mnist
    python benchmarks/recipes.py --cifar-folder /tmp/cifar10-jpg recipe_cifar10_fast
    python benchmarks/recipes.py --skip-lab --fashion-mnist /usr/share/datasets/fashion-mnist recipe_fashion_mnist

On a GPU, mixed precision and XLA, the time to 94% and images/s, into benchmarks/results/gpu/ (at most 10 minutes):

    benchmarks/gpu_recipe.sh DIR

On a GPU machine with JAX but no TensorFlow, research/gpu_keras_jax.py runs the same recipes through Keras on JAX.

A recipe already in benchmarks/results/recipes.json is replaced; the others stay as they were, each with its own
commit and date. Recipes of one run that share a lab are measured against one run of it.
"""

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from benchmarks.labs import run
from imgclf.config.yaml_file import read_yaml
from imgclf.experiments.labs import apply, load_labs
from imgclf.machine import machine

REPO = Path(__file__).resolve().parent.parent
LAB_OF = {"recipe_mnist": "mnist_mlp", "recipe_fashion_mnist": None, "recipe_cifar10_fast": "cifar10_cnn",
          "recipe_cifar10_full": "cifar10_cnn"}  # fmt: skip
GOALS = {"recipe_mnist": "≥ 99.5% in less wall time than the lab", "recipe_fashion_mnist": "≥ 93.5%",
         "recipe_cifar10_fast": "≥ 90% in ≤ 1/2 the lab's wall time",
         "recipe_cifar10_full": "≥ 94% in ≤ 2x the lab's wall time"}  # fmt: skip


def repro(project: Path, overrides: dict) -> dict:
    """Writes params.yaml with the overrides, times `dvc exp run --force plot`; its figures and per-epoch val
    accuracy."""
    raw = read_yaml(REPO / "params.yaml")
    (project / "params.yaml").write_text(yaml.safe_dump(apply(raw, overrides), sort_keys=False))
    seconds, _ = run([sys.executable, "-m", "dvc", "exp", "run", "--force", "plot"], project)
    evaluation = json.loads((project / "metrics" / "eval.json").read_text())
    training = json.loads((project / "metrics" / "train.json").read_text())
    timing = json.loads((project / "metrics" / "timing.json").read_text())["train"]
    val = (project / "dvclive" / "plots" / "metrics" / "eval" / "accuracy.tsv").read_text().splitlines()[1:]
    return {"test_accuracy": evaluation["test_accuracy"], "wall_seconds": round(seconds, 1),
            "train_seconds": timing["train_seconds"], "images_per_second": timing["images_per_second"],
            "epochs_run": training["epochs_run"],
            "val_accuracy_by_epoch": [round(float(line.split()[1]), 4) for line in val]}  # fmt: skip


def forward_flops(overrides: dict, shape: tuple[int, int, int]) -> int:
    """Multiply-adds of the convolutions and dense layers for one image, times 2: the model's forward FLOPs."""
    import keras

    from imgclf.config.params import parse_params
    from imgclf.modeling.models import build_model

    params = parse_params(apply(read_yaml(REPO / "params.yaml"), overrides))
    model = build_model(params.train, shape, 10)
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width, out = layer.output.shape[1:]
            macs += height * width * out * layer.kernel.shape[0] * layer.kernel.shape[1] * layer.kernel.shape[2]
        elif isinstance(layer, keras.layers.Dense):
            macs += layer.kernel.shape[0] * layer.kernel.shape[1]
    return 2 * macs


def seconds_to_reach(run: dict, accuracy: float) -> float | None:
    epochs = run["val_accuracy_by_epoch"]
    reached = next((i for i, a in enumerate(epochs) if a >= accuracy), None)
    return None if reached is None else round(run["train_seconds"] * (reached + 1) / len(epochs), 1)


def data_overrides(args: argparse.Namespace, dataset: str) -> dict:
    if dataset == "mnist":
        return {"data.mirrors.mnist": [str(args.mnist.resolve())]}
    if dataset == "fashion_mnist":
        return {"data.mirrors.fashion_mnist": [str(args.fashion_mnist.resolve())]}
    return {"data.dataset": "folder", "data.folder": str(args.cifar_folder.resolve()), "preprocess.image_size": 32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="*", help="recipe_* of sweeps.yaml; none: rewrite recipes.md from the json")
    parser.add_argument("--mnist", type=Path, help="a folder of MNIST's four IDX .gz files")
    parser.add_argument("--fashion-mnist", type=Path, help="a folder of Fashion-MNIST's four IDX .gz files")
    parser.add_argument("--cifar-folder", type=Path, help="CIFAR-10 as train/<class>/*.jpg and test/<class>/*.jpg")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="for the recipes")
    parser.add_argument("--target", type=float, help="also record the training seconds to this validation accuracy")
    parser.add_argument("--skip-lab", action="store_true", help="run the recipes alone (the lab is not compared)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--keep", type=Path, help="copy each recipe's models/ and test shards to KEEP/RECIPE/")
    args = parser.parse_args()
    unknown = [name for name in args.recipes if name not in LAB_OF]
    if unknown:
        parser.error(f"no recipe {unknown[0]}; choose from {', '.join(LAB_OF)}")
    labs = load_labs(REPO / "sweeps.yaml")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    path = args.out / "recipes.json"
    results = json.loads(path.read_text()) if path.exists() else {"recipes": {}}
    lab_runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        run(["git", "clone", "--quiet", str(REPO), str(project)], Path(tmp))
        for name in args.recipes:
            recipe = labs[name].base
            data = data_overrides(args, recipe["data.dataset"])
            entry = {"commit": commit.stdout.strip(), "date": datetime.date.today().isoformat(),
                     "machine": machine(), "goal": GOALS[name]}  # fmt: skip
            lab = LAB_OF[name]
            if lab and not args.skip_lab:  # once per run: both CIFAR-10 recipes are measured against one lab run
                if lab not in lab_runs:
                    lab_runs[lab] = {"name": lab, **repro(project, {**labs[lab].base, **data})}
                entry["lab"] = lab_runs[lab]
            extra = {key: yaml.safe_load(value) for key, _, value in (pair.partition("=") for pair in args.set)}
            entry["recipe"] = repro(project, {**recipe, **data, **extra})
            if args.keep:  # for later looks at the trained model, e.g. research/tta_views.py
                shutil.copytree(project / "models", args.keep / name / "models", dirs_exist_ok=True)
                shutil.copytree(project / "data" / "split" / "test", args.keep / name / "test", dirs_exist_ok=True)
            if extra:
                entry["recipe"]["overrides"] = extra
            if args.target:
                reached = seconds_to_reach(entry["recipe"], args.target)
                entry["recipe"]["seconds_to_target"] = {str(args.target): reached}
            if "lab" in entry:
                entry["recipe"]["seconds_to_lab_accuracy"] = seconds_to_reach(
                    entry["recipe"], entry["lab"]["test_accuracy"]
                )
            results["recipes"][name] = entry
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2) + "\n")  # after each recipe: a later failure keeps it
    for name, entry in results["recipes"].items():
        recipe = labs[name].base
        shape = (32, 32, 3) if recipe["data.dataset"] == "cifar10" else (28, 28, 1)
        entry["recipe"].setdefault("forward_flops", forward_flops(recipe, shape))
    path.write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out / "recipes.md").write_text(text)
    print(text)


def markdown(results: dict) -> str:
    lines = [
        "# Recipes against the labs, each pair measured in one run on one machine",
        "",
        "| recipe | goal | test accuracy | wall time | images/s | forward FLOPs per image | lab | lab's accuracy | "
        "lab's wall time | recipe's training s to the lab's accuracy | commit, date, machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in results["recipes"].items():
        r, lab = e["recipe"], e.get("lab")
        lab_cells = (
            f"{lab['name']} | {lab['test_accuracy']:.2%} | {lab['wall_seconds']:.0f} s | "
            f"{r.get('seconds_to_lab_accuracy') or 'not reached'}"
            if lab
            else ("not run in this run" if LAB_OF[name] else "none: an accuracy goal") + " | | | "
        )
        lines.append(
            f"| {name} | {e['goal']} | {r['test_accuracy']:.2%} | {r['wall_seconds']:.0f} s | "
            f"{r['images_per_second']:.0f} | {r['forward_flops'] / 1e6:.0f} M | {lab_cells} | "
            f"{e['commit']}, {e['date']}, {e['machine']} |"
        )
    lines += [
        "",
        "Wall time: `dvc exp run --force plot`, fetch to plot, on a fresh clone; images/s: training. Forward FLOPs:",
        "2 x the multiply-adds of the convolutions and dense layers for one image.",
        "",
        "The published references (not run here):",
        "",
        "| reference | result | time | compute |",
        "|---|---|---|---|",
        "| keras-io `mnist_convnet` | about 99% on MNIST | 15 epochs | about 5 M forward FLOPs per image (2 convs) |",
        "| airbench94 | 94.01% on CIFAR-10 | 3.29 s on one A100 | 0.36 PFLOP of training; widths 64-256-256 |",
        "| airbench96 | 96.05% on CIFAR-10 | 46 s on one A100 | |",
        "| a standard ResNet-18 run | 96% on CIFAR-10 | 7 min on one A100 | about 1.1 G forward FLOPs per image |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
