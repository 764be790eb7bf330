"""The labs' sweeps run for real through DVC's queue on tiny samples, in a temporary copy of this repository:
the whole photo-folder study, and one sweep of each other lab (all 34 tiny experiments take about 12 minutes on
2 cores; tests/test_labs.py checks every experiment's params without running it)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import yaml

from imgclf.experiments.exp_show import data_md5_of
from imgclf.experiments.vega import experiments_only, plots_diff_json
from tests.helpers.data import blobs
from tests.helpers.project import copy_repo, processes_in, project_env, run

pytestmark = pytest.mark.slow  # end to end: `make test-fast` leaves it out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("sweeps")
    copy_repo(project)
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    return project


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    data = blobs(n_per_class=12, side=16)
    for i, (image, label) in enumerate(zip(data.images, data.labels, strict=True)):
        folder = root / ("cats", "dogs", "panda")[label]
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.jpg"), image)
    return root


def sweep(project: Path, *args: str, check: bool = True, extra_env: dict | None = None):
    command = [sys.executable, "-m", "imgclf.experiments.sweep", *args, "--tiny", "--jobs", "2"]
    return run(command, project, check=check, extra_env=extra_env)


FAIL_ONCE = """import os
if os.environ.get("DVC_EXP_NAME") == os.environ["FAIL_ONCE_EXPERIMENT"] and os.environ.get("DVC_STAGE") == "train":
    try:
        os.remove(os.environ["FAIL_ONCE_MARKER"])
    except FileNotFoundError:
        pass
    else:
        os._exit(3)
"""


def failing_once(experiment: str, folder: Path) -> dict:
    """An environment in which `experiment`'s train stage fails the first time only, as DVC's run-cache race
    (two queue workers saving the same stage at once) fails one experiment of a parallel run now and then."""
    (folder / "sitecustomize.py").write_text(FAIL_ONCE)
    (folder / "marker").touch()
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "FAIL_ONCE_EXPERIMENT": experiment, "FAIL_ONCE_MARKER": str(folder / "marker")}


def report(project: Path, lab: str) -> dict:
    """A tiny sample's report: partial, beside the committed one, never in its place."""
    return json.loads((project / "reports" / "partial" / lab / "results.json").read_text())


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_photo_lab_runs_whole_and_reports(project: Path, photos: Path):
    committed = tree(project / "reports" / "photos")
    done = sweep(project, "photos", "-S", f"data.folder={photos}")
    assert tree(project / "reports" / "photos") == committed, "a tiny run never touches the committed report"
    partial = "reports/partial/photos/report.md: 4 of the 4 swept experiments; "
    partial += "photos-best not yet (`imgclf sweep photos --best`); a partial run ("
    partial += "photos-model-mlp ran with"
    assert partial in done.stdout and "reports/photos/ is kept as it was" in done.stdout
    results = report(project, "photos")
    names = ["photos-model-mlp", "photos-base", "photos-augment.enabled-false", "photos-early_stopping.enabled-true"]
    assert [e["name"] for e in results["experiments"]] == names
    assert results["unfinished"] == {} and results["not_run"] == []
    by_name = {e["name"]: e["runs"][0]["params"] for e in results["experiments"]}
    assert by_name["photos-model-mlp"]["train.model"] == "mlp"
    assert by_name["photos-model-mlp"]["preprocess.image_size"] == 32
    assert by_name["photos-base"]["train.model"] == "smallvgg"
    assert by_name["photos-early_stopping.enabled-true"]["train.early_stopping.enabled"] is True
    assert all(p["preprocess.max_per_class"] == 10 and p["data.folder"] == str(photos) for p in by_name.values())
    text = (project / "reports" / "partial" / "photos" / "report.md").read_text()
    assert text.count("| **best** |") == 1 and f"| **best** | {results['best']} |" in text
    for picture in ("sweep1-model.png", "sweep2-augment.enabled.png", "sweep3-early_stopping.enabled.png"):
        assert (project / "reports" / "partial" / "photos" / picture).read_bytes().startswith(b"\x89PNG")
        assert f"]({picture})" in text
    curves = (project / "reports" / "partial" / "photos" / "curves" / "index.html").read_text()
    assert all(name in curves for name in names), "dvc plots diff overlays every experiment's curves"
    for series in ("eval-accuracy", "eval-loss", "train-accuracy", "train-loss"):  # drawn offline, shown in the report
        picture = project / "reports" / "partial" / "photos" / "curves" / f"{series}.png"
        assert picture.read_bytes().startswith(b"\x89PNG")
        assert f"](curves/{series}.png)" in text
    alone = plots_diff_json(experiments_only(["photos-base"]), project)  # a lab that ran one experiment
    assert {tuple(e["revisions"]) for v in alone["data"].values() for e in v} == {("photos-base",)}, "no workspace"


def test_the_best_values_together_run_as_lab_best(project: Path, photos: Path):
    sweep(project, "photos", "--best", "-S", f"data.folder={photos}")
    results = report(project, "photos")
    assert "photos-best" in [e["name"] for e in results["experiments"]]
    text = (project / "reports" / "partial" / "photos" / "report.md").read_text()
    assert "**photos-best**, each sweep's best value together (" in text
    assert "the best single experiment" in text or "the same setup as photos-" in text  # either, on a tiny sample


@pytest.mark.parametrize(
    ("lab", "number", "key", "expected"),
    [
        ("cifar10_cnn", 3, "train.cnn.conv_blocks", [1, 2]),
        ("convpool", 1, "train.convpool.filters", [[16, 32], [16, 32, 64], [16, 32, 64, 128]]),
        ("mnist_mlp", 4, "train.mlp.hidden_units", [[800, 500], [800, 700], [800, 900], [800, 1200]]),
    ],
)
def test_one_sweep_of_each_other_lab_runs_on_the_tiny_sample(project: Path, lab, number, key, expected):
    """With a changed workspace params.yaml (as after `dvc exp apply`): the lab's experiments still run the
    committed params, and the report of `--sweep N` holds that sweep alone."""
    committed = (project / "params.yaml").read_text()
    changed = yaml.safe_load(committed)
    changed["train"] |= {"optimizer": "adam", "lr": 0.001, "seed": 7}
    (project / "params.yaml").write_text(yaml.safe_dump(changed))
    try:
        sweep(project, lab, "--sweep", str(number))
    finally:
        (project / "params.yaml").write_text(committed)
    results = report(project, lab)
    finished = [e["runs"][0] for e in results["experiments"]]
    assert sorted(e["params"][key] for e in finished) == sorted(expected)
    assert all(e["params"]["data.dataset"] == "mnist_5k" and 0 <= e["accuracy"] <= 1 for e in finished)
    assert all(e["train_seconds"] > 0 and e["images_per_second"] > 0 for e in finished)
    assert {(e["params"]["train.optimizer"], e["params"]["train.lr"], e["params"]["train.seed"]) for e in finished} == {
        ("sgd", 0.01, 42)
    }
    assert results["not_run"] == [] and results["unfinished"] == {}, "--sweep N reports that sweep only"
    text = (project / "reports" / "partial" / lab / "report.md").read_text()
    assert "train.seed" not in text and "adam" not in text
    pictures = [p.name for p in (project / "reports" / "partial" / lab).glob("*.png")]
    assert pictures == [f"sweep{number}-{key.split('.')[-1]}.png"]


def test_a_recipe_runs_as_a_lab_of_its_base_alone_with_every_technique(project: Path):
    """recipe_fashion_mnist on the tiny sample: the airbench network, warm-up and linear decay, decoupled weight
    decay, label smoothing, crop-translate and mirror augmentation, and mirror TTA in evaluate, through DVC."""
    sweep(project, "recipe_fashion_mnist")
    results = report(project, "recipe_fashion_mnist")
    (run,) = [e["runs"][0] for e in results["experiments"]]
    assert run["params"]["train.model"] == "airbench" and run["params"]["evaluate.tta"] is True
    assert 0 <= run["accuracy"] <= 1 and run["params"]["data.dataset"] == "mnist_5k"


def test_failed_experiments_are_reported_missing_not_with_stale_metrics(project: Path, tmp_path: Path):
    failed = sweep(project, "photos", "--sweep", "3", "-S", f"data.folder={tmp_path / 'nowhere'}", check=False)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        "error: 2 experiments did not finish (photos-base, photos-early_stopping.enabled-true); see dvc queue status"
    )
    results = report(project, "photos")
    rerun = {"photos-base", "photos-early_stopping.enabled-true"}  # finished by the first test: now failed
    assert results["unfinished"] == dict.fromkeys(rerun, "failed")
    assert not rerun & {e["name"] for e in results["experiments"]}


def test_seeds_repeat_every_experiment_and_the_report_shows_their_spread(project: Path, photos: Path, tmp_path: Path):
    """One experiment fails beside the others, the first time only: the sweep runs it again alone."""
    fails_once = failing_once("photos-base-seed43", tmp_path)
    done = sweep(project, "photos", "--sweep", "2", "--seeds", "2", "-S", f"data.folder={photos}", extra_env=fails_once)
    assert not (tmp_path / "marker").exists(), "the failure was injected"
    assert "1 experiment failed beside others (photos-base-seed43); running it again, alone" in done.stdout
    results = report(project, "photos")
    assert [(e["name"], e["seeds"]) for e in results["experiments"]] == [
        ("photos-augment.enabled-false", [42, 43]),
        ("photos-base", [42, 43]),
    ]
    runs = results["experiments"][1]["runs"]
    assert [r["name"] for r in runs] == ["photos-base-seed42", "photos-base-seed43"]
    assert {r["params"]["split.seed"] for r in runs} == {42}, "the split stays fixed"
    assert len({json.dumps(r["data_md5"], sort_keys=True) for r in runs}) == 1 and runs[0]["data_md5"]
    committed = yaml.safe_load(run(["git", "show", "HEAD:dvc.lock"], project).stdout)  # mnist_5k's, export's too
    assert runs[0]["data_md5"].keys() == data_md5_of(committed).keys()
    assert not set(runs[0]["data_md5"].values()) & set(data_md5_of(committed).values()), "the photos' own splits"
    assert results["provenance"]["seeds"] == [42, 43] and results["provenance"]["commit"]
    text = (project / "reports" / "partial" / "photos" / "report.md").read_text()
    assert "Each experiment ran 2 times, train.seed 42-43, the split fixed" in text
    assert "| min-max |" in text and " ± " in text


def test_check_says_whether_head_reproduces_a_reports_figures_exactly(project: Path, photos: Path):
    """After the seeds test: its report (here the partial one) re-run from its quickest run's recorded params."""
    folder = project / "reports" / "partial" / "photos"
    check = [sys.executable, "-m", "imgclf.experiments.check", "photos", "--report", str(folder)]
    same = run([*check, "-S", f"data.folder={photos}"], project)
    assert "HEAD reproduces the report exactly" in same.stdout.splitlines()[-1]
    results = json.loads((folder / "results.json").read_text())
    for experiment in results["experiments"]:
        for r in experiment["runs"]:
            r["accuracy"] -= 0.01  # as if the code had changed since the report
    (folder / "results.json").write_text(json.dumps(results))
    stale = run([*check, "-S", f"data.folder={photos}"], project, check=False)
    assert stale.returncode == 1 and "the report is stale; re-run its lab" in stale.stdout.splitlines()[-1]
    refused = run([*check, "-S", "train.lr=0.5"], project, check=False)
    assert refused.returncode == 1 and "only data sources" in refused.stderr


def test_ctrl_c_stops_the_experiments_the_sweep_started_and_says_so(project: Path):
    """Ctrl-C in the sweep's terminal (SIGINT to its process group) once its first experiment trains: the running
    experiments are interrupted, the queued ones leave DVC's queue, and no queue worker or stage is left running."""
    command = [sys.executable, "-m", "imgclf.experiments.sweep", "mnist_mlp", "--sweep", "2", "--tiny", "--jobs", "2"]
    command += ["-S", "preprocess.max_per_class=500"]  # the whole bundled sample: long enough to be caught training
    out = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    # as a foreground job gets it: a shell's background job (CI started with `&`) inherits SIGINT ignored
    foreground = {"start_new_session": True, "preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}
    sweeper = subprocess.Popen(command, cwd=project, env=project_env(), **foreground, **out)
    deadline = time.monotonic() + 240
    while not any("-m stages.train" in line for line in processes_in(project)):
        assert sweeper.poll() is None and time.monotonic() < deadline, sweeper.communicate()[0]
        time.sleep(0.2)
    os.killpg(sweeper.pid, signal.SIGINT)
    shown = sweeper.communicate(timeout=120)[0]
    assert sweeper.returncode == 1, shown
    assert "interrupted: stopped the sweep's experiments; finished ones stay in dvc exp show" in shown
    assert "stopped: interrupted mnist_mlp-batch_size-" in shown and "queued experiments off DVC's queue" in shown
    assert "run the stage again" not in shown and "experiment execution will continue" not in shown
    deadline = time.monotonic() + 90  # a queue worker exits once it sees the queue empty (DVC looks every 10 s)
    while processes_in(project):
        assert time.monotonic() < deadline, f"still running after the sweep stopped: {processes_in(project)}"
        time.sleep(1)
    status = run(["dvc", "queue", "status"], project).stdout
    assert "Queued" not in status and "Running" not in status, status
