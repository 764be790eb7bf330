"""Benchmark: the pipeline against the labs, in one run, on a fresh clone of this repository's HEAD.

1. Overhead: wall time of `dvc exp run` (all the stages, from the raw IDX files; an experiment, so that it records
   its training time) on full MNIST with the MNIST lab's
   setup, against benchmarks/plain_keras_mnist.py doing the same training on the same files (goal <= 1.10x).
2. The labs' seed configurations (sweeps.yaml bases) against their published numbers: MNIST MLP 96.34% after
   100 SGD epochs (the run above); CIFAR-10 CNN 76.29% after 25 epochs, run for --cifar-epochs on the
   CIFAR-10 JPEG tree, its 25-epoch time extrapolated from the measured seconds per epoch.
3. The recommended presets (PRESETS) on the same data and epochs.

    python benchmarks/labs.py --mnist /path/to/mnist --cifar-folder /path/to/cifar10-jpg --cifar-epochs 3

Latest result: benchmarks/results/labs.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from imgclf.config.yaml_file import read_yaml
from imgclf.experiments.labs import apply, load_labs

REPO = Path(__file__).resolve().parent.parent

LAB_NUMBERS = {"mnist_mlp": {"accuracy": 0.9634, "epochs": 100}, "cifar10_cnn": {"accuracy": 0.7629, "epochs": 25}}

PRESETS = {  # the lab's base plus these: what we recommend instead
    "mnist_mlp": {"train.optimizer": "adam", "train.lr": 0.001, "train.mlp.dropout": 0.2, "train.epochs": 20,
                  "train.batch_size": 128},
    "cifar10_cnn": {"train.optimizer": "adam", "train.lr": 0.001, "train.schedule": "constant",
                    "train.batch_size": 64, "train.augment.enabled": True, "train.augment.rotation": 0,
                    "train.augment.shear": 0, "train.augment.zoom": 0},
}  # fmt: skip


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def repro(project: Path, overrides: dict) -> dict:
    """Writes params.yaml with the overrides and times `dvc exp run`; returns its metrics and wall time."""
    raw = read_yaml(REPO / "params.yaml")
    (project / "params.yaml").write_text(yaml.safe_dump(apply(raw, overrides), sort_keys=False))
    seconds, _ = run([sys.executable, "-m", "dvc", "exp", "run"], project)
    evaluation = json.loads((project / "metrics" / "eval.json").read_text())
    training = json.loads((project / "metrics" / "train.json").read_text())
    timing = json.loads((project / "metrics" / "timing.json").read_text())["train"]
    return {"wall_seconds": round(seconds, 1), "accuracy": evaluation["test_accuracy"], "loss": evaluation["test_loss"],
            "epochs_run": training["epochs_run"], "train_seconds": timing["train_seconds"],
            "images_per_second": timing["images_per_second"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", type=Path, required=True, help="a folder of MNIST's four IDX .gz files")
    parser.add_argument("--cifar-folder", type=Path, help="CIFAR-10 as train/<class>/*.jpg and test/<class>/*.jpg")
    parser.add_argument("--cifar-epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    labs = load_labs(REPO / "sweeps.yaml")
    results: dict = {"machine": f"{os.cpu_count()} CPU cores", "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        run(["git", "clone", "--quiet", str(REPO), str(project)], Path(tmp))
        mnist = {**labs["mnist_mlp"].base, "data.mirrors.mnist": [str(args.mnist.resolve())]}
        seconds, out = run([sys.executable, str(REPO / "benchmarks" / "plain_keras_mnist.py"), str(args.mnist)], REPO)
        results["runs"]["plain_keras_mnist"] = {**json.loads(out.splitlines()[-1]), "wall_seconds": round(seconds, 1)}
        results["runs"]["mnist_mlp"] = repro(project, mnist)
        results["overhead"] = round(
            results["runs"]["mnist_mlp"]["wall_seconds"] / results["runs"]["plain_keras_mnist"]["wall_seconds"], 3
        )
        results["runs"]["mnist_mlp_preset"] = repro(project, {**mnist, **PRESETS["mnist_mlp"]})
        if args.cifar_folder:
            cifar = {**labs["cifar10_cnn"].base, "data.dataset": "folder", "data.folder": str(args.cifar_folder),
                     "preprocess.image_size": 32, "train.epochs": args.cifar_epochs}  # fmt: skip
            for name, overrides in (
                ("cifar10_cnn", cifar),
                ("cifar10_cnn_preset", {**cifar, **PRESETS["cifar10_cnn"]}),
            ):
                measured = repro(project, overrides)
                per_epoch = measured["train_seconds"] / measured["epochs_run"]
                fixed = measured["wall_seconds"] - measured["train_seconds"]
                measured["extrapolated_wall_seconds_25_epochs"] = round(fixed + 25 * per_epoch, 1)
                results["runs"][name] = measured
    results["presets"] = PRESETS
    results["lab_numbers"] = LAB_NUMBERS
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "labs.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results, args)
    (args.out / "labs.md").write_text(text)
    print(text)


def markdown(results: dict, args: argparse.Namespace) -> str:
    runs = results["runs"]
    plain, mnist = runs["plain_keras_mnist"], runs["mnist_mlp"]
    lines = [
        f"# Pipeline against the labs ({results['machine']})",
        "",
        "## Overhead: `dvc exp run` against a plain Keras script, full MNIST, 784-800-10, SGD, 100 epochs",
        "",
        "| run | wall time (s) | training (s) | test accuracy |",
        "|---|---|---|---|",
        f"| plain Keras script | {plain['wall_seconds']:.1f} | {plain['train_seconds']:.1f} | "
        f"{plain['accuracy']:.2%} |",
        f"| `dvc exp run` (all stages) | {mnist['wall_seconds']:.1f} | {mnist['train_seconds']:.1f} | "
        f"{mnist['accuracy']:.2%} |",
        "",
        f"Overhead: **{results['overhead']:.3f}x** (goal <= 1.10x).",
        "",
        "## Seed configurations and presets against the labs' numbers",
        "",
        "| run | epochs | test accuracy | lab's number | wall time (s) | 25-epoch wall time, extrapolated (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        if name == "plain_keras_mnist":
            continue
        lab = LAB_NUMBERS.get(name.removesuffix("_preset"), {})
        number = f"{lab['accuracy']:.2%} after {lab['epochs']} epochs" if lab else ""
        extrapolated = r.get("extrapolated_wall_seconds_25_epochs", "")
        lines.append(f"| {name} | {r['epochs_run']} | {r['accuracy']:.2%} | {number} | {r['wall_seconds']:.1f} | "
                     f"{extrapolated} |")  # fmt: skip
    lines += ["", "Presets (the lab's setup plus):"]
    lines += [f"- {name}: " + ", ".join(f"`{k}={json.dumps(v)}`" for k, v in p.items()) for name, p in PRESETS.items()]
    if args.cifar_folder:
        lines += ["", f"CIFAR-10 ran {args.cifar_epochs} epochs; the 25-epoch time is the measured non-training "
                  "time plus 25 x the measured training seconds per epoch."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
