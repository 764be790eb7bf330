"""The export stage's formats, checked against Keras, and predict running from them."""

import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from imgclf.cli import exit_on_error
from imgclf.config.params import TrainParams, load_params
from imgclf.errors import PipelineError
from imgclf.fitting.train import train
from imgclf.modeling.model_file import save_model
from imgclf.serving.export import FILES, export, spread
from imgclf.serving.predict import load_classifier, predict
from tests.helpers import REPO
from tests.helpers.data import blobs, quick_mlp, sharded, train_val

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out


@pytest.fixture(scope="module")
def exported(tmp_path_factory, request) -> tuple[Path, dict]:
    params = load_params(REPO / "params.yaml")
    folder = tmp_path_factory.mktemp("export")
    train_data, val = train_val(folder)
    model, _ = train(quick_mlp(params.train, epochs=10), train_data, val, folder / "live", folder / "backup")
    save_model(model, train_data.class_names, folder / "models")
    test = sharded(folder / "test", blobs(n_per_class=20, seed=7), per_shard=25)
    small = dataclasses.replace(params.export, calibration_images=50, latency_images=5, batch_size=16)
    report = export(model, train_data.class_names, train_data, test, folder / "exported", small)
    return folder, report


def test_every_format_is_written_and_agrees_with_keras(exported):
    folder, report = exported
    assert sorted(p.name for p in (folder / "exported").iterdir()) == sorted([*FILES.values(), "class_names.json"])
    assert not (folder / "exported" / "saved_model").exists(), "checked, not kept: its bytes differ on every export"
    for name in ("saved_model", *FILES):
        figures = report[name]
        assert figures.get("size_bytes", 1) > 0 and figures["latency_ms"] > 0
        if name != "tflite_int8":
            assert figures["top1_agreement"] >= 0.995, name
    assert report["keras"]["test_accuracy"] > 0.9
    int8 = report["tflite_int8"]
    assert int8["accuracy_delta"] == pytest.approx(int8["test_accuracy"] - report["keras"]["test_accuracy"])
    assert int8["size_bytes"] < report["tflite_float16"]["size_bytes"]


def test_predict_runs_from_the_tflite_and_onnx_files_with_the_same_labels(exported, tmp_path: Path):
    folder, _ = exported
    images = blobs(n_per_class=3, seed=9)
    files = []
    for i, image in enumerate(images.images):
        files.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(files[-1]), image[:, :, 0])
    keras_labels = [p[0][0] for p in predict(*load_classifier(folder / "models"), files, 1, "stretch")]
    assert keras_labels == [images.class_names[c] for c in images.labels]
    for name in ("model_float16.tflite", "model_int8.tflite", "model.onnx"):
        model, class_names = load_classifier(folder / "exported" / name)
        assert class_names == images.class_names
        labels = [p[0][0] for p in predict(model, class_names, files, 1, "stretch")]
        assert labels == keras_labels, name
    with np.testing.assert_raises(Exception):
        load_classifier(folder / "exported" / "missing.onnx")


def test_an_export_onto_a_full_disk_is_one_line_naming_its_output_and_leaves_nothing(
    exported, tmp_path: Path, small_disk: Path
):
    from imgclf.modeling.model_file import load_model

    folder, _ = exported
    model, class_names = load_model(folder / "models")
    train_data, _ = train_val(tmp_path)
    test = sharded(tmp_path / "test", blobs(n_per_class=5, seed=7))
    small = dataclasses.replace(load_params(REPO / "params.yaml").export, calibration_images=10, latency_images=2)
    subprocess.run(["fallocate", "-l", str(12 * 1024), str(small_disk / "more")], check=True)  # 4 KB left
    with pytest.raises(SystemExit) as stopped:
        exit_on_error(lambda: export(model, class_names, train_data, test, small_disk / "exported", small))
    assert stopped.value.code == (
        f"error: the disk is full (writing {small_disk / 'exported'}); nothing half-written is kept: free some "
        "space (df -h shows where), then run the stage again"
    ), "not 'cannot be converted': the model is fine, the disk is full"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "more"], "no partial export, no temporary"


def test_int8_calibration_and_latency_images_are_spread_over_every_class():
    """mnist_5k lists digit after digit: its first 500 training images hold two classes, too few to calibrate."""
    labels = np.repeat(np.arange(10), 320)  # 3,200 training digits in class order
    assert set(labels[spread(len(labels), 500)]) == set(range(10))
    assert len(spread(len(labels), 500)) == 500 and spread(3, 500) == [0, 1, 2]


def test_saved_model_command_writes_one_for_serving_and_never_overwrites(exported, tmp_path: Path):
    folder, _ = exported
    command = [sys.executable, "-m", "imgclf.serving.saved_model", str(folder / "models"), str(tmp_path / "sm")]
    subprocess.run(command, check=True, capture_output=True)
    served = tf.saved_model.load(str(tmp_path / "sm"))
    images = blobs(n_per_class=3, seed=9).images
    model, _ = load_classifier(folder / "models")
    assert (np.asarray(served.serve(images)).argmax(1) == model.predict(images, verbose=0).argmax(1)).all()
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1
    assert again.stderr.strip().endswith("already exists; name a new folder (nothing is overwritten)")


def test_a_mixed_precision_model_exports_in_float32(tmp_path: Path):
    """TFLite has no bfloat16 kernels: a model trained with train.mixed_precision bfloat16 stopped export with the
    converter's traceback. Every format is now written from a float32 copy with the same weights."""
    params = load_params(REPO / "params.yaml")
    train_data, val = train_val(tmp_path)
    mixed = quick_mlp(params.train, epochs=10, mixed_precision="bfloat16")
    try:
        model, _ = train(mixed, train_data, val, tmp_path / "live", tmp_path / "backup")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    test = sharded(tmp_path / "test", blobs(n_per_class=20, seed=7), per_shard=25)
    small = dataclasses.replace(params.export, calibration_images=50, latency_images=5, batch_size=16)
    report = export(model, train_data.class_names, train_data, test, tmp_path / "exported", small)
    assert all(report[name]["top1_agreement"] >= 0.995 for name in ("saved_model", "tflite_float16", "onnx"))
    assert report["keras"]["test_accuracy"] > 0.9


def architecture_params(train_params, model: str):
    """`train.model` `model` at a size that trains on 16 x 16 blobs in seconds."""
    tiny = {
        "cnn": {"cnn": dataclasses.replace(train_params.cnn, conv_blocks=1, dense_units=16)},
        "convpool": {"convpool": dataclasses.replace(train_params.convpool, filters=(8, 8), dense_units=(16,))},
        "airbench": {"airbench": dataclasses.replace(train_params.airbench, widths=(8, 8), whiten=True, dirac=True)},
        "pretrained": {"pretrained": dataclasses.replace(train_params.pretrained, weights="none", fine_tune_epochs=0)},
    }
    return quick_mlp(train_params, model=model, epochs=4, batch_size=8, **tiny.get(model, {}))


@pytest.mark.parametrize("model", typing.get_args(TrainParams.__annotations__["model"]))
def test_every_architecture_exports_to_every_format_with_parity(model: str, tmp_path: Path):
    """recipe_mnist's airbench trained to 99.65% and then failed in export: tf2onnx has no Erfc, which Keras' exact
    GELU computes with, and onnxruntime refused the graph. Every `train.model` now exports, each format checked."""
    params = load_params(REPO / "params.yaml")
    train_data, val = train_val(tmp_path, blobs(seed=1, side=16), blobs(n_per_class=10, seed=2, side=16))
    trained, _ = train(architecture_params(params.train, model), train_data, val, tmp_path / "live", tmp_path / "bk")
    test = sharded(tmp_path / "test", blobs(n_per_class=20, seed=7, side=16), per_shard=25)
    small = dataclasses.replace(params.export, calibration_images=50, latency_images=2, batch_size=16)
    report = export(trained, train_data.class_names, train_data, test, tmp_path / "exported", small)
    for name in ("saved_model", "tflite_float16", "onnx"):
        assert report[name]["top1_agreement"] >= 0.995, (model, name)
    assert report["tflite_int8"]["size_bytes"] > 0


def test_a_format_that_cannot_be_converted_is_refused_in_one_line_that_names_it(tmp_path: Path, monkeypatch):
    """The converter as it was before Erfc had a handler: the stage stops with one line naming the format and the
    model, and no hint to re-run."""
    from tf2onnx.handler import tf_op

    params = load_params(REPO / "params.yaml")
    train_data, val = train_val(tmp_path, blobs(seed=1, side=16), blobs(n_per_class=10, seed=2, side=16))
    airbench = dataclasses.replace(architecture_params(params.train, "airbench"), epochs=1)
    model, _ = train(airbench, train_data, val, tmp_path / "live", tmp_path / "bk")
    create_mapping = tf_op.create_mapping
    without_erfc = lambda *args: {k: v for k, v in create_mapping(*args).items() if k != "Erfc"}  # noqa: E731
    monkeypatch.setattr(tf_op, "create_mapping", without_erfc)
    small = dataclasses.replace(params.export, calibration_images=10, latency_images=2, batch_size=16)
    with pytest.raises(PipelineError) as refused:
        export(model, train_data.class_names, train_data, train_data, tmp_path / "exported", small)
    message = str(refused.value)
    assert "\n" not in message and "airbench model cannot be converted to onnx" in message, message
    assert "Erfc" in message and "re-running will not help" in message and "dvc repro" not in message
    assert not (tmp_path / "exported").exists(), "nothing half-written"
