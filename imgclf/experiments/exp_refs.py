"""DVC's experiment refs, read with git: refs/exps/AB/CDEF.../NAME names experiment NAME of baseline ABCDEF...."""

import subprocess
from collections import Counter
from pathlib import Path

EXPERIMENT_REF = "refs/exps/"


def baselines(project: Path) -> Counter:
    """The commits DVC holds experiments of, each with how many."""
    listed = subprocess.run(["git", "for-each-ref", "--format=%(refname)", EXPERIMENT_REF], cwd=project,
                            capture_output=True, text=True).stdout.splitlines()  # fmt: skip
    parts = [ref.removeprefix(EXPERIMENT_REF).split("/") for ref in listed]
    return Counter(p[0] + p[1] for p in parts if len(p) == 3 and len(p[0] + p[1]) == 40)
