"""The docs cannot drift from the code: the params reference is generated, and every command they show exists."""

from pathlib import Path

import yaml

from imgclf import params_reference
from tests.conftest import REPO


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        keys += leaf_keys(value, f"{dotted}.") if isinstance(value, dict) else [dotted]
    return keys


def test_params_reference_is_what_params_yaml_generates(capsys):
    assert params_reference.main(["--check"]) == 0, capsys.readouterr().err


def test_params_reference_documents_every_key_with_its_default():
    page = (REPO / "docs" / "params.md").read_text()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in leaf_keys(params):
        assert f"| `{key}` | `" in page, key
    assert "| `train.lr` | `0.01` | (initial) learning rate" in page


def test_a_new_param_makes_the_reference_stale(tmp_path: Path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text() + "\nnew_section:\n  knob: 3  # turns the knob\n")
    out = tmp_path / "params.md"
    assert params_reference.main(["--params", str(params), "--out", str(REPO / "docs" / "params.md"), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert params_reference.main(["--params", str(params), "--out", str(out)]) == 0
    assert "| `new_section.knob` | `3` | turns the knob |" in out.read_text()
