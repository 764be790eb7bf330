"""Validate params.yaml as a whole and write it, validated, to OUT_FILE.

Every other stage reads only its own sections, so DVC re-runs none of them for a key no stage reads: a misspelled
section (`trian:`, or `dvc exp run -S +trian.lr=0.1`) would pass as an experiment that changed nothing. This stage
depends on every key, so any change runs it, and an unknown or invalid one stops the run with one line.
"""

import argparse
import dataclasses
from pathlib import Path

from imgclf.atomic import write_json
from imgclf.cli import exit_on_error
from imgclf.config.params import load_params
from imgclf.errors import PipelineError
from imgclf.exp_workspace import refused_value_hint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_file", type=Path)
    args = parser.parse_args()
    try:
        params = load_params()
    except PipelineError as e:
        raise PipelineError(f"{e}{refused_value_hint()}") from None
    write_json(args.out_file, dataclasses.asdict(params))


if __name__ == "__main__":
    exit_on_error(main)
