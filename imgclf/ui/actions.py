"""What the web app may change, when started with --actions: apply an experiment to the workspace, queue a variant,
remove an experiment, push one to a git remote. Each is planned first (what it will run and change, or why it is
refused), then run as DVC's command line with an argument list, never a shell string."""

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from imgclf.config.params import parse_params
from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_show import shown_value
from imgclf.experiments.labs import Experiment, check, flatten, set_param_values
from imgclf.experiments.workspace_saved import experiment_holding
from imgclf.ui.plots import stale_outputs

EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # a git ref segment, as DVC requires
MOST_OVERRIDES = 50  # -S values in one queued variant
QUEUE_START_S = 120  # `dvc queue start` returns once its worker is up


@dataclass(frozen=True)
class Plan:
    commands: list[list[str]]  # DVC's command lines, run in order (argv after `dvc`)
    changes: list[str] = field(default_factory=list)  # what they will change, said before
    refused: str | None = None  # why it cannot run


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True).stdout


def uncommitted(project: Path) -> set[str]:
    """The tracked files the workspace changed since HEAD."""
    return set(git(project, "diff", "--name-only", "HEAD").split())


def plan_apply(project: Path, name: str, rev: str) -> Plan:
    """`dvc exp apply NAME`: refused where the workspace changed a file the experiment would replace, unless an
    experiment keeps those changes (the results a workspace `dvc exp run` left)."""
    replaced = set(git(project, "diff", "--name-only", "HEAD", rev).split())
    clash = sorted(replaced & uncommitted(project))
    kept = experiment_holding(project, clash)
    if clash and not kept:
        files = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
        return Plan([], refused=f"the workspace has uncommitted changes to {files}, which applying {name} would "
                    "overwrite: commit them, or `git stash` them, then apply")  # fmt: skip
    changes = [f"the workspace's changes are {kept}'s results, which DVC keeps as that experiment"] if kept else []
    changes += params_changes(project, rev)
    stale = stale_outputs(yaml.safe_load(git(project, "show", f"{rev}:dvc.lock")) or {})
    changes += [
        f"{path}: {name}'s version" if path not in stale else f"{path}: an older run's ({name} did not run its "
        f"{stale[path]} stage; `dvc repro` makes its own)"
        for path in sorted(replaced) if path != "params.yaml"
    ]  # fmt: skip
    changes.append("DVC's outputs (models/, metrics/, plots/): checked out from its cache as the experiment left them")
    return Plan([["exp", "apply", name]], changes)


def params_changes(project: Path, rev: str) -> list[str]:
    """params.yaml's values the experiment brings, each against HEAD's: a --tiny trial's sample size among them."""
    head = flatten(yaml.safe_load(git(project, "show", "HEAD:params.yaml")) or {})
    brought = flatten(yaml.safe_load(git(project, "show", f"{rev}:params.yaml")) or {})
    changed = [f"{k} {shown_value(head.get(k))} -> {shown_value(v)}" for k, v in brought.items() if head.get(k) != v]
    return [f"params.yaml: {', '.join(changed)}"] if changed else []


def plan_remove(name: str) -> Plan:
    return Plan([["exp", "remove", name]], [f"the experiment {name} is deleted from this repository (its git ref)"])


def plan_push(project: Path, name: str) -> Plan:
    remotes = git(project, "remote").split()
    if not remotes:
        return Plan([], refused="this repository has no git remote to push to: `git remote add origin URL` first")
    remote = "origin" if "origin" in remotes else remotes[0]
    changes = [f"{name} is pushed to the git remote {remote}, its outputs to DVC's default remote"]
    return Plan([["exp", "push", remote, name]], changes)


def plan_queue(project: Path, text: str, name: str) -> Plan:
    """`dvc exp run --queue -S ...` from `key=value` lines, keys of params.yaml, then a worker to run it. Every
    line it cannot take is named at once."""
    committed = yaml.safe_load((project / "params.yaml").read_text()) or {}
    params = flatten(committed)
    overrides: dict[str, object] = {}
    problems = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        key, sep, raw = (part.strip() for part in line.partition("="))
        if not sep or key not in params or key in overrides:
            known = "write key=value" if not sep else f"{key} is not a key of params.yaml"
            known = f"{key} is given twice" if key in overrides else known
            problems.append(f"cannot queue {line[:80]!r}: {known} (e.g. train.lr=0.05)")
            continue
        try:
            overrides[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            problems.append(f"cannot read the value of {key}: {raw[:80]!r}")
    if (not overrides and not problems) or len(overrides) > MOST_OVERRIDES:
        problems.append(f"give 1 to {MOST_OVERRIDES} params to change, one key=value a line")
    if name and not EXPERIMENT_NAME.fullmatch(name):
        problems.append(f"{name[:80]!r}: name it with letters, digits, . - and _ (at most 80)")
    if not problems:
        problems = invalid_values(committed, overrides)
    if problems:
        return Plan([], refused="; ".join(problems))
    sets = [arg for value in set_param_values(overrides) for arg in ("-S", value)]
    run = ["exp", "run", "--queue", *(["--name", name] if name else []), *sets]
    changes = [
        f"queued: the workspace's params.yaml with {' '.join(set_param_values(overrides))}",
        "a DVC queue worker runs it (dvc queue start); the table shows it queued, running, then done",
    ]
    return Plan([run, ["queue", "start", "-j", "1"]], changes)


def invalid_values(committed: dict, overrides: dict[str, object]) -> list[str]:
    """What the pipeline's own check of params says of the variant (a rate of "abc", -3 epochs), where params.yaml
    is this project's; another project's params are checked by their keys only."""
    try:
        parse_params(committed, source="params.yaml")
    except PipelineError:
        return []
    try:
        check(committed, [Experiment("the variant", overrides, overrides)])
    except PipelineError as e:
        return [str(e)]
    return []


def carry_out(project: Path, plan: Plan) -> str:
    """Runs the plan's commands; DVC's last output line, or a one-line PipelineError."""
    out = ""
    for command in plan.commands:
        out = start_worker(project) if command[:2] == ["queue", "start"] else dvc(*command, cwd=project)
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else "done"


def start_worker(project: Path) -> str:
    """`dvc queue start`. Its worker keeps the output it inherits open until the queue is empty, so that goes to a
    file in DVC's tmp folder: through a pipe, the page would wait for the whole run."""
    log = project / ".dvc" / "tmp" / "imgclf-ui-queue.log"
    with open(log, "ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "dvc", "queue", "start", "-j", "1"],
            cwd=project, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, timeout=QUEUE_START_S,
        )  # fmt: skip
    if done.returncode != 0:
        raise PipelineError(f"dvc queue start failed (exit {done.returncode}); its output: {log}")
    return "a queue worker started: the table shows the run queued, running, then done"
