"""train.model pretrained: an ImageNet backbone's weights fetched and verified offline (a weights file the test
writes, served from file://), scaled and resized inside the model, trained frozen then fine-tuned, resumable."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.applications import efficientnet, mobilenet_v3, resnet

from imgclf.config.params import load_params
from imgclf.data.backbones import BACKBONES, Backbone
from imgclf.data.download import RemoteFile, md5_of
from imgclf.data.fetch import fetch_backbone_weights
from imgclf.errors import PipelineError
from imgclf.fitting import train as train_module
from imgclf.fitting.train import backbone_weights, train
from imgclf.modeling.model_file import load_model, save_model
from imgclf.modeling.models import BACKBONE_LAYER, build_model
from tests.helpers import REPO
from tests.helpers.data import blobs, sharded

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out


def pretrained_params(params, **changes):
    """Small and quick: no dropout (so runs compare bit for bit), 1 frozen and 1 fine-tuning epoch."""
    pretrained = dataclasses.replace(params.train.pretrained, dropout=0.0, fine_tune_epochs=1, fine_tune_lr=0.01)
    pretrained = dataclasses.replace(pretrained, **{k: v for k, v in changes.items() if hasattr(pretrained, k)})
    train_changes = {k: v for k, v in changes.items() if not hasattr(pretrained, k)}
    train_params = dataclasses.replace(
        params.train, model="pretrained", pretrained=pretrained, optimizer="adam", lr=0.01, batch_size=8, epochs=1
    )
    return dataclasses.replace(train_params, **train_changes)


def colour_blobs(n_per_class: int, seed: int):
    gray = blobs(n_per_class=n_per_class, num_classes=2, side=16, seed=seed)
    return dataclasses.replace(gray, images=np.repeat(gray.images, 3, axis=-1))


def backbone_of(model: keras.Model) -> list[np.ndarray]:
    return model.get_layer(BACKBONE_LAYER).get_weights()


def test_the_catalog_names_the_files_and_hashes_keras_applications_publishes():
    published = {
        "MobileNetV3Small": (
            mobilenet_v3.BASE_WEIGHT_PATH + "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            mobilenet_v3.WEIGHTS_HASHES["small_224_1.0_float"][1],
        ),
        "EfficientNetB0": (
            efficientnet.BASE_WEIGHTS_PATH + "efficientnetb0_notop.h5",
            efficientnet.WEIGHTS_HASHES["b0"][1],
        ),
        "ResNet50": (
            resnet.BASE_WEIGHTS_PATH + "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
            resnet.WEIGHTS_HASHES["resnet50"][1],
        ),
    }
    assert set(BACKBONES) == set(published)
    for name, (url, md5) in published.items():
        assert "https://storage.googleapis.com/" + BACKBONES[name].weights.name == url
        assert BACKBONES[name].weights.md5 == md5


def test_resnet50_is_fed_as_keras_preprocess_input_feeds_it(params):
    model = build_model(pretrained_params(params, backbone="ResNet50"), (224, 224, 3), 3)
    scaling = keras.Model(model.input, model.get_layer("rgb_to_bgr_minus_imagenet_mean").output)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 224, 224, 3), dtype=np.uint8)
    expected = keras.applications.resnet50.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(scaling.predict(images, verbose=0), expected, atol=1e-4)


def test_a_randomly_initialised_backbone_settles_its_batch_norm_statistics_quickly(params, weights_file):
    """MobileNetV3's batch norm averages its statistics with momentum 0.999, for ImageNet's 10,000 steps an epoch.
    Trained from scratch on 3,200 CIFAR-10 images (100 steps an epoch), its validation accuracy stayed at chance
    while training accuracy reached 75%: inference used statistics that lagged the weights."""
    scratch = build_model(pretrained_params(params, weights="none"), (16, 16, 3), 2)
    momenta = {layer.momentum for layer in scratch.get_layer(BACKBONE_LAYER).layers if hasattr(layer, "momentum")}
    assert momenta == {0.9}
    imagenet = build_model(pretrained_params(params), (16, 16, 3), 2, weights_file)
    momenta = {layer.momentum for layer in imagenet.get_layer(BACKBONE_LAYER).layers if hasattr(layer, "momentum")}
    assert momenta == {0.999}, "ImageNet weights keep the backbone as published"


def write_weights_file(path: Path, constructor: str) -> list[np.ndarray]:
    """A weights file of the backbone's architecture in Keras' h5 format, as the published files are, with
    batch-norm statistics taken from a batch of images, as a trained network has (at their initial values, a random
    network's features in inference mode are all about 0). Returns the weights it holds."""
    base = getattr(keras.applications, constructor)(include_top=False, weights=None, input_shape=(224, 224, 3))
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0  # the moving statistics become this batch's
    base(np.random.default_rng(0).uniform(0, 255, size=(8, 224, 224, 3)).astype("float32"), training=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    base.save(path)
    return base.get_weights()


@pytest.fixture(scope="module")
def mobilenet_mirror(tmp_path_factory) -> tuple[Path, Backbone, list[np.ndarray]]:
    """A mirror folder holding a MobileNetV3Small weights file written here, at the path the published file has
    below its mirror; the catalog entry with that file's md5; the weights it holds."""
    mirror = tmp_path_factory.mktemp("mirror")
    backbone = BACKBONES["MobileNetV3Small"]
    weights = write_weights_file(mirror / backbone.weights.name, backbone.constructor)
    served = dataclasses.replace(
        backbone, weights=RemoteFile(backbone.weights.name, md5_of(mirror / backbone.weights.name))
    )
    return mirror, served, weights


def test_weights_are_fetched_verified_loaded_and_the_model_predicts_after_a_reload(
    tmp_path: Path, params, mobilenet_mirror
):
    mirror, backbone, published = mobilenet_mirror
    train_params = pretrained_params(params, mirrors=(mirror.as_uri(),))
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    (weights_dir / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"an earlier backbone's")
    fetched = fetch_backbone_weights(train_params, params.data, weights_dir, backbone)
    assert {p.name for p in weights_dir.iterdir()} == {fetched.name, "weights.json"}, "only what train loads"
    assert json.loads((weights_dir / "weights.json").read_text())["file"] == fetched.name
    assert fetched.name == "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
    assert backbone_weights(train_params, weights_dir) == fetched

    model = build_model(train_params, (16, 16, 3), 2, fetched)
    for got, want in zip(backbone_of(model), published, strict=True):
        np.testing.assert_array_equal(got, want)

    save_model(model, ("a", "b"), tmp_path / "model")
    reloaded, _ = load_model(tmp_path / "model")  # Keras safe mode: the resizing and scaling are plain layers
    images = colour_blobs(2, seed=0).images
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_a_weights_file_that_is_not_the_published_one_is_refused(tmp_path: Path, params, mobilenet_mirror):
    mirror, _, _ = mobilenet_mirror
    train_params = pretrained_params(params, mirrors=(mirror.as_uri(),))
    with pytest.raises(PipelineError) as error:
        fetch_backbone_weights(train_params, dataclasses.replace(params.data, retries=0), tmp_path / "weights")
    message = str(error.value)
    assert "does not match the published d3e8ec802a04aa4fc771ee12a9a9b836" in message
    assert "train.pretrained.mirrors" in message and "\n" not in message
    assert list((tmp_path / "weights").iterdir()) == []


def test_without_imagenet_weights_nothing_is_fetched_and_train_needs_none(tmp_path: Path, params):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "stale.h5").write_bytes(b"x")
    for train_params in (params.train, pretrained_params(params, weights="none")):
        assert fetch_backbone_weights(train_params, params.data, tmp_path / "weights") is None
        assert backbone_weights(train_params, tmp_path / "weights") is None
    assert [p.name for p in (tmp_path / "weights").iterdir()] == ["weights.json"]
    with pytest.raises(PipelineError, match="not found; fetch downloads it: run `dvc repro fetch`"):
        backbone_weights(pretrained_params(params), tmp_path / "weights")


def test_a_weights_file_damaged_after_fetch_stops_train_with_one_line(tmp_path: Path, params, mobilenet_mirror):
    """fetch verified it; a copy cut short since (a full disk, an interrupted `dvc checkout`) must not reach Keras,
    which says "cannot take images of shape" of it, or gives h5py's traceback."""
    mirror, backbone, _ = mobilenet_mirror
    train_params = pretrained_params(params, mirrors=(mirror.as_uri(),))
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    fetched = fetch_backbone_weights(train_params, params.data, weights_dir, backbone)
    fetched.write_bytes(fetched.read_bytes()[:1000])
    with pytest.raises(PipelineError) as error:
        backbone_weights(train_params, weights_dir)
    assert str(error.value).startswith(f"{fetched}: not the file fetch verified (md5 ")
    assert str(error.value).endswith("); fetch it again: run `dvc repro -f fetch`")


@pytest.fixture(scope="module")
def small_photos(tmp_path_factory):
    where = tmp_path_factory.mktemp("photos")
    return sharded(where / "train", colour_blobs(8, seed=1)), sharded(where / "val", colour_blobs(4, seed=2))


@pytest.fixture(scope="module")
def weights_file(mobilenet_mirror) -> Path:
    mirror, backbone, _ = mobilenet_mirror
    return mirror / backbone.weights.name


@pytest.fixture(scope="module")
def two_and_two(tmp_path_factory, small_photos, weights_file):
    """An uninterrupted run of 2 frozen epochs then 2 fine-tuning: its params, model, metrics and log folder."""
    params = pretrained_params(load_params(REPO / "params.yaml"), epochs=2, fine_tune_epochs=2, backup_every_s=0.0)
    where = tmp_path_factory.mktemp("two-and-two")
    model, metrics = train(params, *small_photos, where / "live", where / "backup", weights_file)
    return params, model, metrics, where / "live"


def test_the_backbone_stays_frozen_then_is_fine_tuned(tmp_path: Path, params, small_photos, weights_file, two_and_two):
    train_data, val_data = small_photos
    initial = backbone_of(build_model(pretrained_params(params), (16, 16, 3), 2, weights_file))
    frozen, metrics = train(
        pretrained_params(params, fine_tune_epochs=0),
        train_data,
        val_data,
        tmp_path / "a",
        tmp_path / "ba",
        weights_file,
    )
    assert metrics["epochs_run"] == 1
    for got, want in zip(backbone_of(frozen), initial, strict=True):
        np.testing.assert_array_equal(got, want)
    _, tuned, metrics, live = two_and_two
    assert metrics["epochs_run"] == 4 and metrics["stopped_epoch"] == 0
    tuned_weights = {w.path: w.numpy() for w in tuned.get_layer(BACKBONE_LAYER).weights}
    kernels = [path for path in tuned_weights if path.endswith("kernel")]
    initial_weights = dict(zip((w.path for w in tuned.get_layer(BACKBONE_LAYER).weights), initial, strict=True))
    assert any(not np.array_equal(tuned_weights[p], initial_weights[p]) for p in kernels), "fine-tuning moved them"
    moving = [p for p in tuned_weights if "moving_" in p]
    assert moving and all(np.array_equal(tuned_weights[p], initial_weights[p]) for p in moving), (
        "batch-norm statistics stay ImageNet's"
    )
    rows = (live / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in rows] == ["step", "0", "1", "2", "3"], "one log over both phases"


@pytest.mark.parametrize("interrupted_after", [1, 2, 3, 4])
def test_a_run_interrupted_in_either_phase_resumes_to_the_same_model(
    tmp_path: Path, small_photos, weights_file, two_and_two, monkeypatch, interrupted_after
):
    """Killed after epoch 1 (frozen), 2 (between the phases), 3 (fine-tuning) or 4 (its last epoch backed up, the
    backups not yet removed), then run again: it trains only the epochs that are left."""
    params, whole, whole_metrics, whole_live = two_and_two
    trained_again = []

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == interrupted_after:
                raise KeyboardInterrupt

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trained_again.append(epoch + 1)

    plain_callbacks = train_module.training_callbacks
    with monkeypatch.context() as m:
        m.setattr(train_module, "training_callbacks", lambda *a, **k: [*plain_callbacks(*a, **k), Kill()])
        with pytest.raises(KeyboardInterrupt):
            train(params, *small_photos, tmp_path / "live", tmp_path / "backup", weights_file)
    with monkeypatch.context() as m:
        m.setattr(train_module, "training_callbacks", lambda *a, **k: [*plain_callbacks(*a, **k), Count()])
        resumed, metrics = train(params, *small_photos, tmp_path / "live", tmp_path / "backup", weights_file)
    assert trained_again == list(range(interrupted_after + 1, 5))
    assert metrics["epochs_run"] == 4
    assert metrics["val_loss"] == whole_metrics["val_loss"]
    for got, want in zip(resumed.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    rows = (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()
    assert rows == (whole_live / "plots" / "metrics" / "train" / "loss.tsv").read_text().splitlines()


def test_the_exported_model_runs_batch_norm_in_inference_mode(tmp_path: Path, params):
    """A SavedModel's serve() and the ONNX export call the model without `training`; the resize to the backbone's
    size (a Keras preprocessing layer, training=True by default) made every layer after it use the batch's own
    statistics there: the export stage found 32.5% agreement with Keras."""
    import tensorflow as tf

    model = build_model(pretrained_params(params, weights="none"), (32, 32, 3), 3)
    for layer in model.get_layer(BACKBONE_LAYER).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 3.0, "float32"))  # not the batch's
    images = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    inference = model(images, training=False).numpy()
    np.testing.assert_allclose(model(images).numpy(), inference, atol=1e-6)
    model.export(str(tmp_path / "saved_model"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved_model"))
    np.testing.assert_allclose(served.serve(tf.constant(images)).numpy(), inference, atol=1e-5)
    assert not np.allclose(model(images, training=True).numpy(), inference), "fit still trains batch norm"
