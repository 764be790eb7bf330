"""The study report's pictures, drawn from a study in memory: what each shows and how it marks trials."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import optuna
import pytest
from optuna.trial import TrialState

from imgclf.experiments.search_space import parse_space, sample
from imgclf.search.plots import history, trial_colours

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
SPACE = parse_space(
    {"train.lr": {"low": 0.01, "high": 0.1, "log": True}, "train.batch_size": {"choice": [50, 100]}}, ""
)


def a_study(states: str) -> optuna.Study:
    """One trial a letter: c completes, p is pruned after its third epoch, f fails, s is a surplus (ran nothing)."""
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for number, state in enumerate(states):
        trial = study.ask()
        sample(trial, SPACE)
        trial.set_user_attr("experiment", f"lab-tune-{number:04d}")
        if state == "c":
            study.tell(trial, 0.95 + number / 1000)
        elif state == "p":
            for epoch in (1, 2, 3, 4):
                trial.report(0.80 + epoch / 100, epoch)
            trial.set_user_attr("pruned_at_epoch", 3)
            study.tell(trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr("surplus", state == "s")
            study.tell(trial, state=TrialState.FAIL)
    return study


def whole(ticks, low: float, high: float) -> bool:
    return all(float(t).is_integer() for t in ticks if low <= t <= high)


def test_the_history_marks_pruned_and_failed_trials_at_whole_trial_numbers():
    ax = history(a_study("cpcfs"))
    ax.figure.canvas.draw()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["validation accuracy", "best so far", "pruned (at its last epoch)", "failed"]
    points = ax.collections  # the scatters, in the legend's order; the best so far is a line
    marks = {label: p.get_offsets().tolist() for label, p in zip(labels[:1] + labels[2:], points, strict=True)}
    assert marks["pruned (at its last epoch)"] == [[1, pytest.approx(0.83)]], "at the epoch it was stopped after"
    assert [x for x, _ in marks["failed"]] == [3], "the surplus trial ran nothing: no mark"
    assert whole(ax.get_xticks(), *ax.get_xlim()), ax.get_xticks()
    plt.close("all")


def test_the_slices_show_the_first_trial_on_the_grey_and_a_colour_bar_of_whole_trials():
    axes = trial_colours(optuna.visualization.matplotlib.plot_slice(a_study("ccc")))
    figure = axes.flat[0].figure
    figure.canvas.draw()
    points = [c for ax in axes.flat for c in ax.collections if c.get_array() is not None]
    red, green, blue, _ = points[0].get_cmap()(0.0)
    assert 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.5, "trial 0 dark, not white on the grey"
    bar = points[-1].colorbar
    assert bar.ax.get_ylabel() == "trial"
    assert whole(bar.get_ticks(), *bar.ax.get_ylim()), bar.get_ticks()
    plt.close("all")


def test_the_parallel_coordinates_name_each_param_whole():
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    from imgclf.ui.studies import uncut

    study = optuna.create_study(direction="maximize")
    for units, size in (("[800]", 32), ("[800, 500]", 64)):
        study.enqueue_trial({"train.mlp.hidden_units": units, "train.batch_size": size})
        trial = study.ask()
        trial.suggest_categorical("train.mlp.hidden_units", ["[800]", "[800, 500]"])
        trial.suggest_int("train.batch_size", 32, 64)
        study.tell(trial, 0.9 + size / 1000)
    axes = plot_parallel_coordinate(study, target_name="validation accuracy")
    shown = [label.get_text() for label in axes.get_xticklabels()]
    plt.close("all")
    assert "train.mlp.hidden_..." in shown, "Optuna cuts the name"
    names = ["validation accuracy", "train.batch_size", "train.mlp.hidden_units"]
    assert uncut(shown, sorted(study.best_params)) == names
    assert uncut(shown, ["other.a", "other.b"]) == shown, "axes that are not these params' are left as drawn"
