"""A small real DVC repository for the web app's tests: one stage that writes the metrics and plots the project's
pipeline writes (test and validation accuracy, DVCLive curves, predictions for a confusion matrix) from its params
in a moment, three experiments of it made by `dvc exp run`, and an Optuna study whose trials name two of them."""

import sys
from pathlib import Path

from tests.helpers.project import run

XSS = "<img src=x onerror=alert(1)>"
CLASSES = ["cat", "dog", XSS]  # a class folder may be named anything

STAGE = """
import json, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))["train"]
lr = params["lr"]
quality = min(0.99, 0.5 + lr)  # a larger rate, a better model: sorting has a known best
curves = pathlib.Path("dvclive/plots/metrics/eval"); curves.mkdir(parents=True, exist_ok=True)
rows = ["step\\taccuracy"] + [f"{s}\\t{quality * (s + 1) / 4:.4f}" for s in range(4)]
(curves / "accuracy.tsv").write_text("\\n".join(rows) + "\\n")
pathlib.Path("metrics").mkdir(exist_ok=True)
json.dump({"test_accuracy": quality, "test_loss": 1 - quality, "balanced_accuracy": quality, "f1_macro": quality},
          open("metrics/eval.json", "w"))
json.dump({"best_val_accuracy": quality - 0.01, "epochs_run": 4}, open("metrics/train.json", "w"))
classes = CLASSES
lines = ["actual,predicted"] + [f"{a},{a if i % 3 else classes[(classes.index(a) + 1) % 3]}"
                                for i, a in enumerate(classes * 4)]
pathlib.Path("metrics/predictions.csv").write_text("\\n".join(lines) + "\\n")
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.txt").write_text(f"model lr={lr}\\n")
pathlib.Path("exported/info").mkdir(parents=True, exist_ok=True)
pathlib.Path("exported/model.txt").write_text(f"exported lr={lr}\\n")
pathlib.Path("exported/info/about.json").write_text(json.dumps({"lr": lr}))
report = "\\n".join(f"{c:>30}  {quality:.2f}" for c in classes)
pathlib.Path("metrics/classification_report.txt").write_text(f"{'class':>30}  recall\\n{report}\\n")
"""

DVC_YAML = """
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [train.lr, train.note]
    outs: [models/model.txt, metrics/classification_report.txt, exported]
    metrics:
      - metrics/eval.json: {cache: false}
      - metrics/train.json: {cache: false}
    plots:
      - dvclive/plots/metrics: {cache: false, x: step}
      - metrics/predictions.csv: {cache: false, template: confusion, x: predicted, y: actual}
"""
EXPERIMENTS = {"demo-0000": 0.3, "demo-0001": 0.1, "lr-big": 0.45}  # name -> train.lr


def ui_project(folder: Path) -> Path:
    """The repository, committed at its baseline (train.lr 0.2), with EXPERIMENTS run and a study `demo` in
    .tune/demo.db."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(STAGE.replace("classes = CLASSES", f"classes = {CLASSES!r}"))
    (folder / "dvc.yaml").write_text(DVC_YAML)
    (folder / "params.yaml").write_text('train:\n  lr: 0.2\n  note: "plain"\n')
    (folder / ".gitignore").write_text("/.tune/\n")
    run(["git", "init", "-q"], folder)
    run([sys.executable, "-m", "dvc", "init", "-q"], folder)
    run([sys.executable, "-m", "dvc", "repro", "-q"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", "baseline"], folder)
    for name, lr in EXPERIMENTS.items():
        note = [] if name != "lr-big" else ["-S", f"train.note='{XSS}'"]
        run([sys.executable, "-m", "dvc", "exp", "run", "-q", "--name", name, "-S", f"train.lr={lr}", *note], folder)
    run(["git", "checkout", "-q", "--", "."], folder)  # `dvc exp run` leaves its last results in the workspace
    write_study(folder)
    return folder


def write_study(folder: Path) -> None:
    import optuna

    (folder / ".tune").mkdir(exist_ok=True)
    study = optuna.create_study(study_name="demo", storage=f"sqlite:///{folder / '.tune' / 'demo.db'}",
                                direction="maximize")  # fmt: skip
    for name, lr in list(EXPERIMENTS.items())[:2]:
        trial = optuna.trial.create_trial(
            params={"train.lr": lr},
            distributions={"train.lr": optuna.distributions.FloatDistribution(0.01, 0.5)},
            value=min(0.99, 0.5 + lr) - 0.01,
            user_attrs={"experiment": name},
        )
        study.add_trial(trial)
    study.set_user_attr("setup", {"objective": "val_accuracy"})
