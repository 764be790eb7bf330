"""An `imgclf tune` study in Optuna: where it is stored, how it samples and prunes, and which of its trials count.

By default a study lives in .tune/STUDY.db (SQLite, git-ignored) at the repository's root; `--storage` names any
database Optuna takes, such as a PostgreSQL server that several machines share. Trials keep a heartbeat there:
one whose machine stopped beating is failed, and its params run once more, by whichever machine asks next."""

import os
import socket
import time
from pathlib import Path

from imgclf.errors import PipelineError
from imgclf.trial_link import open_storage

SAMPLERS = ("tpe", "random", "qmc", "nsga2")
HEARTBEAT_S = 60
STUDY_DIR = ".tune"


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


def make_sampler(name: str, seed: int | None, trials_before: int = 0):
    """The sampler of one run of the tuner. A study that goes on offsets the seed by its trials so far, so that
    it does not draw its first trials' params again."""
    import optuna

    seed = None if seed is None else seed + trials_before
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsga2":  # its first generation, 50 trials, is drawn at random
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise PipelineError(f"--sampler {name}: choose one of {', '.join(SAMPLERS)}")


def open_study(url: str, name: str, pruner, directions: tuple[str, ...] = ("maximize",), tries: int = 5):
    """The study, created if it is new. Machines that start together on a new database race to create Optuna's
    tables and the study; the losers' errors (a duplicate key) pass on a retry, which finds both made."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for attempt in range(tries):
        try:
            storage = open_storage(url, heartbeat_s=HEARTBEAT_S)
            study = optuna.create_study(
                study_name=name, storage=storage, pruner=pruner, directions=directions, load_if_exists=True
            )
            break
        except Exception as e:  # a server that does not answer, a driver not installed, a file that is no database
            if attempt == tries - 1 or ("duplicate key" not in str(e).lower() and "already exists" not in str(e)):
                reason = str(e).splitlines()[0]
                raise PipelineError(f"--storage {redacted(url)}: cannot open the study: {reason}") from None
            time.sleep(1 + attempt)
    if len(study.directions) != len(directions):
        raise PipelineError(
            f"study {name} has {len(study.directions)} objective(s), not {len(directions)}; give its --objective, "
            "or name another --study"
        )
    return study


def redacted(url: str) -> str:
    """The URL without its password, for messages and reports."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.split(':')[0]}:***@{host}" if at and ":" in credentials else url


def counted(study) -> int:
    """Trials that count towards --trials: completed and pruned ones."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def running(study) -> int:
    """Trials running now: on other machines, between this machine's rounds."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def owner() -> dict[str, object]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def fail_dead_local_trials(study) -> list[int]:
    """Trials left running by a tuner on this machine that no longer runs (killed outright): failed now, without
    waiting for their heartbeat to go stale. Their params run again (RetryFailedTrialCallback)."""
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, pid = trial.user_attrs.get("host"), trial.user_attrs.get("pid")
        if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            callback = study._storage.get_heartbeat_stale_trial_callback()
            if callback:
                callback(study, study._storage.get_trial(trial._trial_id))
            failed.append(trial.number)
    return failed


def requeue_interrupted(study) -> list[int]:
    """Trials stopped by Ctrl-C that have not run again: their params are queued for the next trials to take."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    interrupted = [
        t for t in trials if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") and t.number not in retried
    ]
    for trial in interrupted:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number}, skip_if_exists=False)
    return [t.number for t in interrupted]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
