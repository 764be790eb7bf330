"""Where training runs: the tf.distribute strategy, mixed precision and XLA, chosen from params and the machine."""

import json
import os

import keras
import tensorflow as tf

from imgclf.config.params import TrainParams
from imgclf.data.shards import Shards
from imgclf.distribution.cluster_wait import bounded_cluster_wait
from imgclf.errors import PipelineError


def tf_config() -> dict:
    """The TF_CONFIG environment variable's cluster description ({} without one); not JSON: one line saying so."""
    text = os.environ.get("TF_CONFIG", "") or "{}"
    try:
        config = json.loads(text)
    except ValueError as e:
        raise PipelineError(f"TF_CONFIG is not valid JSON ({e}): {text[:60]!r}; fix it, or unset it") from None
    if not isinstance(config, dict):
        raise PipelineError(f"TF_CONFIG must be a JSON object with cluster and task, got {text[:60]!r}")
    return config


def cluster_workers() -> int:
    """How many workers TF_CONFIG describes (0 without one)."""
    return len(tf_config().get("cluster", {}).get("worker", []))


def is_chief() -> bool:
    """Whether this process writes the outputs: always on one machine; in a cluster, the chief or worker 0."""
    config = tf_config()
    task, cluster = config.get("task", {}), config.get("cluster", {})
    if not cluster:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and task.get("index", 0) == 0


def strategy_for(params: TrainParams) -> tf.distribute.Strategy:
    """A TF_CONFIG cluster of several workers: MultiWorkerMirroredStrategy (trained by `cluster.fit_on_cluster`).
    Else several GPUs: MirroredStrategy; `mirrored` asks for MirroredStrategy over every local device, CPUs
    included when there is no GPU; otherwise the default strategy."""
    if params.distribute == "none":
        return tf.distribute.get_strategy()
    if cluster_workers() > 1:
        with bounded_cluster_wait(tf_config(), params.cluster_wait_s):
            return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if params.distribute == "mirrored":
        return tf.distribute.MirroredStrategy([d.name for d in gpus or tf.config.list_logical_devices("CPU")])
    return tf.distribute.get_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def set_precision(params: TrainParams) -> None:
    """Sets Keras' global dtype policy for this run; every run sets it, so none inherits another's. bfloat16 needs no
    loss scaling, and CPUs with AMX or AVX512_BF16 (which oneDNN uses) compute it faster than float32."""
    setting = params.mixed_precision
    if setting == "bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        return
    on = setting == "on" or (setting == "auto" and tf.config.list_logical_devices("GPU"))
    keras.mixed_precision.set_global_policy("mixed_float16" if on else "float32")


def jit_compile(params: TrainParams) -> bool | str:
    return {"auto": "auto", "on": True, "off": False}[params.xla]


def check_batch_divides(params: TrainParams, strategy: tf.distribute.Strategy, train_data: Shards) -> None:
    """Replicas share each batch evenly; in a cluster, each worker reads its own shards, so needs at least one."""
    replicas = strategy.num_replicas_in_sync
    if params.batch_size % replicas:
        raise PipelineError(
            f"train.batch_size = {params.batch_size} cannot be shared evenly by {replicas} replicas; "
            f"use a multiple of {replicas}"
        )
    workers = cluster_workers() if is_multi_worker(strategy) else 1
    if len(train_data.files) < workers:
        raise PipelineError(
            f"{train_data.root}: {len(train_data.files)} shard(s) for {workers} workers, which read a shard each at "
            f"least; lower preprocess.shard_mb (now {len(train_data.files)} shards) and re-run `dvc repro split`"
        )
