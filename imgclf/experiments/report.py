"""A lab's results from its DVC experiments: a markdown table (one row per experiment: the params that differ,
test accuracy and loss, epochs, training time and the lab's published number, the best row marked), a PNG per
sweep of test accuracy and training time against the swept value, and DVC's own overlaid training curves.

    python -m imgclf.experiments.report mnist_mlp            # writes reports/mnist_mlp/
    python -m imgclf.experiments.report mnist_mlp --sweep 2  # only the lab's second sweep
"""

import argparse
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from imgclf.atomic import atomic_dir, write_json, write_text
from imgclf.cli import exit_on_error
from imgclf.dvc_command import dvc
from imgclf.experiments.labs import Experiment, Lab, best_name, experiments, find_lab, flatten, load_labs, short_key
from imgclf.experiments.vega import LIVE_SERIES, draw_curves, experiments_only, plots_diff_json


@dataclass(frozen=True)
class Result:
    name: str
    params: dict[str, object]  # flattened: dotted key -> value
    accuracy: float  # test
    loss: float  # test
    train_seconds: float
    images_per_second: float
    epochs_run: int | None = None  # None for experiments run before train.json had these
    best_epoch: int | None = None
    best_val_accuracy: float | None = None


@dataclass
class Experiments:
    """`dvc exp show --json`, read: the finished experiments, the state of the others, the committed params."""

    finished: dict[str, Result] = field(default_factory=dict)
    unfinished: dict[str, str] = field(default_factory=dict)  # name -> queued, running or failed
    committed: dict[str, object] = field(default_factory=dict)  # the baseline commit's params, flattened


def params_of(data: dict) -> dict[str, object]:
    """The params.yaml of one experiment (or commit) of `dvc exp show --json`, flattened."""
    return flatten(((data.get("params") or {}).get("params.yaml") or {}).get("data") or {})


def result_of(name: str, data: dict) -> Result | None:
    """One experiment (or commit) of `dvc exp show --json`; None without test metrics."""
    metrics = data.get("metrics") or {}
    evaluation = (metrics.get("metrics/eval.json") or {}).get("data")
    training = (metrics.get("metrics/train.json") or {}).get("data")
    params = params_of(data)
    if not (evaluation and training and params and "test_accuracy" in evaluation):
        return None
    return Result(
        name=name,
        params=params,
        accuracy=evaluation["test_accuracy"],
        loss=evaluation["test_loss"],
        train_seconds=training["train_seconds"],
        images_per_second=training["images_per_second"],
        epochs_run=training.get("epochs_run"),
        best_epoch=training.get("best_epoch"),
        best_val_accuracy=training.get("best_val_accuracy"),
    )


def experiment_runs(baseline: dict) -> Iterator[tuple[str, dict, str, Result | None]]:
    """The experiments of one baseline of `dvc exp show --json`: name (or short rev), entry, state and result. A
    run without test metrics has none: queued, running or failed, or a success that is not one (its metrics are
    the baseline's), which counts as failed."""
    for group in baseline.get("experiments") or []:
        state = (group.get("executor") or {}).get("state", "success")
        for exp in group.get("revs") or []:
            name = exp.get("name") or str(exp.get("rev", ""))[:7]
            result = result_of(name, exp.get("data") or {}) if state == "success" else None
            yield name, exp, "failed" if state == "success" and not result else state, result


def read_experiments(shown: list[dict]) -> Experiments:
    """`dvc exp show --json` -> Experiments; where a name ran twice, the newest run counts."""
    found = Experiments()
    newest: dict[str, str] = {}
    for baseline in shown:
        if baseline.get("rev") != "workspace" and not found.committed:
            found.committed = params_of(baseline.get("data") or {})
        for name, exp, state, result in experiment_runs(baseline):
            stamp = (exp.get("data") or {}).get("timestamp") or ""
            if not exp.get("name") or (name in newest and newest[name] >= stamp):
                continue
            newest[name] = stamp
            found.finished.pop(name, None)
            found.unfinished.pop(name, None)
            if result:
                found.finished[name] = result
            else:
                found.unfinished[name] = state
    return found


def shown_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(shown_value, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def differing_keys(results: list[Result]) -> list[str]:
    keys = dict.fromkeys(key for r in results for key in r.params)
    return [k for k in keys if len({json.dumps(r.params.get(k)) for r in results}) > 1]


def shared_settings(results: list[Result], committed: dict[str, object]) -> dict[str, object]:
    """What every experiment ran with that the committed params.yaml does not say, read back from the
    experiments themselves: the lab's setup, and anything else that leaked in."""
    varying = set(differing_keys(results))
    return {k: v for k, v in results[0].params.items() if k not in varying and committed.get(k) != v}


def best(results: list[Result]) -> Result:
    return max(results, key=lambda r: (r.accuracy, -r.loss))


def _epochs(r: Result) -> str:
    if r.epochs_run is None:
        return ""
    if r.best_val_accuracy is None:
        return str(r.epochs_run)
    return f"{r.epochs_run} (best val {r.best_val_accuracy:.2%} at {r.best_epoch})"


def markdown(
    lab: Lab,
    results: list[Result],
    unfinished: dict[str, str],
    not_run: list[str],
    committed: dict[str, object],
    pictures: list[str],
    curves: tuple[str, ...] | list[str] = (),
) -> str:
    lines = [f"# {lab.name}: {lab.title}", ""]
    if not results:
        lines.append(f"No finished experiments of this lab yet: run `python -m imgclf.experiments.sweep {lab.name}`.")
    else:
        shared = shared_settings(results, committed)
        if shared:
            settings = ", ".join(f"`{k}={shown_value(v)}`" for k, v in shared.items())
            lines += [f"Every experiment ran with (besides the committed params.yaml): {settings}", ""]
        keys = differing_keys(results)
        columns = [short_key(k, tuple(results[0].params)) for k in keys]  # unambiguous among all params
        published = any(r.name in lab.published for r in results)
        top = best(results)
        header = ["", "experiment", *columns, "test accuracy", "test loss", "epochs run", "train time (s)"]
        header += ["published"] if published else []
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in results:
            cells = ["**best**" if r is top else "", r.name, *(shown_value(r.params.get(k)) for k in keys)]
            cells += [f"{r.accuracy:.2%}", f"{r.loss:.4f}", _epochs(r), f"{r.train_seconds:.1f}"]
            cells += [lab.published.get(r.name, "")] if published else []
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Best: **{top.name}**, {top.accuracy:.2%} test accuracy."]
        lines += _best_combination_line(lab, results)
    if unfinished:
        states = ", ".join(f"{name} ({state})" for name, state in unfinished.items())
        lines += ["", f"Not finished (see `dvc queue status`): {states}"]
    if not_run:
        lines += ["", f"Not run: {', '.join(not_run)}"]
    lines += ["", *(f"![{p}]({p})" for p in pictures)]
    if curves:
        lines += ["", "Training curves of every experiment, overlaid (`dvc plots diff` over these experiments, drawn "
                  "offline; [curves/index.html](curves/index.html) is DVC's interactive page, which loads Vega from a "
                  "CDN):", "", *(f"![{c}]({c})" for c in curves)]  # fmt: skip
    return "\n".join(lines) + "\n"


def _best_combination_line(lab: Lab, results: list[Result]) -> list[str]:
    """Whether LAB-best (each sweep's best value together) beats the best single experiment."""
    combined = next((r for r in results if r.name == best_name(lab)), None)
    if combined is None:
        return [
            "",
            f"Each sweep's best value together: not run yet (`python -m imgclf.experiments.sweep {lab.name} --best`).",
        ]
    values = ", ".join(f"`{k}={shown_value(combined.params.get(k))}`" for k in lab.swept_keys)
    singles = [r for r in results if r.name != combined.name]
    if not singles:
        return ["", f"{combined.name} ({values}): {combined.accuracy:.2%} test accuracy."]
    rival = best(singles)
    same = next((r.name for r in singles if r.params == combined.params), None)
    if same:
        verdict = f"the same setup as {same}: the sweeps' best values do not combine into a new one"
    else:
        beats = "beats" if combined.accuracy > rival.accuracy else "does not beat"
        verdict = f"it {beats} the best single experiment, {rival.name} ({rival.accuracy:.2%})"
    head = f"**{combined.name}**, each sweep's best value together ({values}): {combined.accuracy:.2%} test accuracy"
    return ["", f"{head}; {verdict}."]


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
    keys: tuple[str, ...], runs: list[Experiment], results: dict[str, Result], title: str, xlabel: str
) -> Figure | None:
    """Test accuracy and training time against a sweep's values (`runs`: the sweep's experiments, each with its
    point as this sweep lists it), on a numeric axis where the values have one; None when none of them finished."""
    done = [r for r in runs if r.name in results]
    if not done:
        return None
    labels = [shown_value(r.point[keys[0]]) for r in done]  # the other keys change with the first
    positions, scale = sweep_axis([r.point[keys[0]] for r in done])
    xs = positions or list(range(len(done)))
    panels = {
        "test accuracy (%)": [100 * results[r.name].accuracy for r in done],
        "training time (s)": [results[r.name].train_seconds for r in done],
    }
    fig = Figure(figsize=(10, 4), layout="constrained")
    fig.suptitle(title)
    for ax, (ylabel, values) in zip(fig.subplots(1, 2), panels.items(), strict=True):
        ax.plot(xs, values, marker="o", linestyle="-" if positions else "none")  # no line between categories
        ax.set_xscale(scale)
        ax.minorticks_off()
        ax.set_xticks(xs, labels, rotation=20 if max(map(len, labels)) > 10 else 0)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        if ylabel.startswith("training time"):
            ax.set_ylim(bottom=0, top=1.1 * max(values))  # from zero: noise should not look like a trend
        ax.grid(alpha=0.3)
    return fig


def write_report(lab: Lab, out_dir: Path, project: Path = Path("."), only_sweep: int | None = None) -> list[Result]:
    """Reads the project's experiments and writes out_dir/{report.md,results.json,sweepN-*.png,curves/}; with
    `only_sweep`, of that sweep alone."""
    shown = read_experiments(json.loads(dvc("exp", "show", "--json", cwd=project)))
    names = [r.name for r in experiments(lab, only_sweep=only_sweep)]
    if only_sweep is None:
        names.append(best_name(lab))
    results = [shown.finished[n] for n in names if n in shown.finished]
    unfinished = {n: shown.unfinished[n] for n in names if n in shown.unfinished}
    not_run = [n for n in names if n not in shown.finished and n not in shown.unfinished and n != best_name(lab)]
    by_name = {r.name: r for r in results}
    with atomic_dir(out_dir) as tmp:  # as a whole: no picture of an earlier report stays beside this one
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
        if results:
            revisions = experiments_only([r.name for r in results])
            page = ("--targets", LIVE_SERIES, "--out", str((tmp / "curves").resolve()))
            dvc("plots", "diff", *revisions, *page, cwd=project)
            curves = [f"curves/{name}" for name in draw_curves(plots_diff_json(revisions, project), tmp / "curves")]
        summary = {"best": best(results).name if results else None, "unfinished": unfinished, "not_run": not_run}
        write_json(tmp / "results.json", {**summary, "experiments": [asdict(r) for r in results]})
        write_text(tmp / "report.md", markdown(lab, results, unfinished, not_run, shown.committed, pictures, curves))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml")
    parser.add_argument("--sweep", type=int, help="only the lab's Nth sweep (1 is the first in sweeps.yaml)")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/LAB/ is written (default reports)")
    args = parser.parse_args()
    lab = find_lab(load_labs(), args.lab)
    experiments(lab, only_sweep=args.sweep)  # checks --sweep
    results = write_report(lab, args.out / lab.name, only_sweep=args.sweep)
    print(f"{args.out / lab.name / 'report.md'}: {len(results)} experiments")


if __name__ == "__main__":
    exit_on_error(main)
