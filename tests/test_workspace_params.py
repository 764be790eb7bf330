"""`dvc exp run -S` leaves its values in params.yaml, refused or failed: the refusal says so, and what shows the
workspace's metrics says when params.yaml is not what they were made with."""

import subprocess
import sys
from pathlib import Path

import yaml

from imgclf.exp_workspace import refused_value_hint
from imgclf.experiments.workspace_params import mismatch_warning, params_unlike_metrics
from tests.helpers import REPO


def workspace(tmp_path: Path, params: dict, train_made_with: dict) -> Path:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    lock = {
        "schema": "2.0",
        "stages": {
            "params": {"params": {"params.yaml": params}},  # every key, and it ran before the failure
            "train": {"params": {"params.yaml": {"train": train_made_with}}},
            "export": {"params": {"params.yaml": {"export": {"batch_size": 1}}}},  # not what metrics come from
        },
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    return tmp_path


def test_a_failed_run_leaves_params_the_metrics_were_not_made_with_and_the_warning_names_them(tmp_path: Path):
    """A `train.model=pretrained` run that failed: params.yaml says pretrained and 5 epochs, the metrics are the
    previous run's MLP of 100 epochs."""
    failed = {"train": {"model": "pretrained", "epochs": 5, "lr": 0.01}, "export": {"batch_size": 500}}
    project = workspace(tmp_path, failed, {"model": "mlp", "epochs": 100, "lr": 0.01})
    assert params_unlike_metrics(project) == {"train.model": ("pretrained", "mlp"), "train.epochs": (5, 100)}
    warning = mismatch_warning(project)
    assert warning.startswith("the workspace's metrics were not made with its params.yaml: ")
    assert "train.epochs 5 (made with 100), train.model pretrained (made with mlp);" in warning
    assert "`git restore params.yaml`" in warning and "\n" not in warning


def test_no_warning_when_params_yaml_is_what_the_metrics_were_made_with(tmp_path: Path):
    same = {"model": "mlp", "epochs": 100, "lr": 0.01}
    assert mismatch_warning(workspace(tmp_path, {"train": same, "export": {"batch_size": 500}}, same)) is None
    assert mismatch_warning(tmp_path / "nothing-here") is None


def test_a_refusal_in_a_workspace_experiment_says_the_value_stays_and_how_to_undo_it(tmp_path: Path):
    assert refused_value_hint({}, tmp_path) == "", "dvc repro, or a hand edit: nothing was written by DVC"
    assert refused_value_hint({"DVC_EXP_NAME": "e"}, tmp_path / ".dvc" / "tmp" / "exps" / "x") == "", "a copy"
    hint = refused_value_hint({"DVC_EXP_NAME": "e"}, tmp_path)
    assert "params.yaml keeps the values `dvc exp run -S` wrote into it" in hint and "git restore params.yaml" in hint
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["trian"] = {"lr": 0.1}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "DVC_EXP_NAME": "e"}
    refused = subprocess.run(
        [sys.executable, "-m", "stages.params", "out.json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines[0]) <= 200 and len(lines) <= 2, "a line, then its details"
    assert lines[0].startswith("error: params.yaml: unknown key trian")
    said = " ".join(line.strip().removeprefix("details: ") for line in lines)
    assert " ".join(hint.split()) in said
