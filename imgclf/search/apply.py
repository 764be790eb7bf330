"""`imgclf tune --apply`: the study's best trial into the workspace with `dvc exp apply`, and the commands that
take the workspace back to HEAD afterwards (params, dvc.lock, metrics, DVCLive log and the model)."""

import contextlib
import shlex
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import yaml

from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.workspace_saved import experiment_holding
from imgclf.search.record import Settings
from imgclf.search.trial_lines import WIDTH
from imgclf.search.trial_run import git


def refuse_uncommitted(project: Path, reports: Path) -> None:
    """--apply is refused up front while a committed file has uncommitted changes: `dvc exp apply` would overwrite
    them, and the undo it prints returns to HEAD. New files, and the reports under `reports`, do not count."""
    mine = str(reports).rstrip("/") + "/"
    changed = [p for p, status in changed_files(project).items() if status != "??" and not p.startswith(mine)]
    if changed and not experiment_holding(project, changed):  # a workspace `dvc exp run`'s results: kept by DVC
        raise PipelineError(
            f"--apply: {', '.join(sorted(changed)[:3])}{' and more' if len(changed) > 3 else ''}: uncommitted "
            "changes that `dvc exp apply` would overwrite, which no experiment keeps; "
            "commit or stash them first, then run the same command"
        )


def apply_best(best: str | None, project: Path, tiny_keys: list[str], settings: Settings) -> list[str]:
    """`dvc exp apply` of the best trial; returns the lines to print, with the undo of what it changed. A trial
    stops at evaluate, so plots and exports are the committed ones (missing, on a machine that never made them)
    until `dvc repro` makes the trial's own."""
    if not best:
        raise PipelineError("--apply: no trial has completed yet")
    made_at, head = baseline_of(best, project), git(["rev-parse", "HEAD"], project)
    if made_at is None:
        raise PipelineError(f"--apply: {best} is not on this machine; `dvc exp pull origin {best}` first")
    if made_at != head:
        raise PipelineError(
            f"--apply: {best} was made at commit {made_at[:7]}, not at HEAD ({head[:7]}): applying it would take back "
            f"what changed since; `git checkout {made_at[:7]}` first, or run the study at HEAD"
        )
    before = changed_files(project)  # this run's report, when the study is complete
    not_made = []
    try:
        with interrupts_held(f"applying {best}"):
            dvc("exp", "apply", best, cwd=project, own_session=True)
    except PipelineError as e:
        not_made = missing_outputs_of_stages_it_did_not_run(project)
        if "missing-files" not in str(e) or not_made is None:
            pull = f"on a machine that did not run it, `dvc exp pull origin {best}` first"
            raise PipelineError(f"--apply: {e}; {pull}") from None
    after = changed_files(project)
    applied = {path: status for path, status in after.items() if before.get(path) != status}
    lines = applied_lines(best, tiny_keys, settings)
    if not_made:
        lines.append(f"  not made by the trial, nor in any cache here: {', '.join(not_made)}; `dvc repro` makes them")
    return lines + undo_lines(applied)


@contextlib.contextmanager
def interrupts_held(doing: str) -> Iterator[None]:
    """Ctrl-C and SIGTERM are held while the block runs: `dvc exp apply` stopped halfway leaves HEAD detached on
    the experiment's commit. It is the command's last step, so the command then ends as if uninterrupted, with
    the undo of what it applied."""
    came: list[int] = []

    def hold(signum, frame) -> None:
        if not came:
            print(f"{doing}: it finishes first (a few seconds); then undo it as below if you wish", flush=True)
        came.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def missing_outputs_of_stages_it_did_not_run(project: Path) -> list[str] | None:
    """The outputs missing from the workspace after `dvc exp apply`, when each belongs to a stage the trial did not
    run (its dvc.lock entry is HEAD's: plot, export, ...), so that `dvc repro` makes it from the trial's model;
    None when an output of the trial's own stages is missing (its data never reached this machine)."""
    head = yaml.safe_load(git(["show", "HEAD:dvc.lock"], project) or "{}").get("stages", {})
    now = (yaml.safe_load((project / "dvc.lock").read_text()) or {}).get("stages", {})
    missing = []
    for name, stage in now.items():
        for out in stage.get("outs", []):
            if not (project / out["path"]).exists():
                if head.get(name) != stage:
                    return None
                missing.append(out["path"])
    return missing


def baseline_of(experiment: str, project: Path) -> str | None:
    """The commit an experiment was made at (DVC keeps it as refs/exps/AB/CDEF.../NAME), or None where it is not."""
    refs = git(["for-each-ref", "--format=%(refname)", "refs/exps/"], project).split()
    parts = [ref.split("/") for ref in refs if ref.rsplit("/", 1)[-1] == experiment]
    return parts[0][2] + parts[0][3] if parts else None


def changed_files(project: Path) -> dict[str, str]:
    """Files git sees changed or new in the workspace -> their status (` M`, `??`, ...)."""
    # not trial_run.git: its output is stripped, and a status may begin with a space
    done = subprocess.run(["git", "status", "--porcelain", "-z"], cwd=project, capture_output=True, text=True)
    entries = [e for e in done.stdout.split("\0") if e]
    return {e[3:]: e[:2] for e in entries}


def undo_commands(changed: dict[str, str]) -> list[str]:
    """Back to HEAD: git's files as committed (whole top-level folders: `--apply` is refused while a committed file
    elsewhere in them has changes), new ones removed, then DVC's outputs (the model) as HEAD's dvc.lock names them."""
    tracked = sorted({path.split("/", 1)[0] for path, status in changed.items() if status != "??"})
    new = sorted(path for path, status in changed.items() if status == "??")
    commands = []
    if tracked:
        commands.append(shlex.join(["git", "checkout", "HEAD", "--", *tracked]))
    if new:
        commands.append(shlex.join(["rm", "-r", "--", *new]))
    return [*commands, "dvc checkout"]


def undo_lines(changed: dict[str, str]) -> list[str]:
    return ["to go back to HEAD (params, dvc.lock, metrics, model):", *(f"  {c}" for c in undo_commands(changed))]


def applied_lines(best: str, tiny_keys: list[str], settings: Settings) -> list[str]:
    """What --apply says; a study run with --tiny or -S left those values in its trials' params.yaml too."""
    lines = [f"applied {best}: params.yaml, metrics and model are its own; `dvc repro` draws its plots and exports it"]
    kept = [*(tiny_keys if settings.tiny else ()), *settings.overrides]
    if kept:
        parts = (("--tiny sample", settings.tiny), ("-S values", settings.overrides))
        what = " and ".join(part for part, given in parts if given)
        lines += textwrap.wrap(
            f"its params.yaml also has this study's {what} ({', '.join(kept)}): `dvc repro` trains with them",
            width=WIDTH, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False,
        )  # fmt: skip
    return lines
