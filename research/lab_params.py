"""The params a recipe's runs start from, for the studies that train outside the pipeline (cpu_precision.py,
gpu_keras_jax.py)."""

from pathlib import Path

from imgclf.config.params import Params, parse_params
from imgclf.config.yaml_file import read_yaml
from imgclf.experiments.labs import Overrides, apply, find_lab, load_labs, shared_overrides


def lab_base_params(name: str, extra: Overrides | None = None, project: Path = Path(".")) -> Params:
    """The params a lab's runs start from: the project's params.yaml under the lab's base, then `extra`."""
    lab = find_lab(load_labs(project / "sweeps.yaml"), name)
    raw = apply(read_yaml(project / "params.yaml"), shared_overrides(lab, False, extra))
    return parse_params(raw, source=f"sweeps.yaml {name}")
