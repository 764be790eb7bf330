"""An `imgclf tune` study in Optuna: how it samples and prunes, and which of its trials count.

Trials that count towards --trials are the completed and pruned ones. Machines that share a study each ask for
trials until that many are finished, and wait while the rest run elsewhere; a trial started when enough others
were already finished or running is surplus, and runs nothing."""

from imgclf.errors import PipelineError
from imgclf.search.storage import Storage, connected

SAMPLERS = ("tpe", "random", "qmc", "nsga2")
PRUNERS = ("median", "hyperband", "halving", "none")


def startup_trials(budget: int) -> int:
    """TPE's random start: a quarter of the study's --trials, at least 3 (Optuna's default of 10 left a study of 10
    trials or fewer random search) and at most those 10 (a --timeout search's --trials is a bound it may never
    reach). Finished trials the study already holds count towards it."""
    return min(10, max(3, budget // 4))


def make_sampler(name: str, seed: int | None, trials_before: int = 0, budget: int = 20, jobs: int = 1):
    """The sampler of one run of the tuner. A study that goes on offsets the seed by its trials so far, so that
    it does not draw its first trials' params again. TPE models the params jointly (multivariate), and with
    several trials at once counts the running ones as poor (the constant liar), so they do not sample one point."""
    import warnings

    import optuna

    seed = None if seed is None else seed + trials_before
    if name == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=startup_trials(budget), multivariate=True, constant_liar=jobs > 1
            )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    if name == "nsga2":  # its first generation, 50 trials, is drawn at random
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise PipelineError(f"--sampler {name}: choose one of {', '.join(SAMPLERS)}")


def make_pruner(name: str, epochs: int):
    """median: from a trial's 2nd epoch on, stop it when its figure is below the median of the earlier trials' at
    that epoch, once 2 trials have finished. Hyperband and successive halving take epochs as their budget."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise PipelineError(f"--pruner {name}: choose one of {', '.join(PRUNERS)}")


def open_study(storage: Storage, name: str, pruner, directions: tuple[str, ...] = ("maximize",)):
    """The study, created if it is new. Machines that start together on a new database race to create Optuna's
    tables and the study; the losers' errors (a duplicate key) pass on a retry, which finds both made."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = connected(
        lambda: optuna.create_study(
            study_name=name, storage=storage.optuna, pruner=pruner, directions=directions, load_if_exists=True
        ),
        storage.url,
    )
    if len(study.directions) != len(directions):
        raise PipelineError(
            f"study {name} has {len(study.directions)} objective(s), not {len(directions)}; give its --objective, "
            "or name another --study"
        )
    return study


def counted(study) -> int:
    """Trials that count towards --trials: completed and pruned ones, less the experiments of the past the study
    learned from (search/history.py)."""
    from optuna.trial import TrialState

    finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return sum("history" not in t.user_attrs for t in finished)


def running(study) -> int:
    """Trials running now, here and on other machines."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def is_surplus(study, number: int, trials: int) -> bool:
    """Whether trial `number` would be one too many: `trials` trials numbered before it are finished, running or
    queued. Tuners that asked at the same moment for the last trial both get one; the later-numbered runs nothing."""
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    before = [t for t in study.get_trials(deepcopy=False, states=live) if t.number < number]
    return sum("history" not in t.user_attrs for t in before) >= trials


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
