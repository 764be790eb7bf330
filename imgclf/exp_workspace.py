"""`dvc exp run` in the workspace writes each `-S` value into params.yaml and leaves it there after the run, refused
or not: every later `dvc exp run` starts from it. A queued or `--temp` run changes a copy, never the workspace."""

import os
from collections.abc import Mapping
from pathlib import Path

RESTORE_PARAMS = "git restore params.yaml"  # back to the committed params; saved experiments stay


def in_experiment(env: Mapping[str, str]) -> bool:
    """DVC names every experiment it runs (workspace, `--temp` or queued) in DVC_EXP_NAME; a `dvc repro` has none."""
    return bool(env.get("DVC_EXP_NAME"))


def in_workspace_experiment(env: Mapping[str, str], cwd: Path) -> bool:
    """Queued and `--temp` experiments run under .dvc/tmp/exps."""
    return in_experiment(env) and ".dvc/tmp/exps" not in Path(cwd).resolve().as_posix()


def refused_value_hint(env: Mapping[str, str] = os.environ, cwd: Path | None = None) -> str:
    """What to add to a refusal of params.yaml inside a workspace experiment: the value stays there until undone."""
    if not in_workspace_experiment(env, cwd or Path.cwd()):
        return ""
    undo = f"`{RESTORE_PARAMS}` returns to the committed ones"
    return f"; params.yaml keeps the values `dvc exp run -S` wrote into it: {undo}"
