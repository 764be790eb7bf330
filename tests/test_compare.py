"""The experiments table of `make compare` (imgclf/experiments/compare.py), from `dvc exp show --json` data."""

import pytest
import yaml

from imgclf.experiments.compare import Row, render, rows, table
from imgclf.experiments.exp_show import result_of, shown_value
from imgclf.experiments.labs import apply, flatten
from tests.helpers import REPO


def entry(name: str, accuracy: float, **train: object) -> dict:
    params = {"train": {"lr": 0.01, "batch_size": 200, "mlp": {"hidden_units": [800]}, **train}, "data": {"x": 1}}
    return {
        "name": name,
        "data": {
            "params": {"params.yaml": {"data": params}},
            "metrics": {
                "metrics/eval.json": {
                    "data": {
                        "test_accuracy": accuracy,
                        "test_loss": 1 - accuracy,
                        "balanced_accuracy": accuracy - 0.01,
                        "f1_macro": accuracy - 0.02,
                    }
                },
                "metrics/train.json": {"data": {"train_seconds": 12.345, "images_per_second": 1.0}},
            },
        },
    }


def shown(workspace: dict) -> list[dict]:
    experiments = [
        {"executor": {"state": "success"}, "revs": [entry("lr-up", 0.93, lr=0.05)]},
        {"executor": {"state": "success"}, "revs": [entry("wide", 0.94, mlp={"hidden_units": [800, 500]})]},
        {"executor": {"state": "failed"}, "revs": [entry("broken", 0.5, batch_size=7)]},
    ]
    return [{"rev": "workspace", **workspace}, {"rev": "abc1234", **entry("main", 0.897), "experiments": experiments}]


def test_only_the_params_that_differ_under_short_names():
    header, body = table(rows(shown(entry("workspace", 0.897))))
    figures = ["experiment", "test accuracy", "balanced", "macro-F1", "test loss", "train time (s)"]
    assert header == [*figures, "lr", "hidden_units"]
    assert body[0] == ["main", "89.70%", "88.70%", "0.8770", "0.1030", "12.3", "0.01", "[800]"], "no workspace row"
    assert body[1] == ["lr-up", "93.00%", "92.00%", "0.9100", "0.0700", "12.3", "0.05", "[800]"]
    assert body[2] == ["wide", "94.00%", "93.00%", "0.9200", "0.0600", "12.3", "0.01", "[800, 500]"]
    assert body[3] == ["broken", "failed", "", "", "", "", "", ""], "a failed run never shows the baseline's metrics"


def test_a_workspace_that_differs_from_its_commit_has_a_row():
    _, body = table(rows(shown(entry("workspace", 0.95, lr=0.1))))
    assert [cells[0] for cells in body] == ["workspace", "main", "lr-up", "wide", "broken"]


def test_the_table_fits_a_terminal_and_a_pull_request():
    header, body = table(rows(shown(entry("workspace", 0.897))))
    text = render(header, body, markdown=False).splitlines()
    assert text[0] == "experiment  test accuracy  balanced  macro-F1  test loss  train time (s)  lr    hidden_units"
    assert text[1] == "main               89.70%    88.70%    0.8770     0.1030            12.3  0.01  [800]"
    markdown = render(header, body, markdown=True).splitlines()
    assert markdown[:2] == [
        "| experiment | test accuracy | balanced | macro-F1 | test loss | train time (s) | lr | hidden_units |",
        "|---|---|---|---|---|---|---|---|",
    ]


def test_a_short_name_is_never_ambiguous_among_all_params():
    """train.batch_size beside evaluate.batch_size keeps its section: `batch_size` alone would not say which."""
    experiments = [{"executor": {"state": "success"}, "revs": [entry("small-batch", 0.9, batch_size=50)]}]
    committed = entry("main", 0.897)
    committed["data"]["params"]["params.yaml"]["data"]["evaluate"] = {"batch_size": 500}
    experiments[0]["revs"][0]["data"]["params"]["params.yaml"]["data"]["evaluate"] = {"batch_size": 500}
    header, _ = table(rows([{"rev": "workspace"}, {"rev": "abc", **committed, "experiments": experiments}]))
    assert header[-1] == "train.batch_size"


def test_training_time_comes_from_timing_json_only_for_the_model_it_timed():
    """A train stage that DVC restored from its run-cache did not run: timing.json still holds an earlier run's
    time, for another model, which must not pass as this experiment's."""
    timed = entry("timed", 0.9)
    metrics = timed["data"]["metrics"]
    metrics["metrics/train.json"] = {"data": {"epochs_run": 3}}
    train = {"train_seconds": 7.5, "images_per_second": 2.0, "model_md5": "aa"}
    metrics["metrics/timing.json"] = {"data": {"train": train}}
    timed["data"]["outs"] = {"models/model.keras": {"hash": "aa"}}
    result = result_of("timed", timed["data"])
    assert (result.train_seconds, result.images_per_second) == (7.5, 2.0)
    timed["data"]["outs"] = {"models/model.keras": {"hash": "bb"}}
    assert result_of("timed", timed["data"]).train_seconds is None
    header, body = table([Row("timed", result_of("timed", timed["data"]), "success")])
    assert body[0][header.index("train time (s)")] == "cached"


def experiment(name: str, overrides: dict) -> dict:
    """An experiment of the repository's params.yaml with `overrides` (dotted keys), as `dvc exp show` gives it."""
    params = apply(yaml.safe_load((REPO / "params.yaml").read_text()), overrides)
    metrics = {
        "metrics/eval.json": {"data": {"test_accuracy": 0.9, "test_loss": 0.3}},
        "metrics/train.json": {"data": {"train_seconds": 123.4, "images_per_second": 1.0}},
    }
    return {"name": name, "data": {"params": {"params.yaml": {"data": params}}, "metrics": metrics}}


PHOTOS = {"data.dataset": "folder", "data.folder": "/home/someone/Pictures/holidays/animals-2026-final.zip"}
MIRROR = {"data.dataset": "mnist", "data.mirrors.mnist": ["/srv/datasets/mirrors/company/mnist/", "file:///mnt/x/"]}
TINY = [  # a tiny sweep of the CIFAR lab beside plain MNIST runs: many params differ
    (f"cifar10_cnn-lr-{lr}", {"data.dataset": "mnist_5k", "preprocess.image_size": 32, "preprocess.color": "rgb",
     "preprocess.max_per_class": 20, "split.val_fraction": 0.1, "train.model": "cnn", "train.optimizer": "sgd",
     "train.lr": lr, "train.momentum": 0.9, "train.nesterov": True, "train.schedule": "inverse_time",
     "train.decay": 1e-6, "train.batch_size": 32, "train.epochs": 25})
    for lr in (0.01, 0.02, 0.05, 0.1)
]  # fmt: skip
PRETRAINED = {"train.model": "pretrained", "train.pretrained.backbone": "EfficientNetB0", "train.epochs": 15,
              "train.pretrained.fine_tune_epochs": 5, "preprocess.image_size": 224, **PHOTOS}  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        [("lr-up", {"train.lr": 0.05}), ("wide", {"train.mlp.hidden_units": [800, 500]})],
        [("photos", PHOTOS | {"preprocess.image_size": 64, "train.model": "smallvgg"})],
        [("mirror", MIRROR), ("mirror-adam", MIRROR | {"train.optimizer": "adam"})],
        TINY,
        [("pretrained", PRETRAINED)],
    ],
    ids=["plain", "photo-folder", "local-mirror", "tiny-sweep", "pretrained"],
)
def test_every_table_fits_120_columns_and_names_data_not_its_source(case):
    experiments = [{"executor": {"state": "success"}, "revs": [experiment(n, o)]} for n, o in case]
    table_rows = rows([{"rev": "workspace"}, {"rev": "abc", **experiment("main", {}), "experiments": experiments}])
    for markdown in (False, True):
        text = render(*table(table_rows), markdown=markdown)
        assert "/srv/" not in text and "Pictures" not in text and "file://" not in text, "a source is no param"
        if not markdown:
            assert max(map(len, text.splitlines())) <= 120, text
    terminal = render(*table(table_rows), markdown=False)
    defaults = flatten(yaml.safe_load((REPO / "params.yaml").read_text()))
    for name, overrides in case:
        assert name in terminal
        for key, value in overrides.items():  # every param that differs is shown, in the table or below it
            if key not in ("data.folder", "data.mirrors.mnist", "data.dataset") and defaults[key] != value:
                assert shown_value(value) in terminal, (key, terminal)
    if case[0][1].get("data.dataset") == "folder":
        assert "animals-2026-final.zip" in terminal


def test_every_commit_shows_only_the_commits_with_experiments_and_no_placeholder_for_missing_params():
    """`make compare ARGS="-- -A"` printed a row for each of about 225 commits, then 713 lines of `key=None` for
    params that older commits did not have yet."""
    older = entry("old", 0.8)
    del older["data"]["params"]["params.yaml"]["data"]["train"]["mlp"]  # a param added after this commit
    without = [{"rev": f"c{i:06d}", **entry(f"c{i}", 0.8)} for i in range(5)]  # commits without experiments
    with_old = {"rev": "d000000", **entry("old-commit", 0.8), "experiments": [
        {"executor": {"state": "success"}, "revs": [older]}]}  # fmt: skip
    found = rows([*shown(entry("workspace", 0.897)), *without, with_old])
    assert [row.name for row in found] == ["main", "lr-up", "wide", "broken", "old-commit", "old"]
    header, body = table(found)
    assert body[-1][header.index("hidden_units")] == "", "a param the commit did not have yet is blank"
    assert "None" not in render(header, body, markdown=False, width=60)
