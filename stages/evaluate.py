"""Evaluate MODEL_DIR on TEST_FILE; write metrics, the classification report and predictions to METRICS_DIR."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.dataset import load_images
from imgclf.evaluate import evaluate, write_evaluation
from imgclf.params import load_params
from imgclf.train import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("test_file", type=Path)
    parser.add_argument("metrics_dir", type=Path)
    args = parser.parse_args()
    params = load_params()
    model, class_names = load_model(args.model_dir)
    test = load_images(args.test_file)
    result = evaluate(model, class_names, test, params.evaluate.batch_size)
    write_evaluation(result, test, args.metrics_dir)
    print(result.report_text)


if __name__ == "__main__":
    exit_on_error(main)
