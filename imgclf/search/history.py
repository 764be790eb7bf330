"""The experiments a search learns from before its first new trial: every finished experiment DVC holds that ran
this search's setup, added to the study as completed trials (Optuna's create_trial / add_trials), so the sampler
starts from them. --trials does not count them, and a study that goes on does not add one twice.

An experiment belongs to the search when the keys the space does not search equal a trial's (the committed
params.yaml, the lab's base, --tiny, -S), its values of the searched keys are ones the space can sample, it trained
on the study's data (the split's md5 in its own dvc.lock) and it has the objective's figures. By default only
experiments of commits whose code DVC tracks is HEAD's count (a sweep's, before its report was committed); at
another commit the code differed (--history all takes them too)."""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_refs import baselines
from imgclf.experiments.exp_show import data_md5_of, experiment_runs, lock_at, params_of
from imgclf.experiments.labs import apply, flatten
from imgclf.experiments.search_space import Space, distributions_of, same_value, sampled_params
from imgclf.livelog import parse_series
from imgclf.search.plan import Search
from imgclf.search.setup import code_files
from imgclf.search.trial_run import EVAL_SERIES, git, read_result

HISTORY = ("code", "all", "none")  # --history: experiments of commits with HEAD's code (default), of any, none


@dataclass(frozen=True)
class Past:
    name: str
    rev: str  # the experiment's commit
    baseline: str  # the commit it ran on
    params: dict[str, object]  # its params.yaml, flattened
    timestamp: str


def same_code(project: Path, commits: list[str]) -> list[str]:
    """The commits whose code DVC tracks (setup.code_files) is HEAD's, to the byte."""
    files = code_files(project)
    tree = git(["ls-tree", "-r", "HEAD", "--", *files], project)
    return [c for c in commits if git(["ls-tree", "-r", c, "--", *files], project) == tree]


def past_experiments(project: Path, commits: list[str]) -> list[Past]:
    """The finished experiments of these baseline commits, as `dvc exp show` lists them, oldest first."""
    if not commits:
        return []
    revs = [arg for commit in commits for arg in ("--rev", commit)]
    shown = json.loads(dvc("exp", "show", "--json", *revs, cwd=project) or "[]")
    found = []
    for baseline in shown:
        if baseline.get("rev") not in commits:
            continue  # the workspace, listed first
        for name, exp, _, result in experiment_runs(baseline):
            data = exp.get("data") or {}
            if result is not None and exp.get("rev"):
                found.append(Past(name, exp["rev"], baseline["rev"], params_of(data), data.get("timestamp") or ""))
    return sorted(found, key=lambda p: p.timestamp)


def trial_setup(search: Search) -> dict[str, object]:
    """The params every trial runs with, flattened: the committed params.yaml under the base, --tiny and -S."""
    return flatten(apply(search.committed, search.shared))


def reason_skipped(past: Past, setup: dict[str, object], space: Space) -> str | None:
    """Why an experiment is not one of this search's (a short reason, counted in the summary), or None."""
    searched = {r.key for r in space}
    if any(not same_value(past.params.get(k), setup.get(k)) for k in (set(setup) | set(past.params)) - searched):
        return "other setup"
    if sampled_params(past.params, space)[1] is not None:
        return "outside the space"
    return None


def add_history(study, search: Search, mode: str) -> list[str]:
    """Adds the qualifying experiments not yet in the study; the lines that say what was added and skipped."""
    if mode == "none":
        return []
    project = search.project
    held = baselines(project)
    commits = list(held) if mode == "all" else same_code(project, list(held))
    skipped = Counter({"other code": sum(n for c, n in held.items() if c not in commits)})
    known = {t.user_attrs.get("commit") for t in study.get_trials(deepcopy=False)}
    setup, fitting = trial_setup(search), []
    for past in past_experiments(project, commits):
        if past.rev in known:
            continue
        reason = reason_skipped(past, setup, search.space)
        if reason:
            skipped[reason] += 1
        else:
            fitting.append(past)
    data = study.user_attrs.get("data_md5") or newest_data(fitting, project)
    trials = []
    for past in fitting:
        trial, reason = history_trial(past, search, data)
        if reason:
            skipped[reason] += 1
        else:
            trials.append(trial)
    if trials:
        if "data_md5" not in study.user_attrs:
            study.set_user_attr("data_md5", data)  # the study's data: its new trials are checked against it
        study.add_trials(trials)
    return summary(trials, +skipped)


def newest_data(fitting: list[Past], project: Path) -> dict | None:
    """The data of the newest qualifying experiment: a study's new trials train on what the pipeline gives now."""
    return data_md5_of(lock_at(project)(fitting[-1].rev)) if fitting else None


def history_trial(past: Past, search: Search, data: dict | None):
    """The completed trial an experiment becomes, or the reason it cannot: other data, or no objective figure. Its
    epochs' figures go with it, so the pruner compares new trials with it too."""
    import optuna

    if data_md5_of(lock_at(search.project)(past.rev)) != data:
        return None, "other data"
    try:
        result = read_result(past.rev, search.project, search.keeps_best)
    except (PipelineError, KeyError, ValueError, IndexError):
        return None, "missing metric"
    values = [result.val_accuracy]
    if search.objective.multi:
        cost = getattr(result, search.objective.cost)
        if cost is None:
            return None, "missing metric"
        values.append(float(cost))
    params, _ = sampled_params(past.params, search.space)
    attrs = {**vars(result), "experiment": past.name, "history": past.baseline}
    trial = optuna.trial.create_trial(
        params=params, distributions=distributions_of(search.space), values=values, user_attrs=attrs,
        intermediate_values=curve(past.rev, search.project),
    )  # fmt: skip
    return trial, None


def curve(rev: str, project: Path) -> dict[int, float]:
    """The experiment's val accuracy after each epoch, numbered as a trial reports it to the pruner (from 1)."""
    try:
        return parse_series(git(["show", f"{rev}:{EVAL_SERIES}"], project), "accuracy")
    except (PipelineError, ValueError):
        return {}


def summary(trials: list, skipped: Counter) -> list[str]:
    """At most two lines, each within 120 columns but for long experiment names."""
    lines = []
    if trials:
        best = max(trials, key=lambda t: t.values[0])
        commits = sorted({t.user_attrs["history"][:7] for t in trials})
        of = ", ".join(commits[:3]) + (f" and {len(commits) - 3} more" if len(commits) > 3 else "")
        lines.append(
            f"from history: {counted(len(trials), 'experiment')} of {of}, best val {best.values[0]:.2%} "
            f"({best.user_attrs['experiment']}); --trials counts new trials only"
        )
    if skipped:
        reasons = ", ".join(f"{n} {reason}" for reason, n in skipped.most_common())
        lines.append(f"from history: {counted(sum(skipped.values()), 'experiment')} skipped: {reasons}")
    return lines


def counted(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
