"""The tuner's loop: trials until the study has --trials finished (complete or pruned), on this machine and the
others that share it.

All along, a thread fails the trials whose heartbeat went stale (a lost machine's: their params are queued again),
so none stays running past the grace period while this tuner lives, even during a long trial of its own. Each
round counts the trials finished and running. It starts up to --jobs trials while fewer than --trials are finished
or running, and while the rest run elsewhere it waits, looking again every POLL_S: a machine lost now leaves its
trial to this one."""

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from imgclf.cli import COMMAND
from imgclf.errors import PipelineError
from imgclf.search.steady_storage import file_lost, gone_line, sqlite_path
from imgclf.search.storage import STUDY_DIR
from imgclf.search.study import counted, running
from imgclf.search.trial_lines import best_line, trial_line
from imgclf.search.trial_objective import Surplus, TrialObjective
from imgclf.search.trial_run import TrialFailed

FAILURES_IN_A_ROW = 3  # then the fault is the setup's, not one trial's: stop rather than fail every trial
POLL_S = 5.0  # while waiting for trials that run elsewhere


@contextlib.contextmanager
def failing_stale_trials(study) -> Iterator[None]:
    """A thread that fails stale trials every POLL_S until the block ends (the study's storage queues their params
    again)."""
    from optuna.storages import fail_stale_trials

    done = threading.Event()

    def watch() -> None:
        while not done.wait(POLL_S):
            with contextlib.suppress(Exception):  # a database that blinks: the next look, or the loop, sees it
                fail_stale_trials(study)

    watcher = threading.Thread(target=watch, name="stale-trials", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def run_trials(study, objective: TrialObjective) -> None:
    search = objective.search
    failed: list = []  # this run's failures since its last trial that did not fail

    def report(study, trial) -> None:
        if trial.user_attrs.get("surplus"):
            return
        print(trial_line(trial, search.space, search.objective.cost), flush=True)
        print(best_line(study, search.objective.cost), flush=True)
        failed[:] = [*failed, trial] if trial.state.name == "FAIL" else []

    deadline = None if search.timeout_s is None else time.monotonic() + search.timeout_s
    waiting_for = 0
    try:
        with failing_stale_trials(study):
            while len(failed) < FAILURES_IN_A_ROW:
                if file_lost(search.storage.url, search.storage.opened):  # SQLite would write on into a deleted
                    raise PipelineError(gone_line(sqlite_path(search.storage.url), COMMAND))  # file, unseen
                done, elsewhere = counted(study), running(study)
                budget = None if deadline is None else deadline - time.monotonic()
                if done >= search.trials or (budget is not None and budget <= 0):
                    break
                left = search.trials - done - elsewhere
                if left <= 0:
                    if elsewhere != waiting_for:
                        print(f"      waiting for {elsewhere} trial(s) running elsewhere", flush=True)
                        waiting_for = elsewhere
                    time.sleep(POLL_S if budget is None else max(0.0, min(POLL_S, budget)))
                    continue
                waiting_for = 0
                study.optimize(
                    objective, n_trials=min(left, search.jobs), timeout=budget, n_jobs=search.jobs,
                    catch=(TrialFailed, Surplus), callbacks=[report],
                )  # fmt: skip
    except KeyboardInterrupt:  # TrialInterrupted too
        raise PipelineError(
            f"interrupted with {counted(study)} of {search.trials} trials done; "
            "run the same command to go on (interrupted trials run again)"
        ) from None
    if len(failed) >= FAILURES_IN_A_ROW:
        last = failed[-1]
        log = Path(STUDY_DIR) / search.study / f"{last.user_attrs.get('experiment')}.log"
        raise PipelineError(
            f"{len(failed)} trials in a row failed, the last with: {last.user_attrs.get('error')} (its log: {log})"
        )
