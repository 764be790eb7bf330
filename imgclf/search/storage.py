"""Where an `imgclf tune` study lives, and how its trials stay honest when a machine is lost.

By default a study lives in .tune/STUDY.db (SQLite, git-ignored) at the repository's root; `--storage` names any
database Optuna takes, such as a PostgreSQL server that several machines share. A tuner's running trials beat
(Optuna's heartbeat) every quarter of the grace period; a trial silent for the whole grace period is stale, and the
first tuner that looks fails it and queues its params to run again (Optuna's RetryHeartbeatStaleTrialCallback)."""

import itertools
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from imgclf.errors import PipelineError
from imgclf.search.link import process_started

T = TypeVar("T")
STUDY_DIR = ".tune"
GRACE_S = 180  # default: a trial silent this long is failed and its params run again
RETRIES = 3  # a param set whose trials go stale this many times is not queued again


def storage_url(given: str | None, study: str, root: Path) -> str:
    """The study's database URL. A relative SQLite path is taken from the repository's root: a trial runs in a
    copy of the repository (`dvc exp run --temp`), where it would open a new, empty study."""
    if not given:
        (root / STUDY_DIR).mkdir(exist_ok=True)
        return f"sqlite:///{(root / STUDY_DIR / f'{study}.db').resolve()}"
    if given.startswith("sqlite:///") and not given.startswith("sqlite:////"):
        return f"sqlite:///{(root / given.removeprefix('sqlite:///')).resolve()}"
    if "://" not in given:
        raise PipelineError(f"--storage {given}: give a database URL, e.g. postgresql://user@host/db")
    if given.startswith(("postgresql://", "postgres://")):  # SQLAlchemy 2.1 would look for psycopg 3
        return "postgresql+psycopg2://" + given.split("://", 1)[1]
    return given


def redacted(url: str) -> str:
    """The URL without its password, for messages and reports."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.split(':')[0]}:***@{host}" if at and ":" in credentials else url


def named(url: str, project: Path) -> str:
    """The storage as a line names it: a SQLite file of the repository by its path from the root (the default
    .tune/STUDY.db), else the URL without its password."""
    path = Path(url.removeprefix("sqlite:///"))
    inside = url.startswith("sqlite:///") and path.is_relative_to(project.resolve())
    return str(path.relative_to(project.resolve())) if inside else redacted(url)


@dataclass
class Storage:
    """Optuna's storage at `url` (steady through a server that blinks: steady_storage.py), and the callback that
    queues a stale trial's params again."""

    url: str
    grace_s: int | None = None  # None: no heartbeat (a trial's train stage, which only reads and reports)

    def __post_init__(self) -> None:
        from optuna.exceptions import ExperimentalWarning
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        from imgclf.search.steady_storage import SteadyRDBStorage, file_identity

        warnings.filterwarnings("ignore", category=ExperimentalWarning)  # heartbeats: experimental since Optuna 2.9
        # SQLite waits up to a minute for its lock (a trial writes once an epoch, beside the tuner's heartbeat)
        engine = {"connect_args": {"timeout": 60}} if self.url.startswith("sqlite") else {"pool_pre_ping": True}
        self.retry = Retry(RetryHeartbeatStaleTrialCallback(max_retry=RETRIES), self.grace_s)
        beat = {}
        if self.grace_s is not None:
            beat = {"heartbeat_interval": max(1, self.grace_s // 4), "grace_period": self.grace_s,
                    "heartbeat_stale_trial_callback": self.retry}  # fmt: skip
        self.optuna = connected(lambda: SteadyRDBStorage(self.url, engine_kwargs=engine, **beat), self.url)
        self.opened = file_identity(self.url)  # a SQLite file's, to tell when it is deleted or replaced

    def trial_id(self, study: str, number: int) -> int:
        return self.optuna.get_trial_id_from_study_id_trial_number(self.optuna.get_study_id_from_name(study), number)

    def state(self, study: str, number: int) -> str:
        """The trial's state now, e.g. RUNNING or FAIL."""
        return self.optuna.get_trial(self.trial_id(study, number)).state.name

    def fail_dead_local(self, study) -> list[int]:
        """Trials left running by a tuner on this machine that no longer runs (killed outright): failed now, without
        waiting for their heartbeat to go stale, and their params queued again."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        failed = []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            host, pid, started = (trial.user_attrs.get(k) for k in ("host", "pid", "started"))
            if host != socket.gethostname() or not isinstance(pid, int) or process_started(pid) == started:
                continue
            trial_id = self.trial_id(study.study_name, trial.number)
            try:
                self.optuna.set_trial_state_values(trial_id, state=TrialState.FAIL)
            except UpdateFinishedTrialError:  # another tuner failed it first
                continue
            self.retry.queue(study, self.optuna.get_trial(trial_id))
            said(trial, "its tuner on this machine is gone")
            failed.append(trial.number)
        return failed


def tuner() -> tuple[int, float | None]:
    """This process and when it started (a pid is reused in time)."""
    return os.getpid(), process_started(os.getpid())


class Retry:
    """Queues a lost trial's params again (Optuna's callback), and says so on the terminal of the tuner that saw it."""

    def __init__(self, queue, grace_s: int | None) -> None:
        self.queue = queue
        self.grace_s = grace_s

    def __call__(self, study, trial) -> None:
        self.queue(study, trial)
        said(trial, f"silent for {self.grace_s} s, its machine lost")


def said(trial, why: str) -> None:
    host = trial.user_attrs.get("host", "?")
    print(f"      trial {trial.number} on {host}: {why}; failed, its params run again", flush=True)


def connected(connect: Callable[[], T], url: str, tries: int = 5) -> T:
    """`connect()`, retried while machines that start together on a new database race to create Optuna's tables
    (the losers see a duplicate key, and find them made on a retry), and while a server that blinks is out of reach
    (up to steady_storage.BLIP_S); any other error is one line."""
    from imgclf.search import steady_storage

    began = time.monotonic()
    for attempt in itertools.count():
        try:
            return connect()
        except Exception as e:  # a server that does not answer, a file that is no database
            racing = attempt < tries - 1 and ("duplicate key" in str(e).lower() or "already exists" in str(e))
            blinking = steady_storage.is_blink(e) and time.monotonic() - began < steady_storage.BLIP_S
            if not (racing or blinking):
                reason = str(e).splitlines()[0]
                raise PipelineError(f"--storage {redacted(url)}: cannot open the study: {reason}") from None
            time.sleep(1 + attempt if racing else 1)
    raise AssertionError("unreachable")


def owner() -> dict[str, object]:
    """The tuner a trial runs in, as the trial records it: its machine, process and the process's start."""
    pid, started = tuner()
    return {"host": socket.gethostname(), "pid": pid, "started": started}
