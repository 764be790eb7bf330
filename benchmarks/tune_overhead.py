"""Benchmark: what a search pays per trial beside training, against a lab's sweep at the same commit.

From one fresh clone each (no DVC cache, so no run-cache), the commands a user runs:
- baseline: `python -m imgclf.experiments.sweep LAB --tiny` (the lab's grid through DVC's queue, the whole pipeline);
- tune: `python -m imgclf.search.tune LAB --tiny --trials N --pruner none --seed 1` (each trial a
  `dvc exp run --temp` up to evaluate; no pruning, so every trial trains all its epochs as a sweep's run does);
- the same with `--jobs 2`: two trials at once, what it gives on this machine.
For each: the wall time, the experiments it made, the sum of their training seconds (model.fit, metrics/timing.json)
and the rest an experiment: the overhead (DVC, process start-up, TensorFlow's import, evaluation). For tune, the
trials' own seconds (Optuna's start to end of each) split that rest into the trial's part and the tuner's.

    python benchmarks/tune_overhead.py --trials 8 --out benchmarks/results

Latest result: benchmarks/results/tune_overhead.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.search import fresh_clone, head_commit, run  # noqa: E402
from benchmarks.sweep_overhead import training_seconds  # noqa: E402
from imgclf.search.storage import storage_url  # noqa: E402

RUNS = (("sweep", 1), ("tune", 1), ("tune", 2))  # (command, jobs): the baseline, then tune alone and two at once


def trial_seconds(project: Path, study: str) -> list[float]:
    """Each completed trial's seconds, from start to end as the Optuna study recorded them."""
    import optuna

    trials = optuna.load_study(study_name=study, storage=storage_url(None, study, project)).get_trials(deepcopy=False)
    return [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials if t.state.name == "COMPLETE"]


def measure(command: str, jobs: int, lab: str, trials: int, rev: str, work: Path) -> dict:
    label = f"{command} --jobs {jobs}" if jobs > 1 else command
    project = fresh_clone(work, label.replace(" ", "_"))
    subprocess.run(["git", "checkout", "-q", rev], cwd=project, check=True)
    if command == "sweep":
        wall = run(["imgclf.experiments.sweep", lab, "--tiny"], project)
    else:
        options = ["--tiny", "--trials", str(trials), "--pruner", "none", "--seed", "1", "--jobs", str(jobs)]
        wall = run(["imgclf.search.tune", lab, *options], project)
    count, trained = training_seconds(project)
    result = {
        "command": label,
        "commit": head_commit(project),
        "experiments": count,
        "wall_s": round(wall, 1),
        "training_s": round(trained, 1),
        "overhead_s_per_experiment": round((wall - trained) / max(count, 1), 1),
    }
    if command == "tune" and jobs == 1:  # trials at once overlap: their seconds no longer split the wall time
        own = trial_seconds(project, f"{lab}-tune")
        result["in_trials_s_per_experiment"] = round((sum(own) - trained) / len(own), 1)
        result["tuner_s_per_experiment"] = round((wall - sum(own)) / len(own), 1)
    return result


def markdown(lab: str, machine: str, results: list[dict]) -> str:
    lines = [
        f"# Overhead an experiment: {lab} --tiny from a fresh clone, {machine}",
        "",
        "| command | commit | experiments | wall (s) | training (s) | overhead an experiment (s) |"
        " of it in the trial (s) | of it in the tuner (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['command']} | {r['commit']} | {r['experiments']} | {r['wall_s']} | {r['training_s']} | "
            f"{r['overhead_s_per_experiment']} | {r.get('in_trials_s_per_experiment', '')} | "
            f"{r.get('tuner_s_per_experiment', '')} |"
        )
    sweep, tune = (next((r for r in results if r["command"] == k), None) for k in ("sweep", "tune"))
    if sweep and tune:
        ratio = tune["overhead_s_per_experiment"] / sweep["overhead_s_per_experiment"]
        lines += ["", f"tune's overhead an experiment is {ratio:.2f}x the sweep's, in the same run."]
    jobs = next((r for r in results if r["command"] == "tune --jobs 2"), None)
    if tune and jobs:
        ratio = jobs["wall_s"] / tune["wall_s"]
        lines += ["", f"tune --jobs 2 took {ratio:.2f}x tune's wall time for as many trials, in the same run."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="mnist_mlp")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--rev", default="HEAD", help="the git revision both clones check out")
    parser.add_argument("--out", type=Path, help="write tune_overhead.{json,md} here")
    args = parser.parse_args()
    machine = f"{os.uname().sysname} {os.uname().machine}, {os.cpu_count()} CPU cores"
    results = []
    with tempfile.TemporaryDirectory() as work:
        for command, jobs in RUNS:
            results.append(measure(command, jobs, args.lab, args.trials, args.rev, Path(work)))
            print(json.dumps(results[-1]), flush=True)
    text = markdown(args.lab, machine, results)
    print(text)
    if args.out:
        (args.out / "tune_overhead.json").write_text(json.dumps({"machine": machine, "runs": results}, indent=2) + "\n")
        (args.out / "tune_overhead.md").write_text(text)


if __name__ == "__main__":
    main()
