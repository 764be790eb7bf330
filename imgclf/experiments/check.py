"""Does HEAD still reproduce a lab's committed report? Re-runs its cheapest experiment (one seed) with exactly the
params the report recorded and compares test accuracy and loss, to the last digit.

    python -m imgclf.experiments.check convpool -S data.folder=/tmp/cifar10-jpg   # where your copy of the data is
    python -m imgclf.experiments.check early_stopping -S 'data.mirrors.mnist=[/srv/mnist]'

Only data sources (data.folder, data.mirrors.*) may be set: anything else would be another experiment. Exits 0
when the figures match exactly, 1 when they do not or the data differs.
"""

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_show import lock_at, read_experiments
from imgclf.experiments.labs import committed_params, flatten, set_param_args
from imgclf.experiments.provenance import is_source
from imgclf.experiments.sweep import parse_set


def cheapest_run(results: dict) -> dict:
    """The report's run with the shortest training (a report of before seeds holds runs as its experiments)."""
    runs = [run for e in results.get("experiments", []) for run in (e.get("runs") or [e])]
    timed = [run for run in runs if run.get("train_seconds") is not None]
    if not timed:
        raise PipelineError("the report holds no timed run to re-run; run its lab first")
    return min(timed, key=lambda run: run["train_seconds"])


def verdict(recorded: dict, now: dict) -> tuple[bool, str]:
    """Whether `now` (a Result, as a dict) reproduces `recorded` exactly, and one line saying so."""
    same = (now["accuracy"], now["loss"]) == (recorded["accuracy"], recorded["loss"])
    figures = f"{now['accuracy']:.2%} / {now['loss']:.4f}"
    if recorded.get("data_md5") and now.get("data_md5") and recorded["data_md5"] != now["data_md5"]:
        return False, f"{recorded['name']}: other data than the report's (md5 differs); HEAD gives {figures}"
    made = f"made at {recorded['commit'][:7]}" if recorded.get("commit") else "its commit not recorded"
    if same:
        return True, f"{recorded['name']}: HEAD reproduces the report exactly, {figures} ({made})"
    return False, (
        f"{recorded['name']}: HEAD gives {figures}, the report {recorded['accuracy']:.2%} / "
        f"{recorded['loss']:.4f} ({made}): the report is stale; re-run its lab"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab with a report in reports/LAB/")
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", help="a data source")
    parser.add_argument("--report", type=Path, help="the report's folder (default reports/LAB)")
    args = parser.parse_args()
    folder = args.report or Path("reports") / args.lab
    try:
        results = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError) as e:
        raise PipelineError(f"{folder / 'results.json'}: cannot read it ({e}); run the lab first") from None
    sources = parse_set(args.set)
    others = [key for key in sources if not is_source(key)]
    if others:
        raise PipelineError(f"-S {others[0]}: only data sources (data.folder, data.mirrors.*) may be set here")
    recorded = cheapest_run(results)
    known = flatten(committed_params(Path(".")))
    params = {k: v for k, v in recorded["params"].items() if k in known} | sources
    name = f"check-{recorded['name']}"
    print(f"re-running {recorded['name']} (the report's quickest run) as experiment {name}", flush=True)
    if name in dvc("exp", "ls", "--name-only").split():
        dvc("exp", "remove", name)  # an earlier check's: DVC refuses a second experiment of one name
    command = [sys.executable, "-m", "dvc", "exp", "run", "--temp", "--name", name, *set_param_args(params), "plot"]
    if subprocess.run(command).returncode != 0:  # in a temporary copy: the workspace stays as it is
        raise PipelineError(f"{name} failed; see its output above")
    shown = read_experiments(json.loads(dvc("exp", "show", "--json")), lock_at(Path(".")))
    if name not in shown.finished:
        raise PipelineError(f"{name} did not finish; see its output above")
    ok, line = verdict(recorded, {**asdict(shown.finished[name]), "name": recorded["name"]})
    print(line)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
