"""A study's report: reports/tune-LAB/ with report.md (the best trial's params, its validation and test figures,
the top 10 trials by validation), results.json, and Optuna's plots drawn with matplotlib. Only a complete study
on the lab's own setup replaces it; any other goes to reports/partial/tune-LAB/, which git ignores."""

import json
import statistics
import warnings
from dataclasses import asdict
from pathlib import Path

from imgclf.atomic import atomic_dir, write_json, write_text
from imgclf.experiments.exp_show import shown_value
from imgclf.experiments.labs import Lab, short_key
from imgclf.experiments.report import PARTIAL
from imgclf.experiments.search_space import Space
from imgclf.search.objectives import COSTS, Objective, cost_text, parse_objective
from imgclf.search.record import (
    Settings,
    TrialRecord,
    as_json,
    pareto_front,
    partial_reason,
    provenance,
    ranked,
    trial_records,
)
from imgclf.search.seeds import Seeded, verdict

TOP = 10
IMPORTANCE = "fANOVA (Optuna's FanovaImportanceEvaluator, seed 0)"


def report_dir(settings: Settings) -> str:
    """tune-LAB for the lab's default study (tune-LAB-time, tune-LAB-size with a cost), else tune-STUDY."""
    default = f"{settings.lab}-tune"
    if settings.study.startswith(default):
        return f"tune-{settings.lab}{settings.study.removeprefix(default)}"
    return f"tune-{settings.study}"


def write_tune_report(
    study, lab: Lab, space: Space, settings: Settings, out: Path, project: Path, test_top: int, seeded: list[Seeded]
) -> Path:
    """Writes the study's report as a whole; returns its folder."""
    records = trial_records(study, space)
    goal = parse_objective(settings.objective)
    reason = partial_reason(settings, records)
    folder = out / report_dir(settings) if reason is None else out / PARTIAL / report_dir(settings)
    source = provenance(records, project)
    with atomic_dir(folder) as tmp:
        pictures = draw(study, tmp, goal)
        write_json(
            tmp / "results.json", {**as_json(settings, records, source, reason), "seeds": list(map(asdict, seeded))}
        )
        text = markdown(lab, space, settings, records, source, pictures, test_top, goal)
        if seeded:
            text += f"\nThe two best trials trained again, {verdict(seeded)} (validation accuracy; test: "
            text += ", ".join(f"{s.experiment} {statistics.fmean(s.test):.2%}" for s in seeded) + ").\n"
        write_text(tmp / "report.md", text)
    where = f"{folder / 'report.md'}"
    print(where if reason is None else f"{where}: partial ({reason}); {out / report_dir(settings)}/ is kept")
    return folder


def markdown(
    lab: Lab, space: Space, settings: Settings, records: list[TrialRecord], source: dict, pictures: list[str],
    test_top: int, goal: Objective,
) -> str:  # fmt: skip
    best = ranked(records)
    states = {s: sum(r.state == s for r in records) for s in ("complete", "pruned", "failed")}
    seed = f" (seed {settings.seed})" if settings.seed is not None else ""
    budget = f", at most {settings.timeout_s:g} s a run" if settings.timeout_s else ""
    lines = [
        f"# {report_dir(settings)}: {lab.title}",
        "",
        f"Study `{settings.study}` in `{settings.storage}`: {settings.sampler} sampler{seed}, "
        f"{settings.pruner} pruner; {settings.trials} trials asked{budget}: {states['complete']} complete, "
        f"{states['pruned']} pruned, {states['failed']} failed"
        + (" (failed trials do not count toward them)." if states["failed"] else ".")
        + (
            f" Two objectives: validation accuracy, the higher the better, and {goal.cost_label}, the lower the better."
            if goal.multi
            else ""
        ),
        "",
        provenance_line(source),
    ]
    if settings.tiny or settings.overrides:
        sets = [f"`{k}={shown_value(v)}`" for k, v in settings.overrides.items()]
        lines += ["", "Beyond the lab's base: " + ", ".join((["`--tiny`"] if settings.tiny else []) + sets)]
    if not best:
        return "\n".join([*lines, "", "No trial completed.", ""])
    top = best[0]
    chosen = ", ".join(f"`{k}={shown_value(v)}`" for k, v in top.params.items())
    chosen_on = f"validation accuracy and {COSTS[goal.cost][0]}" if goal.multi else "validation accuracy alone"
    lines += [
        *(front_lines(records, space, test_top, goal) if goal.multi else []),
        "",
        f"**{'Most accurate' if goal.multi else 'Best'}: {top.experiment}** (trial {top.number}): validation accuracy "
        f"{top.val_accuracy:.2%}; test accuracy {top.test_accuracy:.2%} (test loss {top.test_loss:.4f}). Trials were "
        f"ranked on {chosen_on}: the test set took no part in the choice.",
        "",
        f"Its params: {chosen}. Into the workspace: `dvc exp apply {top.experiment}`, then `dvc repro` for its "
        "plots and export (a trial stops at evaluate: until then DVC reports their files missing).",
        "",
        *([] if goal.multi else [*table(best[:TOP], space, test_top, goal), ""]),
        *[f"![{p}]({p})" for p in pictures],
    ]
    if "importances.png" in pictures:
        few = " (few: read them as a hint)" if states["complete"] < 10 else ""
        lines += ["", f"Importances: {IMPORTANCE}, over the {states['complete']} completed trials{few}."]
    return "\n".join(lines) + "\n"


def front_lines(records: list[TrialRecord], space: Space, test_top: int, goal: Objective) -> list[str]:
    front = pareto_front(records)
    tested = "the most accurate" if test_top == 1 else f"the {test_top} most accurate"
    return [
        "",
        f"**Pareto front: {len(front)} trials.** No trial of the study is both more accurate and cheaper than one of "
        f"these: each gives up validation accuracy only for a lower {COSTS[goal.cost][0]}. Test accuracy is shown for "
        f"{tested}.",
        "",
        *table(front[:TOP], space, test_top, goal),
    ]


def provenance_line(source: dict) -> str:
    commits = ", ".join(c[:7] for c in source["commit"]) or "no completed trial"
    where = source["machine"] or f"{len(source['hosts'])} machines ({', '.join(source['hosts'])})"
    data = ", ".join(f"{p.rsplit('/', 1)[-1]} {m[:8]}" for p, m in sorted((source["data_md5"] or {}).items()))
    return f"Made at commit {commits} on {where}; data md5: {data or 'unknown'}."


def table(rows: list[TrialRecord], space: Space, test_top: int, goal: Objective) -> list[str]:
    keys = tuple(r.key for r in space)
    names = [short_key(k, keys) for k in keys]
    head = ["rank", "experiment", *names, "val accuracy", *([COSTS[goal.cost][0]] if goal.multi else [])]
    head += ["epochs run", "seconds", *(["test accuracy"] if test_top > 1 or goal.multi else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rank, r in enumerate(rows, 1):
        cells = [str(rank), r.experiment or "", *[_short(r.params.get(k)) for k in keys]]
        cells += [f"{r.val_accuracy:.2%}", *([cost_text(goal.cost, r.cost, named=False)] if goal.multi else [])]
        cells += [str(r.epochs_run or ""), f"{r.seconds:.0f}" if r.seconds else ""]
        if test_top > 1 or goal.multi:
            cells.append(f"{r.test_accuracy:.2%}" if rank <= test_top else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def draw(study, folder: Path, goal: Objective) -> list[str]:
    """Optuna's optimization history, parameter importances and slices (of the validation accuracy), and with two
    objectives its Pareto front, as PNGs; a plot the study cannot give yet (too few completed trials) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as plots

    drawn = []
    accuracy = {"target": (lambda t: t.values[0]) if goal.multi else None, "target_name": "validation accuracy"}
    makers = {
        "history.png": lambda: plots.plot_optimization_history(study, **accuracy),
        "importances.png": lambda: plots.plot_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=0), **accuracy
        ),
        "slices.png": lambda: plots.plot_slice(study, **accuracy),
    }
    if goal.multi:
        makers["pareto.png"] = lambda: named_front(study, goal)
    for name, make in makers.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna's matplotlib plots are marked experimental
            try:
                axes = make()
            except (ValueError, RuntimeError, ZeroDivisionError):
                plt.close("all")
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(max(figure.get_size_inches()[0], 8), max(figure.get_size_inches()[1], 5))
        readable_ticks(figure)
        figure.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(figure)
        drawn.append(name)
    return drawn


def named_front(study, goal: Objective):
    """Optuna's Pareto-front plot, each point of the front labelled with its experiment's name."""
    from optuna.visualization import matplotlib as plots

    axes = plots.plot_pareto_front(study, target_names=["validation accuracy", goal.cost_label])
    for trial in study.best_trials:
        axes.annotate(
            trial.user_attrs.get("experiment", str(trial.number)), trial.values, fontsize=8,
            xytext=(4, 4), textcoords="offset points",
        )  # fmt: skip
    handles, labels = axes.get_legend_handles_labels()
    names = {"Trial": "beaten on both by another trial", "Best Trial": "Pareto front"}
    axes.legend(handles, [names.get(label, label) for label in labels])
    axes.set_title(f"Pareto front: validation accuracy against {COSTS[goal.cost][0]}")
    return axes


def readable_ticks(figure) -> None:
    """A choice's values without the quotes of their JSON text, slanted so that layer widths do not overlap; a log
    axis labelled at 1, 2 and 5 times its powers of ten, as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure.canvas.draw()
    for ax in figure.axes:
        if ax.get_xscale() == "log":
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        labels = [t.get_text() for t in ax.get_xticklabels()]
        if any(label.startswith("'") for label in labels):
            ax.set_xticks(ax.get_xticks(), [label.strip("'") for label in labels], rotation=30, ha="right")


def best_experiment(results: Path) -> str | None:
    """The best trial's experiment named in a report's results.json."""
    best = json.loads(results.read_text()).get("best") or {}
    return best.get("experiment")


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else shown_value(value)
