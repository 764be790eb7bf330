import os
import subprocess
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from imgclf.config.params import Params, load_params
from imgclf.experiments.labs import Lab, load_labs
from tests.helpers import REPO


@pytest.fixture
def labs() -> dict[str, Lab]:
    """sweeps.yaml's labs and recipes, as the sweep command reads them."""
    return load_labs(REPO / "sweeps.yaml")


@pytest.fixture
def raw() -> dict:
    """The repository's params.yaml as plain YAML (tests change it, then parse or validate it)."""
    return yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.fixture
def params() -> Params:
    """The repository's own params.yaml: tests vary it with dataclasses.replace."""
    return load_params(REPO / "params.yaml")


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs, left with 16 KB free (less than a backup of the test's model); skipped where this user may not
    mount one."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        subprocess.run(["fallocate", "-l", str(2 * 2**20 - 16 * 1024), str(where / "filler")], check=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
