"""Where a report's numbers came from (commit, setup, data, machine), and whether a run may stand as the committed
report: a partial run (a tiny sample, some experiments only, fewer seeds, a failure, other settings) never replaces
one. A lab's report (provenance(), partial_reason()) and a search's (imgclf/search/record.py) build theirs with
provenance_of() and partial_reason_of()."""

import json
import socket
from collections.abc import Iterable

from imgclf.experiments.exp_show import shown_value
from imgclf.experiments.labs import SEED_KEY, Experiment, pinned
from imgclf.experiments.repeats import Group
from imgclf.machine import machine

# Where the data comes from, not what it is: a run from a local mirror or another copy of the folder is the same
# experiment (the data's md5, recorded beside, says whether the data is the same).
SOURCE_KEYS = ("data.folder", "data.mirrors.", "data.retries", "data.timeout_s")


def is_source(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in SOURCE_KEYS)


def dataset_name(params: dict[str, object]) -> str:
    """A short name for the data an experiment ran on, in place of its sources: the dataset, or for a photo folder
    the folder's (or archive's) own name."""
    dataset = str(params.get("data.dataset", ""))
    folder = str(params.get("data.folder") or "").rstrip("/")
    return folder.rsplit("/", 1)[-1] if dataset == "folder" and folder else dataset


def data_md5s(groups: list[Group]) -> list[dict[str, str]]:
    """The distinct md5 sets of the data the runs trained and were tested on (one, for a sound study)."""
    found = {json.dumps(r.data_md5, sort_keys=True) for g in groups for r in g.runs if r.data_md5}
    return [json.loads(d) for d in sorted(found)]


def provenance_of(
    commits: Iterable[str],
    data_md5: object,
    *,
    setup: dict[str, object] | None = None,
    seeds: list[int] | None = None,
    hosts: Iterable[str] | None = None,
) -> dict:
    """Where a report's numbers came from, a lab's or a search's: the commits they were made on, the params every
    run shares beyond params.yaml (`setup`, a lab's), the md5 of their data, the training seeds (a lab's) and the
    machine. Given the `hosts` that ran them (a search's), the machine is this one only where no other host did,
    else None."""
    found: dict = {"commit": sorted(set(commits))}
    if setup is not None:
        found["setup"] = setup
    found["data_md5"] = data_md5
    if seeds is not None:
        found["seeds"] = seeds
    if hosts is not None:
        found["hosts"] = sorted(set(hosts))
    here = hosts is None or found["hosts"] in ([], [socket.gethostname()])
    found["machine"] = machine() if here else None
    return found


def provenance(groups: list[Group], committed: dict[str, object]) -> dict:
    """A lab report's provenance: its runs' commits and data, the params every run shares that differ from
    params.yaml (the setup), and the seeds of the experiments run with several."""
    runs = [r for g in groups for r in g.runs]
    varying = {k for g in groups for k in g.params if len({json.dumps(h.params.get(k)) for h in groups}) > 1}
    first = runs[0].params if runs else {}
    setup = {k: v for k, v in first.items() if k not in varying and k != SEED_KEY and committed.get(k) != v}
    seeds = sorted({s for g in groups if len(g.runs) > 1 for s in g.seeds})
    return provenance_of((r.commit for r in runs if r.commit), data_md5s(groups), setup=setup, seeds=seeds)


def partial_reason_of(
    unfinished: str | None,
    other: str | None = None,
    previous: dict | None = None,
    seeds: int = 1,
    data_md5: list[dict[str, str]] | None = None,
) -> str | None:
    """Why results, a lab's or a search's, may not replace a committed report, or None when they may: what did not
    finish (`unfinished`), a setup other than the lab's (`other`, see other_setting), or against the report they
    would replace (`previous`, its results.json) fewer `seeds` an experiment or other data."""
    if unfinished or other:
        return unfinished or other
    if previous:
        before = min((len(e.get("seeds") or [0]) for e in previous.get("experiments", [])), default=1)
        if seeds < before:
            return f"{seeds} seed(s) an experiment, fewer than the committed report's {before}"
        data_before = previous.get("provenance", {}).get("data_md5")
        if data_before and data_md5 != data_before:
            return "other data than the committed report's (its md5 differs)"
    return None


def partial_reason(
    planned: list[Experiment], groups: list[Group], committed_raw: dict, previous: dict | None
) -> str | None:
    """Why a lab's results may not replace its committed report (partial_reason_of): every planned experiment must
    have finished, each with exactly the lab's settings, on the same data and with at least as many seeds as the
    report it would replace (`previous`, its results.json)."""
    by_name = {g.name: g for g in groups}
    missing = [run.name for run in planned if run.name not in by_name]
    if missing:
        return partial_reason_of(
            f"{len(missing)} of the lab's {len(planned)} experiments did not finish ({', '.join(missing[:3])})"
        )
    seeds = min((len(g.runs) for g in groups), default=1)
    return partial_reason_of(None, _other_run(planned, by_name, committed_raw), previous, seeds, data_md5s(groups))


def _other_run(planned: list[Experiment], by_name: dict[str, Group], committed_raw: dict) -> str | None:
    """The first run not on the lab's setup for it, and the param that differs, as a reason."""
    for run in planned:
        for result in by_name[run.name].runs:
            key = other_setting(pinned(committed_raw, run), result.params)
            if key:
                return f"{run.name} ran with {key}={shown_value(result.params.get(key))}, not the lab's setup"
    return None


def other_setting(expected: dict[str, object], params: dict[str, object], seeds_vary: bool = True) -> str | None:
    """The first key where `params` differ from the lab's `expected` setup; data sources and the dataset's name
    aside (the data's md5 says whether the data is the same), and the training seed where runs vary it by design."""
    for key in dict.fromkeys([*expected, *params]):
        if is_source(key) or key == "data.dataset" or (seeds_vary and key == SEED_KEY):
            continue
        if json.dumps(expected.get(key)) != json.dumps(params.get(key)):
            return key
    return None
