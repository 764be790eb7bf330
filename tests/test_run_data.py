"""The data an experiment ran on, as its own stages read it: `dvc exp show` merges every stage's deps, so a stage
the experiment never reached (export, after a sweep's `plot`) gave its stale hashes to the committed reports."""

from imgclf.experiments.check import verdict
from imgclf.experiments.exp_show import data_md5_of, read_experiments

MNIST_5K = {"data/split/train": "8bcf.dir", "data/split/val": "aafd.dir", "data/split/test": "6c93.dir"}
FULL_MNIST = {"data/split/train": "1111.dir", "data/split/val": "2222.dir", "data/split/test": "3333.dir"}


def lock(read_by_train: dict, read_by_evaluate: dict, read_by_export: dict) -> dict:
    """A dvc.lock whose train, evaluate and export stages read the given splits."""

    def deps(md5s: dict, *paths: str) -> dict:
        return {"deps": [{"path": "params.yaml", "md5": "x"}, *({"path": p, "md5": md5s[p]} for p in paths)]}

    return {
        "schema": "2.0",
        "stages": {
            "train": deps(read_by_train, "data/split/train", "data/split/val"),
            "evaluate": deps(read_by_evaluate, "data/split/test"),
            "export": deps(read_by_export, "data/split/train", "data/split/test"),
        },
    }


def shown_with(merged_deps: dict) -> list[dict]:
    """`dvc exp show --json` with one experiment, e1, whose merged deps are `merged_deps` (export's, as DVC gives)."""
    metrics = {
        "metrics/eval.json": {"data": {"test_accuracy": 0.9805, "test_loss": 0.0639}},
        "metrics/train.json": {"data": {"train_seconds": 10.0, "images_per_second": 1.0, "epochs_run": 3}},
    }
    data = {
        "timestamp": "2026-12-05T10:00:00",
        "metrics": metrics,
        "params": {"params.yaml": {"data": {"train": {"epochs": 3}}}},
        "deps": {path: {"hash": md5} for path, md5 in merged_deps.items()},
    }
    experiment = {"executor": {"state": "success"}, "revs": [{"rev": "e1", "name": "e1", "data": data}]}
    return [{"rev": "head", "data": {"params": {}}, "experiments": [experiment]}]


def test_each_split_is_taken_from_the_stage_that_read_it_not_from_a_stale_one():
    for dataset in (MNIST_5K, FULL_MNIST):
        assert data_md5_of(lock(dataset, dataset, MNIST_5K)) == dataset
    assert data_md5_of(lock(FULL_MNIST, FULL_MNIST, MNIST_5K)) != data_md5_of(lock(MNIST_5K, MNIST_5K, MNIST_5K))
    assert data_md5_of({}) is None and data_md5_of({"stages": {"train": None}}) is None


def test_check_passes_when_the_data_agrees_though_an_unrelated_stage_in_dvc_lock_is_stale():
    """A full-MNIST run that stopped at `plot`: export's entries still name mnist_5k, as in the committed lock."""
    run_lock = lock(FULL_MNIST, FULL_MNIST, MNIST_5K)
    shown = read_experiments(shown_with(MNIST_5K), lambda rev: run_lock if rev == "e1" else {})
    now = shown.finished["e1"]
    assert now.data_md5 == FULL_MNIST
    recorded = {"name": "r", "accuracy": 0.9805, "loss": 0.0639, "commit": "7271ede", "data_md5": FULL_MNIST}
    ok, line = verdict(recorded, {"accuracy": now.accuracy, "loss": now.loss, "data_md5": now.data_md5})
    assert ok, line
    other = {**FULL_MNIST, "data/split/test": "4444.dir"}
    ok, line = verdict(
        {**recorded, "data_md5": other}, {"accuracy": now.accuracy, "loss": now.loss, "data_md5": now.data_md5}
    )
    assert not ok and "other data than the report's" in line
