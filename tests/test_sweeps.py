"""The labs' sweeps (sweeps.yaml) and the report, without running DVC: expansion, validation, DVC's reading of
the -S values, and the report's table and plots from `dvc exp show --json` data."""

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from imgclf.config.params import AugmentParams, EarlyStoppingParams, MlpParams, Params, parse_params
from imgclf.errors import PipelineError
from imgclf.experiments.exp_show import Result, read_experiments
from imgclf.experiments.labs import (
    apply,
    best_combination,
    check,
    experiments,
    lab_base_params,
    load_labs,
    pinned,
    set_param_args,
    set_param_values,
)
from imgclf.experiments.provenance import gpu_names, partial_reason, provenance
from imgclf.experiments.repeats import Group, group, within_noise
from imgclf.experiments.report import sweep_axis, sweep_figure
from imgclf.experiments.report_markdown import markdown as markdown_of
from tests.conftest import REPO

PHOTOS = {"data.folder": "photos"}


@pytest.fixture
def labs():
    return load_labs(REPO / "sweeps.yaml")


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def values(runs, key) -> list:
    return [run.overrides[key] for run in runs]


def test_each_lab_sweeps_what_its_lab_varies(labs):
    mnist = labs["mnist_mlp"]
    assert values(experiments(mnist, only_sweep=1), "train.epochs") == [50, 75, 100, 125]
    assert values(experiments(mnist, only_sweep=2), "train.batch_size") == [50, 100, 200, 400]
    assert values(experiments(mnist, only_sweep=3), "train.mlp.hidden_units") == [[500], [700], [900], [1200]]
    second = values(experiments(mnist, only_sweep=4), "train.mlp.hidden_units")
    assert second == [[800, 500], [800, 700], [800, 900], [800, 1200]]
    cifar = labs["cifar10_cnn"]
    assert values(experiments(cifar, only_sweep=1), "train.lr") == [0.01, 0.02, 0.05, 0.1]
    assert values(experiments(cifar, only_sweep=2), "train.epochs") == [15, 20, 25, 30]
    assert values(experiments(cifar, only_sweep=3), "train.cnn.conv_blocks") == [1, 2]
    convpool = labs["convpool"]
    depth = experiments(convpool, only_sweep=1)
    assert values(depth, "train.convpool.filters") == [[16, 32], [16, 32, 64], [16, 32, 64, 128]]  # the first N
    assert values(depth, "train.convpool.padding")[-1] == ["same", "same", "same", "valid"]
    assert {len(f) for f in values(depth, "train.convpool.dense_units")} == {1}
    dense = values(experiments(convpool, only_sweep=2), "train.convpool.dense_units")
    assert dense == [[512], [512, 256], [512, 256, 128], [512, 256, 128, 64]]
    kernels = values(experiments(convpool, only_sweep=3), "train.convpool.kernel_sizes")
    assert kernels == [[3, 3, 3, 3], [7, 5, 3, 3]]
    stopping = labs["early_stopping"]
    assert values(experiments(stopping, only_sweep=1), "train.early_stopping.patience") == [1, 2, 5]
    assert values(experiments(stopping, only_sweep=2), "train.early_stopping.restore_best_weights") == [False, True]
    photos = experiments(labs["photos"], extra=PHOTOS)
    assert set(values(photos, "train.model")) == {"mlp", "smallvgg"}
    assert set(values(photos, "train.augment.enabled")) == set(values(photos, "train.early_stopping.enabled"))
    assert set(values(photos, "train.augment.enabled")) == {False, True}


def lab_params(labs, raw, lab: str, name: str) -> Params:
    """The params one experiment of a lab trains with: the committed params.yaml, the lab's base, its point."""
    run = next(r for r in experiments(labs[lab], extra=PHOTOS if lab == "photos" else None) if r.name == name)
    return parse_params(apply(raw, run.overrides))


LAB_SETUPS = {  # (lab, experiment): the setup its lab's own text names, key by key
    ("mnist_mlp", "mnist_mlp-base"): {
        "data.dataset": "mnist", "split.val_fraction": 0.2,
        "train.mlp": MlpParams((800,), "relu", "random_normal", 0.0),
        "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.0, "train.schedule": "constant",
        "train.batch_size": 200, "train.epochs": 100,
    },
    ("cifar10_cnn", "cifar10_cnn-base"): {
        "split.val_fraction": 0.1, "train.model": "cnn", "train.cnn.conv_blocks": 2,
        "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.9, "train.nesterov": True,
        "train.schedule": "inverse_time", "train.decay": 1e-6,  # SGD(decay=1e-6)
        "train.batch_size": 32, "train.epochs": 25, "train.augment.enabled": False,
        "train.early_stopping.enabled": False,
    },
    ("convpool", "convpool-base"): {
        "train.convpool.filters": (16, 32, 64, 128), "train.convpool.kernel_sizes": (3, 3, 3, 3),
        "train.convpool.padding": ("same", "same", "same", "valid"), "train.convpool.activation": "linear",
        "train.convpool.dense_units": (512,), "train.optimizer": "sgd", "train.lr": 0.01, "train.momentum": 0.0,
        "train.schedule": "constant", "train.batch_size": 128, "train.epochs": 2,
    },
    ("early_stopping", "early_stopping-base"): {
        "train.optimizer": "adam", "train.lr": 0.001, "train.batch_size": 200, "train.epochs": 25,
        "split.val_fraction": 0.2, "train.early_stopping": EarlyStoppingParams(True, "val_accuracy", 2, False),
    },
    ("photos", "photos-model-mlp"): {
        "preprocess.image_size": 32, "train.model": "mlp", "train.mlp.hidden_units": (1024, 512),
        "train.mlp.activation": "sigmoid", "train.optimizer": "sgd", "train.lr": 0.01, "train.schedule": "constant",
        "train.batch_size": 32, "train.epochs": 75, "train.augment.enabled": False,
    },
    ("photos", "photos-base"): {
        "preprocess.image_size": 64, "train.model": "smallvgg", "train.schedule": "inverse_time",
        "train.batch_size": 32, "train.epochs": 75, "train.decay": pytest.approx(0.01 / 75, rel=0.01),
        "train.augment": AugmentParams(True, 30, 0.1, 0.2, 0.2, True, False, "bilinear"), "split.test_fraction": 0.25,
        "split.seed": 42,
    },
}  # fmt: skip


@pytest.mark.parametrize(("lab", "experiment"), LAB_SETUPS, ids=[e for _, e in LAB_SETUPS])
def test_each_lab_base_is_exactly_the_setup_the_lab_names(labs, raw, lab, experiment):
    """The setups of the labs' own texts; a params.yaml default can change without changing any lab."""
    params = lab_params(labs, raw, lab, experiment)
    for key, expected in LAB_SETUPS[lab, experiment].items():
        value = params
        for part in key.split("."):
            value = getattr(value, part)
        assert value == expected, key


def test_published_results_name_experiments_of_their_lab(labs, tmp_path: Path):
    assert labs["convpool"].published["convpool-dense_units-512x256x128x64"] == "(4, 4) 29.53% / 1.9575"
    assert labs["early_stopping"].published["early_stopping-base"].startswith("stopped after epoch 10")
    text = "lab:\n  title: t\n  base: {train.lr: 0.1}\n  tiny: {}\n  sweeps: [{train.lr: [0.1, 1]}]\n"
    (tmp_path / "sweeps.yaml").write_text(text + "  published: {lab-lr-2: 90%}\n")
    with pytest.raises(PipelineError, match="lab.published: no experiment lab-lr-2; the lab's are lab-base, lab-lr-1"):
        load_labs(tmp_path / "sweeps.yaml")


def test_an_experiment_two_sweeps_share_runs_once_as_base(labs):
    runs = experiments(labs["mnist_mlp"])
    assert len(runs) == 15 and len({r.name for r in runs}) == 15  # 100 epochs = batch 200 = the base
    base = next(r for r in runs if r.name == "mnist_mlp-base")
    assert (base.overrides["train.epochs"], base.overrides["train.batch_size"]) == (100, 200)
    assert [r.name for r in experiments(labs["mnist_mlp"], only_sweep=2)] == [
        "mnist_mlp-batch_size-50",
        "mnist_mlp-batch_size-100",
        "mnist_mlp-base",
        "mnist_mlp-batch_size-400",
    ]


def test_every_experiment_is_valid_params_full_size_and_tiny(labs, raw):
    for lab in labs.values():
        extra = PHOTOS if lab.name == "photos" else None
        check(raw, experiments(lab, extra=extra))
        tiny = experiments(lab, tiny=True, extra=extra)
        check(raw, tiny)
        assert all(run.overrides["preprocess.max_per_class"] > 0 for run in tiny)
        if lab.name != "photos":
            assert all(run.overrides["data.dataset"] == "mnist_5k" for run in tiny), "tiny runs offline"


def test_dvc_reads_every_set_param_back_as_meant(labs, raw, tmp_path: Path):
    for lab in labs.values():
        for run in experiments(lab, tiny=True, extra=PHOTOS if lab.name == "photos" else None):
            shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
            apply_overrides(tmp_path / "params.yaml", set_param_values(run.overrides))
            written = parse_params(yaml.safe_load((tmp_path / "params.yaml").read_text()))  # DVC writes 1e-06
            assert written == parse_params(apply(raw, run.overrides)), run.name


def test_benchmarks_start_a_recipe_from_the_params_its_lab_runs_with(labs, raw):
    """benchmarks/cpu_precision.py and gpu_keras_jax.py train what `make lab LAB=recipe_...` would, plus changes."""
    (run,) = experiments(labs["recipe_cifar10_fast"])
    assert lab_base_params("recipe_cifar10_fast", project=REPO) == parse_params(apply(raw, run.overrides))
    changed = lab_base_params("recipe_cifar10_fast", {"train.epochs": 3}, REPO)
    assert (changed.train.epochs, changed.train.lr) == (3, parse_params(apply(raw, run.overrides)).train.lr)


def test_photo_lab_needs_your_folder_and_says_so(labs, raw):
    with pytest.raises(PipelineError, match="dataset folder needs data.folder"):
        check(raw, experiments(labs["photos"], tiny=True))


def test_overriding_a_swept_key_or_a_missing_sweep_is_refused(labs):
    with pytest.raises(PipelineError, match="-S train.epochs: lab mnist_mlp sweeps this key"):
        experiments(labs["mnist_mlp"], extra={"train.epochs": 5})
    with pytest.raises(PipelineError, match="--sweep 5: lab mnist_mlp has sweeps 1 to 4"):
        experiments(labs["mnist_mlp"], only_sweep=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lab:\n  title: t\n  base: {train.lr: 0.1}\n  tiny: {}\n  sweeps: [{train.lr: [1, 2], train.epochs: [1]}]",
         r"lab.sweeps\[0\]: keys that change together need as many values each; got \[1, 2\]"),
        ("lab:\n  title: t\n  base: {}\n  tiny: {}\n  sweeps: [{train.lr: [1, 2]}]",
         "lab.base: set train.lr too"),
        ("lab:\n  title: t\n  base: {}\n  sweeps: []", "lab: must have the keys title, base, sweeps, tiny"),
    ],
)  # fmt: skip
def test_a_malformed_sweeps_file_is_named(tmp_path: Path, text: str, message: str):
    (tmp_path / "sweeps.yaml").write_text(text)
    with pytest.raises(PipelineError, match=message):
        load_labs(tmp_path / "sweeps.yaml")


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


def test_best_combination_takes_each_sweeps_best_value(labs):
    lab = labs["mnist_mlp"]
    accuracy = {run.name: 0.9 for run in experiments(lab)}
    accuracy |= {"mnist_mlp-epochs-125": 0.95, "mnist_mlp-batch_size-50": 0.94}
    accuracy |= {"mnist_mlp-hidden_units-1200": 0.93, "mnist_mlp-hidden_units-800x900": 0.96}  # the second wins
    best = best_combination(lab, accuracy)
    assert best.name == "mnist_mlp-best"
    assert best.point == {"train.epochs": 125, "train.batch_size": 50, "train.mlp.hidden_units": [800, 900]}
    assert best.overrides["train.optimizer"] == "sgd" and best.overrides["train.epochs"] == 125
    with pytest.raises(PipelineError, match="--best: no experiment of sweep 2 has finished"):
        best_combination(lab, {"mnist_mlp-epochs-50": 0.9})


def test_a_changed_workspace_never_leaks_into_a_lab_experiment(labs, raw):
    """Every key is set on the queue command line: the committed params.yaml, the lab's base, the point."""
    run = experiments(labs["mnist_mlp"], only_sweep=2)[0]
    args = set_param_args(pinned(raw, run))
    assert len(args) // 2 == sum(1 for _ in pinned(raw, run)) and "train.seed=42" in args
    assert 'train.optimizer="sgd"' in args and "train.batch_size=50" in args


def test_best_combination_never_mixes_two_sweeps_of_one_key(labs, raw):
    """Depth zips filters with kernel sizes; the kernel sweep varies kernel sizes alone. If the kernel sweep's best
    beats the depth sweep's, taking 7-5-3-3 with the 2-block filters would be no network at all."""
    lab = labs["convpool"]
    accuracy = {run.name: 0.3 for run in experiments(lab)}
    accuracy |= {"convpool-filters-16x32": 0.35, "convpool-kernel_sizes-7x5x3x3": 0.38}
    best = best_combination(lab, accuracy)
    assert best.point == {"train.convpool.kernel_sizes": [7, 5, 3, 3], "train.convpool.dense_units": [512]}
    check(raw, [best])


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
