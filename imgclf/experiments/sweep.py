"""Run a lab's whole hyperparameter study (sweeps.yaml) as DVC experiments, then write its report.

    python -m imgclf.experiments.sweep mnist_mlp                       # queue, run (dvc exp run --run-all), report
    python -m imgclf.experiments.sweep photos -S data.folder=/data/photos  # your own overrides for every experiment
    python -m imgclf.experiments.sweep cifar10_cnn --tiny              # the same study on a few images per class
    python -m imgclf.experiments.sweep mnist_mlp --sweep 2             # only the lab's second sweep (batch size)
    python -m imgclf.experiments.sweep cifar10_cnn --only cifar10_cnn-base   # only the named experiments
    python -m imgclf.experiments.sweep mnist_mlp --queue-only          # queue only; run later with dvc queue start
    python -m imgclf.experiments.sweep mnist_mlp --best                # each sweep's best together: mnist_mlp-best
    python -m imgclf.experiments.sweep convpool --seeds 5 -S ...       # each experiment with 5 training seeds

Each experiment is queued with `dvc exp run --queue -n LAB-... -S ...`, every params key set: the committed
params.yaml, the lab's base and its point, whatever the workspace's params.yaml says. Re-running a lab replaces its
experiments of the same name. With --seeds N, each experiment runs N times as NAME-seedS, train.seed S from the
committed train.seed on, the split fixed; the report shows mean ± std. Only a complete run of the lab (every
experiment, its own settings, at least the committed report's seeds) replaces reports/LAB/; any other run's report
goes to reports/partial/LAB/ (with --only: partial by choice). With --jobs N, an experiment that fails beside others
runs once more, alone.
Ctrl-C stops the sweep's experiments: the running ones are interrupted, the queued ones taken off DVC's queue.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from imgclf.cli import COMMAND, exit_on_error
from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_show import read_experiments
from imgclf.experiments.labs import (
    SEED_KEY,
    Experiment,
    Overrides,
    best_combination,
    check,
    committed_params,
    experiments,
    find_lab,
    load_labs,
    pinned,
    set_param_values,
    with_seeds,
)
from imgclf.experiments.queue_log import relayed
from imgclf.experiments.repeats import group
from imgclf.experiments.report import write_report


def parse_set(pairs: list[str]) -> Overrides:
    """`key=value` pairs, values read as YAML like `dvc exp run -S` does."""
    overrides: Overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PipelineError(f"-S {pair}: expected key=value, e.g. -S train.lr=0.05")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def only(runs: list[Experiment], names: list[str]) -> list[Experiment]:
    unknown = [name for name in names if name not in {run.name for run in runs}]
    if unknown:
        choices = ", ".join(run.name for run in runs)
        raise PipelineError(f"--only {unknown[0]}: no such experiment here; choose from {choices}")
    return [run for run in runs if run.name in names]


def queue(runs: list[Experiment], committed: dict, project: Path) -> None:
    existing = set(dvc("exp", "ls", "--name-only", cwd=project).split())
    replaced = [r.name for r in runs if r.name in existing]
    if replaced:
        dvc("exp", "remove", *replaced, cwd=project)
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    # `dvc exp run --queue` in this one process: a `dvc` command a run cost about 1.5 s of start-up
    with Repo(str(project)) as repo:
        for run in runs:
            print(f"queue {run.name}", flush=True)
            sets = set_param_values(pinned(committed, run))
            try:  # up to plot: a sweep compares experiments; export the one you ship (`dvc repro export`)
                repo.experiments.run(targets=["plot"], params=sets, queue=True, name=run.name)
            except DvcException as e:
                raise PipelineError(f"dvc exp run --queue --name {run.name} failed: {e}") from None


def run_queue(jobs: int, project: Path) -> None:
    """`dvc exp run --run-all`: starts DVC's queue workers and follows their logs until the queue is empty. Ctrl-C
    reaches this process alone, and run_or_stop stops the experiments; DVC's generic hints, and its line saying they
    would go on, are left out (queue_log.relayed)."""
    command = [sys.executable, "-m", "dvc", "exp", "run", "--run-all", "--jobs", str(jobs)]
    print(f"running the queue, {jobs} at once (Ctrl-C stops the sweep's experiments)", flush=True)
    with subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True, start_new_session=True) as follow:
        try:
            for line in relayed(follow.stdout or []):
                print(line, end="", flush=True)
        finally:
            follow.kill()


def stop_experiments(names: set[str], project: Path) -> tuple[list[str], list[str]]:
    """Stops what a sweep started, as `dvc queue remove` and `dvc queue kill` would: its queued experiments leave
    DVC's queue and its running ones get Ctrl-C (their train stage cleans up); the queue workers then find the queue
    empty and exit on their own. Returns the names interrupted and removed."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    interrupted: list[str] = []
    removed: list[str] = []
    with Repo(str(project)) as repo:
        tasks = repo.experiments.celery_queue
        for _ in range(3):  # a worker may start a queued experiment between the two looks
            queued = [e.name for e in tasks.iter_queued() if e.name in names and e.name not in removed]
            for name in queued:
                with contextlib.suppress(DvcException):
                    removed += tasks.remove([name])
            running = [e.name for e in tasks.iter_active() if e.name in names and e.name not in interrupted]
            for name in running:
                with contextlib.suppress(DvcException):
                    tasks.kill([name])
                    interrupted.append(name)
            if not queued and not running:
                break
    return interrupted, removed


def interrupted_lines(interrupted: list[str], removed: list[str]) -> str:
    stopped = [f"interrupted {', '.join(interrupted)}"] if interrupted else []
    stopped += [f"took {len(removed)} queued experiments off DVC's queue"] if removed else []
    return (
        "interrupted: stopped the sweep's experiments; finished ones stay in dvc exp show; "
        "run the same command to run the study\n"
        f"  stopped: {'; '.join(stopped) if stopped else 'none was still running'}"
    )


def run_or_stop(runs: list[Experiment], committed: dict, jobs: int, project: Path) -> None:
    """Queues and runs the sweep's experiments; Ctrl-C stops them all (not only DVC's log-following) and says so."""
    try:
        queue(runs, committed, project)
        run_queue(jobs, project)
        if jobs > 1:
            rerun_failed_alone(runs, committed, project)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C would leave workers running
        interrupted, removed = stop_experiments({run.name for run in runs}, project)
        sys.exit(interrupted_lines(interrupted, removed))


def rerun_failed_alone(runs: list[Experiment], committed: dict, project: Path) -> None:
    """DVC's parallel queue now and then fails an experiment on its own run cache: when two workers save the same
    stage at once, one reads the other's half-written entry as corrupt and deletes it (DVC 3.67). So each experiment
    that failed beside others runs once more, alone; one that fails again is a failure of its own."""
    finished = read_experiments(json.loads(dvc("exp", "show", "--json", cwd=project))).finished
    failed = [run for run in runs if run.name not in finished]
    if not failed:
        return
    noun, pronoun = ("experiment", "it") if len(failed) == 1 else ("experiments", "them")
    names = ", ".join(run.name for run in failed)
    print(f"{len(failed)} {noun} failed beside others ({names}); running {pronoun} again, alone", flush=True)
    queue(failed, committed, project)
    run_queue(1, project)


def default_jobs(tiny: bool, cores: int | None = None) -> int:
    """Two tiny experiments at once: their time is mostly single-threaded start-up (TensorFlow's import, DVC's
    copies), which a second worker overlaps; a full-size training already keeps every core busy."""
    cores = cores or os.cpu_count() or 1
    return 2 if tiny and cores >= 2 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml")
    parser.add_argument("--tiny", action="store_true", help="add the lab's tiny-sample overrides (quick check)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="for every experiment")
    parser.add_argument("--sweep", type=int, help="only the lab's Nth sweep (1 is the first in sweeps.yaml)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="only this experiment (repeatable)")
    parser.add_argument("--jobs", type=int, help="experiments at once (dvc queue workers); default 2 with --tiny "
                        "on 2 or more cores, else 1")  # fmt: skip
    parser.add_argument("--queue-only", action="store_true", help="queue the experiments, run nothing")
    parser.add_argument("--best", action="store_true", help="run LAB-best: each sweep's best value together")
    parser.add_argument("--seeds", type=int, default=1, help="run each experiment with N training seeds (default 1)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/LAB/ is written (default reports)")
    args = parser.parse_args()
    args.jobs = args.jobs or default_jobs(args.tiny)
    project = Path(".")
    lab = find_lab(load_labs(), args.lab)
    extra = parse_set(args.set)
    runs = experiments(lab, tiny=args.tiny, extra=extra, only_sweep=args.sweep)
    if args.only:
        runs = only(runs, args.only)
    if args.best:
        if args.sweep or args.only:
            raise PipelineError("--best combines the best of every sweep; leave out --sweep and --only")
        finished = read_experiments(json.loads(dvc("exp", "show", "--json", cwd=project))).finished
        groups = group(list(finished.values()), [run.name for run in experiments(lab, args.tiny, extra)])
        runs = [best_combination(lab, {g.name: g.accuracy for g in groups}, args.tiny, extra)]
    committed = committed_params(project)
    if args.seeds < 1 or SEED_KEY in extra:
        raise PipelineError(f"--seeds {args.seeds}: give 1 or more, and leave {SEED_KEY} out of -S")
    if args.seeds > 1:
        first = int(committed["train"]["seed"])
        runs = with_seeds(runs, list(range(first, first + args.seeds)))
    check(committed, runs)
    if args.queue_only:
        queue(runs, committed, project)
        print(f"queued {len(runs)} experiments; run them with: dvc queue start --jobs {args.jobs}")
        return
    run_or_stop(runs, committed, args.jobs, project)
    groups, _ = write_report(lab, args.out, project, only_sweep=args.sweep, chosen=set(args.only) or None)
    finished = {run.name for g in groups for run in g.runs}
    failed = [run.name for run in runs if run.name not in finished]
    if failed:
        raise PipelineError(f"{len(failed)} experiments did not finish ({', '.join(failed)}); see dvc queue status")


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
