"""What every trial of a study shares, recorded in the study when it begins: the lab, its space, its base, -S, the
objective, the committed params.yaml and the code DVC tracks (the stages' deps, with any uncommitted change to them:
`dvc exp run` takes the workspace's). A study goes on only with the same; the data's md5 is compared as each trial
ends (data_check), since only a run knows what it read.

Another commit whose code and params are the same (a report or a doc committed) changes nothing a trial does, so
the study goes on there."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import yaml

from imgclf.errors import PipelineError
from imgclf.experiments.provenance import is_source
from imgclf.search.plan import Search
from imgclf.search.trial_run import git

NEW_PART = "--new-part"  # the option that starts a new part of a study whose setup changed


def code_files(project: Path) -> list[str]:
    """dvc.yaml and the files its stages depend on that git tracks: the code a trial runs. A stage's outputs that
    git keeps (the DVCLive log, the predictions the plot stage reads) are results, not code."""
    stages = (yaml.safe_load((project / "dvc.yaml").read_text()) or {}).get("stages") or {}
    deps = {d for stage in stages.values() for d in stage.get("deps") or [] if isinstance(d, str)}
    made = {out for stage in stages.values() for out in outputs_of(stage)}
    tracked = git(["ls-files", "--", "dvc.yaml", *sorted(deps)], project).splitlines()
    return sorted(p for p in set(tracked) if not any(p == out or p.startswith(out + "/") for out in made))


def outputs_of(stage: dict) -> list[str]:
    """A dvc.yaml stage's outs, metrics and plots: each a path, or a one-key map of a path to its options."""
    found = []
    for entry in [*(stage.get("outs") or []), *(stage.get("metrics") or []), *(stage.get("plots") or [])]:
        found += [entry] if isinstance(entry, str) else list(entry) if isinstance(entry, dict) else []
    return [str(path).rstrip("/") for path in found]


def code_state(project: Path) -> dict:
    """The code as a trial would run it: a hash of the committed files and of the uncommitted diff to them."""
    files = code_files(project)
    committed = git(["ls-tree", "-r", "HEAD", "--", *files], project)
    diff = git(["diff", "HEAD", "--binary", "--", *files], project)
    digest = hashlib.sha256(f"{committed}\n{diff}".encode()).hexdigest()[:12]
    return {"commit": git(["rev-parse", "HEAD"], project), "code": digest, "dirty": bool(diff)}


def study_setup(search: Search) -> dict:
    """The setup the study records and compares, as JSON values."""
    given = {k: v for k, v in search.overrides.items() if not is_source(k)}
    setup = {
        "lab": search.lab,
        "tiny": search.tiny,
        "space": [{k: v for k, v in asdict(r).items() if v not in (None, False, ())} for r in search.space],
        "base": {k: v for k, v in search.shared.items() if k not in search.overrides},
        "-S": given,
        "objective": search.objective.text,
        "params": hashlib.sha256(json.dumps(search.committed, sort_keys=True).encode()).hexdigest()[:12],
        **code_state(search.project),
    }
    return json.loads(json.dumps(setup))  # as the study stores it: tuples become lists


def changes(began: dict, now: dict) -> list[str]:
    """What differs, one phrase each: `base train.momentum 0.0 -> 0.9`, `space train.lr`, `the code DVC tracks`."""
    found = []
    for part in ("lab", "tiny", "objective"):
        if began.get(part) != now.get(part):
            found.append(f"{part} {began.get(part)} -> {now.get(part)}")
    for part in ("base", "-S"):
        old, new = began.get(part) or {}, now.get(part) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                found.append(f"{part} {key} {_shown(old.get(key))} -> {_shown(new.get(key))}")
    old, new = ({r["key"]: r for r in s.get("space") or []} for s in (began, now))
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            found.append(f"space {key} {_range_shown(old.get(key))} -> {_range_shown(new.get(key))}")
    if began.get("params") != now.get("params"):
        found.append("the committed params.yaml")
    if began.get("code") != now.get("code"):
        found.append("the code DVC tracks" + (" (uncommitted changes)" if now.get("dirty") else ""))
    return found


def part_name(study: str, part: int) -> str:
    return study if part == 1 else f"{study}-part{part}"


def open_part(first, setup: dict, new_part: bool, open_named) -> tuple[object, list[str]]:
    """The part of the study this run works on, and what changed if it began one. `first` is the study's first part,
    which counts the parts; `open_named(name)` opens (creates) a study. A new study records its setup; one that goes
    on with another is refused, naming what changed, unless `new_part` starts the next part with it."""
    parts = int(first.user_attrs.get("parts", 1))
    study = first if parts == 1 else open_named(part_name(first.study_name, parts))
    began = study.user_attrs.get("setup")
    if began is None:
        study.set_user_attr("setup", setup)
        return study, []
    changed = changes(began, setup)
    if not changed:
        return study, []
    if not new_part:
        raise PipelineError(
            f"study {study.study_name} began with another setup: {'; '.join(changed)}; name another --study, or "
            f"give {NEW_PART} to start part {parts + 1} of it (its report keeps the parts apart)"
        )
    first.set_user_attr("parts", parts + 1)
    study = open_named(part_name(first.study_name, parts + 1))
    study.set_user_attr("setup", setup)
    return study, changed


def data_check(study, data_md5: dict | None) -> str | None:
    """The first trial to end (or the history the study learned from) records the study's data md5; a later one on
    other data gets the reason it does not count (the same params on other data is another experiment)."""
    if not data_md5:
        return None
    began = study.user_attrs.get("data_md5")
    if began is None:
        study.set_user_attr("data_md5", data_md5)
        return None
    if began != data_md5:
        moved = [path for path in sorted(set(began) | set(data_md5)) if began.get(path) != data_md5.get(path)]
        learned = " or the experiments it learned from" if any("history" in t.user_attrs for t in study.trials) else ""
        return f"it trained on other data than the study's first trials{learned} ({', '.join(moved)} changed)"
    return None


def _shown(value: object) -> str:
    return "unset" if value is None else json.dumps(value)


def _range_shown(spec: dict | None) -> str:
    """A recorded range as sweeps.yaml says it, less its key: `{low: 0.001, high: 0.1, log: true}`."""
    if spec is None:
        return "unset"
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in spec.items() if k != "key") + "}"
