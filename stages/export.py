"""Export MODEL_DIR as TFLite (float16, int8 calibrated on TRAIN_DIR) and ONNX into OUT_DIR; check each, and the
SavedModel they are converted from, against Keras on TEST_DIR; write sizes and agreement to METRICS_FILE, and in an
experiment the latency to TIMING_FILE (imgclf/timing.py)."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("train_dir", type=Path)
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("metrics_file", type=Path)
    parser.add_argument("timing_file", type=Path)
    args = parser.parse_args()
    params = load_params()  # a bad param stops here, before TensorFlow's seconds of import

    from imgclf.atomic import write_json
    from imgclf.data.shards import open_shards
    from imgclf.modeling.model_file import MODEL_FILE, load_model
    from imgclf.serving.export import export
    from imgclf.timing import record

    model, class_names = load_model(args.model_dir)
    report = export(
        model, class_names, open_shards(args.train_dir), open_shards(args.test_dir), args.out_dir, params.export
    )
    latency = {name: figures.pop("latency_ms") for name, figures in report.items()}
    write_json(args.metrics_file, report)
    record(args.timing_file, "export", {"latency_ms": latency}, args.model_dir / MODEL_FILE)
    print(f"{'format':<16}{'size':>12}{'ms/image':>10}{'agreement':>11}{'accuracy':>10}")
    for name, figures in report.items():
        size = f"{figures['size_bytes'] / 2**20:.2f} MB" if "size_bytes" in figures else ""
        agreement = f"{figures['top1_agreement']:.2%}" if "top1_agreement" in figures else ""
        print(f"{name:<16}{size:>12}{latency[name]:>10.3f}{agreement:>11}{figures['test_accuracy']:>10.2%}")
    print(f"exported to {args.out_dir}")


if __name__ == "__main__":
    exit_on_error(main)
