"""Experiments side by side in a terminal: test accuracy and loss, training time, and only the params that differ,
under their shortest unambiguous names. `dvc exp show` shows every param, metric and dependency hash under full
names: over 100 columns, unreadable at 120. Where the data came from (a folder's path, mirrors) is no
hyperparameter: a short dataset name stands in its place. Params that do not fit 120 columns are listed under the
table, experiment by experiment.

    python -m imgclf.experiments.compare            # the baseline (HEAD) and its experiments
    python -m imgclf.experiments.compare --md       # the same as a markdown table, e.g. for a pull-request comment
    python -m imgclf.experiments.compare -- -A      # after --, arguments for `dvc exp show` (here: the
                                                    # experiments of every commit; commits without any are left out)
"""

import argparse
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_show import Result, differing_keys, experiment_runs, result_of, shown_value
from imgclf.experiments.labs import short_key
from imgclf.experiments.provenance import dataset_name, is_source
from imgclf.experiments.workspace_params import mismatch_warning
from imgclf.markdown_table import markdown_table

WIDTH = 120  # a terminal's columns


@dataclass(frozen=True)
class Row:
    name: str
    result: Result | None  # None: queued, running or failed
    state: str


def rows(shown: list[dict]) -> list[Row]:
    """`dvc exp show --json` -> a row per baseline commit and per experiment, in DVC's order; the workspace only
    where it differs from its baseline (after a `dvc repro` not yet committed)."""
    found: list[Row] = []
    workspace = None
    head = next((b for b in shown if b.get("rev") != "workspace"), None)
    # `-- -A` lists every commit: those without experiments (most of them) would bury the ones with
    shown = [b for b in shown if b.get("rev") == "workspace" or b is head or b.get("experiments")]
    for baseline in shown:
        data = baseline.get("data") or {}
        if baseline.get("rev") == "workspace":
            workspace = result_of("workspace", data)
            continue
        committed = result_of(baseline.get("name") or str(baseline.get("rev", ""))[:7], data)
        if workspace and committed and (workspace.params, workspace.accuracy) != (committed.params, committed.accuracy):
            found.append(Row("workspace", workspace, "success"))
        workspace = None
        if committed:
            found.append(Row(committed.name, committed, "success"))
        found += [Row(name, result, state) for name, _, state, result in experiment_runs(baseline)]
    return found


def seconds(value: float | None) -> str:
    """A training time; a run DVC restored from its run-cache did not train, so it has none."""
    return "cached" if value is None else f"{value:.1f}"


# balanced: the classes' mean recall, which a class the model neglects pulls down where accuracy hides it
FIGURES = ["experiment", "test accuracy", "balanced", "macro-F1", "test loss", "train time (s)"]


def table(found: list[Row]) -> tuple[list[str], list[list[str]]]:
    results = [row.result for row in found if row.result]
    keys = [k for k in differing_keys(results) if not is_source(k) and k != "data.dataset"]
    # the params with the most distinct values first: what a sweep varies, before what its whole lab sets
    keys.sort(key=lambda k: -len({shown_value(r.params.get(k)) for r in results}))
    datasets = len({dataset_name(r.params) for r in results}) > 1
    every = tuple(dict.fromkeys(k for r in results for k in r.params))  # a short name is unambiguous among these
    header = [*FIGURES, *(["data"] if datasets else [])]
    header += [short_key(k, every) for k in keys]
    body = []
    for row in found:
        r = row.result
        if r is None:
            body.append([row.name, row.state, *([""] * (len(header) - 2))])
            continue
        balanced = "" if r.balanced_accuracy is None else f"{r.balanced_accuracy:.2%}"
        f1 = "" if r.f1_macro is None else f"{r.f1_macro:.4f}"
        figures = [f"{r.accuracy:.2%}", balanced, f1, f"{r.loss:.4f}", seconds(r.train_seconds)]
        data = [dataset_name(r.params)] if datasets else []
        settings = ("" if k not in r.params else setting(r.params[k]) for k in keys)  # a key of later commits
        body.append([row.name, *figures, *data, *settings])
    return header, body


def setting(value: object) -> str:
    """A param as the table shows it: a sampled float (a tuning trial's lr) to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else shown_value(value)


def render(header: list[str], body: list[list[str]], markdown: bool, width: int = WIDTH) -> str:
    if markdown:
        return "\n".join(markdown_table(header, body)) + "\n"
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    shown = len(header)
    while shown > len(FIGURES) and sum(widths[:shown]) + 2 * (shown - 1) > width:
        shown -= 1  # the params that do not fit are listed below the table
    numeric = range(1, len(FIGURES))  # right-aligned: the figures

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells))

    lines = [line(cells[:shown]).rstrip() for cells in [header, *body]]
    if shown < len(header):
        lines += ["", *textwrap.wrap(f"and {', '.join(header[shown:])}:", width)]
        for cells in body:
            settings = " ".join(f"{k}={v}" for k, v in zip(header[shown:], cells[shown:], strict=True) if v)
            lines += textwrap.wrap(f"{cells[0]}: {settings}", width, subsequent_indent="  ") if settings else []
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--md", action="store_true", help="a markdown table")
    parser.add_argument("show_args", nargs="*", help="after --: arguments for dvc exp show (-A, --rev REV, -n N)")
    args = parser.parse_args()
    found = rows(json.loads(dvc("exp", "show", "--json", *args.show_args)))
    print(render(*table(found), markdown=args.md), end="")
    warning = mismatch_warning(Path("."))
    if warning:  # below the table, where the eye ends
        print("\n" + ("> **Warning:** " + warning if args.md else textwrap.fill("warning: " + warning, WIDTH)))


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
