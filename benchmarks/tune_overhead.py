"""Benchmark: what a search pays per trial beside training, against a lab's sweep at the same commit.

From one fresh clone each (no DVC cache, so no run-cache), the commands a user runs:
- baseline: `python -m imgclf.experiments.sweep LAB --tiny` (the lab's grid through DVC's queue, the whole pipeline);
- tune: `python -m imgclf.search.tune LAB --tiny --trials N --pruner none --seed 1` (each trial a
  `dvc exp run --temp` up to evaluate; no pruning, so every trial trains all its epochs as a sweep's run does);
- the same with `--jobs 2`: two trials at once, what it gives on this machine.
For each: the wall time, the experiments it made, the sum of their training seconds (model.fit, metrics/timing.json)
and the rest an experiment: the overhead (DVC, process start-up, TensorFlow's import, evaluation). For tune, the
trials' own seconds (Optuna's start to end of each) split that rest into the trial's part and the tuner's. With
`--mnist`, full MNIST instead of the tiny sample; `--sampler random` then gives both tune runs the same trials, and
each trial's training seconds alone and two at once are set side by side.

    python benchmarks/tune_overhead.py --trials 8 --out benchmarks/results
    python benchmarks/tune_overhead.py --mnist ../shared/datasets/mnist --runs tune tune2 --trials 4 \
        --sampler random --seed 33 --name tune_jobs_mnist --out benchmarks/results   # --jobs 2 on full MNIST

Latest result: benchmarks/results/tune_overhead.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.search import fresh_clone, head_commit, run  # noqa: E402
from benchmarks.sweep_overhead import training_seconds  # noqa: E402
from imgclf.machine import machine as this_machine  # noqa: E402
from imgclf.search.storage import storage_url  # noqa: E402

RUNS = {"sweep": ("sweep", 1), "tune": ("tune", 1), "tune2": ("tune", 2)}  # name: (command, jobs)


def trial_seconds(project: Path, study: str) -> list[float]:
    """Each completed trial's seconds, from start to end as the Optuna study recorded them."""
    import optuna

    trials = optuna.load_study(study_name=study, storage=storage_url(None, study, project)).get_trials(deepcopy=False)
    return [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials if t.state.name == "COMPLETE"]


def trials_of(project: Path, study: str) -> list[dict]:
    """Each completed trial's params, training seconds (metrics/timing.json) and seconds from start to end."""
    import optuna

    trials = optuna.load_study(study_name=study, storage=storage_url(None, study, project)).get_trials(deepcopy=False)
    return [{"params": t.params, "train_s": t.user_attrs.get("train_seconds"),
             "trial_s": round((t.datetime_complete - t.datetime_start).total_seconds(), 1)}
            for t in trials if t.state.name == "COMPLETE"]  # fmt: skip


def measure(run_name: str, data: list[str], args: argparse.Namespace, work: Path) -> dict:
    command, jobs = RUNS[run_name]
    label = f"{command} --jobs {jobs}" if jobs > 1 else command
    project = fresh_clone(work, label.replace(" ", "_"))
    subprocess.run(["git", "checkout", "-q", args.rev], cwd=project, check=True)
    if command == "sweep":
        wall = run(["imgclf.experiments.sweep", args.lab, *data], project)
    else:
        options = [*data, "--trials", str(args.trials), "--pruner", "none", "--seed", str(args.seed)]
        options += ["--jobs", str(jobs), *(["--sampler", args.sampler] if args.sampler else [])]
        wall = run(["imgclf.search.tune", args.lab, *options], project)
    count, trained = training_seconds(project)
    result = {
        "command": label,
        "commit": head_commit(project),
        "experiments": count,
        "wall_s": round(wall, 1),
        "training_s": round(trained, 1),
        "overhead_s_per_experiment": round((wall - trained) / max(count, 1), 1),
    }
    if command == "tune":
        result["trials"] = trials_of(project, f"{args.lab}-tune")
    if command == "tune" and jobs == 1:  # trials at once overlap: their seconds no longer split the wall time
        own = [t["trial_s"] for t in result["trials"]]
        result["in_trials_s_per_experiment"] = round((sum(own) - trained) / len(own), 1)
        result["tuner_s_per_experiment"] = round((wall - sum(own)) / len(own), 1)
    return result


def markdown(lab: str, machine: str, data: str, tune: str, results: list[dict]) -> str:
    lines = [
        f"# Overhead an experiment: {lab} on {data} from a fresh clone, {machine}",
        "",
        f"tune ran with {tune}.",
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
        lines += side_by_side(tune["trials"], jobs["trials"])
    return "\n".join(lines) + "\n"


def side_by_side(alone: list[dict], paired: list[dict]) -> list[str]:
    """The training seconds of the trials both runs made (the same params), alone and two at once."""
    pairs = [(a, next((p for p in paired if p["params"] == a["params"]), None)) for a in alone]
    pairs = [(a, p) for a, p in pairs if p and a["train_s"] and p["train_s"]]
    if not pairs:
        return []
    lines = ["", "| trial's params | training s alone | training s two at once | ratio |", "|---|---|---|---|"]
    for a, p in pairs:
        shown = ", ".join(f"{k.removeprefix('train.')}={v}" for k, v in sorted(a["params"].items()))
        lines.append(f"| {shown} | {a['train_s']:.0f} | {p['train_s']:.0f} | {p['train_s'] / a['train_s']:.2f}x |")
    ratio = sum(p["train_s"] for _, p in pairs) / sum(a["train_s"] for a, _ in pairs)
    return [*lines, "", f"Two at once, the same trials trained {ratio:.2f}x as long as alone, on this machine."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", default="mnist_mlp")
    parser.add_argument("--mnist", type=Path, help="a folder of MNIST's four IDX .gz files (default: --tiny)")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS), help="which runs (default all)")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--sampler", choices=("tpe", "random"), help="tune's sampler (default tune's own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rev", default="HEAD", help="the git revision both clones check out")
    parser.add_argument("--out", type=Path, help="write NAME.{json,md} here")
    parser.add_argument("--name", default="tune_overhead", help="the results' files (default tune_overhead)")
    args = parser.parse_args()
    machine = this_machine()
    data = ["-S", f"data.mirrors.mnist=[{args.mnist.resolve()}]"] if args.mnist else ["--tiny"]
    shown = "MNIST" if args.mnist else "the tiny sample"
    sampler = f" --sampler {args.sampler}" if args.sampler else ""
    tune = f"--trials {args.trials} --pruner none --seed {args.seed}{sampler}"
    results = []
    with tempfile.TemporaryDirectory() as work:
        for run_name in args.runs:
            results.append(measure(run_name, data, args, Path(work)))
            print(json.dumps(results[-1]), flush=True)
    text = markdown(args.lab, machine, shown, tune, results)
    print(text)
    if args.out:
        saved = {"machine": machine, "data": shown, "sampler": args.sampler, "seed": args.seed, "runs": results}
        (args.out / f"{args.name}.json").write_text(json.dumps(saved, indent=2) + "\n")
        (args.out / f"{args.name}.md").write_text(text)


if __name__ == "__main__":
    main()
