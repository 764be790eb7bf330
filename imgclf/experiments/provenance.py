"""Where a lab report's numbers came from (commit, setup, data, machine), and whether a run may stand as the lab's
committed report: a partial run (a tiny sample, some experiments only, fewer seeds, a failure, other settings)
never replaces one."""

import json
import os
import platform
import subprocess
from pathlib import Path

from imgclf.experiments.exp_show import Result, shown_value
from imgclf.experiments.labs import SEED_KEY, Experiment, pinned
from imgclf.experiments.repeats import Group

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


def machine() -> str:
    """This machine in one line, for the numbers it produced: OS, CPU cores, GPU, TensorFlow's version."""
    from importlib.metadata import version

    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpu = "no GPU" if not Path("/dev/nvidia0").exists() or gpus == "" else gpu_names() or "an NVIDIA GPU"
    tensorflow = version("tensorflow")
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, TensorFlow {tensorflow}"


def gpu_names() -> str:
    """The NVIDIA cards nvidia-smi lists, e.g. "1 x NVIDIA H100 80GB HBM3" ("" without nvidia-smi)."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    names = [name.strip() for name in listed if name.strip()]
    return ", ".join(f"{names.count(name)} x {name}" for name in dict.fromkeys(names))


def data_md5s(groups: list[Group]) -> list[dict[str, str]]:
    """The distinct md5 sets of the data the runs trained and were tested on (one, for a sound study)."""
    found = {json.dumps(r.data_md5, sort_keys=True) for g in groups for r in g.runs if r.data_md5}
    return [json.loads(d) for d in sorted(found)]


def provenance(groups: list[Group], committed: dict[str, object]) -> dict:
    """The commit(s) the runs were made on, the params every run shares that differ from params.yaml (the setup),
    the md5 of their data, their training seeds and this machine."""
    runs = [r for g in groups for r in g.runs]
    varying = {k for g in groups for k in g.params if len({json.dumps(h.params.get(k)) for h in groups}) > 1}
    first = runs[0].params if runs else {}
    setup = {k: v for k, v in first.items() if k not in varying and k != SEED_KEY and committed.get(k) != v}
    return {
        "commit": sorted({r.commit for r in runs if r.commit}),
        "setup": setup,
        "data_md5": data_md5s(groups),
        "seeds": sorted({s for g in groups if len(g.runs) > 1 for s in g.seeds}),
        "machine": machine(),
    }


def partial_reason(
    planned: list[Experiment], groups: list[Group], committed_raw: dict, previous: dict | None
) -> str | None:
    """Why these results may not replace the lab's committed report, or None when they may: every planned
    experiment finished, each with exactly the lab's settings (data sources aside), on the same data and with at
    least as many seeds as the report they would replace (`previous`, its results.json)."""
    by_name = {g.name: g for g in groups}
    missing = [run.name for run in planned if run.name not in by_name]
    if missing:
        return f"{len(missing)} of the lab's {len(planned)} experiments did not finish ({', '.join(missing[:3])})"
    for run in planned:
        expected = pinned(committed_raw, run)
        for result in by_name[run.name].runs:
            other = _other_setting(expected, result)
            if other:
                return f"{run.name} ran with {other}, not the lab's setup"
    seeds = min(len(g.runs) for g in groups)
    if previous:
        before = min((len(e.get("seeds") or [0]) for e in previous.get("experiments", [])), default=1)
        if seeds < before:
            return f"{seeds} seed(s) an experiment, fewer than the committed report's {before}"
        data_before = previous.get("provenance", {}).get("data_md5")
        if data_before and data_md5s(groups) != data_before:
            return "other data than the committed report's (its md5 differs)"
    return None


def _other_setting(expected: dict[str, object], result: Result) -> str | None:
    """The first param where the run differs from the lab's setup, as key=value; sources and the seed aside."""
    for key in dict.fromkeys([*expected, *result.params]):
        if is_source(key) or key == SEED_KEY or key == "data.dataset":
            continue
        if json.dumps(expected.get(key)) != json.dumps(result.params.get(key)):
            return f"{key}={shown_value(result.params.get(key))}"
    return None
