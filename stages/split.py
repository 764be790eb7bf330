"""Split PREPARED_DIR into SPLIT_DIR/{train,val,test}/ (folders of .npz shards), stratified and seeded; write the
data REPORT."""

import argparse
import sys
from pathlib import Path

from imgclf.atomic import write_json
from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.data.split import data_report, split, write_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prepared_dir", type=Path)
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("report", type=Path)
    args = parser.parse_args()
    params = load_params()
    splits = split(params.split, args.prepared_dir)
    write_splits(splits, args.split_dir, params.preprocess.shard_mb)
    report = data_report(splits, args.prepared_dir)
    write_json(args.report, report)
    print(", ".join(f"{name}: {count} images" for name, count in report["images"].items()))
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


if __name__ == "__main__":
    exit_on_error(main)
