"""imgclf tune with two objectives (--objective val_accuracy,COST) without a DVC run: parsing, the Pareto front, a
run-cached trial's cost, the lines, the report and its Pareto plot."""

from pathlib import Path

import optuna
import pytest

from imgclf.errors import PipelineError
from imgclf.experiments.search_space import parse_space, sample
from imgclf.search.link import TrialLink
from imgclf.search.objectives import Objective, parse_objective, pruner_for
from imgclf.search.record import Settings, pareto_front, trial_records
from imgclf.search.storage import Storage
from imgclf.search.study import make_pruner, open_study
from imgclf.search.trial_lines import WIDTH, best_line, trial_line
from imgclf.search.trial_objective import cost_of
from imgclf.search.trial_run import TrialFailed, model_bytes

pytestmark = [
    pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]
SPACE = parse_space({"train.lr": {"low": 0.01, "high": 0.1, "log": True}}, "s")
TIME = Objective("train_seconds")


@pytest.mark.parametrize("text", ["accuracy", "val_accuracy,seconds", "val_accuracy,train_seconds,model_bytes"])
def test_a_bad_objective_is_one_line_naming_the_choices(text: str):
    with pytest.raises(PipelineError) as refused:
        parse_objective(text)
    assert str(refused.value) == (
        f"--objective {text}: give val_accuracy, or val_accuracy,COST with COST one of train_seconds, model_bytes"
    )


def test_two_objectives_make_another_study_that_prunes_nothing():
    assert parse_objective("val_accuracy") == Objective() and pruner_for(Objective(), None) == "median"
    goal = parse_objective("val_accuracy, train_seconds")
    assert goal.directions == ("maximize", "minimize") and goal.study_suffix() == "-time"
    assert parse_objective("val_accuracy,model_bytes").study_suffix() == "-size"
    assert pruner_for(goal, None) == "none"
    with pytest.raises(PipelineError, match="cannot prune, for Optuna's pruners take one objective"):
        pruner_for(goal, "hyperband")


def test_a_study_keeps_the_objectives_it_was_made_with(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/s.db"
    open_study(Storage(url), "s", make_pruner("none", 5), TIME.directions)
    with pytest.raises(PipelineError) as refused:
        open_study(Storage(url), "s", make_pruner("median", 5))
    assert str(refused.value) == "study s has 2 objective(s), not 1; give its --objective, or name another --study"


def two_objective_study(results: list[tuple[float, float]]) -> optuna.Study:
    study = optuna.create_study(directions=list(TIME.directions), sampler=optuna.samplers.RandomSampler(seed=0))
    for number, (val, seconds) in enumerate(results):
        trial = study.ask()
        sample(trial, SPACE)
        for key, value in {"experiment": f"lab-tune-time-{number:04d}", "commit": None, "test_accuracy": val - 0.01,
                           "test_loss": 0.3, "epochs_run": 5, "train_seconds": seconds}.items():  # fmt: skip
            trial.set_user_attr(key, value)
        study.tell(trial, (val, seconds))
    return study


def test_the_front_holds_the_trials_no_other_beats_on_both():
    # 0: accurate and slow; 1: dominated by 0 (less accurate, slower); 2: quick; 3: as accurate as 0, quicker
    study = two_objective_study([(0.95, 100.0), (0.94, 120.0), (0.90, 10.0), (0.95, 90.0)])
    front = pareto_front(trial_records(study, SPACE))
    assert [r.number for r in front] == [3, 2], "most accurate first"
    assert sorted(t.number for t in study.best_trials) == [2, 3], "as Optuna finds it"


def test_a_run_cached_trial_takes_the_time_of_the_trial_that_trained_its_params():
    study = optuna.create_study(directions=list(TIME.directions))
    first = study.ask()
    first.suggest_categorical("train.batch_size", [32, 64])
    first.set_user_attr("train_seconds", 42.0)
    study.tell(first, (0.9, 42.0))
    study.enqueue_trial(first.params)
    cached = study.ask()
    cached.suggest_categorical("train.batch_size", [32, 64])
    assert cost_of(cached, "train_seconds", None) == 42.0
    assert cost_of(cached, "train_seconds", 7.5) == 7.5, "its own time where it trained"
    with pytest.raises(TrialFailed, match="DVC's run cache restored its training, which no trial timed"):
        cost_of(optuna.create_study(directions=list(TIME.directions)).ask(), "train_seconds", None)


def test_the_model_size_is_read_from_the_train_stage_s_lock():
    lock = (
        "schema: '2.0'\nstages:\n  train:\n    outs:\n    - path: models/class_names.json\n      size: 73\n"
        "    - path: models/model.keras\n      md5: d7\n      size: 2569239\n"
    )
    assert model_bytes(lock) == 2569239
    assert model_bytes("schema: '2.0'\nstages: {}\n") is None


def test_two_objective_lines_show_the_cost_and_the_front_within_120_columns():
    study = two_objective_study([(0.95, 100.0), (0.90, 10.0)] + [(0.9 - i / 100, 9.0 - i) for i in range(8)])
    line = trial_line(study.trials[0], SPACE, "train_seconds")
    assert "complete  val 95.00%, train 100 s" in line and len(line) <= WIDTH
    front = best_line(study, "train_seconds")
    assert front == (
        "      Pareto front: 9 trials, val 83.00% to 95.00%, training time 2 s to 100 s; best val: lab-tune-time-0000"
    )


def test_the_report_draws_the_front_with_experiment_names(tmp_path: Path):
    from imgclf.experiments.labs import load_labs
    from imgclf.search.plots import draw
    from imgclf.search.report import tune_markdown
    from tests.helpers.project import REPO

    study = two_objective_study([(0.95, 100.0), (0.94, 120.0), (0.90, 10.0), (0.93, 50.0)])
    pictures = draw(study, tmp_path, TIME)
    assert "pareto.png" in pictures and (tmp_path / "pareto.png").stat().st_size > 10_000

    import matplotlib.pyplot as plt

    from imgclf.search.plots import named_front

    labels = {t.get_text() for t in named_front(study, TIME).texts}
    plt.close("all")
    assert labels == {"lab-tune-time-0000", "lab-tune-time-0002", "lab-tune-time-0003"}, "the front, named"

    lab = load_labs(REPO / "sweeps.yaml")["mnist_mlp"]
    settings = Settings("mnist_mlp", "mnist_mlp-tune-time", "sqlite:///x.db", "tpe", "none", 1, 4, None, False,
                        objective=TIME.text)  # fmt: skip
    source = {"commit": ["abcdef1234"], "data_md5": None, "hosts": ["h"], "machine": "Linux"}
    report = tune_markdown(lab, SPACE, settings, trial_records(study, SPACE), source, pictures, 1, TIME)
    assert "**Pareto front: 3 trials.**" in report and "and training time (s), the lower the better" in report
    rows = [line.split(" | ") for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0][:2] == ["| rank", "experiment"] and "training time" in rows[0]
    assert [r[1] for r in rows[1:]] == ["lab-tune-time-0000", "lab-tune-time-0003", "lab-tune-time-0002"]
    assert rows[1][rows[0].index("training time")] == "100 s"
    assert "94.00%" in rows[1][-1] and rows[2][-1].strip(" |") == "", "test accuracy of the most accurate alone"
    assert "**Most accurate: lab-tune-time-0000** (trial 0)" in report
    assert "![pareto.png](pareto.png)" in report


def test_the_pareto_legend_says_beaten_on_both_only_where_a_point_of_the_front_is_better_on_both():
    import matplotlib.pyplot as plt

    from imgclf.search.plots import named_front

    def others_label(results: list[tuple[float, float]]) -> str:
        texts = [t.get_text() for t in named_front(two_objective_study(results), TIME).get_legend().get_texts()]
        plt.close("all")
        return next(text for text in texts if text != "Pareto front")

    assert others_label([(0.95, 100.0), (0.94, 120.0), (0.90, 10.0)]) == "beaten on both by another trial"
    assert others_label([(0.95, 100.0), (0.95, 90.0), (0.90, 10.0)]) == "not on the front", "ties on accuracy"
    assert others_label([(0.95, 90.0), (0.94, 90.0), (0.90, 10.0)]) == "not on the front", "ties on the cost"


def test_a_two_objective_trial_reports_no_epochs_to_the_study(tmp_path: Path):
    from imgclf.fitting.pruning import TrialPruning

    url = f"sqlite:///{tmp_path}/s.db"
    study = open_study(Storage(url), "s", make_pruner("none", 5), TIME.directions)
    trial = study.ask()
    callback = TrialPruning(TrialLink(url, "s", trial.number, "none", 5))

    class Model:
        stop_training = False

    callback.set_model(Model())
    callback.set_params({"epochs": 5})
    callback.on_epoch_end(0, {"val_accuracy": 0.5})  # Optuna refuses reports from a multi-objective trial
    assert study.trials[0].intermediate_values == {} and not callback.model.stop_training
