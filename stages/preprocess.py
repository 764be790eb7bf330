"""Turn RAW_DIR into PREPARED_DIR/train/ (and test/, val/ where the dataset ships them): folders of .npz shards."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.data.preprocess import preprocess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("prepared_dir", type=Path)
    args = parser.parse_args()
    params = load_params()
    preprocess(params.data, params.preprocess, args.raw_dir, args.prepared_dir)


if __name__ == "__main__":
    exit_on_error(main)
