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
"""

import argparse
import contextlib
import json
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.config.params import parse_params
from imgclf.dvc_command import dvc
from imgclf.errors import PipelineError
from imgclf.exp_workspace import RESTORE_PARAMS
from imgclf.experiments.labs import Lab, Overrides, apply, committed_params, find_lab, load_labs, shared_overrides
from imgclf.experiments.objectives import ACCURACY, COSTS, parse_objective, pruner_for
from imgclf.experiments.provenance import is_source
from imgclf.experiments.search_space import Space
from imgclf.experiments.study import (
    SAMPLERS,
    STUDY_DIR,
    counted,
    fail_dead_local_trials,
    make_sampler,
    open_study,
    redacted,
    requeue_interrupted,
    running,
    storage_url,
)
from imgclf.experiments.sweep import parse_set
from imgclf.experiments.trial_lines import WIDTH, best_line, trial_line
from imgclf.experiments.trial_objective import TrialObjective
from imgclf.experiments.trial_run import TrialFailed, TrialProcesses, remove_experiments
from imgclf.experiments.tune_record import Settings, ranked, trial_records
from imgclf.experiments.tune_report import best_experiment, write_tune_report
from imgclf.experiments.tune_seeds import rerun_with_seeds, verdict
from imgclf.trial_link import PRUNERS, make_pruner


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml with a search: space")
    parser.add_argument("--trials", type=int, default=20, help="trials the study should have in all (default 20)")
    parser.add_argument("--timeout", type=float, help="seconds after which no new trial starts (this run)")
    parser.add_argument("--jobs", type=int, default=1, help="trials at once on this machine (default 1)")
    parser.add_argument("--study", help="the study's name (default LAB-tune); its experiments are STUDY-NNNN")
    parser.add_argument("--storage", help="a database URL (default: sqlite .tune/STUDY.db in the repository)")
    parser.add_argument("--seed", type=int, help="the sampler's seed")
    parser.add_argument("--sampler", default="tpe", choices=SAMPLERS, help="default tpe")
    parser.add_argument("--pruner", choices=PRUNERS, help="default median (none with two objectives)")
    parser.add_argument("--objective", default=ACCURACY, help=f"{ACCURACY} (default), or {ACCURACY},COST with COST "
                        f"one of {', '.join(COSTS)}: a Pareto front of accuracy against that cost")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="add the lab's tiny-sample overrides (quick check)")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="for every trial")
    parser.add_argument("--test-top", type=int, default=1, help="report the test accuracy of the top K (default 1)")
    parser.add_argument("--apply", action="store_true", help="then put the best trial's params into the workspace")
    parser.add_argument("--seeds", type=int, default=1, help="then train the 2 best trials with K seeds each")
    parser.add_argument("--push", metavar="GIT_REMOTE", help="dvc exp push each completed trial there (and its data)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/tune-LAB/ is written there")
    args = parser.parse_args()
    if min(args.trials, args.jobs, args.test_top, args.seeds) < 1 or (args.timeout is not None and args.timeout <= 0):
        raise PipelineError(
            "--trials, --jobs, --test-top and --seeds take 1 or more, --timeout a number of seconds above 0"
        )
    return args


def searched(lab: Lab, tiny: bool, extra: dict) -> Space:
    """The lab's space less the keys the tiny sample fixes; a key given with -S cannot also be searched."""
    if not lab.search:
        raise PipelineError(f"lab {lab.name} has no search: space in sweeps.yaml; add one (docs/experiments.md)")
    clash = [r.key for r in lab.search if r.key in extra]
    if clash:
        raise PipelineError(f"-S {clash[0]}: lab {lab.name} searches this key; leave it out, or edit sweeps.yaml")
    return tuple(r for r in lab.search if not (tiny and r.key in lab.tiny))


def check_space(committed: dict, shared: Overrides, space: Space, lab: str) -> None:
    """Each end of each range (every choice) as params validation takes it, before any trial runs."""
    for r in space:
        for value in r.ends():
            try:
                parse_params(apply(committed, {**shared, r.key: value}), source="params")
            except PipelineError as e:
                reason = str(e).removeprefix("params: ")
                raise PipelineError(f"sweeps.yaml: {lab}.search.{r.key}: {value!r} is refused: {reason}") from None


def main() -> None:
    args = arguments()
    project = Path(".")
    lab = find_lab(load_labs(), args.lab)
    extra = parse_set(args.set)
    space = searched(lab, args.tiny, extra)
    committed = committed_params(project)
    shared = shared_overrides(lab, args.tiny, extra)
    check_space(committed, shared, space, lab.name)
    train = parse_params(apply(committed, shared), source=f"sweeps.yaml {lab.name}").train
    goal = parse_objective(args.objective)
    pruner = pruner_for(goal, args.pruner)
    name = args.study or f"{lab.name}-tune{goal.study_suffix()}"
    url = storage_url(args.storage, name, project)
    study = open_study(url, name, make_pruner(pruner, train.epochs), goal.directions)
    study.sampler = make_sampler(args.sampler, args.seed, len(study.trials))
    setup = {"lab": lab.name, "tiny": args.tiny, "-S": {k: v for k, v in extra.items() if not is_source(k)}}
    same_setup(study, {**setup, **({"objective": goal.text} if goal.multi else {})})
    prepare(study, name, project)
    print(f"study {name} in {redacted(url)}: {counted(study)} of {args.trials} trials done; {args.sampler} sampler, "
          f"{pruner} pruner, objective {goal.text}")  # fmt: skip
    processes = TrialProcesses()
    keeps_best = train.early_stopping.enabled and train.early_stopping.restore_best_weights
    objective = TrialObjective(project, committed, shared, space, url, name, pruner, train.epochs, keeps_best,
                               processes, args.push, goal)  # fmt: skip
    started = time.monotonic()
    with interrupts_passed_on(processes):
        optimize(study, objective, args)
    print(f"{counted(study)} of {args.trials} trials done in {time.monotonic() - started:.0f} s")
    seeded = []
    if args.seeds > 1:
        top = ranked(trial_records(study, space))[:2]
        seeds = list(range(int(committed["train"]["seed"]), int(committed["train"]["seed"]) + args.seeds))
        with interrupts_passed_on(processes):
            seeded = rerun_with_seeds(top, seeds, committed, shared, name, project, processes, keeps_best)
        print(verdict(seeded))
    settings = Settings(lab.name, name, redacted(url), args.sampler, pruner, args.seed, args.trials, args.timeout,
                        args.tiny, extra, goal.text)  # fmt: skip
    folder = write_tune_report(study, lab, space, settings, args.out, project, args.test_top, seeded)
    if args.apply:
        apply_best(folder / "results.json", project, lab, settings)


def apply_best(results: Path, project: Path, lab: Lab, settings: Settings) -> None:
    """`dvc exp apply` of the study's best trial: its params, metrics and the outputs of the stages it ran. A trial
    stops at evaluate, so DVC finds the files of plot and export missing: `dvc repro` makes them."""
    best = best_experiment(results)
    if not best:
        raise PipelineError("--apply: no trial has completed yet")
    try:
        dvc("exp", "apply", best, cwd=project)
    except PipelineError as e:
        if "missing-files" not in str(e):
            pull = f"`dvc exp pull origin {best}` on a machine that did not run it"
            raise PipelineError(f"--apply: {e}; {pull}") from None
    print("\n".join(applied_lines(best, lab, settings)))


def applied_lines(best: str, lab: Lab, settings: Settings) -> list[str]:
    """What --apply says; a study run with --tiny or -S left those values in its trials' params.yaml too."""
    lines = [f"applied {best}: params.yaml, metrics and model are its own; `dvc repro` draws its plots and exports it"]
    kept = [*(lab.tiny if settings.tiny else ()), *settings.overrides]
    if kept:
        parts = (("--tiny sample", settings.tiny), ("-S values", settings.overrides))
        what = " and ".join(part for part, given in parts if given)
        lines += textwrap.wrap(
            f"its params.yaml also has this study's {what} ({', '.join(kept)}): `dvc repro` trains with them; "
            f"`{RESTORE_PARAMS}` returns to the committed params",
            width=WIDTH, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False,
        )  # fmt: skip
    return lines


def same_setup(study, setup: dict) -> None:
    """A study goes on only with the lab, sample and -S it began with (data sources may differ by machine)."""
    began = study.user_attrs.get("setup")
    if began is None:
        study.set_user_attr("setup", setup)
    elif began != setup:
        raise PipelineError(
            f"study {study.study_name} began with {json.dumps(began)}, not {json.dumps(setup)}; "
            "give those, or name another --study"
        )


def prepare(study, name: str, project: Path) -> None:
    """Before the first trial: a new study replaces the experiments an earlier study of its name left; a study
    that goes on fails its trials whose tuner on this machine is gone, and runs its interrupted trials again."""
    if not study.trials:
        removed = remove_experiments(name, project)
        if removed:
            print(f"removed {removed} experiments of an earlier study named {name}")
    for number in fail_dead_local_trials(study):
        print(f"trial {number}: its tuner on this machine is gone; marked failed, its params will run again")
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


FAILURES_IN_A_ROW = 3  # then the fault is the setup's, not one trial's: stop rather than fail every trial


def optimize(study, objective: TrialObjective, args: argparse.Namespace) -> None:
    """Rounds of up to --jobs trials until the study has --trials: each round first counts the trials done and
    those other machines are running, so machines that share a study stop together at its size."""
    failed: list = []  # this run's failures since its last trial that did not fail

    def report(study, trial) -> None:
        print(trial_line(trial, objective.space, objective.objective.cost), flush=True)
        print(best_line(study, objective.objective.cost), flush=True)
        failed[:] = [*failed, trial] if trial.state.name == "FAIL" else []

    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while (left := args.trials - counted(study) - running(study)) > 0 and len(failed) < FAILURES_IN_A_ROW:
            budget = None if deadline is None else deadline - time.monotonic()
            if budget is not None and budget <= 0:
                break
            study.optimize(
                objective, n_trials=min(left, args.jobs), timeout=budget, n_jobs=args.jobs, catch=(TrialFailed,),
                callbacks=[report],
            )  # fmt: skip
    except KeyboardInterrupt:
        raise PipelineError(
            f"interrupted with {counted(study)} of {args.trials} trials done; "
            "run the same command to go on (interrupted trials run again)"
        ) from None
    if len(failed) >= FAILURES_IN_A_ROW:
        last = failed[-1]
        log = Path(STUDY_DIR) / objective.study / f"{last.user_attrs.get('experiment')}.log"
        raise PipelineError(
            f"{len(failed)} trials in a row failed, the last with: {last.user_attrs.get('error')} (its log: {log})"
        )


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
