"""Benchmark: peak memory (RSS) of each stage as the data grows: preprocess, split, train for one epoch, evaluate.

Makes photo folders of 1x, 4x and 16x a base count of images (CIFAR-10 JPEGs from a class-per-folder tree,
hard-linked, the same number from each class), then runs the stages one by one as separate processes in a project
folder (params.yaml: the photo folder at --size px, an MLP of 800 units, one epoch) and reads each process's peak
resident memory (getrusage of its finished children: the largest single process, the stage or one of its decode
workers). Goal: the 16x run's peak at most 1.3x the 1x run's, for every stage.

--code runs another checkout's stages (e.g. a worktree of an older commit, for a before/after table); one without
imgclf/data/shards.py has the older single-.npz layout, and its stages are called with those paths.

    python benchmarks/stage_memory.py /tmp/cifar10-jpg/train --base 2500 --scales 1 4 16 --out benchmarks/results

Latest result: benchmarks/results/stage_memory.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
MEASURE = (  # run a command; print its peak RSS in KiB (Linux getrusage: the largest finished child)
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)\n"
)


def make_folder(source: Path, target: Path, count: int) -> None:
    classes = sorted(p for p in source.iterdir() if p.is_dir())
    per_class = -(-count // len(classes))
    for cls in classes:
        files = sorted(cls.iterdir())
        if len(files) < per_class:
            raise SystemExit(f"{cls}: {len(files)} images, {per_class} needed")
        (target / cls.name).mkdir(parents=True)
        for f in files[:per_class]:
            os.link(f, target / cls.name / f.name)


def stage_commands(code: Path) -> dict[str, list[str]]:
    sharded = (code / "imgclf" / "shards.py").exists()
    test = "data/split/test" if sharded else "data/split/test.npz"
    return {
        "fetch": ["stages.fetch", "data/raw", "data/weights"],
        "preprocess": ["stages.preprocess", "data/raw", "data/prepared"],
        "split": ["stages.split", "data/prepared", "data/split", "metrics/data_report.json"],
        "train": [
            "stages.train",
            "data/split",
            "data/weights",
            "models",
            "dvclive",
            "metrics/train.json",
            "metrics/timing.json",
        ],
        "evaluate": ["stages.evaluate", "models", test, "metrics"],
    }


def run_scale(code: Path, folder: Path, project: Path, size: int) -> dict[str, dict]:
    params = yaml.safe_load((code / "params.yaml").read_text())
    params["data"].update(dataset="folder", folder=str(folder))
    params["preprocess"]["image_size"] = size
    params["train"].update(model="mlp", epochs=1, batch_size=200, optimizer="sgd", lr=0.01)
    params["train"]["mlp"]["hidden_units"] = [800]
    project.mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "2"}
    results = {}
    for name, args in stage_commands(code).items():
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, sys.executable, "-m", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
        peak_kib = int(done.stdout.strip().splitlines()[-1])
        results[name] = {"peak_rss_mb": round(peak_kib / 1024, 1), "seconds": round(time.perf_counter() - start, 1)}
        print(f"  {name}: {results[name]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a class-per-folder JPEG tree, e.g. the CIFAR-10 JPEGs' train/")
    parser.add_argument("--base", type=int, default=2500, help="images at 1x")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose stages run")
    parser.add_argument("--name", default="stage_memory", help="file name of the results")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            count = args.base * scale
            data_mb = count * args.size * args.size * 3 / 2**20
            print(f"{scale}x: {count} images of {args.size} px ({data_mb:.0f} MB as arrays)", flush=True)
            folder = Path(tmp) / f"photos-{scale}"
            make_folder(args.source, folder, count)
            runs[scale] = {
                "images": count,
                "data_mb": round(data_mb, 1),
                "stages": run_scale(args.code.resolve(), folder, Path(tmp) / f"project-{scale}", args.size),
            }
    first, last = runs[args.scales[0]], runs[args.scales[-1]]
    stages = [s for s in last["stages"] if s != "fetch"]
    ratios = {s: round(last["stages"][s]["peak_rss_mb"] / first["stages"][s]["peak_rss_mb"], 2) for s in stages}
    summary = {"code": str(args.code), "size": args.size, "runs": runs, f"ratio_{args.scales[-1]}x_to_1x": ratios}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    header = "| stage | " + " | ".join(f"{s}x ({runs[s]['data_mb']:.0f} MB)" for s in args.scales)
    text = (
        f"# Peak memory of each stage: {args.base:,} x {args.scales} photos at {args.size} px\n\n"
        f"Code: {args.code}. Peak RSS in MB (the largest single process of the stage), and the "
        f"{args.scales[-1]}x / 1x ratio (goal: at most 1.3).\n\n"
        f"{header} | ratio |\n|---|"
        + "---|" * len(args.scales)
        + "---|\n"
        + "".join(
            f"| {s} | "
            + " | ".join(f"{runs[k]['stages'][s]['peak_rss_mb']:,.0f}" for k in args.scales)
            + f" | {ratios[s]:.2f} |\n"
            for s in stages
        )
    )
    (args.out / f"{args.name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
