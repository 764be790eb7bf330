"""Benchmark: where a tiny lab study's time goes, at two revisions of this project.

For each revision and each --jobs value, a fresh clone (no DVC cache, so no run-cache) runs
`python -m imgclf.experiments.sweep LAB --tiny --jobs J`, the command a user runs. Reports the wall time, the
seconds spent queueing, the training seconds of all experiments (metrics/timing.json of each), and what is left:
the overhead (DVC, process start-up, TensorFlow's import). With --jobs 1 the log's timestamped lines also give each
stage's mean seconds an experiment (from "Running stage" or "is cached" to the next stage's line). Goal: a tiny
lab study in under 4 minutes on 2 cores.

    python benchmarks/sweep_overhead.py --revs 8e7dea0 HEAD --jobs 1 2 --out benchmarks/results

Latest result: benchmarks/results/sweep_overhead.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imgclf.experiments.exp_show import read_experiments  # noqa: E402

STAGE_LINE = re.compile(r"^(?:Running stage '(\w+)':|Stage '(\w+)' (?:is cached|didn't change))")
NEXT_EXPERIMENT = re.compile(r"^(Reproducing experiment|Ran experiment)")


def timed_lines(command: list[str], cwd: Path, env: dict) -> tuple[float, list[tuple[float, str]]]:
    """Runs the command, stamping each line of its output with the seconds since the start."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in process.stdout]
    if process.wait() != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n" + "\n".join(line for _, line in lines[-20:]))
    return time.perf_counter() - start, lines


def stage_seconds(lines: list[tuple[float, str]]) -> dict[str, list[float]]:
    """Seconds from each stage's first line to the next stage's (or the experiment's end), per stage."""
    spans: dict[str, list[float]] = defaultdict(list)
    current: tuple[str, float] | None = None
    for stamp, line in lines:
        match = STAGE_LINE.match(line)
        if (match or NEXT_EXPERIMENT.match(line)) and current:
            spans[current[0]].append(stamp - current[1])
            current = None
        if match:
            current = (match[1] or match[2], stamp)
    return spans


def training_seconds(project: Path) -> tuple[int, float]:
    """The number of finished experiments and the sum of their training seconds (`dvc exp show`, as compare reads
    it)."""
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=project, capture_output=True, text=True, check=True
    )
    finished = read_experiments(json.loads(shown.stdout)).finished.values()
    return len(finished), sum(r.train_seconds or 0.0 for r in finished)


def measure(rev: str, jobs: int, lab: str, work: Path) -> dict:
    project = work / f"{rev}-jobs{jobs}"
    subprocess.run(["git", "clone", "-q", str(REPO), str(project)], check=True)
    subprocess.run(["git", "checkout", "-q", rev], cwd=project, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project, capture_output=True, text=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env |= {"TF_CPP_MIN_LOG_LEVEL": "2", "DVC_NO_ANALYTICS": "1"}
    command = [sys.executable, "-m", "imgclf.experiments.sweep", lab, "--tiny", "--jobs", str(jobs)]
    wall, lines = timed_lines(command, project, env)
    queued = max((stamp for stamp, line in lines if line.startswith("queue ")), default=0.0)
    count, trained = training_seconds(project)
    spans = stage_seconds(lines) if jobs == 1 else {}
    return {
        "rev": rev,
        "commit": commit.stdout.strip(),
        "jobs": jobs,
        "experiments": count,
        "wall_s": round(wall, 1),
        "queueing_s": round(queued, 1),
        "training_s": round(trained, 1),
        "overhead_s_per_experiment": round((wall - trained) / max(count, 1), 1),
        "stage_mean_s": {stage: round(sum(s) / len(s), 2) for stage, s in spans.items()},
    }


def markdown(lab: str, results: list[dict]) -> str:
    lines = [
        f"# A tiny lab study ({lab} --tiny) from a fresh clone, 2 CPU cores",
        "",
        "| commit | jobs | experiments | wall (s) | queueing (s) | training (s) | overhead an experiment (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['commit']} | {r['jobs']} | {r['experiments']} | {r['wall_s']} | {r['queueing_s']} | "
            f"{r['training_s']} | {r['overhead_s_per_experiment']} |"
        )
    serial = [r for r in results if r["stage_mean_s"]]
    if serial:
        stages = list(dict.fromkeys(stage for r in serial for stage in r["stage_mean_s"]))
        lines += ["", "Mean seconds an experiment in each stage (--jobs 1; DVC's own work after it included):", ""]
        lines += ["| commit | " + " | ".join(stages) + " |", "|---|" + "---|" * len(stages)]
        for r in serial:
            lines.append(f"| {r['commit']} | " + " | ".join(str(r["stage_mean_s"].get(s, "")) for s in stages) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="mnist_mlp")
    parser.add_argument("--revs", nargs="+", default=["HEAD"], help="git revisions to measure, in this order")
    parser.add_argument("--jobs", nargs="+", type=int, default=[1])
    parser.add_argument("--out", type=Path, help="write sweep_overhead.{json,md} here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as work:
        for rev in args.revs:
            for jobs in args.jobs:
                results.append(measure(rev, jobs, args.lab, Path(work)))
                print(json.dumps(results[-1]), flush=True)
    text = markdown(args.lab, results)
    print(text)
    if args.out:
        (args.out / "sweep_overhead.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "sweep_overhead.md").write_text(text)


if __name__ == "__main__":
    main()
