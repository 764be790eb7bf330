"""A lab's results from its DVC experiments: a markdown table (one row per experiment: the params that differ,
test accuracy and loss, training time and images/s, the best row marked), a PNG per sweep of test accuracy and
training time against the swept value, and DVC's own overlaid training curves.

    python -m imgclf.report mnist_mlp            # writes reports/mnist_mlp/
"""

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from matplotlib.figure import Figure

from imgclf.atomic import atomic_dir, atomic_path, write_json, write_text
from imgclf.cli import exit_on_error
from imgclf.errors import PipelineError
from imgclf.labs import Experiment, Lab, Sweep, experiments, find_lab, load_labs
from imgclf.params import read_yaml


@dataclass(frozen=True)
class Result:
    name: str
    params: dict[str, object]  # flattened: dotted key -> value
    accuracy: float
    loss: float
    train_seconds: float
    images_per_second: float


def dvc(*args: str, cwd: Path = Path(".")) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise PipelineError(f"dvc {' '.join(args)} failed: {message[-1] if message else result.returncode}")
    return result.stdout


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def completed_experiments(shown: list[dict]) -> dict[str, Result]:
    """`dvc exp show --json` -> the finished experiments by name (the newest, where a name ran twice)."""
    newest: dict[str, tuple[str, Result | None]] = {}
    for baseline in shown:
        for group in baseline.get("experiments") or []:
            state = (group.get("executor") or {}).get("state", "success")
            for exp in group.get("revs") or []:
                data, name = exp.get("data") or {}, exp.get("name")
                metrics = data.get("metrics") or {}
                evaluation = (metrics.get("metrics/eval.json") or {}).get("data")
                training = (metrics.get("metrics/train.json") or {}).get("data")
                params = ((data.get("params") or {}).get("params.yaml") or {}).get("data")
                if not name:
                    continue
                stamp = data.get("timestamp") or ""
                if name in newest and newest[name][0] >= stamp:
                    continue
                if state != "success" or not (evaluation and training and params):
                    newest[name] = (stamp, None)  # queued, running or failed: its metrics are the baseline's
                    continue
                result = Result(
                    name=name,
                    params=flatten(params),
                    accuracy=evaluation["test_accuracy"],
                    loss=evaluation["test_loss"],
                    train_seconds=training["train_seconds"],
                    images_per_second=training["images_per_second"],
                )
                newest[name] = (stamp, result)
    return {name: result for name, (_, result) in newest.items() if result}


def shown_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(shown_value, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def differing_keys(results: list[Result]) -> list[str]:
    keys = dict.fromkeys(key for r in results for key in r.params)
    return [k for k in keys if len({json.dumps(r.params.get(k)) for r in results}) > 1]


def shared_settings(results: list[Result], workspace: dict[str, object]) -> dict[str, object]:
    """Params equal across the lab's experiments but not what params.yaml says: the lab's own setup."""
    first = results[0].params
    varying = set(differing_keys(results))
    return {k: v for k, v in first.items() if k not in varying and workspace.get(k) != v}


def best(results: list[Result]) -> Result:
    return max(results, key=lambda r: (r.accuracy, -r.loss))


def markdown(lab: Lab, results: list[Result], missing: list[str], workspace: dict, pictures: list[str]) -> str:
    lines = [f"# {lab.name}: {lab.title}", ""]
    if not results:
        lines.append(f"No finished experiments of this lab yet: run `python -m imgclf.sweep {lab.name}`.")
        return "\n".join(lines) + "\n"
    shared = shared_settings(results, workspace)
    if shared:
        settings = ", ".join(f"`{k}={shown_value(v)}`" for k, v in shared.items())
        lines += [f"Every experiment sets (besides params.yaml): {settings}", ""]
    keys = differing_keys(results)
    top = best(results)
    header = ["", "experiment", *keys, "test accuracy", "test loss", "train time (s)", "images/s"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = ["**best**" if r is top else "", r.name, *(shown_value(r.params.get(k)) for k in keys)]
        cells += [f"{r.accuracy:.2%}", f"{r.loss:.4f}", f"{r.train_seconds:.1f}", f"{r.images_per_second:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Best: **{top.name}**, {top.accuracy:.2%} test accuracy."]
    if missing:
        lines += ["", f"Not finished (queued, running or failed; see `dvc queue status`): {', '.join(missing)}"]
    lines += ["", *(f"![{p}]({p})" for p in pictures)]
    lines += ["", "Training curves of every experiment, overlaid: [curves/index.html](curves/index.html) "
              "(`dvc plots diff` over these experiments)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: Sweep, runs: list[Experiment], results: dict[str, Result], title: str, out: Path) -> bool:
    """Test accuracy and training time against the sweep's values (`runs`: the sweep's experiments, in order);
    False when none of them finished."""
    points = [(", ".join(map(shown_value, r.point.values())), results[r.name]) for r in runs if r.name in results]
    if not points:
        return False
    labels = [label for label, _ in points]
    panels = {
        "test accuracy (%)": [100 * r.accuracy for _, r in points],
        "training time (s)": [r.train_seconds for _, r in points],
    }
    fig = Figure(figsize=(10, 4), layout="constrained")
    fig.suptitle(title)
    for ax, (ylabel, values) in zip(fig.subplots(1, 2), panels.items(), strict=True):
        ax.plot(range(len(points)), values, marker="o")
        ax.set_xticks(range(len(points)), labels, rotation=20 if max(map(len, labels)) > 10 else 0)
        ax.set(xlabel=" + ".join(sweep.keys), ylabel=ylabel)
        ax.grid(alpha=0.3)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100)
    return True


def write_report(lab: Lab, out_dir: Path, project: Path = Path(".")) -> list[Result]:
    """Reads the project's experiments and writes out_dir/{report.md,results.json,sweep-*.png,curves/}."""
    runs = experiments(lab)
    finished = completed_experiments(json.loads(dvc("exp", "show", "--json", cwd=project)))
    results = [finished[r.name] for r in runs if r.name in finished]
    missing = [r.name for r in runs if r.name not in finished]
    workspace = flatten(read_yaml(project / "params.yaml"))
    by_name = {r.name: r for r in results}
    pictures = []
    for i, sweep in enumerate(lab.sweeps, 1):
        picture = f"sweep{i}-{sweep.keys[0].split('.', 1)[-1]}.png"
        if plot_sweep(
            sweep, experiments(lab, only_sweep=i), by_name, f"{lab.name}: {' + '.join(sweep.keys)}", out_dir / picture
        ):
            pictures.append(picture)
    if results:
        with atomic_dir(out_dir / "curves") as tmp:
            dvc("plots", "diff", *(r.name for r in results), "--out", str(tmp.resolve()), cwd=project)
    write_json(out_dir / "results.json", {"best": best(results).name if results else None, "missing": missing,
                                          "experiments": [asdict(r) for r in results]})  # fmt: skip
    write_text(out_dir / "report.md", markdown(lab, results, missing, workspace, pictures))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lab", help="a lab of sweeps.yaml")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports/LAB/ is written (default reports)")
    args = parser.parse_args()
    lab = find_lab(load_labs(), args.lab)
    results = write_report(lab, args.out / lab.name)
    print(f"{args.out / lab.name / 'report.md'}: {len(results)} experiments")


if __name__ == "__main__":
    exit_on_error(main)
