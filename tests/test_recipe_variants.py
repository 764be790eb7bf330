"""benchmarks/recipe_variants.py groups runs by what they change in the recipe as it is now, read from each run's
commit (git show), so a run from before a recipe changed is not counted as the recipe."""

import subprocess
from pathlib import Path

import pytest
import yaml

from benchmarks import recipe_variants


def commit_files(repo: Path, files: dict[str, dict], message: str) -> str:
    for name, content in files.items():
        (repo / name).write_text(yaml.safe_dump(content))
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=repo, check=True)
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()


def variant(commit: str, date: str, accuracy: float, overrides: dict) -> dict:
    return {
        "name": "recipe_x",
        "commit": commit,
        "date": date,
        "recipe": {"test_accuracy": accuracy, "overrides": overrides},
    }


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Two commits: at the first the recipe trains at lr 0.4; at the second at 0.8, and params.yaml has a new key."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "config", "user.email", "t@example.com"], cwd=tmp_path, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=tmp_path, check=True)
    params = {"train": {"lr": 0.01, "epochs": 8, "seed": 42}}
    old = commit_files(tmp_path, {"params.yaml": params, "sweeps.yaml": {"recipe_x": {"base": {"train.lr": 0.4}}}}, "a")
    params["train"]["lookahead"] = 0.0
    new = commit_files(tmp_path, {"params.yaml": params, "sweeps.yaml": {"recipe_x": {"base": {"train.lr": 0.8}}}}, "b")
    monkeypatch.setattr(recipe_variants, "REPO", tmp_path)
    recipe_variants.committed_yaml.cache_clear()
    yield old, new
    recipe_variants.committed_yaml.cache_clear()


def test_runs_are_grouped_by_their_changes_to_the_recipe_as_it_is_now(history):
    old, new = history
    variants = {
        "old recipe": variant(old, "2026-01-01", 0.80, {}),
        "old recipe, seed 1": variant(old, "2026-01-01", 0.81, {"train.seed": 1}),
        "old with today's lr": variant(old, "2026-01-02", 0.85, {"train.lr": 0.8}),
        "new recipe": variant(new, "2026-01-03", 0.86, {}),
        "new with the old lr, seed 1": variant(new, "2026-01-03", 0.82, {"train.lr": 0.4, "train.seed": 1}),
        "new with lookahead": variant(new, "2026-01-04", 0.87, {"train.lookahead": 0.95}),
    }
    groups = recipe_variants.seed_groups(variants)
    by_changes = {changes: [(r.params["train.seed"], r.accuracy) for r in g.runs] for (_, changes), g in groups.items()}
    assert by_changes == {
        # the old commit's recipe, with no -S; params.yaml then had no train.lookahead: today's default stands
        "`train.lr=0.4`": [(1, 0.82), (42, 0.80)],  # seed 1 ran twice with these params: its latest run counts
        "none": [(42, 0.86)],  # the old commit's run with today's lr is the recipe; seed 42's later run counts
        "`train.lookahead=0.95`": [(42, 0.87)],
    }


def test_a_commit_that_is_not_in_the_repository_is_one_line(history):
    with pytest.raises(SystemExit, match="params.yaml at commit 0000000: not in this repository"):
        recipe_variants.run_params("recipe_x", "0000000", {})
