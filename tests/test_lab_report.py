"""A lab's report: the experiments DVC holds, grouped over seeds, as a table and pictures that say where the
numbers came from."""

import dataclasses
import os
from pathlib import Path

import pytest

from imgclf.experiments.exp_show import Result, read_experiments
from imgclf.experiments.labs import (
    experiments,
    pinned,
)
from imgclf.experiments.provenance import partial_reason, provenance
from imgclf.experiments.repeats import Group, group, within_noise
from imgclf.experiments.report import sweep_axis, sweep_figure
from imgclf.experiments.report_markdown import markdown as markdown_of
from imgclf.machine import gpu_names


def exp(name: str, stamp: str, accuracy: float, state: str = "success", epochs: int = 10) -> dict:
    metrics = {
        "metrics/eval.json": {"data": {"test_accuracy": accuracy, "test_loss": 1 - accuracy}},
        "metrics/train.json": {
            "data": {"train_seconds": epochs / 2, "images_per_second": 1000.0, "epochs_run": epochs}
        },
    }
    params = {"params.yaml": {"data": {"train": {"epochs": epochs, "lr": 0.01}}}}
    revs = [{"name": name, "data": {"timestamp": stamp, "metrics": metrics, "params": params}}]
    return {"executor": {"state": state}, "revs": revs}


def test_report_takes_finished_experiments_only_the_newest_of_a_name():
    committed = {"params.yaml": {"data": {"train": {"epochs": 100, "lr": 0.01}}}}
    shown = [
        {
            "rev": "workspace",
            "data": {"params": {"params.yaml": {"data": {"train": {"lr": 0.5}}}}},
            "experiments": None,
        },
        {
            "rev": "abc",
            "data": {"params": committed},
            "experiments": [
                exp("a", "2026-11-22T10:00:00", 0.5),
                exp("a", "2026-11-22T11:00:00", 0.7),  # re-run: replaces the first
                exp("b", "2026-11-22T10:00:00", 0.9),
                exp("b", "2026-11-22T12:00:00", 0.9, state="failed"),  # failed re-run: its metrics are stale
                exp("c", "2026-11-22T10:00:00", 0.9, state="queued"),
            ],
        },
    ]
    found = read_experiments(shown)
    assert sorted(found.finished) == ["a"]
    assert found.finished["a"].accuracy == 0.7 and found.finished["a"].params["train.epochs"] == 10
    assert found.unfinished == {"b": "failed", "c": "queued"}
    assert found.committed == {"train.epochs": 100, "train.lr": 0.01}, "the baseline commit's, not the workspace's"


def result(name: str, accuracy: float, epochs: int, **params: object) -> Result:
    params = {"train.epochs": epochs, "train.lr": 0.01, **params}
    return Result(name, params, accuracy, 1 - accuracy, epochs / 2, 1000.0, epochs_run=epochs)


def markdown(lab, results, unfinished, not_run, committed, pictures) -> str:
    """The report of single runs, each its own experiment."""
    groups = [Group(r.name, (r,)) for r in results]
    return markdown_of(lab, groups, unfinished, not_run, provenance(groups, committed), pictures)


def singles(results: list[Result]) -> dict[str, Group]:
    return {r.name: Group(r.name, (r,)) for r in results}


def test_report_table_shows_what_changed_published_numbers_and_the_best(labs):
    lab = labs["mnist_mlp"]
    results = [result("mnist_mlp-epochs-50", 0.95, 50), result("mnist_mlp-base", 0.96, 100)]
    committed = {"train.lr": 0.01, "train.epochs": 100}
    text = markdown(lab, results, {"mnist_mlp-epochs-75": "failed"}, ["mnist_mlp-epochs-125"], committed, ["p.png"])
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0] == "|  | experiment | epochs | test accuracy | test loss | epochs run | train time (s) | published |"
    assert rows[2] == "|  | mnist_mlp-epochs-50 | 50 | 95.00% | 0.0500 | 50 | 25.0 |  |"
    assert rows[3] == "| **best** | mnist_mlp-base | 100 | 96.00% | 0.0400 | 100 | 50.0 | 96.34% test accuracy |"
    assert "Not finished (see `dvc queue status`): mnist_mlp-epochs-75 (failed)" in text
    assert "Not run: mnist_mlp-epochs-125" in text
    assert "![p.png](p.png)" in text
    assert "Every experiment ran with" not in text, "nothing beyond the committed params.yaml"


def test_report_shows_balanced_accuracy_and_macro_f1_where_accuracy_hides_a_neglected_class(labs):
    lab = labs["mnist_mlp"]
    neglects = dataclasses.replace(result("mnist_mlp-base", 0.98, 100), balanced_accuracy=0.5, f1_macro=0.4949)
    fair = dataclasses.replace(result("mnist_mlp-epochs-50", 0.95, 50), balanced_accuracy=0.95, f1_macro=0.95)
    text = markdown(lab, [fair, neglects], {}, [], {"train.lr": 0.01, "train.epochs": 100}, [])
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0].startswith("|  | experiment | epochs | test accuracy | balanced | macro-F1 | test loss |")
    assert rows[3].startswith("| **best** | mnist_mlp-base | 100 | 98.00% | 50.00% | 0.4949 | 0.0200 |")


def test_report_states_the_settings_that_actually_ran(labs):
    """Read back from the experiments: a value that leaked in from a changed workspace shows."""
    lab = labs["mnist_mlp"]
    results = [result(n, 0.9, e, **{"train.optimizer": "adam"}) for n, e in (("mnist_mlp-base", 100), ("x", 50))]
    text = markdown(lab, results, {}, [], {"train.lr": 0.01, "train.epochs": 100, "train.optimizer": "sgd"}, [])
    assert "Every experiment ran with (besides the committed params.yaml): `train.optimizer=adam`" in text


def test_every_point_of_a_sweep_is_labelled_with_that_sweeps_value(labs):
    """The base is shared by every sweep: in the batch-size sweep it is batch 200, not the first sweep's 100 epochs."""
    lab = labs["mnist_mlp"]
    assert [run.point for run in experiments(lab, only_sweep=2)] == [
        {"train.batch_size": b} for b in (50, 100, 200, 400)
    ]
    results = singles([result(run.name, 0.9, 10) for run in experiments(lab)])
    fig = sweep_figure(lab.sweeps[1].keys, experiments(lab, only_sweep=2), results, "batch", "train.batch_size")
    accuracy, timing = fig.axes
    assert [label.get_text() for label in accuracy.get_xticklabels()] == ["50", "100", "200", "400"]
    assert accuracy.get_xscale() == "log", "batch sizes double: a log axis"
    assert timing.get_ylim()[0] == 0, "timing from zero"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.01, 0.02, 0.05, 0.1], ([0.01, 0.02, 0.05, 0.1], "log")),
        ([50, 75, 100, 125], ([50, 75, 100, 125], "linear")),
        ([[800, 500], [800, 700], [800, 1200]], ([500, 700, 1200], "linear")),
        ([[16, 32], [16, 32, 64]], (None, "linear")),
        (["mlp", "smallvgg"], (None, "linear")),
        ([False, True], (None, "linear")),
    ],
)
def test_numeric_sweeps_get_a_numeric_axis(values, expected):
    assert sweep_axis(values) == expected


def test_sweep_plot_shows_finished_points_only(labs):
    lab = labs["mnist_mlp"]
    results = singles([result("mnist_mlp-epochs-50", 0.95, 50)])
    fig = sweep_figure(lab.sweeps[0].keys, experiments(lab, only_sweep=1), results, "epochs", "train.epochs")
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["50"]
    assert fig.get_suptitle() == "epochs (1 of 4 finished: no trend yet)", "a lone point is not read as a curve"
    batch = experiments(lab, only_sweep=2)
    assert sweep_figure(lab.sweeps[1].keys, batch, results, "batch", "train.batch_size") is None


def test_the_report_says_whether_lab_best_beats_every_single_experiment(labs):
    lab = labs["mnist_mlp"]
    committed = {"train.lr": 0.01, "train.epochs": 100}
    singles = [result("mnist_mlp-base", 0.96, 100), result("mnist_mlp-epochs-125", 0.965, 125)]
    better = markdown(lab, [*singles, result("mnist_mlp-best", 0.97, 150)], {}, [], committed, [])
    assert "97.00% test accuracy; it beats the best single experiment, mnist_mlp-epochs-125 (96.50%)" in better
    worse = markdown(lab, [*singles, result("mnist_mlp-best", 0.95, 150)], {}, [], committed, [])
    assert "it does not beat the best single experiment, mnist_mlp-epochs-125 (96.50%)" in worse
    same = markdown(lab, [*singles, result("mnist_mlp-best", 0.965, 125)], {}, [], committed, [])
    assert "the same setup as mnist_mlp-epochs-125: the sweeps' best values do not combine into a new one" in same
    alone = markdown(lab, singles, {}, [], committed, [])
    assert "not run yet (`python -m imgclf.experiments.sweep mnist_mlp --best`)" in alone


def seeded(name: str, accuracies: list[float], **params: object) -> list[Result]:
    return [
        result(f"{name}-seed{42 + i}", accuracy, 2, **{"train.seed": 42 + i, **params})
        for i, accuracy in enumerate(accuracies)
    ]


def test_seeded_runs_group_into_one_experiment_with_mean_std_and_range():
    runs = [*seeded("convpool-base", [0.30, 0.32, 0.34]), result("convpool-base", 0.9, 2)]
    (base,) = group(runs, ["convpool-base", "convpool-never-ran"])
    assert base.seeds == [42, 43, 44], "the seeded runs, not the single run beside them"
    assert base.accuracy == pytest.approx(0.32) and base.accuracy_std == pytest.approx(0.02)
    assert base.accuracy_range == (0.30, 0.34) and "train.seed" not in base.params


def test_a_difference_smaller_than_the_spread_is_marked_within_noise(labs):
    lab = labs["convpool"]
    groups = group(
        seeded("convpool-base", [0.30, 0.32, 0.34], **{"train.convpool.dense_units": [512]})
        + seeded("convpool-dense_units-512x256", [0.29, 0.31, 0.33], **{"train.convpool.dense_units": [512, 256]})
        + seeded("convpool-filters-16x32", [0.39, 0.40, 0.41], **{"train.convpool.dense_units": [16]}),
        [run.name for run in experiments(lab)],
    )
    text = markdown_of(lab, groups, {}, [], provenance(groups, {}), [])
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ")}
    top = rows["convpool-filters-16x32"]
    assert top.startswith("| **best** | convpool-filters-16x32 | [16] | 40.00% ± 1.00% | 39.00%-41.00% |")
    assert rows["convpool-base"].endswith("| worse | (4, 1) 33% / 1.8504 |")
    by_name = {g.name: g for g in groups}
    names = ("convpool-base", "convpool-dense_units-512x256", "convpool-filters-16x32")
    base, deeper, best = (by_name[n] for n in names)
    assert within_noise(base, deeper) and not within_noise(base, best)
    assert rows["convpool-dense_units-512x256"].endswith("| worse | (4, 2) 33% / 1.8717 |")
    assert "Each experiment ran 3 times, train.seed 42-44, the split fixed" in text


def test_only_the_labs_complete_setup_may_replace_its_committed_report(labs, raw):
    lab = labs["early_stopping"]
    planned = experiments(lab)

    def runs(tiny: bool = False, seeds: int = 1, skip: int = 0) -> list[Group]:
        found = []
        for run in planned[skip:]:
            params = pinned(raw, run) | (lab.tiny if tiny else {})
            found.append(Group(run.name, tuple(Result(run.name, params, 0.9, 0.1, 1, 1) for _ in range(seeds))))
        return found

    assert partial_reason(planned, runs(), raw, None) is None
    assert partial_reason(planned, runs(skip=1), raw, None).startswith("1 of the lab's 4 experiments did not finish")
    assert "ran with preprocess.max_per_class=20, not the lab's setup" in partial_reason(planned, runs(True), raw, None)
    previous = {"experiments": [{"name": run.name, "seeds": [42, 43, 44, 45, 46]} for run in planned]}
    assert "fewer than the committed report's 5" in partial_reason(planned, runs(seeds=2), raw, previous)
    assert partial_reason(planned, runs(seeds=5), raw, previous) is None


def test_numbers_name_the_gpu_cards_that_produced_them(tmp_path: Path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3'\necho 'NVIDIA H100 80GB HBM3'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert gpu_names() == "2 x NVIDIA H100 80GB HBM3"
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert gpu_names() == ""
