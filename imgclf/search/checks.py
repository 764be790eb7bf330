"""What `imgclf tune`'s command line gives, checked whole before the study opens or any trial runs: each refusal is
one line naming the option, key or value and what to give instead."""

import math
import os
import re
import typing
from pathlib import Path

from imgclf.config.params import TrainParams, parse_params
from imgclf.errors import PipelineError
from imgclf.experiments.labs import Overrides, apply
from imgclf.experiments.search_space import Space

STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # one path segment, a valid git ref (DVC experiment) name
STUDY_NAME_MAX = 80  # its experiments are STUDY-NNNN, its database .tune/STUDY.db: both well inside a file name
MODELS = typing.get_args(typing.get_type_hints(TrainParams)["model"])  # train.model's choices: mlp, cnn, ...


def check_study_name(name: str) -> str:
    if len(name) > STUDY_NAME_MAX or not STUDY_NAME.fullmatch(name):
        raise PipelineError(
            f"--study {name[:STUDY_NAME_MAX]!r}: give a name of letters, digits, - and _ (at most {STUDY_NAME_MAX}, "
            "starting with a letter or digit); it names .tune/STUDY.db and the experiments STUDY-NNNN"
        )
    return name


def check_timeout(timeout_s: float | None) -> None:
    if timeout_s is not None and not (math.isfinite(timeout_s) and timeout_s > 0):
        raise PipelineError(f"--timeout {timeout_s}: give a number of seconds above 0, e.g. --timeout 3600")


def check_jobs(jobs: int, cores: int | None = None) -> None:
    """Trials at once on this machine: each trains with every core (and the one GPU), so more than the cores only
    slows each down; their DVC commands take the repository in turn (trial_run.run_experiment)."""
    cores = cores or os.cpu_count() or 1
    if jobs > cores:
        raise PipelineError(
            f"--jobs {jobs}: at most {cores} here, one trial per core of this machine; give --jobs {cores}"
        )


def check_out(out: Path) -> None:
    """--out is a folder the report can be written in: neither it nor a folder above it is a file."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise PipelineError(f"--out {out}: {path} is a file; give a folder (default reports)")
            if not os.access(path, os.W_OK | os.X_OK):
                raise PipelineError(f"--out {out}: {path} cannot be written here; give another folder")
            return


def check_lab_setup(committed: dict, shared: Overrides, extra: Overrides, lab: str) -> TrainParams:
    """The lab's base and tiny sample, then the user's -S, as params validation takes them: a bad -S key is
    blamed on -S, not on the lab."""
    own = {k: v for k, v in shared.items() if k not in extra}
    parse_params(apply(committed, own), source=f"sweeps.yaml {lab}")
    return parse_params(apply(committed, shared), source="-S").train


def check_model(space: Space, train: TrainParams, lab: str, extra: Overrides) -> None:
    """A space that searches one model's settings (train.mlp.*) searches nothing when another model trains."""
    for r in space:
        section = r.key.split(".")[1] if r.key.startswith("train.") and r.key.count(".") >= 2 else None
        if section in MODELS and section != train.model:
            if "train.model" in extra:
                raise PipelineError(
                    f"train.model is {train.model}, but lab {lab} searches {r.key}, which only the {section} model "
                    f"reads; leave -S train.model out, or tune a lab that searches {train.model}"
                )
            raise PipelineError(
                f"sweeps.yaml: {lab}.search.{r.key}: only the {section} model reads it, and the lab trains "
                f"{train.model}; search {train.model}'s keys, or set train.model in its base"
            )


def check_space(committed: dict, shared: Overrides, space: Space, lab: str) -> None:
    """Each end of each range (every choice) as params validation takes it, before any trial runs."""
    for r in space:
        for value in r.ends():
            try:
                parse_params(apply(committed, {**shared, r.key: value}), source="params")
            except PipelineError as e:
                reason = str(e).removeprefix("params: ")
                raise PipelineError(f"sweeps.yaml: {lab}.search.{r.key}: {value!r} is refused: {reason}") from None
