import dataclasses
import warnings

import keras
import numpy as np
import pytest

from imgclf.errors import PipelineError
from imgclf.fitting.augmentation import augmentation
from imgclf.fitting.learning_check import stuck_at_chance
from imgclf.fitting.optimization import learning_rate
from imgclf.fitting.train import train
from imgclf.modeling.input_pipeline import training_batches
from imgclf.modeling.model_file import load_model, save_model
from imgclf.modeling.models import build_model
from tests.helpers.data import blobs, quick_mlp, sharded, train_val


@pytest.mark.parametrize("name", ["mlp", "cnn", "convpool", "smallvgg"])
def test_every_architecture_takes_raw_images_and_gives_class_probabilities(params, name):
    model = build_model(dataclasses.replace(params.train, model=name), (32, 32, 3), 5)
    probabilities = model.predict(np.full((2, 32, 32, 3), 255, np.uint8), verbose=0)
    assert probabilities.shape == (2, 5)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert model.layers[1].__class__.__name__ == "Rescaling"


def conv_layers(model: keras.Model) -> int:
    return sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


def test_depth_and_width_follow_params(params):
    one_block = dataclasses.replace(params.train, model="cnn", cnn=dataclasses.replace(params.train.cnn, conv_blocks=1))
    assert conv_layers(build_model(one_block, (32, 32, 3), 10)) == 2
    assert (
        conv_layers(build_model(dataclasses.replace(one_block, model="cnn", cnn=params.train.cnn), (32, 32, 3), 10))
        == 4
    )
    deep = dataclasses.replace(
        params.train,
        model="convpool",
        convpool=dataclasses.replace(
            params.train.convpool, filters=(8, 16, 32), kernel_sizes=(5, 3, 3), padding=("same",) * 3
        ),
    )
    model = build_model(deep, (32, 32, 1), 10)
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [8, 16, 32]
    two_hidden = dataclasses.replace(params.train, mlp=dataclasses.replace(params.train.mlp, hidden_units=(800, 500)))
    assert [
        layer.units
        for layer in build_model(two_hidden, (28, 28, 1), 10).layers
        if isinstance(layer, keras.layers.Dense)
    ] == [800, 500, 10]


def test_convpool_builds_the_width_depth_study_network(params):
    """Conv(16, 32, 64 same; 128 valid), no activation, each pooled 2x2; dense 512-256-128-64 relu; softmax."""
    study = dataclasses.replace(
        params.train,
        model="convpool",
        convpool=dataclasses.replace(
            params.train.convpool,
            filters=(16, 32, 64, 128),
            kernel_sizes=(3, 3, 3, 3),
            padding=("same", "same", "same", "valid"),
            activation="linear",
            dense_units=(512, 256, 128, 64),
        ),
    )
    model = build_model(study, (32, 32, 3), 10)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.output.shape[1] for c in convs] == [32, 16, 8, 2]  # the fourth is unpadded: 4 -> 2
    assert {c.activation.__name__ for c in convs} == {"linear"}
    flatten = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert flatten.output.shape[1] == 128
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [(d.units, d.activation.__name__) for d in dense] == [
        (512, "relu"),
        (256, "relu"),
        (128, "relu"),
        (64, "relu"),
        (10, "softmax"),
    ]


def test_learning_rate_schedules(params):
    inverse = learning_rate(dataclasses.replace(params.train, schedule="inverse_time", lr=0.1, decay=0.01), 10)
    assert float(inverse(10)) == pytest.approx(0.1 / (1 + 0.01 * 10))
    step = learning_rate(dataclasses.replace(params.train, schedule="step", lr=0.1, step_epochs=2, step_factor=0.5), 10)
    assert float(step(19)) == pytest.approx(0.1) and float(step(20)) == pytest.approx(0.05)
    cosine = learning_rate(dataclasses.replace(params.train, schedule="cosine", lr=0.1, epochs=5), 10)
    assert float(cosine(0)) == pytest.approx(0.1) and float(cosine(50)) == pytest.approx(0.0, abs=1e-6)
    assert learning_rate(params.train, 10) == params.train.lr


def test_augmentation_changes_training_batches_only(tmp_path, params):
    on = dataclasses.replace(params.train, augment=dataclasses.replace(params.train.augment, enabled=True))
    data = sharded(tmp_path / "set", blobs(n_per_class=4, side=16))
    ((plain_x, plain_y),) = training_batches(data, 12, 0, range(1), 12).take(1)
    ((aug_x, aug_y),) = training_batches(data, 12, 0, range(1), 12, augment=augmentation(on)).take(1)
    assert aug_x.dtype == plain_x.dtype == "uint8" and aug_x.shape == plain_x.shape
    assert np.array_equal(aug_y, plain_y) and not np.array_equal(aug_x, plain_x)
    assert augmentation(params.train) is None


def image_index(images: np.ndarray) -> dict[bytes, tuple[int, bool]]:
    """Each image's bytes, and its mirror's, to its index and whether mirrored."""
    which = {image.tobytes(): (i, False) for i, image in enumerate(images)}
    return which | {image[:, ::-1].tobytes(): (i, True) for i, image in enumerate(images)}


def assert_flips_alternate(images: np.ndarray, shown_by_epoch: list) -> None:
    """airbench's flip: each of the 60 images once an epoch, mirrored in epochs 1 and 3 or in epoch 2 only, half
    each way."""
    which, mirrored_by_epoch = image_index(images), []
    for shown in shown_by_epoch:
        seen = [which[image.tobytes()] for image in shown]
        assert sorted(i for i, _ in seen) == list(range(60))
        mirrored_by_epoch.append({i for i, mirrored in seen if mirrored})
    first, second, third = mirrored_by_epoch
    assert 20 <= len(first) <= 40 and second == set(range(60)) - first and third == first


def test_alternating_flips_mirror_each_image_in_every_other_epoch(tmp_path, params):
    """The input pipeline's (batches of 60: one an epoch); and augmentation() then leaves out RandomFlip."""
    data = sharded(tmp_path / "set", blobs(n_per_class=20, side=8))
    batches = training_batches(data, 60, 0, range(3), 60, alternate_flips=True)
    assert_flips_alternate(data.load_all().images, [x.numpy() for x, _ in batches])
    alternate = dataclasses.replace(params.train.augment, enabled=True, horizontal_flip=True, alternate_flip=True)
    steps = augmentation(dataclasses.replace(params.train, augment=alternate)).layers
    assert not any(isinstance(step, keras.layers.RandomFlip) for step in steps)


def test_early_stopping_records_best_and_stopped_epoch(tmp_path, params):
    stopping = dataclasses.replace(params.train.early_stopping, enabled=True, monitor="val_accuracy", patience=1)
    quick = quick_mlp(params.train, lr=0.05, epochs=30, early_stopping=stopping)
    _, metrics = train(quick, *train_val(tmp_path), tmp_path / "live", tmp_path / "backup")
    assert metrics["epochs_run"] < 30 and metrics["stopped_epoch"] == metrics["epochs_run"]
    assert metrics["best_epoch"] == metrics["epochs_run"] - 1


def test_nan_loss_stops_with_a_clear_error(tmp_path, params):
    exploding = dataclasses.replace(params.train, lr=1e12, epochs=3, batch_size=8)
    with pytest.raises(PipelineError, match=r"loss became NaN or infinite in epoch 1; lower train.lr \(now 1e\+12\)"):
        train(exploding, *train_val(tmp_path), tmp_path / "live", tmp_path / "backup")


def test_too_small_images_for_the_architecture_is_a_clear_error(tmp_path, params):
    with pytest.raises(PipelineError, match=r"train.model = smallvgg cannot take images of shape \(8, 8, 1\)"):
        train(
            dataclasses.replace(params.train, model="smallvgg", epochs=1),
            *train_val(tmp_path, blobs(), blobs(seed=3)),
            tmp_path,
            tmp_path / "backup",
        )


@pytest.mark.parametrize("setting, compute_dtype", [("on", "float16"), ("bfloat16", "bfloat16")])
def test_mixed_precision_keeps_a_float32_softmax_and_is_reset_by_the_next_run(tmp_path, params, setting, compute_dtype):
    """bfloat16: the CPUs with AMX or AVX512_BF16 that oneDNN uses train the recipes' network faster in it."""
    mixed = quick_mlp(params.train, mixed_precision=setting, epochs=1)
    try:
        model, metrics = train(mixed, *train_val(tmp_path), tmp_path / "a", tmp_path / "a-backup")
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        assert dense[0].compute_dtype == compute_dtype and dense[-1].compute_dtype == "float32"
        assert np.isfinite(metrics["train_loss"])
        save_model(model, ("a", "b", "c"), tmp_path / "m")
        keras.mixed_precision.set_global_policy("float32")  # as evaluate and predict, in a fresh process
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loaded, _ = load_model(tmp_path / "m")
        images = blobs(n_per_class=2, seed=3).images
        np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
        model, _ = train(
            dataclasses.replace(mixed, mixed_precision="auto"),
            *train_val(tmp_path / "b", val=blobs(seed=2)),
            tmp_path / "b",
            tmp_path / "b-backup",
        )
        assert all(layer.compute_dtype == "float32" for layer in model.layers if isinstance(layer, keras.layers.Dense))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_smallvgg_generalises_after_a_short_run_on_little_data(tmp_path, params, capsys):
    """Batch norm's averages at Keras' momentum 0.99 lagged the weights: after 80 steps on 300 images, training
    accuracy 1.0 and validation 0.333 (chance) in every epoch, with no warning."""
    train_params = dataclasses.replace(
        params.train, model="smallvgg", optimizer="adam", lr=0.001, batch_size=32, epochs=8
    )
    data = train_val(tmp_path, blobs(n_per_class=100, side=32, seed=1), blobs(n_per_class=30, side=32, seed=2))
    _, metrics = train(train_params, *data, tmp_path / "live", tmp_path / "backup")
    assert metrics["val_accuracy"] > 0.9
    assert "warning" not in capsys.readouterr().out


def test_a_run_stuck_at_chance_while_training_accuracy_rises_is_named():
    labels = np.repeat([0, 1, 2], [10, 10, 20])  # chance: the largest class's share, 0.5
    warning = stuck_at_chance([0.5, 0.5, 0.49, 0.5], [0.6, 0.8, 0.9, 0.95], labels)
    assert warning.startswith("warning: val_accuracy stayed at chance (0.500, the largest class's share) in all 4")
    assert stuck_at_chance([0.5, 0.5, 0.6, 0.7], [0.6, 0.8, 0.9, 0.95], labels) is None, "validation rose"
    assert stuck_at_chance([0.5, 0.5, 0.5], [0.5, 0.52, 0.55], labels) is None, "training did not rise either"
    assert stuck_at_chance([0.5, 0.5], [0.9, 0.95], labels) is None, "too short to say"
