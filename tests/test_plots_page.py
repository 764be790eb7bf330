"""The offline plots page reads right: epochs numbered from 1 in whole numbers as everywhere else, the confusion
matrix with the true class down and counts in its cells, one colour a revision, revisions' pictures side by side."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imgclf.experiments.plots_page import plot_sections
from imgclf.experiments.vega import readable
from tests.helpers import REPO


@pytest.fixture(scope="module")
def plots(tmp_path_factory) -> tuple[dict, Path]:
    """`dvc plots show --json` of the repository's plot definitions over a 3-epoch log and 4 predictions."""
    project = tmp_path_factory.mktemp("plots")
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=project, check=True)
    shutil.copytree(REPO / ".dvc" / "plots", project / ".dvc" / "plots")  # the project's own templates
    for series, name in [("train", "accuracy"), ("train", "loss"), ("eval", "accuracy"), ("eval", "loss")]:
        folder = project / "dvclive" / "plots" / "metrics" / series
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.tsv").write_text(f"step\t{name}\n0\t0.5\n1\t0.6\n2\t0.7\n")
    (project / "metrics").mkdir()
    (project / "metrics" / "predictions.csv").write_text("actual,predicted\ncat,cat\ncat,dog\ncat,dog\ndog,dog\n")
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", "--json", "dvclive/plots/metrics", "metrics/predictions.csv"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(shown), project


def svg_texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_curves_number_epochs_from_1_in_whole_numbers(plots):
    data, project = plots
    sections = {re.search(r"<h2>([^<]+)</h2>", s)[1]: s for s in plot_sections(data, project)}
    texts = svg_texts(sections["dvclive/plots/metrics/eval/accuracy.tsv"])
    assert "epoch" in texts and "epoch (from 0)" not in texts
    assert {"1", "2", "3"} <= set(texts) and not {"0.5", "1.5", "2.5"} & set(texts)


def test_confusion_matrix_has_the_true_class_down_and_counts_in_its_cells(plots):
    data, project = plots
    sections = {re.search(r"<h2>([^<]+)</h2>", s)[1]: s for s in plot_sections(data, project)}
    texts = svg_texts(sections["metrics/predictions.csv"])
    assert "true class" in texts and "predicted class" in texts
    counts = sorted(t for t in texts if t.isdigit())
    assert counts == ["0", "1", "1", "2"], "cat->cat 1, cat->dog 2, dog->cat 0, dog->dog 1"
    svg = sections["metrics/predictions.csv"]
    assert svg.index("true class") > 0 and 'transform="translate' in svg
    assert re.search(r"rotate\(-90\)[^>]*>true class<", svg), "the true class names the vertical axis"


def test_every_revision_gets_its_own_colour():
    revisions = [f"exp-{i}" for i in range(12)]
    spec = {"encoding": {"color": {"field": "rev", "scale": {"domain": revisions[:3], "range": ["#945dd6"] * 3}}}}
    assert readable(spec)["encoding"]["color"]["scale"] == {"domain": revisions[:3], "scheme": "tableau10"}
    spec["encoding"]["color"]["scale"]["domain"] = revisions
    assert readable(spec)["encoding"]["color"]["scale"]["scheme"] == "category20"


def test_a_loss_spanning_orders_of_magnitude_is_drawn_on_a_log_axis():
    """DVC's spec of a photo run's loss (60 at the first epoch, then near 0.5), as the page and the PR report draw
    it: the y axis turns logarithmic and says so; an accuracy, or a loss of a usual range, stays linear."""
    y = {"field": "loss", "type": "quantitative", "title": "loss", "scale": {"zero": False}}
    rows = [{"step": str(s), "loss": str(v), "rev": "workspace"} for s, v in enumerate([62.5, 1.2, 0.6, 0.5])]
    spec = {"data": {"values": rows}, "layer": [{"encoding": {"y": y}}]}
    drawn = readable(spec)["layer"][0]["encoding"]["y"]
    assert drawn["scale"] == {"zero": False, "type": "log"} and drawn["title"] == "loss (log scale)"
    rows = [{"step": str(s), "loss": str(v), "rev": "workspace"} for s, v in enumerate([2.3, 1.2, 0.6])]
    assert readable({**spec, "data": {"values": rows}})["layer"][0]["encoding"]["y"] == y


def test_one_picture_a_revision_side_by_side(tmp_path: Path):
    picture = REPO / "plots" / "confusion_matrix.png"
    shutil.copy(picture, tmp_path / "a.png")
    shutil.copy(picture, tmp_path / "b.png")
    data = {"data": {"plots/confusion_matrix.png": [
        {"type": "image", "url": "a.png", "revisions": ["main"]},
        {"type": "image", "url": "b.png", "revisions": ["exp-1"]},
    ]}}  # fmt: skip
    (section,) = plot_sections(data, tmp_path)
    assert re.search(
        r'<section class="revisions">.*<div class="row"><figure>.*</figure><figure>.*</figure></div>', section
    )
