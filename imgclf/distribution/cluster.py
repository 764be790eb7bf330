"""Training across a cluster of workers (MultiWorkerMirroredStrategy).

Keras 3's `model.fit` fails under that strategy (keras-team/keras#20585: it reduces per-replica batches and
scalar metrics along an axis they lack), so a cluster trains in the custom loop TensorFlow's multi-worker
tutorial uses: `strategy.run` of a step per batch, gradients summed across workers by the Keras optimizer, and the
same Keras callbacks `fit` would call at each epoch's start and end.
"""

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from imgclf.errors import PipelineError


def gather(strategy: tf.distribute.Strategy, values: list[int]) -> np.ndarray:
    """Every replica's `values`, one row each, on every worker (a collective: each worker must call it)."""
    mine = tf.constant([values], tf.int64)

    @tf.function
    def gather_all() -> tf.Tensor:
        return strategy.gather(strategy.run(tf.identity, args=(mine,)), axis=0)

    return gather_all().numpy()


def finish_together(strategy: tf.distribute.Strategy) -> None:
    """Waits until every worker gets here: a worker that exits while another still works (the chief saving the
    model) makes TensorFlow report the cluster's tasks as crashed."""
    gather(strategy, [0])


def check_workers_agree(strategy: tf.distribute.Strategy, fingerprint: str, first_epoch: int) -> None:
    """Every worker must train with the same params, data and code and resume from the same epoch: otherwise their
    replicas would silently drift apart, or the cluster would hang waiting for a step one worker never takes."""
    everyone = gather(strategy, [int(fingerprint[:15], 16), first_epoch])
    if (everyone != everyone[0]).any():
        epochs = ", ".join(str(int(e)) for e in everyone[:, 1])
        raise PipelineError(
            "the workers of the TF_CONFIG cluster disagree on params, data, code or the epoch to resume from "
            f"(completed epochs, replica by replica: {epochs}); give every worker the same commit, params.yaml "
            "and data/split (git pull, dvc pull), and delete models/.resume on every worker to start over"
        )


def fit_on_cluster(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    train_batches_for: Callable[[tf.distribute.InputContext], tf.data.Dataset],
    val_batches: tf.data.Dataset,
    epochs: range,
    steps_per_epoch: int,
    callbacks: list[keras.callbacks.Callback],
) -> dict[str, list[float]]:
    """Trains `model` (compiled in `strategy.scope()`) for `epochs` of `steps_per_epoch` global batches, validating
    on `val_batches` after each; returns the history as `model.fit(...).history` would: loss, accuracy, val_loss
    and val_accuracy per epoch run. `train_batches_for` gives a worker its own batches of all those epochs in a row
    (per replica: tf.distribute's `distribute_datasets_from_function`)."""
    with strategy.scope():
        loss_mean = keras.metrics.Mean(name="loss")
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        model.optimizer.build(model.trainable_variables)

    def measure(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
        per_image = keras.losses.sparse_categorical_crossentropy(labels, tf.cast(probabilities, "float32"))
        loss_mean.update_state(per_image)
        accuracy.update_state(labels, probabilities)
        return tf.nn.compute_average_loss(per_image)  # this replica's share of the global batch's mean loss

    def train_step(images: tf.Tensor, labels: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = measure(labels, model(images, training=True))
            scaled = model.optimizer.scale_loss(loss)  # mixed precision's loss scaling; unscaled by apply
        model.optimizer.apply(tape.gradient(scaled, model.trainable_variables), model.trainable_variables)

    def val_step(images: tf.Tensor, labels: tf.Tensor) -> None:
        measure(labels, model(images, training=False))

    @tf.function
    def train_on(iterator: tf.distribute.DistributedIterator) -> None:
        strategy.run(train_step, args=next(iterator))

    @tf.function
    def validate_on(batch: tuple) -> None:
        strategy.run(val_step, args=batch)

    def results(prefix: str = "") -> dict[str, float]:
        """Read in cross-replica context: the metrics summed over every worker's replicas."""
        figures = {prefix + m.name: float(m.result()) for m in (loss_mean, accuracy)}
        for m in (loss_mean, accuracy):
            m.reset_state()
        return figures

    train_iterator = iter(strategy.distribute_datasets_from_function(train_batches_for))
    val_dataset = strategy.experimental_distribute_dataset(val_batches)
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_progbar=False, model=model, epochs=epochs.stop, steps=steps_per_epoch
    )
    history: dict[str, list[float]] = {}
    model.stop_training = False
    logs: dict[str, float] = {}
    callback_list.on_train_begin()
    for epoch in epochs:
        callback_list.on_epoch_begin(epoch)
        for _ in range(steps_per_epoch):
            train_on(train_iterator)
        logs = results()
        for batch in val_dataset:
            validate_on(batch)
        logs |= results("val_")
        callback_list.on_epoch_end(epoch, logs)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history
