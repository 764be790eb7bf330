"""Draw the training curves from LIVE_DIR and the confusion matrix from PREDICTIONS into PLOTS_DIR."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.dataset import read_class_names
from imgclf.plots import plot_confusion_matrix, plot_training_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("live_dir", type=Path)
    parser.add_argument("predictions", type=Path)
    parser.add_argument("class_names", type=Path)
    parser.add_argument("plots_dir", type=Path)
    args = parser.parse_args()
    plot_training_curves(args.live_dir, args.plots_dir / "training_curves.png")
    plot_confusion_matrix(
        args.predictions, list(read_class_names(args.class_names)), args.plots_dir / "confusion_matrix.png"
    )


if __name__ == "__main__":
    exit_on_error(main)
