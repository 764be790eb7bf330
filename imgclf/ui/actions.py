"""What the web app may change, when started with --actions: apply an experiment to the workspace, queue a variant,
remove an experiment, push one to a git remote. Each is planned first (what it will run and change, or why it is
refused), then run as DVC's command line with an argument list, never a shell string."""

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.labs import flatten, set_param_values

EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # a git ref segment, as DVC requires
MOST_OVERRIDES = 50  # -S values in one queued variant


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
    """`dvc exp apply NAME`: refused where the workspace changed a file the experiment would replace."""
    replaced = set(git(project, "diff", "--name-only", "HEAD", rev).split())
    clash = sorted(replaced & uncommitted(project))
    if clash:
        files = ", ".join(clash[:5]) + (f" and {len(clash) - 5} more" if len(clash) > 5 else "")
        return Plan([], refused=f"the workspace has uncommitted changes to {files}, which applying {name} would "
                    "overwrite: commit them, or `git stash` them, then apply")  # fmt: skip
    changes = [f"{path}: {name}'s version" for path in sorted(replaced)]
    changes.append("DVC's outputs (models/, metrics/, plots/): checked out from its cache as the experiment left them")
    return Plan([["exp", "apply", name]], changes)


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
    params = flatten(yaml.safe_load((project / "params.yaml").read_text()) or {})
    overrides: dict[str, object] = {}
    problems = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        key, sep, raw = (part.strip() for part in line.partition("="))
        if not sep or key not in params:
            known = "write key=value" if not sep else f"{key} is not a key of params.yaml"
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
    if problems:
        return Plan([], refused="; ".join(problems))
    sets = [arg for value in set_param_values(overrides) for arg in ("-S", value)]
    run = ["exp", "run", "--queue", *(["--name", name] if name else []), *sets]
    changes = [
        f"queued: the workspace's params.yaml with {' '.join(set_param_values(overrides))}",
        "a DVC queue worker runs it (dvc queue start); the table shows it queued, running, then done",
    ]
    return Plan([run, ["queue", "start", "-j", "1"]], changes)


def carry_out(project: Path, plan: Plan) -> str:
    """Runs the plan's commands; DVC's last output line, or a one-line PipelineError."""
    out = ""
    for command in plan.commands:
        out = dvc(*command, cwd=project)
    lines = [line for line in out.splitlines() if line.strip()]
    return lines[-1] if lines else "done"
