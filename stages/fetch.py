"""Obtain the raw dataset into RAW_DIR, and a pretrained backbone's ImageNet weights into WEIGHTS_DIR."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.data.fetch import fetch, fetch_backbone_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("weights_dir", type=Path)
    args = parser.parse_args()
    params = load_params()
    fetch(params.data, args.raw_dir)
    fetch_backbone_weights(params.train, params.data, args.weights_dir)


if __name__ == "__main__":
    exit_on_error(main)
