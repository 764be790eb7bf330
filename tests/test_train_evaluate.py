import dataclasses
import hashlib
import json
import shutil
import signal
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import log_loss

from imgclf.config.params import load_params
from imgclf.errors import PipelineError
from imgclf.evaluation.evaluate import evaluate, predictions_csv, write_evaluation
from imgclf.fitting.callbacks import EpochLog
from imgclf.fitting.train import train
from imgclf.modeling.model_file import load_model, save_model
from tests.helpers import REPO
from tests.helpers.data import blobs, quick_mlp, sharded
from tests.helpers.train_stage import epochs_backed_up, run_train_stage, twelve_epochs_on_four_shards


@pytest.fixture
def small_train(params):
    return quick_mlp(params.train, epochs=3)


def test_training_learns_logs_each_epoch_and_reports_figures(tmp_path: Path, small_train):
    train_data, val = (
        sharded(tmp_path / "train", blobs(seed=1)),
        sharded(tmp_path / "val", blobs(n_per_class=10, seed=2)),
    )
    _, metrics = train(small_train, train_data, val, tmp_path / "live", tmp_path / "backup")
    assert metrics["epochs_run"] == 3
    assert metrics["val_accuracy"] > 0.9
    assert metrics["train_seconds"] > 0 and metrics["images_per_second"] > 0
    assert set(metrics) == {
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "epochs_run",
        "best_epoch",
        "best_val_accuracy",
        "stopped_epoch",
        "train_seconds",
        "images_per_second",
        "replicas",
    }
    assert metrics["stopped_epoch"] == 0 and 1 <= metrics["best_epoch"] <= 3
    for split in ("train", "eval"):
        for metric in ("loss", "accuracy"):
            rows = (tmp_path / "live" / "plots" / "metrics" / split / f"{metric}.tsv").read_text().splitlines()
            assert rows[0] == f"step\t{metric}" and len(rows) == 1 + 3
    assert not (tmp_path / "dvc.yaml").exists()


def test_same_seed_gives_the_same_metrics_on_cpu(tmp_path: Path, small_train):
    """Across shards and with a shuffle buffer smaller than the data, as with one shard shuffled whole."""
    data = sharded(tmp_path / "train", blobs(seed=3), per_shard=25)
    val = sharded(tmp_path / "val", blobs(n_per_class=10, seed=4), per_shard=7)
    small_train = dataclasses.replace(small_train, shuffle_buffer_mb=30 * 64 / 2**20)  # 30 of 120 images
    assert len(data.files) == 5
    runs = []
    for i in range(2):  # each saved after its own training: seconds apart, as two runs of `dvc repro` are
        keras.backend.clear_session()  # layer names start again from "dense", as in a new process
        model, metrics = train(small_train, data, val, tmp_path / f"live{i}", tmp_path / f"backup{i}")
        save_model(model, ("a", "b", "c"), tmp_path / f"model{i}")
        runs.append(metrics)
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert runs[0][key] == runs[1][key]
    files = [(tmp_path / f"model{i}" / "model.keras").read_bytes() for i in range(2)]
    assert hashlib.md5(files[0]).hexdigest() == hashlib.md5(files[1]).hexdigest(), "the same weights, the same file"
    assert b"date_saved" not in files[0]
    _, other = train(
        dataclasses.replace(small_train, seed=5), data, val, tmp_path / "live_other", tmp_path / "backup_other"
    )
    assert other["train_loss"] != runs[0]["train_loss"]


def test_saved_model_takes_raw_images_and_evaluates(tmp_path: Path, small_train, params):
    test_images = blobs(n_per_class=10, seed=6)
    test = sharded(tmp_path / "test", test_images, per_shard=8)
    train_data, val = (
        sharded(tmp_path / "train", blobs(seed=1)),
        sharded(tmp_path / "val", blobs(n_per_class=10, seed=2)),
    )
    model, _ = train(small_train, train_data, val, tmp_path / "live", tmp_path / "backup")
    save_model(model, test.class_names, tmp_path / "models")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["class_names.json", "model.keras"]
    loaded, class_names = load_model(tmp_path / "models")
    assert class_names == test.class_names
    images = test_images.images
    assert np.allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)

    result = evaluate(loaded, class_names, test, batch_size=7, tta=False, tta_shift=0)
    assert result.metrics["test_accuracy"] > 0.9
    assert result.metrics["test_images"] == 30
    assert 0 < result.metrics["test_loss"] < 1
    assert {"precision_macro", "recall_macro", "f1_macro"} <= set(result.metrics)
    assert "class_2" in result.report_text and result.report["class_2"]["support"] == 10

    mirrored = evaluate(loaded, class_names, test, batch_size=7, tta=True, tta_shift=0)

    def mirror_averaged(views: np.ndarray) -> np.ndarray:
        return (loaded.predict(views, verbose=0) + loaded.predict(views[:, :, ::-1], verbose=0)) / 2

    expected = log_loss(test_images.labels, mirror_averaged(images), labels=[0, 1, 2])
    assert mirrored.metrics["test_loss"] == pytest.approx(expected, rel=1e-5), "each image averaged with its mirror"

    shifted = evaluate(loaded, class_names, test, batch_size=7, tta=True, tta_shift=2)
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    down_right, up_left = padded[:, :-4, :-4], padded[:, 4:, 4:]
    views = mirror_averaged(images) / 2 + (mirror_averaged(down_right) + mirror_averaged(up_left)) / 4
    expected = log_loss(test_images.labels, views, labels=[0, 1, 2])
    assert shifted.metrics["test_loss"] == pytest.approx(expected, rel=1e-5), "half the image, a quarter each shift"
    assert shifted.metrics["test_loss"] != pytest.approx(mirrored.metrics["test_loss"], rel=1e-3)
    with pytest.raises(PipelineError, match="evaluate.tta_shift: 16 pixels is not less than the test images' side"):
        evaluate(loaded, class_names, test, batch_size=7, tta=False, tta_shift=16)

    write_evaluation(result, tmp_path / "metrics")
    assert sorted(p.name for p in (tmp_path / "metrics").iterdir()) == [
        "classification_report.json",
        "classification_report.txt",
        "eval.json",
        "predictions.csv",
    ]
    lines = predictions_csv(result).splitlines()
    assert lines[0] == "actual,predicted" and len(lines) == 31
    assert [line.split(",")[0] for line in lines[1:]] == [test.class_names[c] for c in test_images.labels]


def test_evaluate_refuses_a_test_set_with_other_classes(tmp_path: Path, small_train):
    train_data, val = (
        sharded(tmp_path / "train", blobs(seed=1)),
        sharded(tmp_path / "val", blobs(n_per_class=10, seed=2)),
    )
    model, _ = train(small_train, train_data, val, tmp_path / "live", tmp_path / "backup")
    other = sharded(tmp_path / "other", dataclasses.replace(blobs(n_per_class=5), class_names=("a", "b", "c")))
    with pytest.raises(PipelineError, match="differ from the model's"):
        evaluate(model, ("class_0", "class_1", "class_2"), other, batch_size=8, tta=False, tta_shift=0)


def test_missing_or_damaged_model_is_one_clear_error(tmp_path: Path, small_train):
    with pytest.raises(PipelineError, match="model.keras: not found"):
        load_model(tmp_path)
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    (tmp_path / "class_names.json").write_text('["a"]')
    with pytest.raises(PipelineError, match="model.keras: damaged, not a whole Keras model file") as info:
        load_model(tmp_path)
    assert "not found" not in str(info.value), "the file is there: it is damaged"
    assert "`dvc checkout --force " in str(info.value), "without --force, DVC refuses to replace a changed file"
    (tmp_path / "saved_model").mkdir()
    (tmp_path / "saved_model" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(PipelineError, match="saved_model: a SavedModel .*give --model the folder of model.keras"):
        load_model(tmp_path / "saved_model")

    train_data, val = (
        sharded(tmp_path / "train", blobs(seed=1)),
        sharded(tmp_path / "val", blobs(n_per_class=10, seed=2)),
    )
    model, _ = train(small_train, train_data, val, tmp_path / "live", tmp_path / "backup")
    save_model(model, ("a", "b", "c"), tmp_path / "cut")
    whole = (tmp_path / "cut" / "model.keras").read_bytes()
    (tmp_path / "cut" / "model.keras").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(PipelineError, match="model.keras: damaged, not a whole Keras model file"):
        load_model(tmp_path / "cut")


def kill_train_stage_after_epoch_4(workdir: Path, code: Path = REPO) -> None:
    stage = run_train_stage(workdir, code)
    progress = workdir / "models" / ".resume" / "training_metadata.json"
    deadline = time.monotonic() + 120
    while epochs_backed_up(progress) < 4:
        assert stage.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    stage.send_signal(signal.SIGKILL)
    stage.wait()
    assert not (workdir / "models" / "model.keras").exists()
    shutil.rmtree(workdir / "dvclive")  # as DVC does: it removes a stage's outputs before running it again


@pytest.mark.slow  # a train or predict process of its own
def test_a_killed_run_resumes_from_its_last_epoch_and_ends_as_an_uninterrupted_one(tmp_path: Path, params):
    data, val = twelve_epochs_on_four_shards(tmp_path)
    kill_train_stage_after_epoch_4(tmp_path)

    resumed = run_train_stage(tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert b"resuming from epoch" in out
    assert not (tmp_path / "models" / ".resume").exists()
    result = json.loads((tmp_path / "metrics" / "train.json").read_text())
    logged = (tmp_path / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in logged] == ["step", *map(str, range(12))], "every epoch once, in order"
    uninterrupted_log = tmp_path / "l" / "plots" / "metrics" / "train" / "loss.tsv"

    _, uninterrupted = train(load_params(tmp_path / "params.yaml").train, data, val, tmp_path / "l", tmp_path / "b")
    assert result["epochs_run"] == uninterrupted["epochs_run"] == 12
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "best_epoch", "best_val_accuracy"):
        assert result[key] == uninterrupted[key], key
    assert logged == uninterrupted_log.read_text().splitlines(), "the resumed log is the uninterrupted run's"


@pytest.mark.slow  # a train or predict process of its own
def test_a_killed_run_starts_over_when_the_code_changed_since(tmp_path: Path):
    """Its backup was made by other code: DVC re-runs train for the change, and resuming would mix the two."""
    code = tmp_path / "code"
    for package in ("imgclf", "stages"):
        shutil.copytree(REPO / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    twelve_epochs_on_four_shards(work)
    kill_train_stage_after_epoch_4(work, code)
    models = code / "imgclf" / "modeling" / "models.py"
    models.write_text(models.read_text() + "\n# an edit after the interrupted run\n")

    again = run_train_stage(work, code)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-2000:]
    assert b"resuming" not in out
    assert b"models/.resume: the backup of an interrupted run with other params, data or code; starting over" in out
    assert json.loads((work / "metrics" / "train.json").read_text())["epochs_run"] == 12
    logged = (work / "dvclive" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in logged] == ["step", *map(str, range(12))]


def test_training_prints_about_ten_epoch_lines_however_long(capsys):
    """The first epoch, every tenth of the run, the last, and the one early stopping ends on."""

    class Stoppable:
        stop_training = False

    log, model = EpochLog(100), Stoppable()
    log.set_model(model)
    for epoch in range(100):
        log.on_epoch_end(epoch, {"loss": 0.5})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"epoch {n}/100" for n in (1, *range(10, 101, 10))]
    assert lines[0].startswith("epoch 1/100: loss 0.5000 (")

    log = EpochLog(25)
    log.set_model(model)
    for epoch in range(12):
        model.stop_training = epoch == 11  # EarlyStopping sets it at the end of epoch 12
        log.on_epoch_end(epoch, {})
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == [
        "epoch 1/25",
        "epoch 3/25",
        "epoch 6/25",
        "epoch 9/25",
        "epoch 12/25",
    ]


def test_training_survives_dvclives_signal_file_race_of_parallel_queue_runs(tmp_path: Path, small_train, monkeypatch):
    """Experiments of a parallel `dvc queue` share <project>/.dvc/tmp/exps/run/DVCLIVE_STEP_COMPLETED; DVCLive checks
    that it exists, then removes it. Another experiment ending at that moment removes it first (as in
    dvclive#624): the finished training must not fail on it."""
    import dvclive.live

    signal = tmp_path / "project" / ".dvc" / "tmp" / "exps" / "run" / "DVCLIVE_STEP_COMPLETED"

    def removed_by_the_other_experiment() -> None:  # what DVCLive's exists-then-remove raises when it loses the race
        raise FileNotFoundError(2, "No such file or directory", str(signal))

    monkeypatch.setattr(dvclive.live, "cleanup_dvclive_step_completed", removed_by_the_other_experiment)
    train_data, val = (
        sharded(tmp_path / "train", blobs(seed=1)),
        sharded(tmp_path / "val", blobs(n_per_class=10, seed=2)),
    )
    _, metrics = train(small_train, train_data, val, tmp_path / "live", tmp_path / "b")
    assert metrics["epochs_run"] == 3


def imbalanced(n_big: int, n_small: int, seed: int):
    """Two classes of noisy 8x8 images, the small one a faintly brighter corner: hard to tell apart."""
    from imgclf.data.dataset import LabeledImages

    rng = np.random.default_rng(seed)
    labels = np.array([0] * n_big + [1] * n_small)
    images = rng.integers(0, 100, size=(len(labels), 8, 8, 1))
    images[labels == 1, :4, :4, 0] += 25
    order = rng.permutation(len(labels))
    return LabeledImages(images[order].astype(np.uint8), labels[order], ("big", "small"))


def test_balanced_class_weight_lifts_the_small_class_and_evaluate_warns_when_it_is_lost(tmp_path: Path, params):
    from imgclf.evaluation.evaluate import neglected_class

    train_data = sharded(tmp_path / "train", imbalanced(1000, 20, seed=1))
    val = sharded(tmp_path / "val", imbalanced(200, 40, seed=2))
    test = sharded(tmp_path / "test", imbalanced(200, 40, seed=3))
    results = {}
    for weighting in ("none", "balanced"):
        train_params = quick_mlp(params.train, epochs=10, class_weight=weighting)
        model, _ = train(train_params, train_data, val, tmp_path / f"log-{weighting}", tmp_path / f"backup-{weighting}")
        results[weighting] = evaluate(model, ("big", "small"), test, 64, False, 0)
    unweighted, weighted = results["none"], results["balanced"]
    assert weighted.report["small"]["recall"] >= unweighted.report["small"]["recall"] + 0.3
    assert weighted.metrics["balanced_accuracy"] > unweighted.metrics["balanced_accuracy"]
    assert unweighted.metrics["balanced_accuracy"] == pytest.approx(
        (unweighted.report["big"]["recall"] + unweighted.report["small"]["recall"]) / 2
    )
    warning = neglected_class(unweighted)
    assert warning.startswith("class small has recall ") and warning.endswith("try train.class_weight: balanced")
    assert len(warning) <= 200
