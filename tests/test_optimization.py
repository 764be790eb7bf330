"""The recipes' fitting techniques: each param does what the references do with it."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from imgclf.fitting.augmentation import augmentation
from imgclf.fitting.callbacks import training_callbacks
from imgclf.fitting.lookahead import Lookahead
from imgclf.fitting.optimization import build_loss, build_optimizer, learning_rate
from imgclf.fitting.train import train
from imgclf.modeling.models import build_model
from imgclf.modeling.whitening import patch_whitening
from tests.helpers.data import blobs, quick_mlp, train_val


def test_warm_up_then_linear_or_cosine_decay_stepped_per_batch(params):
    linear = learning_rate(dataclasses.replace(params.train, schedule="linear", lr=0.4, epochs=10, warmup_epochs=2), 10)
    assert [float(linear(step)) for step in (0, 10, 20, 60, 100)] == pytest.approx([0, 0.2, 0.4, 0.2, 0])
    cosine = learning_rate(dataclasses.replace(params.train, schedule="cosine", lr=0.4, epochs=10, warmup_epochs=2), 10)
    assert [float(cosine(step)) for step in (0, 10, 20, 60, 100)] == pytest.approx([0, 0.2, 0.4, 0.2, 0], abs=1e-6)


def test_label_smoothing_spreads_part_of_each_label_over_all_classes(params):
    smoothed = build_loss(dataclasses.replace(params.train, label_smoothing=0.3), 3)
    probabilities = np.array([[0.7, 0.2, 0.1]], "float32")
    targets = np.array([0.7 + 0.1, 0.1, 0.1])  # 1 - 0.3 on the class, 0.3 / 3 on each
    assert float(smoothed(np.array([0]), probabilities)) == pytest.approx(-(targets * np.log(probabilities)).sum())
    assert build_loss(params.train, 3) == "sparse_categorical_crossentropy"


def one_step(params, **changes) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights of a small MLP before and after one step on blobs, with these train params."""
    train_params = quick_mlp(params.train, optimizer="sgd", lr=0.1, **changes)
    keras.utils.set_random_seed(0)
    model = build_model(train_params, (8, 8, 1), 3)
    before = model.get_weights()
    model.compile(optimizer=build_optimizer(train_params, train_params.lr, model), loss=build_loss(train_params, 3))
    data = blobs(n_per_class=4)
    model.fit(data.images, data.labels, batch_size=12, epochs=1, verbose=0, shuffle=False)
    return before, model.get_weights()


def test_weight_decay_takes_lr_times_its_share_of_every_weight_each_step(params):
    """Decoupled, as Keras applies it: the step's gradient update, and lr * weight_decay of the weight before it."""
    initial, plain = one_step(params)
    _, decayed = one_step(params, weight_decay=0.5)
    for start, without, with_decay in zip(initial, plain, decayed, strict=True):
        assert np.allclose(with_decay, without - 0.1 * 0.5 * start, atol=1e-6)
    assert np.linalg.norm(decayed[0]) < np.linalg.norm(plain[0])


def test_a_model_trained_with_ema_ends_with_the_average_of_its_weights(tmp_path, params):
    """With momentum 0.999 the average barely leaves the initial weights, wherever training goes."""
    keras.utils.set_random_seed(params.train.seed)
    initial = build_model(quick_mlp(params.train), (8, 8, 1), 3).get_weights()
    for ema, close in ((0.0, False), (0.999, True)):
        model, _ = train(
            quick_mlp(params.train, epochs=3, ema=ema),
            *train_val(tmp_path / str(ema)),
            tmp_path / f"live{ema}",
            tmp_path / f"b{ema}",
        )
        moved = max(np.abs(a - b).max() for a, b in zip(model.get_weights(), initial, strict=True))
        assert (moved < 0.02) == close, moved


def test_lookahead_sets_the_weights_to_their_average_every_ema_every_steps(params):
    """Against the same steps taken one at a time without it, averaging and jumping by hand."""
    data = blobs(n_per_class=16)  # 48 images: 4 steps of 12
    keras.utils.set_random_seed(0)
    initial = build_model(quick_mlp(params.train), (8, 8, 1), 3).get_weights()

    def fitted(**changes) -> keras.Model:
        train_params = quick_mlp(params.train, optimizer="sgd", lr=0.1, momentum=0.9, **changes)
        model = build_model(train_params, (8, 8, 1), 3)
        model.set_weights(initial)
        model.compile(optimizer=build_optimizer(train_params, train_params.lr, model), loss=build_loss(train_params, 3))
        return model

    lookahead = fitted(ema=0.5, ema_every=2)
    lookahead.fit(data.images, data.labels, batch_size=12, epochs=1, verbose=0, shuffle=False)
    by_hand, average = fitted(), None
    for step in range(4):
        batch = slice(12 * step, 12 * (step + 1))
        by_hand.train_on_batch(data.images[batch], data.labels[batch])
        weights = by_hand.get_weights()
        average = weights if average is None else [0.5 * a + 0.5 * w for a, w in zip(average, weights, strict=True)]
        if step % 2 == 1:
            by_hand.set_weights(average)
    for got, expected in zip(lookahead.get_weights(), by_hand.get_weights(), strict=True):
        assert np.allclose(got, expected, atol=1e-6)
    averaged_at_the_end_only = fitted(ema=0.5)
    averaged_at_the_end_only.fit(data.images, data.labels, batch_size=12, epochs=1, verbose=0, shuffle=False)
    assert not np.allclose(averaged_at_the_end_only.get_weights()[0], lookahead.get_weights()[0], atol=1e-4)


def test_ramped_lookahead_pulls_the_weights_to_a_slow_copy_more_as_training_goes_on(params):
    """airbench94's form, against the same steps taken one at a time and pulled back by hand: every 2nd step the
    slow copy keeps 0.9 ** 2 * progress ** 3 of itself, and the model ends with it."""
    data = blobs(n_per_class=16)  # 48 images: 4 steps of 12 an epoch, 2 epochs
    train_params = quick_mlp(params.train, optimizer="sgd", lr=0.1, momentum=0.9)
    keras.utils.set_random_seed(0)
    initial = build_model(train_params, (8, 8, 1), 3).get_weights()

    def fresh() -> keras.Model:
        model = build_model(train_params, (8, 8, 1), 3)
        model.set_weights(initial)
        model.compile(optimizer=build_optimizer(train_params, train_params.lr, model), loss=build_loss(train_params, 3))
        return model

    lookahead = fresh()
    lookahead.fit(data.images, data.labels, batch_size=12, epochs=2, verbose=0, shuffle=False,
                  callbacks=[Lookahead(0.9, 2, steps_per_epoch=4, total_epochs=2)])  # fmt: skip
    by_hand, slow = fresh(), initial
    for step in range(1, 9):
        batch = slice(12 * ((step - 1) % 4), 12 * ((step - 1) % 4 + 1))
        by_hand.train_on_batch(data.images[batch], data.labels[batch])
        if step % 2 == 0:
            kept = 0.9**2 * (step / 8) ** 3
            slow = [s + (1 - kept) * (w - s) for s, w in zip(slow, by_hand.get_weights(), strict=True)]
            by_hand.set_weights(slow)
    for got, expected in zip(lookahead.get_weights(), by_hand.get_weights(), strict=True):
        assert np.allclose(got, expected, atol=1e-6)
    plain = fresh()
    plain.fit(data.images, data.labels, batch_size=12, epochs=2, verbose=0, shuffle=False)
    assert not np.allclose(plain.get_weights()[0], lookahead.get_weights()[0], atol=1e-4)
    chosen = training_callbacks(
        dataclasses.replace(train_params, lookahead=0.95, lookahead_every=5), 0, Path("live"), Path("b"), 8, 90, True
    )
    assert [(c.peak, c.every, c.total_steps) for c in chosen if isinstance(c, Lookahead)] == [(0.95, 5, 720)]


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_airbench_takes_mnist_and_cifar_sized_images(params, shape):
    model = build_model(dataclasses.replace(params.train, model="airbench"), shape, 10)
    assert model.predict(np.zeros((2, *shape), np.uint8), verbose=0).shape == (2, 10)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 6


def test_dirac_start_passes_each_input_channel_through_its_first_filters(params):
    """airbench's torch.nn.init.dirac_: a convolution as wide as its input starts as the identity; a wider one passes
    its input through its first filters and keeps its others random."""
    dirac = dataclasses.replace(params.train.airbench, widths=(8, 16), dirac=True)
    keras.utils.set_random_seed(0)
    model = build_model(dataclasses.replace(params.train, model="airbench", airbench=dirac), (16, 16, 1), 3)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.name != "stem"]
    assert [tuple(c.kernel.shape[2:]) for c in convolutions] == [(24, 8), (8, 8), (8, 16), (16, 16)]
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 8)).astype("float32")
    assert np.allclose(keras.ops.convert_to_numpy(convolutions[1](x)), x, atol=1e-6)
    wider = keras.ops.convert_to_numpy(convolutions[2](x))
    assert np.allclose(wider[..., :8], x, atol=1e-6) and not np.allclose(wider[..., 8:], 0, atol=1e-3)
    keras.utils.set_random_seed(0)
    plain = dataclasses.replace(dirac, dirac=False)
    model = build_model(dataclasses.replace(params.train, model="airbench", airbench=plain), (16, 16, 1), 3)
    second = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)][2]
    assert not np.allclose(keras.ops.convert_to_numpy(second(x)), x, atol=0.1)


def test_batch_norm_biases_step_at_batch_norm_bias_lr_times_the_rate_and_decay_as_the_rest(params):
    """One SGD step on a small airbench: the biases move 64 times as far as at 1x, every other weight the same, and
    weight decay still takes lr * weight_decay of the biases."""

    def step(bias_lr: float, weight_decay: float) -> list[tuple[bool, np.ndarray, np.ndarray]]:
        """Each trainable variable in order: whether it is a batch-norm bias, its value before and after."""
        small = dataclasses.replace(params.train.airbench, widths=(4,))
        train_params = dataclasses.replace(
            params.train, model="airbench", airbench=small, optimizer="sgd", lr=0.01, momentum=0.0,
            batch_norm_bias_lr=bias_lr, weight_decay=weight_decay,
        )  # fmt: skip
        keras.utils.set_random_seed(0)
        model = build_model(train_params, (8, 8, 1), 3)
        for layer in model.layers:  # biases away from 0, for the decay to show
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.beta.assign(np.full(layer.beta.shape, 0.5, "float32"))
        before = [v.numpy() for v in model.trainable_variables]
        model.compile(optimizer=build_optimizer(train_params, train_params.lr, model), loss=build_loss(train_params, 3))
        data = blobs(n_per_class=4)
        model.fit(data.images, data.labels, batch_size=12, epochs=1, verbose=0, shuffle=False)
        after = model.trainable_variables
        return [(v.path.endswith("/beta"), b, v.numpy()) for v, b in zip(after, before, strict=True)]

    plain, fast, decayed = step(1.0, 0.0), step(64.0, 0.0), step(64.0, 0.5)
    assert sum(is_bias for is_bias, _, _ in plain) == 2
    for (is_bias, start, end), (_, _, fast_end), (_, _, decayed_end) in zip(plain, fast, decayed, strict=True):
        assert np.abs(fast_end - start).max() > 0
        assert np.allclose(fast_end - start, (end - start) * (64 if is_bias else 1), atol=1e-5)  # float32 of 0.5 + 4e-5
        assert np.allclose(decayed_end, fast_end - 0.01 * 0.5 * start, atol=1e-6)


def test_whitened_stem_gives_every_patch_direction_zero_mean_and_unit_variance():
    """Through Keras' own Conv2D, so the kernel's layout (rows, columns, channels) is checked with the maths."""
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 256, size=(300, 17, 17, 3)).astype(np.float64)
    smooth = (smooth[:, 1:] + smooth[:, :-1])[:, :, 1:] + (smooth[:, 1:] + smooth[:, :-1])[:, :, :-1]  # correlated
    images = (smooth / 4).astype(np.uint8)
    kernel, bias = patch_whitening(images)
    assert kernel.shape == (2, 2, 3, 24) and bias.shape == (24,)
    conv = keras.layers.Conv2D(24, 2)
    conv.build((None, 16, 16, 3))
    conv.set_weights([kernel, bias])
    out = keras.ops.convert_to_numpy(conv(images.astype("float32") / 255)).reshape(-1, 24)
    assert np.abs(out.mean(axis=0)).max() < 1e-3
    assert np.allclose(np.cov(out[:, :12], rowvar=False), np.eye(12), atol=0.01)
    assert np.allclose(out[:, 12:], -out[:, :12], atol=1e-5)  # the same filters, once with each sign


def test_train_whitens_the_airbench_stem_from_the_first_training_images_and_keeps_it(tmp_path, params):
    whitened = dataclasses.replace(
        params.train,
        model="airbench",
        airbench=dataclasses.replace(params.train.airbench, widths=(8,), whiten=True),
        epochs=2,
        batch_size=20,
    )
    train_data, val_data = train_val(tmp_path)
    model, _ = train(whitened, train_data, val_data, tmp_path / "live", tmp_path / "backup")
    stem = model.get_layer("stem")
    assert stem.kernel.shape == (2, 2, 1, 8) and not stem.trainable
    expected = patch_whitening(train_data.load_all().images)
    for got, want in zip(stem.get_weights(), expected, strict=True):
        assert np.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_nearest_interpolation_moves_pixels_by_whole_steps_without_blurring(params, interpolation):
    """Three grey levels in: whole-pixel moves give back only those three; bilinear resampling mixes them."""
    a = dataclasses.replace(
        params.train.augment, enabled=True, rotation=0, shift=0.1, shear=0, zoom=0, horizontal_flip=False,
        interpolation=interpolation,
    )  # fmt: skip
    augment = augmentation(dataclasses.replace(params.train, augment=a))
    images = np.random.default_rng(0).choice([0.0, 100.0, 200.0], size=(8, 16, 16, 3)).astype("float32")
    moved = keras.ops.convert_to_numpy(augment(images, training=True))
    assert not np.array_equal(moved, images)
    assert set(np.unique(moved)) <= {0.0, 100.0, 200.0} if interpolation == "nearest" else len(np.unique(moved)) > 3
