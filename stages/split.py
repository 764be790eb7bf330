"""Split PREPARED_DIR into SPLIT_DIR/{train,val,test}.npz, stratified and seeded."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.params import load_params
from imgclf.split import split, write_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prepared_dir", type=Path)
    parser.add_argument("split_dir", type=Path)
    args = parser.parse_args()
    splits = split(load_params().split, args.prepared_dir)
    write_splits(splits, args.split_dir)
    for name, data in splits.items():
        print(f"{name}: {len(data)} images")


if __name__ == "__main__":
    exit_on_error(main)
