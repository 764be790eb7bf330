"""The experiments table of `make compare` (imgclf/experiments/compare.py), from `dvc exp show --json` data."""

from imgclf.experiments.compare import render, rows, table


def entry(name: str, accuracy: float, **train: object) -> dict:
    params = {"train": {"lr": 0.01, "batch_size": 200, "mlp": {"hidden_units": [800]}, **train}, "data": {"x": 1}}
    return {
        "name": name,
        "data": {
            "params": {"params.yaml": {"data": params}},
            "metrics": {
                "metrics/eval.json": {"data": {"test_accuracy": accuracy, "test_loss": 1 - accuracy}},
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
    assert header == ["experiment", "test accuracy", "test loss", "train time (s)", "lr", "hidden_units"]
    assert body[0] == ["main", "89.70%", "0.1030", "12.3", "0.01", "[800]"], "the workspace equals main: no row"
    assert body[1] == ["lr-up", "93.00%", "0.0700", "12.3", "0.05", "[800]"]
    assert body[2] == ["wide", "94.00%", "0.0600", "12.3", "0.01", "[800, 500]"]
    assert body[3] == ["broken", "failed", "", "", "", ""], "a failed run never shows the baseline's metrics"


def test_a_workspace_that_differs_from_its_commit_has_a_row():
    _, body = table(rows(shown(entry("workspace", 0.95, lr=0.1))))
    assert [cells[0] for cells in body] == ["workspace", "main", "lr-up", "wide", "broken"]


def test_the_table_fits_a_terminal_and_a_pull_request():
    header, body = table(rows(shown(entry("workspace", 0.897))))
    text = render(header, body, markdown=False).splitlines()
    assert text[0] == "experiment  test accuracy  test loss  train time (s)  lr    hidden_units"
    assert text[1] == "main               89.70%     0.1030            12.3  0.01  [800]"
    markdown = render(header, body, markdown=True).splitlines()
    assert markdown[:2] == [
        "| experiment | test accuracy | test loss | train time (s) | lr | hidden_units |",
        "| --- | --- | --- | --- | --- | --- |",
    ]


def test_a_short_name_is_never_ambiguous_among_all_params():
    """train.batch_size beside evaluate.batch_size keeps its section: `batch_size` alone would not say which."""
    experiments = [{"executor": {"state": "success"}, "revs": [entry("small-batch", 0.9, batch_size=50)]}]
    committed = entry("main", 0.897)
    committed["data"]["params"]["params.yaml"]["data"]["evaluate"] = {"batch_size": 500}
    experiments[0]["revs"][0]["data"]["params"]["params.yaml"]["data"]["evaluate"] = {"batch_size": 500}
    header, _ = table(rows([{"rev": "workspace"}, {"rev": "abc", **committed, "experiments": experiments}]))
    assert header[-1] == "train.batch_size"
