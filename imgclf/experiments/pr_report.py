"""A markdown report of what a change did: the working tree against a git revision (a pull request's base).

    python -m imgclf.experiments.pr_report main --out pr-report    # pr-report/report.md and the pictures it shows

Params that differ, metrics with their change (test accuracy first), the training curves of both overlaid, and
the pictures of plots/ that changed, old beside new. DVC gives the data (`dvc params diff`, `dvc metrics diff`,
`dvc plots diff`); the curves' Vega-Lite specs are drawn to PNG by vl-convert, offline: no browser, no CDN.
"""

import argparse
import json
import re
import subprocess
from pathlib import Path

from imgclf.atomic import atomic_dir
from imgclf.cli import COMMAND, exit_on_error
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.vega import draw_curves, plots_diff_json
from imgclf.experiments.workspace_params import mismatch_warning
from imgclf.markdown_table import markdown_table

FIRST_METRICS = ("test_accuracy", "test_loss")


def dvc_json(*args: str, cwd: Path) -> dict:
    return json.loads(dvc(*args, "--json", cwd=cwd) or "{}")


def cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "-" if value is None else str(value).replace("|", "\\|")


def params_table(diff: dict) -> list[str]:
    rows = [(key, change) for changes in diff.values() for key, change in sorted(changes.items())]
    if not rows:
        return ["No params changed."]
    cells = [[f"`{key}`", cell(change.get("old")), cell(change.get("new"))] for key, change in rows]
    return markdown_table(["param", "before", "now"], cells)


def metrics_table(diff: dict) -> list[str]:
    rows = [(key, change) for changes in diff.values() for key, change in changes.items()]
    if not rows:
        return ["No metric changed."]
    rows.sort(key=lambda row: (FIRST_METRICS.index(row[0]) if row[0] in FIRST_METRICS else len(FIRST_METRICS), row[0]))
    cells = []
    for key, change in rows:
        delta = change.get("diff")
        signed = "-" if delta is None else "same" if delta == 0 else ("+" if delta > 0 else "") + cell(float(delta))
        cells.append([f"`{key}`", cell(change.get("old")), cell(change.get("new")), signed])
    return markdown_table(["metric", "before", "now", "change"], cells)


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def changed_images(project: Path, rev: str, out: Path) -> list[str]:
    """plots/*.png that differ from `rev`'s: old and new side by side."""
    lines = []
    for new in sorted((project / "plots").glob("*.png")):
        relative = new.relative_to(project).as_posix()
        shown = subprocess.run(["git", "show", f"{rev}:{relative}"], cwd=project, capture_output=True)
        old = shown.stdout if shown.returncode == 0 else None
        if old == new.read_bytes():
            continue
        stem = slug(relative)
        (out / f"{stem}-now.png").write_bytes(new.read_bytes())
        before = "(new)"
        if old is not None:
            (out / f"{stem}-before.png").write_bytes(old)
            before = f"![before]({stem}-before.png)"
        lines += [f"**{relative}**", "", *markdown_table(["before", "now"], [[before, f"![now]({stem}-now.png)"]]), ""]
    return lines


def write_pr_report(project: Path, rev: str, out: Path, pictures_at: str = "") -> Path:
    """out/report.md and its pictures. With `pictures_at` (where the pictures can be seen, e.g. a CI run's page),
    each picture is a link there instead: a pull-request comment cannot hold the files themselves."""
    project = Path(project)
    with atomic_dir(out) as tmp:
        lines = [f"# What this change did, against `{rev}`", ""]
        warning = mismatch_warning(project)
        lines += [f"> **Warning:** {warning}", ""] if warning else []
        lines += ["## Metrics", ""]
        lines += metrics_table(dvc_json("metrics", "diff", rev, "--all", cwd=project))
        lines += ["", "## Params", ""]
        lines += params_table(dvc_json("params", "diff", rev, cwd=project))
        lines += ["", "## Training curves", ""]
        curves = draw_curves(plots_diff_json([rev], project), tmp)
        lines += [f"![{name}]({name})" for name in curves] or ["No training curves in either revision."]
        images = changed_images(project, rev, tmp)
        lines += ["", "## Pictures that changed", ""] + (images or ["None."])
        text = "\n".join(lines).rstrip() + "\n"
        if pictures_at:
            text = re.sub(r"!\[([^]]*)\]\([^)]*\)", rf"[\1]({pictures_at})", text)
        (tmp / "report.md").write_text(text)
    return out / "report.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the git revision to compare with, e.g. main or origin/main")
    parser.add_argument("--out", type=Path, default=Path("pr-report"), help="folder for report.md and its pictures")
    parser.add_argument("--pictures-at", default="", metavar="URL", help="link the pictures there instead")
    args = parser.parse_args()
    print(write_pr_report(Path("."), args.rev, args.out, args.pictures_at))


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
