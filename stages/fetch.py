"""Obtain the raw dataset into RAW_DIR."""

import argparse
from pathlib import Path

from imgclf.cli import exit_on_error
from imgclf.fetch import fetch
from imgclf.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", type=Path)
    args = parser.parse_args()
    fetch(load_params().data, args.raw_dir)


if __name__ == "__main__":
    exit_on_error(main)
