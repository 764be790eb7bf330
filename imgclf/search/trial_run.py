"""One trial of `imgclf tune` as one DVC experiment: `dvc exp run --temp -n STUDY-NNNN` with a `-S` for every params
key, up to evaluate. It runs in a copy of the repository, so the workspace never changes, and a trial that fails or
is pruned leaves no experiment: DVC keeps only a run that completed."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import busy_pause, dvc, is_busy
from imgclf.experiments.labs import Experiment, pinned, set_param_args
from imgclf.livelog import parse_series
from imgclf.search.link import TrialLink

TARGET = "evaluate"  # the test figures for the report; plots and export are for the one you keep (dvc exp apply)
MODEL_OUT = "models/model.keras"  # the train stage's model, as dvc.yaml names it
EVAL_SERIES = "dvclive/plots/metrics/eval/accuracy.tsv"  # val_accuracy per epoch, as DVCLive logs it


class TrialFailed(Exception):
    """A trial's experiment did not complete (its reason is the last error line of its log)."""


class TrialInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the trial's experiment, in whichever thread it ran: it stops the study as Ctrl-C
    does, and its params run again when the study goes on."""


@dataclass(frozen=True)
class TrialResult:
    commit: str
    val_accuracy: float  # of the weights the model keeps
    test_accuracy: float
    test_loss: float
    epochs_run: int
    train_seconds: float | None  # None where DVC's run cache restored the training instead of running it
    model_bytes: int | None  # the saved model's size, as dvc.lock records it


def experiment_name(study: str, number: int) -> str:
    return f"{study}-{number:04d}"


class TrialProcesses:
    """The trials' `dvc exp run` processes, each in a process group of its own under a guard (imgclf/search/guard.py)
    that stops it if the tuner dies: Ctrl-C reaches the tuner alone, which passes it on to each group (DVC and its
    stage, as a terminal's Ctrl-C would) and waits for DVC to remove its copy of the repository."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.interrupted = threading.Event()  # set by interrupt_all: no trial starts after it

    def run(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> int:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            guarded = [sys.executable, "-m", "imgclf.search.guard", str(os.getpid()), "--", *command]
            with self._lock:
                if self.interrupted.is_set():
                    raise TrialInterrupted("interrupted before it started")
                process = subprocess.Popen(guarded, cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True)
                self._running.add(process)
            try:
                return process.wait()
            except BaseException:
                _interrupt(process)
                raise
            finally:
                with self._lock:
                    self._running.discard(process)

    def interrupt_all(self) -> None:
        with self._lock:
            self.interrupted.set()
            running = list(self._running)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)


def _interrupt(process: subprocess.Popen, patience_s: float = 120) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=patience_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_experiment(
    run: Experiment, committed: dict, link: TrialLink | None, project: Path, log: Path, processes: TrialProcesses
) -> None:
    """`dvc exp run --temp` of the trial, its output into `log`; without `link`, an experiment no study prunes.
    While another DVC command holds the repository (a parallel trial starting, a user's `dvc exp run`), DVC refuses
    to start and runs nothing: the trial waits its turn (dvc_command.busy_pause)."""
    command = [sys.executable, "-m", "dvc", "exp", "run", "--temp", "-n", run.name]
    command += [*set_param_args(pinned(committed, run)), TARGET]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # the stages' `python`: ours
    env = {**os.environ, "PATH": path, **(link.env() if link else {})}
    waited_since = None
    while processes.run(command, project, env, log) != 0:
        if processes.interrupted.is_set():
            raise TrialInterrupted(last_error(log))
        if not is_busy(log.read_text(errors="replace")) or not busy_pause(waited_since, run.name):
            raise TrialFailed(last_error(log))
        waited_since = waited_since or time.monotonic()


def remove_experiments(study: str, project: Path, exact: bool = False) -> int:
    """Removes HEAD's experiments named STUDY-NNNN (an earlier study's of that name), or with `exact` the one named
    STUDY; returns how many."""
    pattern = re.escape(study) if exact else rf"{re.escape(study)}-\d{{4,}}"
    names = [n for n in dvc("exp", "ls", "--name-only", cwd=project).split() if re.fullmatch(pattern, n)]
    if names:
        dvc("exp", "remove", *names, cwd=project)
    return len(names)


def push_experiment(name: str, remote: str, project: Path, tries: int = 3) -> bool:
    """`dvc exp push REMOTE NAME`: the experiment to the git remote, its data and model to the DVC remote. A
    failure is a line, not a failed trial: the experiment stays here, and `dvc exp push` can send it later."""
    for attempt in range(tries):
        try:
            dvc("exp", "push", remote, name, cwd=project)
            return True
        except PipelineError as e:
            if attempt == tries - 1:
                print(f"warning: {name} stays on this machine only: {e}", flush=True)
            time.sleep(2)  # another trial's DVC may hold the repository's lock for a moment
    return False


def last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    ours = [line for line in errors if line.startswith("error:")]  # a stage's own line, before DVC's summary
    return (ours or errors or lines or ["no output"])[-1][:300]


def experiment_commit(name: str, project: Path) -> str:
    """The commit DVC made for the experiment named `name` on HEAD."""
    head = git(["rev-parse", "HEAD"], project)
    refs = git(["for-each-ref", "--format=%(objectname) %(refname)", f"refs/exps/{head[:2]}/{head[2:]}"], project)
    for line in refs.splitlines():
        commit, ref = line.split(" ", 1)
        if ref.rsplit("/", 1)[-1] == name:
            return commit
    raise TrialFailed(f"dvc exp run ended without an experiment named {name}")


def read_result(commit: str, project: Path, keeps_best_epoch: bool) -> TrialResult:
    """The experiment's figures, from its commit. The objective is the val accuracy of the weights the model keeps:
    the best epoch's where early stopping restores them, else the last epoch's."""
    train = json.loads(git(["show", f"{commit}:metrics/train.json"], project))
    evaluation = json.loads(git(["show", f"{commit}:metrics/eval.json"], project))
    timing = json.loads(git(["show", f"{commit}:metrics/timing.json"], project) or "{}")
    val = train["val_accuracy"]
    if keeps_best_epoch:
        val = parse_series(git(["show", f"{commit}:{EVAL_SERIES}"], project), "accuracy")[train["best_epoch"]]
    return TrialResult(
        commit,
        float(val),
        float(evaluation["test_accuracy"]),
        float(evaluation["test_loss"]),
        int(train["epochs_run"]),
        (timing.get("train") or {}).get("train_seconds"),
        model_bytes(git(["show", f"{commit}:dvc.lock"], project)),
    )


def model_bytes(lock_text: str) -> int | None:
    """The size of the model file the train stage wrote, from a dvc.lock's text."""
    outs = ((yaml.safe_load(lock_text) or {}).get("stages", {}).get("train") or {}).get("outs") or []
    return next((int(o["size"]) for o in outs if o.get("path") == MODEL_OUT and "size" in o), None)


def git(args: list[str], project: Path) -> str:
    """git's output, stripped; a failure is one line."""
    done = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)
    if done.returncode != 0:
        raise PipelineError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()
