"""A study's pictures for its report, drawn with matplotlib: the optimization history (every trial, pruned and failed
ones with marks of their own), Optuna's parameter importances and slices, and with two objectives Optuna's Pareto
front, each point of the front named. Trial numbers are whole: their axes and colour bars tick at integers only."""

import warnings
from pathlib import Path

from imgclf.search.objectives import COSTS, Objective

ACCURACY = "validation accuracy"
TRIAL_COLOURS = "viridis"  # its lowest value, trial 0, is dark: visible on the plots' grey


def draw(study, folder: Path, goal: Objective) -> list[str]:
    """The optimization history, parameter importances and slices (of the validation accuracy), and with two
    objectives the Pareto front, as PNGs; a plot the study cannot give yet (too few completed trials) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as plots

    drawn = []
    accuracy = {"target": (lambda t: t.values[0]) if goal.multi else None, "target_name": ACCURACY}
    makers = {
        "history.png": lambda: history(study),
        "importances.png": lambda: plots.plot_param_importances(
            study, evaluator=FanovaImportanceEvaluator(seed=0), **accuracy
        ),
        "slices.png": lambda: trial_colours(plots.plot_slice(study, **accuracy)),
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


def history(study):
    """Each trial's validation accuracy by its number and the best so far; a pruned trial as a grey x at the figure of
    the epoch it was stopped after, a failed one as a red x at the foot of the axis."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    marks = history_marks(study)
    if not marks["complete"]:
        raise ValueError("no trial completed")
    with plt.style.context("ggplot"):  # as Optuna's plots beside it
        _, ax = plt.subplots(figsize=(8, 5))
        ax.scatter(*zip(*marks["complete"], strict=True), color="tab:blue", zorder=3, label=ACCURACY)
        steps = best_so_far(marks["complete"], study)
        ax.step(*zip(*steps, strict=True), where="post", color="tab:red", alpha=0.6, label="best so far")
        if marks["pruned"]:
            pruned = zip(*marks["pruned"], strict=True)
            ax.scatter(*pruned, marker="x", color="grey", zorder=3, label="pruned (at its last epoch)")
        if marks["failed"]:
            numbers = [number for number, _ in marks["failed"]]
            at_foot = {"transform": ax.get_xaxis_transform(), "clip_on": False}  # y in axes units: 0 is the foot
            ax.scatter(numbers, [0] * len(numbers), marker="x", color="red", zorder=3, label="failed", **at_foot)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(title="Optimization history", xlabel="trial", ylabel=ACCURACY)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax


def history_marks(study) -> dict[str, list[tuple[int, float | None]]]:
    """(trial number, validation accuracy) of each finished trial by its state; a pruned trial's figure is the one it
    reported for the epoch it stopped after, a failed one has none. Trials that ran nothing (a study's surplus) and
    pruned trials that reported nothing are left out."""
    marks: dict[str, list[tuple[int, float | None]]] = {"complete": [], "pruned": [], "failed": []}
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE":
            marks["complete"].append((t.number, t.values[0]))
        elif t.state.name == "PRUNED" and t.intermediate_values:
            reported = t.intermediate_values
            stopped = t.user_attrs.get("pruned_at_epoch")
            marks["pruned"].append((t.number, reported.get(stopped, reported[max(reported)])))
        elif t.state.name == "FAIL" and not t.user_attrs.get("surplus"):
            marks["failed"].append((t.number, None))
    return marks


def best_so_far(complete: list[tuple[int, float]], study) -> list[tuple[int, float]]:
    """The best validation accuracy among the trials up to each number, from the first completed trial to the last."""
    figures = dict(complete)
    last = max(t.number for t in study.get_trials(deepcopy=False))
    steps, best = [], None
    for number in range(min(figures), last + 1):
        if number in figures and (best is None or figures[number] > best):
            best = figures[number]
        steps.append((number, best))
    return steps


def trial_colours(axes):
    """Optuna's slice plots, their points coloured by trial number on a colour map whose first trial shows on the
    grey, and its colour bar labelled `trial` at whole numbers."""
    from matplotlib.ticker import MaxNLocator

    for ax in getattr(axes, "flat", [axes]):
        for points in ax.collections:
            if points.get_array() is not None:
                points.set_cmap(TRIAL_COLOURS)
                if points.colorbar is not None:
                    points.colorbar.set_label("trial")
                    points.colorbar.locator = MaxNLocator(integer=True)
                    points.colorbar.update_ticks()
    return axes


def named_front(study, goal: Objective):
    """Optuna's Pareto-front plot, each point of the front labelled with its experiment's name; the other points are
    "beaten on both" only where a point of the front is strictly better on both objectives."""
    from optuna.visualization import matplotlib as plots

    axes = plots.plot_pareto_front(study, target_names=[ACCURACY, goal.cost_label])
    for trial in study.best_trials:
        axes.annotate(
            trial.user_attrs.get("experiment", str(trial.number)), trial.values, fontsize=8,
            xytext=(4, 4), textcoords="offset points",
        )  # fmt: skip
    handles, labels = axes.get_legend_handles_labels()
    others = "beaten on both by another trial" if all_beaten_on_both(study) else "not on the front"
    names = {"Trial": others, "Best Trial": "Pareto front"}
    axes.legend(handles, [names.get(label, label) for label in labels])
    axes.set_title(f"Pareto front: validation accuracy against {COSTS[goal.cost][0]}")
    return axes


def all_beaten_on_both(study) -> bool:
    """Whether each completed trial off the front has a trial on it both more accurate and cheaper: one that ties on
    either objective is off the front, but not beaten on both."""
    front = study.best_trials
    on_front = {t.number for t in front}
    others = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.number not in on_front]
    return all(any(f.values[0] > t.values[0] and f.values[1] < t.values[1] for f in front) for t in others)


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
