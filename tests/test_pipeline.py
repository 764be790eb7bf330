"""The whole pipeline through DVC on a tiny sample, in a temporary copy of this repository."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from imgclf.stage_deps import stage_argv
from tests.helpers import REPO
from tests.helpers.davserver import webdav_server
from tests.helpers.project import copy_repo, run

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out

TINY = {"preprocess": {"max_per_class": 40}, "train": {"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 0.003}}


def declared_outputs(project: Path) -> list[str]:
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    paths = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            paths += [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(kind, [])]
    return paths


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("project")
    copy_repo(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    for section, values in TINY.items():
        params[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "tiny sample"], project)
    return project


def test_repro_then_experiment(project: Path):
    repro = run(["dvc", "repro"], project)
    assert stages_run(repro.stdout) == ["params", "fetch", "preprocess", "split", "train", "evaluate", "plot", "export"]
    terminal = (repro.stdout + repro.stderr).splitlines()
    noise = [line for line in terminal if "cuInit" in line or "I0000" in line or "absl::InitializeLog" in line]
    assert noise == [], "TensorFlow's native start-up lines stay off the terminal"
    assert "epoch 1/1: " in repro.stdout and "test accuracy " in repro.stdout
    for path in declared_outputs(project):
        assert (project / path).exists(), f"{path} declared in dvc.yaml but not written"
    evaluation = json.loads((project / "metrics" / "eval.json").read_text())
    assert evaluation["test_images"] == 80
    assert evaluation["test_accuracy"] > 2 * 1 / 10, "no better than chance on 10 digit classes"
    assert json.loads((project / "metrics" / "train.json").read_text())["epochs_run"] == 1
    assert (project / "plots" / "confusion_matrix.png").stat().st_size > 0
    assert (project / "metrics" / "timing.json").read_text() == "{}\n", "a plain repro leaves git's copy as it is"
    locked = (project / "dvc.lock").read_text()
    run(["dvc", "repro", "--force", "--single-item", "export"], project)  # a new process, as on another day
    assert (project / "dvc.lock").read_text() == locked, "exported/ and metrics/export.json: the same bytes"
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    registry(project)
    remote(project)

    experiment = run(["dvc", "exp", "run", "-S", "train.epochs=2"], project)
    assert stages_run(experiment.stdout) == ["params", "fetch", "train", "evaluate", "plot", "export"]
    assert json.loads((project / "metrics" / "train.json").read_text())["epochs_run"] == 2
    timed = json.loads((project / "metrics" / "timing.json").read_text())["train"]
    assert timed["train_seconds"] > 0 and " CPU cores, " in timed["machine"], "the seconds and what measured them"
    trained = (project / "metrics" / "train.json").read_text()

    run(["dvc", "exp", "run", "-S", "train.epochs=3"], project)
    again = run(["dvc", "exp", "run", "-S", "train.epochs=2"], project)
    assert stages_run(again.stdout) == ["fetch"], "params it has run before: restored from DVC's run-cache"
    assert "Stage 'train' is cached - skipping run, checking out outputs" in again.stdout
    assert (project / "metrics" / "train.json").read_text() == trained

    compare(project)
    pr_report(project)
    plots_page(project)

    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    experiments = [exp for baseline in shown for group in baseline["experiments"] or [] for exp in group["revs"]]
    assert len(experiments) == 3
    by_epochs: dict[int, list[dict]] = {}
    for e in experiments:
        by_epochs.setdefault(e["data"]["params"]["params.yaml"]["data"]["train"]["epochs"], []).append(e["data"])
    assert sorted((epochs, len(runs)) for epochs, runs in by_epochs.items()) == [(2, 2), (3, 1)]
    first, restored = (run["metrics"] for run in by_epochs[2])
    assert first["metrics/eval.json"] == restored["metrics/eval.json"], "the run-cache restores the same metrics"
    assert [run["metrics"]["metrics/train.json"]["data"]["epochs_run"] for run in by_epochs[3]] == [3]
    timed = by_epochs[3][0]["metrics"]["metrics/timing.json"]["data"]
    assert set(timed) == {"train", "export"}, "each experiment commits the times of its own run"

    misspelled = run(["dvc", "exp", "run", "-S", "+trian.lr=0.1"], project, check=False)
    assert misspelled.returncode != 0, "a section no stage reads must not pass as an experiment that changed nothing"
    said = misspelled.stderr.splitlines()
    at = next(i for i, line in enumerate(said) if line.startswith("error: params.yaml"))
    assert len(said[at]) <= 200 and said[at + 1].startswith("  details: "), "a line, then its details"
    refusal = said[at] + " " + said[at + 1].removeprefix("  details: ")
    assert refusal.startswith("error: params.yaml: unknown key trian; allowed keys here: data, preprocess")
    assert "params.yaml keeps the values `dvc exp run -S` wrote into it" in refusal
    assert refusal.endswith("`git restore params.yaml` returns to the committed ones")

    run(["git", "restore", "params.yaml"], project)  # as the refusal says: the misspelled key stays until then
    switched = ["dvc", "exp", "run", "-S", "train.xla=off", "-S", "train.mixed_precision=on", "params"]
    run(switched, project)  # YAML 1.1 reads on and off as booleans: the params stage, which every stage trusts
    seen = json.loads((project / "data" / "params.json").read_text())["train"]
    assert (seen["xla"], seen["mixed_precision"]) == ("off", "on")

    # the metrics are still the 2-epoch experiment's, params.yaml the commit's 1 epoch: compare says so
    warned = " ".join(run(["make", "-s", "-o", ".venv/.installed", "compare"], project).stdout.split())
    assert "warning: the workspace's metrics were not made with its params.yaml: train.epochs 1 (made with 2)" in warned


def registry(project: Path) -> None:
    """README's model registry: a version is a git tag; another project fetches it into an empty folder, with
    `dvc artifacts get`, from a clone that has only its local cache (no remote)."""
    run(["git", "tag", "-a", "image-classifier@v1.0.0", "-m", "first model"], project)
    fetched = project.parent / "fetched-model"
    get = ["dvc", "artifacts", "get", str(project), "image-classifier", "--rev", "v1.0.0", "-o", str(fetched)]
    run(get, project.parent)
    for name in ("model.keras", "class_names.json"):
        assert (fetched / name).read_bytes() == (project / "models" / name).read_bytes()


def remote(project: Path) -> None:
    """README's remote, on a real WebDAV server process: push from this clone; a fresh clone with an empty cache
    pulls data and model, and `dvc repro` recomputes nothing (fetch only checks its source)."""
    with webdav_server(project.parent / "storage") as url:
        run(["dvc", "remote", "add", "-d", "storage", url], project)
        run(["git", "commit", "-qam", "a DVC remote"], project)
        run(["dvc", "push"], project)
        clone = project.parent / "clone"
        run(["git", "clone", "-q", str(project), str(clone)], project.parent)
        assert not (clone / ".dvc" / "cache").exists() and not (clone / "models" / "model.keras").exists()
        run(["dvc", "pull"], clone)
        for path in ("models/model.keras", "data/split/train/00000.npz", "data/raw/mnist_5k/mnist_5k.csv.gz"):
            assert (clone / path).read_bytes() == (project / path).read_bytes(), path
        assert stages_run(run(["dvc", "repro"], clone).stdout) == ["fetch"]


def pr_report(project: Path) -> None:
    """The pull-request report, offline: the workspace (2 epochs) against the last commit (1 epoch)."""
    out = project.parent / "pr-report"
    run([sys.executable, "-m", "imgclf.experiments.pr_report", "HEAD", "--out", str(out)], project)
    report = (out / "report.md").read_text()
    metrics = [line for line in report.split("## Params")[0].splitlines() if line.startswith("| `")]
    assert metrics[0].startswith("| `test_accuracy` | ") and metrics[1].startswith("| `test_loss` | ")
    assert "| `train.epochs` | 1 | 2 |" in report
    pictures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
    assert {"eval-accuracy.png", "train-loss.png", "plots-training-curves-png-now.png"} <= set(pictures)
    for name in pictures:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def plots_page(project: Path) -> None:
    """The offline `dvc plots diff HEAD`: one page, every plot drawn into it, nothing loaded from anywhere."""
    run([sys.executable, "-m", "imgclf.experiments.plots_page", "HEAD"], project)
    page = (project / "dvc_plots" / "offline.html").read_text()
    assert "<script" not in page and not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert page.count("<svg") == 5, "4 training series and DVC's confusion matrix"
    assert "validation accuracy" in page and "Confusion matrix" in page
    assert ">epoch</text>" in page and "epoch (from 0)" not in page, "epochs numbered from 1, as the terminal and PNGs"
    assert '<div class="row"><figure>' in page, "the two revisions' pictures side by side"
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"><figcaption>([^<]*)<', page)
    assert {(alt, caption) for alt, caption in images} >= {
        ("plots/confusion_matrix.png", "HEAD"),
        ("plots/confusion_matrix.png", "workspace"),
    }


def compare(project: Path) -> None:
    """README's comparison (`make compare`) fits a 120-column terminal: test accuracy and loss, training time and
    the params that differ; its markdown form too."""
    make = ["make", "-s", "-o", ".venv/.installed", "compare"]  # the test's environment has the tools
    table = run(make, project).stdout.splitlines()
    assert table[0].split("  ")[:6] == [
        "experiment",
        "test accuracy",
        "balanced",
        "macro-F1",
        "test loss",
        "train time (s)",
    ]
    assert table[0].endswith("  epochs")
    assert table[1].startswith("workspace ") and len(table) == 1 + 2 + 3, "the workspace, the commit, 3 experiments"
    assert max(map(len, table)) <= 120
    markdown = run([*make, "ARGS=--md"], project).stdout.splitlines()
    assert markdown[0] == "| experiment | test accuracy | balanced | macro-F1 | test loss | train time (s) | epochs |"
    assert max(map(len, markdown)) <= 120


def test_bad_params_stop_a_stage_with_one_line(tmp_path: Path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["split"]["val_fraction"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "stages.split", "data/prepared", "data/split", "metrics/data_report.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == "error: params.yaml: split.val_fraction = 2 is out of range; it must be < 1\n"
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("stage", [stage_argv(name, REPO) for name in ("train", "evaluate", "plot")])
def test_a_bad_param_stops_a_stage_before_tensorflow_or_matplotlib_load(tmp_path: Path, stage: list[str]):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["lr"] = -1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", *stage],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "error: params.yaml: train.lr = -1 is out of range; it must be > 0"
    timings = [line for line in result.stderr.splitlines() if line.startswith("import time")]
    imported = [line.rsplit("|", 1)[-1].strip() for line in timings]
    assert "imgclf.config.params" in imported
    assert not [name for name in imported if name.split(".")[0] in ("tensorflow", "keras", "matplotlib")]


def test_a_photo_folder_is_tracked_by_content_and_never_copied(tmp_path: Path):
    """Adding a class to the user's folder re-runs preprocess (it used to say "up to date" and keep the old copy);
    the photos stay where they are: neither data/raw nor DVC's cache holds a copy."""
    from tests.helpers.data import photo

    folder = tmp_path / "photos"
    for name, color in (("cats", (0, 0, 255)), ("dogs", (255, 0, 0))):
        for i in range(3):
            photo(folder / name / f"{i}.jpg", color_bgr=color, size=(40 + i, 30))
    project = tmp_path / "project"
    project.mkdir()
    copy_repo(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"].update(dataset="folder", folder=str(folder))
    params["preprocess"]["image_size"] = 16
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)

    def prepared_classes() -> list[str]:
        index = json.loads((project / "data" / "prepared" / "train" / "shards.json").read_text())
        return index["class_names"]

    run(["dvc", "repro", "preprocess"], project)
    assert prepared_classes() == ["cats", "dogs"]
    for i in range(3):
        photo(folder / "panda" / f"{i}.jpg", color_bgr=(0, 255, 0))
    again = run(["dvc", "repro", "preprocess"], project)
    assert stages_run(again.stdout) == ["fetch", "preprocess"]
    assert prepared_classes() == ["cats", "dogs", "panda"]
    (folder / "panda" / "2.jpg").unlink()
    assert stages_run(run(["dvc", "repro", "preprocess"], project).stdout) == ["fetch", "preprocess"]
    unchanged = run(["dvc", "repro", "preprocess"], project)
    assert stages_run(unchanged.stdout) == ["fetch"], "fetch looks at the folder; nothing after it re-runs"

    assert [p.name for p in (project / "data" / "raw").iterdir()] == ["folder.json"]
    photo_md5s = {hashlib.md5(p.read_bytes()).hexdigest() for p in folder.rglob("*.jpg")}
    cached = {p.parent.name + p.name for p in (project / ".dvc" / "cache").rglob("*") if p.is_file()}
    assert not photo_md5s & cached, "DVC's cache holds no copy of the photos"
