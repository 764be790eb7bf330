"""The web app's pages: the experiments table, one experiment, a comparison, the studies. Flask renders them from
Jinja templates (every value escaped); plots are DVC's own (`dvc plots diff`), drawn to inline SVG by vl-convert,
so the pages load nothing from the network."""

import secrets
import shlex
from pathlib import Path

from flask import Flask, Response, abort, render_template, request

from imgclf.errors import PipelineError
from imgclf.experiments.exp_show import data_md5_of, lock_at
from imgclf.experiments.labs import load_labs, set_param_args, short_key
from imgclf.ui import studies as study_data
from imgclf.ui.action_pages import ON_EXPERIMENTS, action_pages
from imgclf.ui.files import chunks, report_text
from imgclf.ui.format import register_filters
from imgclf.ui.plots import experiment_plots, stale_outputs
from imgclf.ui.query import QueryError, differing_params, parse_conditions, select
from imgclf.ui.rows import METRICS, ExperimentList, Row

MOST_COMPARED = 8  # experiments on one comparison page: more curves than colours tell apart
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"


def create_app(
    project: Path,
    storages: list[str] | None = None,
    token: str | None = None,
    all_commits: bool = False,
    actions: bool = False,
):
    """The app for the repository at `project`; `token`: required of every request (the server listens beyond
    this machine), in the URL once, then kept in a cookie; `actions`: its pages may apply, queue, remove and push."""
    project = Path(project).resolve()
    app = Flask(__name__)
    register_filters(app)
    labs = set(load_labs(project / "sweeps.yaml")) if (project / "sweeps.yaml").exists() else set()
    experiments = ExperimentList(project, labs, all_commits)
    storages = list(storages or [])
    app.jinja_env.globals["actions_on"] = actions
    if actions:
        app.register_blueprint(action_pages(project, experiments, secrets.token_urlsafe(24)))

    @app.before_request
    def check_token():
        if token is None:
            return None
        given = request.args.get("token") or request.cookies.get("imgclf_ui_token") or ""
        if not secrets.compare_digest(given, token):
            return render_template("problem.html", title="Token needed", problem=TOKEN_NEEDED), 403
        return None

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        if token and request.args.get("token") == token:
            response.set_cookie("imgclf_ui_token", token, httponly=True, samesite="Strict")
        return response

    @app.errorhandler(PipelineError)
    def dvc_failed(error):
        return render_template("problem.html", title="DVC could not list the experiments", problem=str(error)), 500

    @app.errorhandler(404)
    def not_found(error):
        return render_template("problem.html", title="Not found", problem=error.description), 404

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("problem.html", title="Refused", problem=error.description), 403

    @app.get("/")
    def experiments_page():
        rows = experiments.read()
        text, where = request.args.get("q", ""), request.args.get("where", "")
        sort, descending = request.args.get("sort") or None, request.args.get("desc") == "1"
        try:
            conditions, problem = parse_conditions(where), None
        except QueryError as e:
            conditions, problem = [], str(e)
        shown = select(rows, text, conditions, sort, descending)
        every_param = sorted({k for r in rows for k in r.params})
        varied = differing_params([r for r in rows if r.state != "workspace"])
        chosen = [c for c in request.args.getlist("col") if c in every_param] or varied
        unfinished = any(r.state in ("queued", "running") for r in rows)
        unreadable = [f"{r.name}: {r.error}" for r in rows if r.error]
        short = {k: short_key(k, tuple(every_param)) for k in every_param}
        return render_template(
            "experiments.html", rows=shown, total=len(rows), metrics=list(METRICS), params=chosen, short=short,
            every_param=every_param, varied=varied, text=text, where=where, sort=sort, descending=descending,
            problem=problem, refresh=unfinished, unreadable=unreadable,
        )  # fmt: skip

    @app.get("/exp/<name>")
    def experiment_page(name: str):
        row = find(experiments.read(), name)
        baseline = next((r for r in experiments.read() if r.state == "baseline"), None)
        lock = lock_at(project)(row.rev) if row.rev else {}
        data_md5, stale = data_md5_of(lock), stale_outputs(lock)
        plots, notes = experiment_plots(project, {row.name: row.rev}) if row.rev else ([], [])
        changed = {k: v for k, v in row.params.items() if baseline and baseline.params.get(k) != v}
        return render_template(
            "experiment.html", row=row, metrics=list(METRICS), data_md5=data_md5, plots=plots, notes=notes,
            commands=commands_for(row, baseline), changed=changed, baseline=baseline, actions=ON_EXPERIMENTS,
            stale=stale, report=report_text(project, row.rev, row.files) if row.rev else None,
        )  # fmt: skip

    @app.get("/exp/<name>/file/<path:path>")
    def experiment_file(name: str, path: str):
        row = find(experiments.read(), name)
        if path not in row.files or not row.rev:
            abort(404, f"{name} has no output {path} that DVC tracks")
        headers = {"Content-Disposition": f'attachment; filename="{Path(path).name}"'}
        return Response(chunks(project, row.rev, path), mimetype="application/octet-stream", headers=headers)

    @app.get("/compare")
    def compare_page():
        names = list(dict.fromkeys(request.args.getlist("e")))
        if not 2 <= len(names) <= MOST_COMPARED:
            abort(404, f"choose 2 to {MOST_COMPARED} experiments to compare (here {len(names)})")
        rows = experiments.read()
        chosen = [find(rows, n) for n in names]
        if any(not r.rev for r in chosen):
            abort(404, "only experiments that ran can be compared: a queued one has no results yet")
        keys = sorted({k for r in chosen for k in r.params})
        differ = set(differing_params(chosen))
        every = request.args.get("all") == "1"
        plots, notes = experiment_plots(project, {r.name: r.rev for r in chosen})
        reports = {r.name: report_text(project, r.rev, r.files) for r in chosen}
        measured = [m for m in METRICS if any(m in r.metrics for r in chosen)]
        return render_template(
            "compare.html", rows=chosen, metrics=measured, keys=keys if every else sorted(differ),
            differ=differ, every=every, plots=plots, notes=notes, names=names, reports=reports,
        )  # fmt: skip

    @app.get("/studies")
    def studies_page():
        found = study_data.read_studies(study_data.storage_urls(project, storages))
        return render_template("studies.html", studies=found)

    @app.get("/study/<name>")
    def study_page(name: str):
        found = study_data.read_studies(study_data.storage_urls(project, storages))
        study = next((s for s in found if s.name == name and not s.problem), None)
        if study is None:
            abort(404, f"no study named {name} under .tune/ or in the storages given")
        url = next(u for u in study_data.storage_urls(project, storages) if study_data.redacted(u) == study.storage)
        known = {r.name for r in experiments.read()}
        pictures = study_data.study_pictures(url, name)
        return render_template("study.html", study=study, pictures=pictures, known=known)

    return app


TOKEN_NEEDED = "this server listens beyond this machine: open the URL with the token that `imgclf ui` printed"


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
