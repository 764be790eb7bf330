"""Search a lab's hyperparameters (its `search:` space in sweeps.yaml) with Optuna; every trial is a DVC experiment.

    imgclf tune mnist_mlp --trials 30                  # TPE sampling, median pruning; the study in .tune/
    imgclf tune mnist_mlp --tiny --trials 4            # a quick check on a tiny sample
    imgclf tune mnist_mlp --timeout 3600 --jobs 2      # at most an hour, two trials at once
    imgclf tune mnist_mlp --storage postgresql+psycopg2://tune@db.example/studies   # one study, many machines
    imgclf tune mnist_mlp --objective val_accuracy,train_seconds   # the most accurate model per training second

Each trial is `dvc exp run --temp -n STUDY-NNNN` with a -S for every params key (the committed params.yaml, the
lab's base, -S, the sampled values): `dvc exp show`, `make compare`, `dvc exp apply` and `dvc exp push` take it as
any experiment. Trials are chosen on the validation accuracy of the weights the model keeps; the test set takes no
part. The train stage reports each epoch to the study, and the pruner may stop a trial early: a pruned or failed
trial leaves no experiment. Running the command again continues the study until it has --trials trials.

Before its first new trial, the study takes the experiments already run on its setup and data, inside its space
(a sweep's, `dvc exp run -S`, an older study's), as completed trials to learn from: --history (search/history.py).
"""

import argparse
import contextlib
import dataclasses
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.errors import PipelineError
from imgclf.experiments.labs import Lab, committed_params, find_lab, load_labs, shared_overrides
from imgclf.experiments.search_space import Space
from imgclf.experiments.sweep import parse_set
from imgclf.search.apply import apply_best, refuse_uncommitted
from imgclf.search.checks import (
    check_jobs,
    check_lab_setup,
    check_model,
    check_out,
    check_space,
    check_study_name,
    check_timeout,
)
from imgclf.search.history import HISTORY, add_history
from imgclf.search.objectives import ACCURACY, COSTS, parse_objective, pruner_for
from imgclf.search.plan import Search
from imgclf.search.record import ranked, trial_records
from imgclf.search.report import best_experiment, write_tune_report
from imgclf.search.run_trials import run_trials
from imgclf.search.seeds import rerun_with_seeds, verdict
from imgclf.search.setup import open_part, study_setup
from imgclf.search.steady_storage import storage_faults_as_lines
from imgclf.search.storage import GRACE_S, Storage, named, redacted, storage_url
from imgclf.search.study import PRUNERS, SAMPLERS, counted, make_pruner, make_sampler, open_study, requeue_interrupted
from imgclf.search.trial_objective import TrialObjective
from imgclf.search.trial_run import TrialProcesses, remove_experiments


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml with a search: space")
    parser.add_argument("--trials", type=int, default=20, help="trials the study should have in all (default 20)")
    parser.add_argument("--timeout", type=float, help="seconds after which no new trial starts (this run)")
    parser.add_argument("--jobs", type=int, default=1, help="trials at once on this machine (default 1)")
    parser.add_argument("--study", help="the study's name (default LAB-tune); its experiments are STUDY-NNNN")
    parser.add_argument("--storage", help="a database URL (default: sqlite .tune/STUDY.db in the repository)")
    parser.add_argument("--grace", type=int, default=GRACE_S, metavar="SECONDS", help="a trial silent this long (its "
                        f"machine lost) is failed and its params run again (default {GRACE_S})")  # fmt: skip
    parser.add_argument("--new-part", action="store_true", help="go on with a study whose setup (space, base, -S, "
                        "code) changed, as a new part of it: STUDY-partN, reported apart")  # fmt: skip
    parser.add_argument("--seed", type=int, help="the sampler's seed")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS, help="default tpe")
    parser.add_argument("--pruner", choices=PRUNERS, help="default median (none with two objectives)")
    parser.add_argument("--objective", default=ACCURACY, help=f"{ACCURACY} (default), or {ACCURACY},COST with COST "
                        f"one of {', '.join(COSTS)}: a Pareto front of accuracy against that cost")  # fmt: skip
    parser.add_argument(
        "--history",
        default="code",
        choices=HISTORY,
        help="the experiments already run that the "
        "study learns from: those of commits with HEAD's code (default), of all commits, or none",
    )
    parser.add_argument("--tiny", action="store_true", help="add the lab's tiny-sample overrides (quick check)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="for every trial")
    parser.add_argument("--test-top", type=int, default=1, help="report the test accuracy of the top K (default 1)")
    parser.add_argument("--apply", action="store_true", help="then put the best trial's params into the workspace")
    parser.add_argument("--seeds", type=int, default=1, help="then train the 2 best trials with K seeds each")
    parser.add_argument("--push", metavar="GIT_REMOTE", help="dvc exp push each completed trial there (and its data)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/tune-LAB/ is written there")
    args = parser.parse_args(argv)
    if min(args.trials, args.jobs, args.test_top, args.seeds, args.grace) < 1:
        raise PipelineError("--trials, --jobs, --test-top, --seeds and --grace take 1 or more")
    check_timeout(args.timeout)
    check_jobs(args.jobs)
    check_out(args.out)
    return args


def searched(lab: Lab, tiny: bool, extra: dict) -> Space:
    """The lab's space less the keys the tiny sample fixes; a key given with -S cannot also be searched."""
    if not lab.search:
        raise PipelineError(f"lab {lab.name} has no search: space in sweeps.yaml; add one (docs/experiments.md)")
    clash = [r.key for r in lab.search if r.key in extra]
    if clash:
        raise PipelineError(f"-S {clash[0]}: lab {lab.name} searches this key; leave it out, or edit sweeps.yaml")
    return tuple(r for r in lab.search if not (tiny and r.key in lab.tiny))


def main() -> None:
    args = arguments()
    search, lab = plan(args)
    storage = search.storage
    with storage_faults_as_lines(storage.url, redacted(storage.url), COMMAND, storage.opened):
        tune(args, search, lab)


def tune(args: argparse.Namespace, search: Search, lab: Lab) -> None:
    """The study's trials, then --seeds, the report and --apply."""
    if args.apply:
        refuse_uncommitted(search.project, args.out)
    s = search
    pruner = make_pruner(s.pruner, s.epochs)
    setup = study_setup(s)
    first = open_study(s.storage, s.study, pruner, s.objective.directions)
    study, changed = open_part(
        first, setup, args.new_part, lambda n: open_study(s.storage, n, pruner, first.directions)
    )
    if study is not first:
        s = search = dataclasses.replace(s, study=study.study_name)
    if changed:
        print(f"study {first.study_name}: part {s.study} begins, its setup changed: {'; '.join(changed)}")
    study.sampler = make_sampler(s.sampler, s.seed, len(study.trials), s.trials, s.jobs)
    prepare(study, s)
    for line in add_history(study, s, s.history):
        print(line)
    print(f"study {s.study} in {named(s.storage.url, s.project)}: {counted(study)} of {s.trials} trials done; "
          f"{s.sampler} sampler, {s.pruner} pruner, objective {s.objective.text}")  # fmt: skip
    if setup["dirty"]:
        print("uncommitted changes to the code DVC tracks run in every trial")
    processes = TrialProcesses()
    started = time.monotonic()
    with interrupts_passed_on(processes):
        run_trials(study, TrialObjective(search, processes))
    print(f"{counted(study)} of {s.trials} trials done in {time.monotonic() - started:.0f} s")
    seeded = []
    if args.seeds > 1:
        top = ranked(trial_records(study, s.space))[:2]
        first = int(s.committed["train"]["seed"])
        with interrupts_passed_on(processes):
            seeded = rerun_with_seeds(top, list(range(first, first + args.seeds)), search, processes)
        print(verdict(seeded))
    settings = dataclasses.replace(s.settings(), code_dirty=setup["dirty"])
    folder = write_tune_report(study, lab, s.space, settings, args.out, s.project, args.test_top, seeded)
    if args.apply:
        best = best_experiment(folder / "results.json")
        print("\n".join(apply_best(best, s.project, list(lab.tiny), settings)))


def plan(args: argparse.Namespace) -> tuple[Search, Lab]:
    """The search the command line asks for, checked whole before the study is opened, and its lab."""
    project = Path(".")
    lab = find_lab(load_labs(), args.lab)
    extra = parse_set(args.set)
    space = searched(lab, args.tiny, extra)
    committed = committed_params(project)
    shared = shared_overrides(lab, args.tiny, extra)
    train = check_lab_setup(committed, shared, extra, lab.name)
    check_model(space, train, lab.name, extra)
    check_space(committed, shared, space, lab.name)
    goal = parse_objective(args.objective)
    name = check_study_name(args.study or f"{lab.name}-tune{goal.study_suffix()}")
    search = Search(
        project, lab.name, name, Storage(storage_url(args.storage, name, project), args.grace), committed, shared,
        extra, space, args.trials, args.jobs, args.timeout, args.sampler, args.seed, pruner_for(goal, args.pruner),
        train.epochs, train.early_stopping.enabled and train.early_stopping.restore_best_weights, args.tiny, goal,
        args.push, args.history,
    )  # fmt: skip
    return search, lab


def prepare(study, search: Search) -> None:
    """Before the first trial: a new study replaces the experiments an earlier study of its name left; a study
    that goes on fails its trials whose tuner on this machine is gone, and runs its interrupted trials again."""
    if not study.trials:
        removed = remove_experiments(search.study, search.project)
        if removed:
            print(f"removed {removed} experiments of an earlier study named {search.study}")
    search.storage.fail_dead_local(study)  # each says so
    for number in requeue_interrupted(study):
        print(f"trial {number} was interrupted: its params run again")


@contextlib.contextmanager
def interrupts_passed_on(processes: TrialProcesses) -> Iterator[None]:
    """Ctrl-C and SIGTERM reach each trial's DVC (in a process group of its own), then stop the study."""

    def interrupt(signum, frame) -> None:
        processes.interrupt_all()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    yield


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
