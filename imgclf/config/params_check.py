"""`python -m imgclf.config.params_check`: params.yaml (and sweeps.yaml) read by our own strict loader and validated,
before DVC parses them. DVC's parser follows YAML aliases without bound and has no size limit, so a hostile params.yaml
can take a machine's memory before any stage runs; `make repro` runs this check first (docs/pipeline.md)."""

from pathlib import Path

from imgclf.cli import COMMAND, exit_on_error
from imgclf.config.params import load_params
from imgclf.config.yaml_file import read_yaml


def main() -> None:
    load_params(Path("params.yaml"))
    if Path("sweeps.yaml").exists():
        read_yaml(Path("sweeps.yaml"), aliases=True)


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
