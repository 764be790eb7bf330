"""README's results table is generated from the committed reports, never typed."""

import pytest

from imgclf.errors import PipelineError
from imgclf.experiments.labs import load_labs
from imgclf.experiments.results_table import END, PAGE_START, START, lab_tables, table, with_table
from tests.helpers import REPO


def test_readme_results_table_is_the_one_the_reports_give(monkeypatch):
    monkeypatch.chdir(REPO)  # the reports' commits come from git log
    readme = (REPO / "README.md").read_text()
    generated = table(load_labs(REPO / "sweeps.yaml"), REPO / "reports")
    assert with_table(readme, generated) == readme, "stale: run python -m imgclf.experiments.results_table --write"
    assert generated.count("\n") > 5


def test_the_results_pages_lab_tables_are_the_ones_the_reports_give(monkeypatch):
    monkeypatch.chdir(REPO)
    page = (REPO / "docs" / "results.md").read_text()
    generated = lab_tables(load_labs(REPO / "sweeps.yaml"), REPO / "reports")
    stale = "stale: run python -m imgclf.experiments.results_table --write"
    assert with_table(page, generated, PAGE_START) == page, stale
    for lab in ("mnist_mlp", "early_stopping", "cifar10_cnn", "convpool", "photos"):
        assert f"### {lab}\n" in generated and f"(../reports/{lab}/report.md)" in generated
    assert max(len(line) for line in generated.splitlines() if not line.startswith("|")) <= 120
    assert "| **mnist_mlp-best** (best) |  | 97.96% / 0.0703 |" in generated, "every experiment, the best marked"


def test_the_table_replaces_only_what_lies_between_its_markers():
    readme = f"# x\n\n{START}\n| old |\n{END}\n\nmore\n"
    assert with_table(readme, "| new |\n") == f"# x\n\n{START}\n| new |\n{END}\n\nmore\n"
    with pytest.raises(PipelineError, match="no results table markers"):
        with_table("# x\n", "| new |\n")
