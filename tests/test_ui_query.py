"""The web app's table logic: conditions as a user types them, sorting with missing values last, which lab or study
an experiment belongs to, and which of an experiment's pictures are an older run's."""

import subprocess

import pytest

from imgclf.errors import PipelineError
from imgclf.experiments.labs import Lab, load_labs
from imgclf.ui.plots import stale_outputs
from imgclf.ui.query import QueryError, check_keys, check_orders, parse_conditions, select
from imgclf.ui.rows import Row, group_of, read_rows
from imgclf.ui.serve import check_host
from tests.helpers import REPO


def row(name: str, accuracy: float | None, lr: object = None) -> Row:
    metrics = {} if accuracy is None else {"test_accuracy": accuracy}
    return Row(name, "g", "success", "abc", "def", metrics, {} if lr is None else {"train.lr": lr})


ROWS = [row("a", 0.9, 0.1), row("b", None, 0.01), row("c", 0.95, 0.5), row("d", 0.5, "auto")]


def test_conditions_on_metrics_and_params_keep_only_the_rows_that_hold():
    assert [r.name for r in select(ROWS, "", parse_conditions("test_accuracy > 0.8"), None, False)] == ["a", "c"]
    assert [
        r.name for r in select(ROWS, "", parse_conditions("train.lr < 0.2 and test_accuracy>=0.9"), None, False)
    ] == ["a"]
    assert [r.name for r in select(ROWS, "", parse_conditions("train.lr = auto"), None, False)] == ["d"]


@pytest.mark.parametrize("text", ["test_accuracy >", "val_accuracy ~ 3", "> 0.9", "lr"])
def test_a_condition_that_cannot_be_read_names_itself_and_an_example(text):
    with pytest.raises(QueryError, match=r"cannot read the condition .*: write e.g. val_accuracy > 0.98"):
        parse_conditions(text)


def test_a_percentage_reads_as_the_table_shows_it_and_an_unknown_key_is_named():
    assert parse_conditions("val_accuracy >= 98.1%")[0].value == pytest.approx(0.981)
    with pytest.raises(QueryError, match="no metric or param is called lr; did you mean train.lr"):
        check_keys(parse_conditions("lr < 0.1"), {"train.lr", "train.epochs"})


def test_a_condition_that_would_hide_every_row_in_silence_says_why():
    assert len(parse_conditions("train.lr<0.05; val_accuracy>0.8")) == 2, "; joins conditions too"
    with pytest.raises(QueryError, match=r"^val_accuracy > abc: abc is not a number; > compares numbers"):
        parse_conditions("val_accuracy > abc")
    with pytest.raises(QueryError, match="`or` is not offered"):
        parse_conditions("train.lr < 0.01 or train.lr > 0.1")
    widths = [Row("w", "g", "success", "abc", "def", {}, {"train.mlp.hidden_units": [800, 500]})]
    with pytest.raises(QueryError, match=r"holds no numbers \(e.g. \[800,500\]\): compare it with = or !="):
        check_orders(parse_conditions("train.mlp.hidden_units > 500"), widths)
    assert select(widths, "", parse_conditions("train.mlp.hidden_units = [800,500]"), None, False) == widths


def test_sorting_puts_the_best_first_and_rows_without_the_value_last():
    assert [r.name for r in select(ROWS, "", [], "test_accuracy", True)] == ["c", "a", "d", "b"]
    assert [r.name for r in select(ROWS, "", [], "test_accuracy", False)] == ["d", "a", "c", "b"]
    assert [r.name for r in select(ROWS, "", [], "train.lr", False)][:3] == ["b", "a", "c"], "numbers before text"
    tied = [row("s-0003", 0.84), row("s-0001", 0.84), row("s-0002", 0.80)]  # DVC lists the newest first
    assert [r.name for r in select(tied, "", [], "test_accuracy", True)] == ["s-0001", "s-0003", "s-0002"], (
        "a tie: the earlier trial first, as the study and tune --apply choose"
    )


def test_a_trial_and_its_seed_repeats_belong_to_the_study_a_sweep_run_to_its_lab():
    labs = load_labs(REPO / "sweeps.yaml")
    assert group_of("mnist_mlp-tune-0007", {}, labs) == "mnist_mlp-tune"
    assert group_of("mnist_mlp-tune-0007-seed43", {}, labs) == "mnist_mlp-tune"
    assert group_of("mnist_mlp-hidden_units-800", {}, labs) == "mnist_mlp"
    assert group_of("mnist_mlp-hidden_units-1200", {}, labs) == "mnist_mlp", "a sweep's value, not a trial number"
    assert group_of("mnist_mlp-wide-0002", {}, labs, frozenset({"mnist_mlp-wide"})) == "mnist_mlp-wide", "--study"
    assert group_of("tawny-arms", {}, labs) == "other"


def test_a_run_under_a_random_name_belongs_to_the_lab_whose_setup_it_ran():
    labs = load_labs(REPO / "sweeps.yaml")
    mlp = labs["mnist_mlp"]
    own_lr = {**mlp.base, "train.lr": 0.05}  # `dvc exp run -S train.lr=0.05` over the lab's setup: lr is swept
    assert group_of("tawny-arms", own_lr, labs) == "mnist_mlp"
    tiny = {**own_lr, **mlp.tiny}
    assert group_of("tawny-arms", tiny, labs) == "mnist_mlp", "a --tiny run of the lab is still the lab's"
    assert group_of("tawny-arms", {**own_lr, "data.dataset": "cifar10"}, labs) == "other", "another dataset"


def test_the_outputs_of_a_stage_that_did_not_run_after_its_inputs_changed_are_stale():
    lock = {
        "stages": {
            "evaluate": {"outs": [{"path": "metrics/predictions.csv", "md5": "new"}]},
            "plot": {
                "deps": [{"path": "metrics/predictions.csv", "md5": "old"}, {"path": "plot.py", "md5": "x"}],
                "outs": [{"path": "plots/confusion_matrix.png", "md5": "p"}],
            },
        }
    }
    assert stale_outputs(lock) == {"plots/confusion_matrix.png": "plot"}
    lock["stages"]["plot"]["deps"][0]["md5"] = "new"
    assert stale_outputs(lock) == {}


def test_listing_beyond_this_machine_needs_remote_and_then_a_token():
    assert check_host("127.0.0.1", remote=False) is False
    assert check_host("localhost", remote=False) is False
    with pytest.raises(PipelineError, match="--host 0.0.0.0 reaches beyond this machine: add --remote"):
        check_host("0.0.0.0", remote=False)
    assert check_host("0.0.0.0", remote=True) is True


LAB = Lab("lab", "a lab", {"train.lr": 0.3}, (), {}, {})


def exp(name: str, state: str, metrics: dict | None = None, outs: dict | None = None) -> dict:
    data = {"params": {"params.yaml": {"data": {"train": {"lr": 0.1}}}}, "metrics": metrics or {}, "outs": outs or {}}
    return {"name": name, "executor": {"state": state} if state else None, "revs": [{"name": name, "rev": "e" * 40,
            "data": data}]}  # fmt: skip


def test_dvc_exp_show_becomes_rows_with_their_state_timing_and_files():
    evaluated = {"metrics/eval.json": {"data": {"test_accuracy": 0.9, "test_loss": 0.3}}}
    machine = "Linux x86_64, 2 CPU cores, no GPU, TensorFlow 2.21.0"
    trained = {"model_md5": "m", "train_seconds": 4.0, "machine": machine}
    timed = {**evaluated, "metrics/timing.json": {"data": {"train": trained}}}
    shown = [
        {"rev": "workspace", "error": {"msg": "unable to read: 'dvc.yaml'"}, "data": {}},
        {"rev": "b" * 40, "name": "main", "data": {"metrics": {**evaluated, "metrics/timing.json": {"data": {}}}},
         "experiments": [
             exp("lab-a", None, timed, {"models/model.keras": {"hash": "m", "size": 7, "use_cache": True},
                                        "exported": {"hash": "x.dir", "size": 9, "use_cache": True}}),
             exp("lab-b", "running"),
             exp("lab-c", "queued"),
             exp("lab-d", None),  # DVC says success, but it has no test metrics of its own
         ]},
    ]  # fmt: skip
    rows = {r.name: r for r in read_rows(shown, {"lab": LAB})}
    assert rows["workspace"].error == "unable to read: 'dvc.yaml'"
    assert rows["main"].state == "baseline" and not rows["main"].cached, "a commit's timing.json is empty: no times"
    a = rows["lab-a"]
    assert (a.state, a.group, a.commit, a.metrics["train_seconds"], a.cached) == (
        "success",
        "lab",
        "b" * 40,
        4.0,
        False,
    )
    assert (a.files, a.folders) == ({"models/model.keras": 7}, {"exported": 9}), "a folder is offered as a zip"
    assert a.machine == machine and rows["main"].machine is None, "what trained it, where its train stage said"
    assert [rows[n].state for n in ("lab-b", "lab-c", "lab-d")] == ["running", "queued", "failed"]


def test_a_running_experiment_shows_the_epochs_dvclive_has_logged_in_its_folder(tmp_path):
    series = tmp_path / "dvclive/plots/metrics/eval/accuracy.tsv"
    series.parent.mkdir(parents=True)
    series.write_text("step\taccuracy\n0\t0.81\n1\t0.93\n2\t0.90\n3\t")  # the last line half-written
    running = exp("lab-live", "running", {"metrics/eval.json": {"data": {"test_accuracy": 0.5}}})  # its copy's
    running["executor"]["local"] = {"root": str(tmp_path), "pid": 1, "log": "x"}  # as `dvc exp show --json` has it
    shown = [{"rev": "b" * 40, "name": "main", "data": {}, "experiments": [running, exp("lab-next", "running")]}]
    rows = {r.name: r for r in read_rows(shown, {"lab": LAB})}
    live = rows["lab-live"]
    assert live.metrics == {"val_accuracy": 0.93}, "the best epoch, as train.json will say; no earlier run's figures"
    assert live.progress.epochs == 3
    assert rows["lab-next"].progress is None and rows["lab-next"].metrics == {}, "nothing logged yet"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"], cwd=tmp_path, check=True)
    assert read_rows(shown, {"lab": LAB})[1].progress is None, "the log its commit holds is an earlier run's"
