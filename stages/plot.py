"""Draw the training curves from LIVE_DIR, and the confusion matrix and misclassified images from PREDICTIONS of
the test shards in TEST_DIR, into PLOTS_DIR."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("live_dir", type=Path)
    parser.add_argument("predictions", type=Path)
    parser.add_argument("class_names", type=Path)
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("plots_dir", type=Path)
    args = parser.parse_args()
    params = load_params()  # a bad param stops here, before matplotlib's seconds of import

    from imgclf.data.dataset import read_class_names
    from imgclf.data.shards import open_shards
    from imgclf.evaluation.plots import plot_confusion_matrix, plot_misclassified, plot_training_curves

    plot_training_curves(args.live_dir, args.plots_dir / "training_curves.png")
    plot_confusion_matrix(
        args.predictions, list(read_class_names(args.class_names)), args.plots_dir / "confusion_matrix.png"
    )
    plot_misclassified(
        open_shards(args.test_dir), args.predictions, params.plot.misclassified, args.plots_dir / "misclassified.png"
    )
    print(f"plots in {args.plots_dir}: training_curves.png, confusion_matrix.png, misclassified.png")


if __name__ == "__main__":
    exit_on_error(main)
