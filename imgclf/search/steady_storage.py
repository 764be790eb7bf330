"""Optuna's RDBStorage, steady through a database that blinks, and one line for one that is gone.

A database server that stops and comes back within BLIP_S (a restart, a failover) is waited for: each storage call
the tuner or a trial's train stage makes tries again each second until it answers. A missed heartbeat is only
missed (the next one comes a quarter of the grace period later). A fault that lasts, or that no wait mends (a study
file deleted, truncated, read-only, or its disk full), ends the command with one line naming the storage and what
to do (storage_fault_line)."""

import contextlib
import fcntl
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage, RDBStorage
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from imgclf.disk_space import disk_full_line, is_disk_full
from imgclf.errors import PipelineError

BLIP_S = 30  # a database silent this long is gone, not blinking
BLINKS = (  # what a server that stops, restarts or fails over says, as psycopg2 and SQLAlchemy word it
    "could not connect",
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "connection already closed",
    "connection not open",
    "the database system is",
    "ssl connection has been closed",
    "cannot connect now",
)


def storage_fault(error: BaseException) -> BaseException | None:
    """The database's own error behind `error` (Optuna wraps it in a StorageInternalError of its own, and raises
    others in its wake), or None."""
    wrapped, seen = None, error
    while seen is not None:
        if isinstance(seen, SQLAlchemyError) or type(seen).__module__ == "sqlite3":
            return seen
        wrapped = wrapped or (seen if isinstance(seen, StorageInternalError) else None)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)  # not behind `from None`
    return wrapped


def is_blink(error: BaseException) -> bool:
    """Whether the error is a server out of reach for now (a wait may mend it)."""
    text = " ".join(str(e) for e in (error, error.__cause__, error.__context__) if e is not None).lower()
    return any(sign in text for sign in BLINKS)


def _steady(method: Callable) -> Callable:
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        waited_since = None
        while True:
            try:
                return method(self, *args, **kwargs)
            except (SQLAlchemyError, StorageInternalError) as e:
                waited_since = waited_since or time.monotonic()
                if not is_blink(e) or time.monotonic() - waited_since > BLIP_S:
                    raise
                time.sleep(1)

    return call


class SteadyRDBStorage(RDBStorage):
    """RDBStorage whose calls wait up to BLIP_S for a server out of reach, and whose heartbeats may miss."""

    def record_heartbeat(self, trial_id: int) -> None:
        with contextlib.suppress(SQLAlchemyError, StorageInternalError):  # a missed beat: a trial is stale only
            super().record_heartbeat(trial_id)  # after the whole grace period without one


for _name in [n for n in vars(BaseStorage) if not n.startswith("_")] + ["get_heartbeat_interval"]:
    if _name in vars(RDBStorage):
        setattr(SteadyRDBStorage, _name, _steady(vars(RDBStorage)[_name]))


def _claimed_one_at_a_time(set_state: Callable) -> Callable:
    """A waiting trial (an interrupted or lost trial's params, queued again) is claimed by one worker only. Optuna
    claims it with SELECT ... FOR UPDATE, which SQLite ignores: two workers that read it waiting at once both ran it,
    and the second could not record its result ("Cannot tell a COMPLETE trial"). On SQLite, claims take turns
    under a lock file beside the study's file; a later claim then reads the trial running and passes it by."""

    @functools.wraps(set_state)
    def call(self, trial_id: int, state, values=None) -> bool:
        if state != TrialState.RUNNING or not self.url.startswith("sqlite"):
            return set_state(self, trial_id, state, values)
        with _CLAIMS:
            try:
                lock = open(f"{sqlite_path(self.url)}.claims", "a")  # noqa: SIM115 - held until the claim is made
            except OSError:  # a folder that cannot be written: the claim's own write fails, in one line
                return set_state(self, trial_id, state, values)
            with lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # other tuners of the study on this host; released as it closes
                return set_state(self, trial_id, state, values)

    return call


_CLAIMS = threading.Lock()  # this tuner's --jobs threads
SteadyRDBStorage.set_trial_state_values = _claimed_one_at_a_time(SteadyRDBStorage.set_trial_state_values)


def storage_fault_line(url: str, shown_url: str, error: BaseException, rerun: str, lost: bool = False) -> str:
    """One line for a storage fault that lasted: what is wrong with the study's database, and what to do. `lost`:
    the study's SQLite file is no longer the one it opened (deleted, or replaced by an empty one)."""
    shown = getattr(error, "orig", None) or error  # the driver's own error, without SQLAlchemy's prefix
    reason = (str(shown).strip().splitlines() or [type(shown).__name__])[0][:160]
    sqlite = url.startswith("sqlite")
    if is_disk_full(error) or "database or disk is full" in reason:
        if sqlite:
            return (f"the disk is full (writing the study's file {sqlite_path(url)}): free some space (df -h shows "
                    f"where), then {rerun}")  # fmt: skip
        return f"--storage {shown_url}: {disk_full_line(error, rerun)}"
    if not sqlite:
        if is_blink(error):
            return (f"--storage {shown_url}: the database did not answer for {BLIP_S} s ({reason}); start it, then "
                    f"{rerun} (the study goes on where it stopped)")  # fmt: skip
        return f"--storage {shown_url}: the database failed: {reason}; {rerun} once it is mended"
    path = sqlite_path(url)
    text = reason.lower()
    if lost or not path.exists() or "no such table" in text:
        return gone_line(path, rerun)
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    if not writable or "readonly" in text or "read-only" in text or "permission" in text:
        return (
            f"the study's file {path} cannot be written ({reason}): make it writable (chmod, chattr -i), then {rerun}"
        )
    if "not a database" in text or "malformed" in text:
        return (f"the study's file {path} is damaged ({reason}): move it away and {rerun} to begin the study anew, or "
                "restore it from a copy")  # fmt: skip
    return f"the study's file {path} failed: {reason}; check its disk (df -h) and the file, then {rerun}"


@contextlib.contextmanager
def storage_faults_as_lines(url: str, shown_url: str, rerun: str, opened: tuple | None = None) -> Iterator[None]:
    """A storage fault inside the block (however deep Optuna raised it) as one PipelineError line; `opened`: the
    SQLite file's identity when the study was opened (file_identity)."""
    try:
        yield
    except Exception as e:
        fault = storage_fault(e)
        if fault is None:
            raise
        lost = file_lost(url, opened)
        raise PipelineError(storage_fault_line(url, shown_url, fault, rerun, lost)) from None


def file_identity(url: str) -> tuple[int, int] | None:
    """A SQLite study file's device and inode (None for a server, or a file not there): a file deleted under an
    open study, or replaced, is another."""
    if not url.startswith("sqlite"):
        return None
    try:
        found = os.stat(sqlite_path(url))
    except OSError:
        return None
    return found.st_dev, found.st_ino


def file_lost(url: str, opened: tuple | None) -> bool:
    """Whether the study's SQLite file is no longer the one opened: SQLite writes on into a deleted file unseen."""
    return opened is not None and file_identity(url) != opened


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def gone_line(path: Path, rerun: str) -> str:
    return (f"the study's file {path} is gone (deleted?): restore it, or {rerun} to begin the study anew; its "
            "experiments stay in `dvc exp show`")  # fmt: skip
