"""Train on the shards of SPLIT_DIR/train/ (validating on val/), a pretrained backbone starting from the weights in
WEIGHTS_DIR; write MODEL_DIR, the DVCLive log and METRICS_FILE, and in an experiment the training time in
TIMING_FILE (imgclf/timing.py)."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.errors import PipelineError
from imgclf.fitting.memory import keep_large_blocks_returnable
from imgclf.machine import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("weights_dir", type=Path)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("live_dir", type=Path)
    parser.add_argument("metrics_file", type=Path)
    parser.add_argument("timing_file", type=Path)
    args = parser.parse_args()
    params = load_params()  # a bad param stops here, before TensorFlow's seconds of import
    keep_large_blocks_returnable()

    from imgclf.atomic import write_json
    from imgclf.data.shards import open_shards
    from imgclf.distribution.cluster import finish_together
    from imgclf.distribution.devices import is_chief, is_multi_worker
    from imgclf.fitting.pruning import TrialPruning
    from imgclf.fitting.resume import RESUME_DIR
    from imgclf.fitting.train import backbone_weights, train
    from imgclf.modeling.model_file import MODEL_FILE, save_model
    from imgclf.search.link import trial_link
    from imgclf.timing import record

    train_data = open_shards(args.split_dir / "train")
    val_data = open_shards(args.split_dir / "val")
    weights_file = backbone_weights(params.train, args.weights_dir)
    link = trial_link()  # set by `imgclf tune` only
    pruning = (TrialPruning(link),) if link else ()
    model, metrics = train(
        params.train, train_data, val_data, args.live_dir, args.model_dir / RESUME_DIR, weights_file, pruning
    )
    if pruning and pruning[0].pruned_at:
        raise PipelineError(
            f"trial {pruning[0].trial.number} of study {link.study}: the study's {link.pruner} pruner stopped it "
            f"after epoch {pruning[0].pruned_at}; nothing is saved"
        )
    if pruning:  # the tuner may have gone during the last epoch: then nobody waits for this model
        pruning[0].stop_if_orphaned()
    if is_chief():  # in a multi-worker cluster, the other workers write nothing
        save_model(model, train_data.class_names, args.model_dir)
        timing = {key: metrics.pop(key) for key in ("train_seconds", "images_per_second")}
        timing["machine"] = machine()  # what the seconds were measured on
        if pruning:  # the experiment names the study and trial it ran for
            timing.update(study=link.study, trial=pruning[0].trial.number)
        write_json(args.metrics_file, metrics)
        record(args.timing_file, "train", timing, args.model_dir / MODEL_FILE)
        print(
            f"trained {metrics['epochs_run']} epochs in {timing['train_seconds']:.1f} s: "
            f"val_accuracy {metrics['val_accuracy']:.4f} (best {metrics['best_val_accuracy']:.4f}); "
            f"model in {args.model_dir}"
        )
    if is_multi_worker(model.distribute_strategy):
        finish_together(model.distribute_strategy)


if __name__ == "__main__":
    exit_on_error(main)
