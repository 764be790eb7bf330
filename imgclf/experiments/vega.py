"""DVC's training curves drawn to PNG offline: the Vega-Lite specs of `dvc plots diff --json`, rendered by
vl-convert. DVC's own HTML (`dvc plots show/diff`) loads Vega from a CDN, so it stays blank on an offline box."""

import json
from pathlib import Path

from imgclf.experiments.dvc_command import dvc
from imgclf.livelog import needs_log_scale

LIVE_SERIES = "dvclive/plots/metrics"  # DVCLive's per-epoch loss and accuracy
# "eval" is what training evaluated each epoch: the validation split
SERIES_TITLES = {
    "eval/accuracy": "validation accuracy",
    "eval/loss": "validation loss",
    "train/accuracy": "training accuracy",
    "train/loss": "training loss",
}


def plots_diff_json(revisions: list[str], project: Path) -> dict:
    """`dvc plots diff REV... --targets LIVE_SERIES --json`: one Vega-Lite spec a series, the revisions overlaid."""
    return json.loads(dvc("plots", "diff", *revisions, "--targets", LIVE_SERIES, "--json", cwd=project) or "{}")


def experiments_only(revisions: list[str]) -> list[str]:
    """Revisions for `dvc plots diff` that plot exactly these: DVC compares a single revision with the workspace,
    so one is named twice (a lab that ran its base only showed the workspace's unrelated curves beside it)."""
    return revisions * 2 if len(revisions) == 1 else revisions


def draw_curves(plots: dict, out: Path) -> list[str]:
    """Each series' spec as out/<series>.png (e.g. eval-accuracy.png), titled in words; returns the file names."""
    import vl_convert

    names = []
    for path, entries in sorted(plots.get("data", {}).items()):
        for entry in entries:
            if entry.get("type") != "vega":
                continue
            series = path.removeprefix(f"{LIVE_SERIES}/").removesuffix(".tsv")
            spec = readable({**entry["content"], "title": SERIES_TITLES.get(series, series)})
            name = f"{series.replace('/', '-')}.png"
            (out / name).write_bytes(vl_convert.vegalite_to_png(spec, scale=1.5))
            names.append(name)
    return names


def readable(spec: dict) -> dict:
    """DVC's spec, made to read as a picture: whole epochs on the x axis numbered from 1 (a revision plotted with
    DVC's plain template numbers DVCLive's steps from 0); one color a revision, never two the same (DVC's palette
    repeats: main and an experiment were both purple); legend labels never cut short; a loss that spans orders of
    magnitude on a log axis (imgclf.livelog)."""

    data = spec.get("data")
    values = (data.get("values") or []) if isinstance(data, dict) else []
    fields = {key for row in values if isinstance(row, dict) for key in row} - {"step", "epoch", "rev"}
    logarithmic = {f for f in fields if "loss" in f and needs_log_scale(r[f] for r in values if f in r)}

    def fix(node: object) -> None:
        if isinstance(node, dict):
            if node.get("field") in logarithmic and isinstance(node.get("scale"), dict):
                node["scale"] = {**node["scale"], "type": "log"}
                node["title"] = f"{node.get('title') or node['field']} (log scale)"
            if node.get("field") == "step" and "title" in node:
                node["title"] = "epoch (from 0)"
                node["axis"] = {"tickMinStep": 1, "format": "d"}
            scale = node.get("scale")
            if node.get("field") == "rev" and isinstance(scale, dict) and scale.get("domain"):
                scheme = "tableau10" if len(scale["domain"]) <= 10 else "category20"
                node["scale"] = {"domain": scale["domain"], "scheme": scheme}
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    spec = json.loads(json.dumps(spec))
    fix(spec)
    spec["config"] = {**spec.get("config", {}), "legend": {"labelLimit": 0}}
    return spec
