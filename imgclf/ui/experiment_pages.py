"""The experiments' pages: the table, one experiment (its metrics, provenance, plots, report and files), an
experiment's file, and a comparison of several."""

import itertools
import shlex
from collections.abc import Iterator
from pathlib import Path

from dvc.exceptions import DvcException
from flask import Blueprint, Response, abort, render_template, request
from werkzeug.http import dump_options_header

from imgclf.experiments.exp_show import data_md5_of, lock_at
from imgclf.experiments.labs import set_param_args, short_key
from imgclf.experiments.workspace_params import mismatch_warning
from imgclf.ui.action_pages import ON_EXPERIMENTS
from imgclf.ui.files import chunks, report_text, zipped_folder
from imgclf.ui.plots import experiment_plots, stale_outputs
from imgclf.ui.query import QueryError, check_keys, check_orders, differing_params, parse_conditions, select
from imgclf.ui.rows import METRICS, ExperimentList, Row
from imgclf.ui.studies import standing

TEXT_FILES = (".json", ".txt", ".csv", ".tsv", ".yaml", ".md", ".log")
MOST_COMPARED = 8  # experiments on one comparison page: more curves than colours tell apart


def experiment_pages(project: Path, experiments: ExperimentList) -> Blueprint:
    pages = Blueprint("experiments", __name__)

    @pages.get("/")
    def table():
        rows = experiments.read()
        text, where = request.args.get("q", ""), request.args.get("where", "")
        sort, descending = request.args.get("sort") or None, request.args.get("desc") == "1"
        every_param = sorted({k for r in rows for k in r.params})
        try:
            conditions, problem = parse_conditions(where), None
            check_keys(conditions, set(every_param))
            check_orders(conditions, rows)
        except QueryError as e:
            conditions, problem = [], str(e)
        varied = differing_params([r for r in rows if r.state != "workspace"])
        return render_template(
            "experiments.html", rows=select(rows, text, conditions, sort, descending), total=len(rows),
            metrics=list(METRICS), params=chosen_columns(request.args.getlist("col"), every_param, varied),
            short={k: short_key(k, tuple(every_param)) for k in every_param}, every_param=every_param,
            varied=varied, text=text, where=where, sort=sort, descending=descending, problem=problem,
            refresh=any(r.state in ("queued", "running") for r in rows),
            unreadable=[f"{r.name}: {r.error}" for r in rows if r.error],
            none_yet=all(r.state in ("baseline", "workspace") for r in rows), stale=mismatch_warning(project),
            listing_problem=experiments.problem, elsewhere=experiments.elsewhere,
        )  # fmt: skip

    @pages.get("/exp/<name>")
    def one(name: str):
        row = find(experiments.read(), name)
        baseline = next((r for r in experiments.read() if r.state == "baseline"), None)
        lock = lock_at(project)(row.rev) if row.rev else {}
        shown = {row.name: row.rev} if row.rev else {}  # none: the workspace's own (`dvc plots show`)
        plots, notes = experiment_plots(project, shown) if row.rev or row.state == "workspace" else ([], [])
        changed = {k: v for k, v in row.params.items() if baseline and baseline.params.get(k) != v}
        return render_template(
            "experiment.html", row=row, metrics=list(METRICS), data_md5=data_md5_of(lock), plots=plots, notes=notes,
            commands=commands_for(row, baseline), changed=changed, baseline=baseline, actions=ON_EXPERIMENTS,
            stale=stale_outputs(lock), report=report_text(project, row.rev, row.files) if row.rev else None,
            in_study=standing(project, row.group, row.name),
        )  # fmt: skip

    @pages.get("/exp/<name>/file/<path:path>")
    def file(name: str, path: str):
        row = find(experiments.read(), name)
        if path not in row.files or not row.rev:
            abort(404, f"{name} has no output {path} that DVC tracks")
        text = Path(path).suffix in TEXT_FILES  # shown in the browser, as text: never run as a page
        kind = "text/plain" if text else "application/octet-stream"  # Flask adds utf-8 to a text type
        stream = started(chunks(project, row.rev, path), name, path)
        return Response(stream, mimetype=kind, headers=disposition("inline" if text else "attachment", path))

    @pages.get("/exp/<name>/folder/<path:path>")
    def folder(name: str, path: str):
        row = find(experiments.read(), name)
        if path not in row.folders or not row.rev:
            abort(404, f"{name} has no folder output {path} that DVC tracks")
        stream = started(zipped_folder(project, row.rev, path), name, path)
        return Response(stream, mimetype="application/zip", headers=disposition("attachment", f"{name}-{path}.zip"))

    @pages.get("/compare")
    def compare():
        names = list(dict.fromkeys(request.args.getlist("e")))
        if not 2 <= len(names) <= MOST_COMPARED:
            abort(400, f"choose 2 to {MOST_COMPARED} different experiments to compare (here {len(names)})")
        chosen = [find(experiments.read(), n) for n in names]
        if any(not r.rev for r in chosen):
            abort(400, "only experiments that ran can be compared: a queued one has no results yet")
        differ = set(differing_params(chosen))
        every = request.args.get("all") == "1"
        plots, notes = experiment_plots(project, {r.name: r.rev for r in chosen})
        return render_template(
            "compare.html", rows=chosen, metrics=[m for m in METRICS if any(m in r.metrics for r in chosen)],
            keys=sorted({k for r in chosen for k in r.params} if every else differ), differ=differ, every=every,
            plots=plots, notes=notes, names=names,
            reports={r.name: report_text(project, r.rev, r.files) for r in chosen},
        )  # fmt: skip

    return pages


def chosen_columns(chosen: list[str], every_param: list[str], varied: list[str]) -> list[str]:
    """The params columns ticked (the ones that vary where none is), those that vary first, in the table's order."""
    ticked = set(chosen) & set(every_param)
    if not ticked:
        return varied
    return [k for k in varied if k in ticked] + [k for k in every_param if k in ticked and k not in varied]


def started(stream: Iterator[bytes], name: str, path: str) -> Iterator[bytes]:
    """The stream with its first block read now, so that a file DVC cannot find is a page, not a cut download."""
    try:
        first = next(stream, b"")
    except (OSError, DvcException) as e:
        abort(404, f"{path} of {name} cannot be read here ({type(e).__name__}): `dvc exp pull` or `dvc pull` brings it")
    return itertools.chain([first], stream)


def disposition(how: str, path: str) -> dict[str, str]:
    """The Content-Disposition header naming the file, quoted whatever its name holds."""
    return {"Content-Disposition": dump_options_header(how, {"filename": Path(path).name})}


def find(rows: list[Row], name: str) -> Row:
    row = next((r for r in rows if r.name == name), None)
    if row is None:
        abort(404, f"no experiment named {name} in this repository (dvc exp show lists the names)")
    return row


def commands_for(row: Row, baseline: Row | None) -> dict[str, str]:
    """The commands that bring the experiment into the workspace and re-run its params at HEAD."""
    if row.state in ("workspace", "queued") or not row.rev:
        return {}
    found = {"bring it into the workspace": f"dvc exp apply {shlex.quote(row.name)}"}
    if row.state == "baseline":
        found = {"check it out": f"git checkout {shlex.quote(row.name)}"}
    committed = baseline.params if baseline else {}
    changed = {k: v for k, v in row.params.items() if committed.get(k) != v}
    rerun = ["dvc", "exp", "run", "--name", f"{row.name}-at-head", *set_param_args(changed)]
    found["re-run its params at HEAD"] = shlex.join(rerun)
    return found
