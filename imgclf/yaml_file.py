"""Reading the repository's YAML files (params.yaml, sweeps.yaml) as plain data, with one-line errors."""

from pathlib import Path

import yaml

from imgclf.errors import PipelineError


def read_yaml(path: Path) -> object:
    """A YAML file of the repository as plain data; a missing or malformed one is a one-line error."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run from the repository root, where {path.name} lives") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PipelineError(f"{path}:{where} is not valid YAML: {getattr(e, 'problem', e)}") from None
