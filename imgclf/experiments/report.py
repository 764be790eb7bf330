"""A lab's results from its DVC experiments: report.md (report_markdown.py), results.json with where the numbers
came from, a PNG per sweep of test accuracy and training time against the swept value, and DVC's own overlaid
training curves. Only a complete run of the lab replaces reports/LAB/; a partial one is written to
reports/partial/LAB/, which git ignores.

    python -m imgclf.experiments.report mnist_mlp            # writes reports/mnist_mlp/
    python -m imgclf.experiments.report mnist_mlp --sweep 2  # only the lab's second sweep: reports/partial/mnist_mlp/
"""

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path

from matplotlib.figure import Figure

from imgclf.atomic import atomic_dir, write_json, write_text
from imgclf.cli import COMMAND, exit_on_error
from imgclf.experiments.chosen import chosen_reason
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_show import lock_at, read_experiments, shown_value
from imgclf.experiments.labs import (
    Experiment,
    Lab,
    best_name,
    committed_params,
    experiments,
    find_lab,
    load_labs,
    short_key,
)
from imgclf.experiments.provenance import partial_reason, provenance
from imgclf.experiments.repeats import Group, group
from imgclf.experiments.report_markdown import best, markdown
from imgclf.experiments.vega import LIVE_SERIES, draw_curves, experiments_only, plots_diff_json

PARTIAL = "partial"  # reports/partial/LAB/: a partial run's report, ignored by git


def sweep_axis(values: list[object]) -> tuple[list[float] | None, str]:
    """Numeric positions of a sweep's values (numbers, or lists that differ in one numeric place, like hidden units
    [800, 500] ... [800, 1200]), and "log" where they grow geometrically (the largest at least 4x the smallest);
    (None, "linear") for values with no numeric order."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
    elif all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        differing = [i for i in range(len(values[0])) if len({json.dumps(v[i]) for v in values}) > 1]
        if len(differing) != 1 or not all(isinstance(v[differing[0]], int | float) for v in values):
            return None, "linear"
        numbers = [float(v[differing[0]]) for v in values]
    else:
        return None, "linear"
    if len(set(numbers)) < 2:
        return None, "linear"
    geometric = min(numbers) > 0 and max(numbers) >= 4 * min(numbers)
    return numbers, "log" if geometric else "linear"


def sweep_figure(
    keys: tuple[str, ...], runs: list[Experiment], results: dict[str, Group], title: str, xlabel: str
) -> Figure | None:
    """Test accuracy and training time against a sweep's values (`runs`: the sweep's experiments, each with its
    point as this sweep lists it), on a numeric axis where the values have one; None when none of them finished.
    With several seeds: the mean, and a bar of one standard deviation either side."""
    done = [r for r in runs if r.name in results]
    if not done:
        return None
    labels = [shown_value(r.point[keys[0]]) for r in done]  # the other keys change with the first
    positions, scale = sweep_axis([r.point[keys[0]] for r in done])
    xs = positions or list(range(len(done)))
    repeated = any(len(results[r.name].runs) > 1 for r in done)
    accuracy = "test accuracy (%), mean ± std" if repeated else "test accuracy (%)"
    panels = {
        accuracy: ([100 * results[r.name].accuracy for r in done], [100 * results[r.name].accuracy_std for r in done]),
        "training time (s), mean" if repeated else "training time (s)": (
            [results[r.name].train_seconds or math.nan for r in done],
            None,
        ),
    }
    fig = Figure(figsize=(10, 4), layout="constrained")
    fig.suptitle(title if len(done) == len(runs) else f"{title} ({len(done)} of {len(runs)} finished: no trend yet)")
    for ax, (ylabel, (values, spread)) in zip(fig.subplots(1, 2), panels.items(), strict=True):
        line = "-" if positions else "none"  # no line between categories
        ax.errorbar(xs, values, yerr=spread if repeated else None, marker="o", linestyle=line, capsize=4)
        ax.set_xscale(scale)
        ax.minorticks_off()
        ax.set_xticks(xs, labels, rotation=20 if max(map(len, labels)) > 10 else 0)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if ylabel.startswith("training time"):
            timed = [v for v in values if not math.isnan(v)]  # a run restored from DVC's run-cache was not timed
            ax.set_ylim(bottom=0, top=1.1 * max(timed) if timed else None)  # from zero: noise is not a trend
        ax.grid(alpha=0.3)
    return fig


def group_json(g: Group) -> dict:
    low, high = g.accuracy_range
    figures = {"accuracy_mean": g.accuracy, "accuracy_std": g.accuracy_std, "accuracy_min": low, "accuracy_max": high}
    figures |= {"balanced_accuracy_mean": g.balanced_accuracy, "f1_macro_mean": g.f1_macro}
    figures |= {"loss_mean": g.loss, "loss_std": g.loss_std, "train_seconds_mean": g.train_seconds}
    return {"name": g.name, "seeds": g.seeds if len(g.runs) > 1 else [], **figures, "runs": [asdict(r) for r in g.runs]}


def read_previous(lab_dir: Path) -> dict | None:
    try:
        return json.loads((lab_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None


def write_report(
    lab: Lab, out: Path, project: Path = Path("."), only_sweep: int | None = None, chosen: set[str] | None = None
) -> tuple[list[Group], Path]:
    """Reads the project's experiments and writes {report.md,results.json,sweepN-*.png,curves/} into out/LAB/ when
    they are the lab's complete study, else into out/partial/LAB/ (`only_sweep`: that sweep's experiments alone;
    `chosen`: the experiments a sweep's --only asked for, partial by choice). Returns the experiments found and the
    folder written."""
    shown = read_experiments(json.loads(dvc("exp", "show", "--json", cwd=project)), lock_at(project))
    planned = experiments(lab, only_sweep=only_sweep)
    names = [r.name for r in planned] + ([best_name(lab)] if only_sweep is None else [])
    groups = group(list(shown.finished.values()), names)
    found = {g.name for g in groups}
    unfinished = {n: shown.unfinished[n] for n in names if n in shown.unfinished and n not in found}
    not_run = [n for n in names if n not in found and n not in unfinished and n != best_name(lab)]
    if only_sweep is not None:
        reason = f"--sweep {only_sweep}: one sweep of the lab's {len(lab.sweeps)}"
    elif chosen:
        reason = chosen_reason(chosen, planned, groups, committed_params(project), read_previous(out / lab.name))
    else:
        reason = partial_reason(planned, groups, committed_params(project), read_previous(out / lab.name))
    lab_dir = out / lab.name if reason is None else out / PARTIAL / lab.name
    by_name = {g.name: g for g in groups}
    source = provenance(groups, shown.committed)
    with atomic_dir(lab_dir) as tmp:  # as a whole: no picture of an earlier report stays beside this one
        pictures = []
        for number, sweep in enumerate(lab.sweeps, 1):
            if only_sweep not in (None, number):
                continue
            picture = f"sweep{number}-{short_key(sweep.keys[0], lab.swept_keys)}.png"
            title = f"{lab.name}, sweep {number}: {short_key(sweep.keys[0], lab.swept_keys)}"
            others = ", ".join(short_key(k, lab.swept_keys) for k in sweep.keys[1:])
            xlabel = sweep.keys[0] + (f"\n(with {others})" if others else "")
            fig = sweep_figure(sweep.keys, experiments(lab, only_sweep=number), by_name, title, xlabel)
            if fig:
                fig.savefig(tmp / picture, dpi=100)
                pictures.append(picture)
        curves = []
        if groups:
            revisions = experiments_only([g.runs[0].name for g in groups])
            page = ("--targets", LIVE_SERIES, "--out", str((tmp / "curves").resolve()))
            dvc("plots", "diff", *revisions, *page, cwd=project)
            curves = [f"curves/{name}" for name in draw_curves(plots_diff_json(revisions, project), tmp / "curves")]
        summary = {"best": best(groups).name if groups else None, "unfinished": unfinished, "not_run": not_run}
        summary |= {"partial": reason, "provenance": source}
        write_json(tmp / "results.json", {**summary, "experiments": [group_json(g) for g in groups]})
        write_text(tmp / "report.md", markdown(lab, groups, unfinished, not_run, source, pictures, curves))
    done = sum(run.name in found for run in planned)
    where = f"{lab_dir / 'report.md'}: {done} of the {len(planned)} swept experiments"
    if only_sweep is None:  # LAB-best is not planned: `sweep LAB --best` runs it once the sweeps are done
        later = f"; {best_name(lab)} not yet (`imgclf sweep {lab.name} --best`)"
        where += f", and {best_name(lab)}" if best_name(lab) in found else later
    print(where if reason is None else f"{where}; a partial run ({reason}): {out / lab.name}/ is kept as it was")
    return groups, lab_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml")
    parser.add_argument("--sweep", type=int, help="only the lab's Nth sweep (1 is the first in sweeps.yaml)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/LAB/ is written (default reports)")
    args = parser.parse_args()
    lab = find_lab(load_labs(), args.lab)
    experiments(lab, only_sweep=args.sweep)  # checks --sweep
    write_report(lab, args.out, only_sweep=args.sweep)


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
