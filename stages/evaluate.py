"""Evaluate MODEL_DIR on the shards of TEST_DIR; write metrics, the classification report and predictions to
METRICS_DIR."""

import argparse
import sys
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params

REPORT_IN_TERMINAL = 20  # classes; a longer classification report is read in its file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("metrics_dir", type=Path)
    args = parser.parse_args()
    params = load_params()  # a bad param stops here, before TensorFlow's seconds of import

    from imgclf.data.shards import open_shards
    from imgclf.evaluation.evaluate import evaluate, neglected_class, write_evaluation
    from imgclf.modeling.model_file import load_model

    model, class_names = load_model(args.model_dir)
    test = open_shards(args.test_dir)
    result = evaluate(
        model, class_names, test, params.evaluate.batch_size, params.evaluate.tta, params.evaluate.tta_shift
    )
    write_evaluation(result, args.metrics_dir)
    m = result.metrics
    print(
        f"test accuracy {m['test_accuracy']:.2%} (balanced {m['balanced_accuracy']:.2%}, "
        f"macro-F1 {m['f1_macro']:.4f}), test loss {m['test_loss']:.4f} on {m['test_images']} images"
    )
    if len(class_names) <= REPORT_IN_TERMINAL:
        print(result.report_text)
    warning = neglected_class(result)
    if warning:  # below the report, where the eye ends
        print(f"warning: {warning}", file=sys.stderr)
    print(f"classification report: {args.metrics_dir / 'classification_report.txt'}")


if __name__ == "__main__":
    exit_on_error(main)
