"""The web app (`imgclf ui`): its pages (experiment_pages, study_pages, action_pages), rendered by Flask from Jinja
templates (every value escaped); plots are DVC's own (`dvc plots diff`), drawn to inline SVG by vl-convert, so the
pages load nothing from the network. Here: what guards every page, and how a problem is shown."""

import secrets
from pathlib import Path

from flask import Flask, render_template, request

from imgclf.errors import PipelineError
from imgclf.experiments.labs import load_labs
from imgclf.ui.action_pages import action_pages
from imgclf.ui.experiment_pages import experiment_pages
from imgclf.ui.format import register_filters
from imgclf.ui.rows import ExperimentList
from imgclf.ui.study_pages import study_pages

CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'"
TOKEN_NEEDED = "this server listens beyond this machine: open the URL with the token that `imgclf ui` printed"


def create_app(
    project: Path,
    storages: list[str] | None = None,
    token: str | None = None,
    all_commits: bool = False,
    actions: bool = False,
) -> Flask:
    """The app for the repository at `project`; `token`: required of every request (the server listens beyond
    this machine), in the URL once, then kept in a cookie; `actions`: its pages may apply, queue, remove and push."""
    project = Path(project).resolve()
    app = Flask(__name__)
    register_filters(app)
    labs = load_labs(project / "sweeps.yaml") if (project / "sweeps.yaml").exists() else {}
    experiments = ExperimentList(project, labs, all_commits)
    app.register_blueprint(experiment_pages(project, experiments))
    app.register_blueprint(study_pages(project, list(storages or []), experiments))
    app.jinja_env.globals["actions_on"] = actions
    if actions:
        app.register_blueprint(action_pages(project, experiments, secrets.token_urlsafe(24)))
    guard(app, token)
    return app


def guard(app: Flask, token: str | None) -> None:
    """The token check, the headers every answer carries, and problems as pages, never a traceback."""

    @app.before_request
    def check_token():
        given = request.args.get("token") or request.cookies.get("imgclf_ui_token") or ""
        if token is not None and not secrets.compare_digest(given, token):
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
        hint = "While DVC starts or ends a queued run, this can pass: reload the page in a few seconds."
        return render_template("problem.html", title="DVC could not list the experiments", problem=str(error),
                               hint=hint), 500  # fmt: skip

    @app.errorhandler(404)
    def not_found(error):
        return render_template("problem.html", title="Not found", problem=error.description), 404

    @app.errorhandler(400)
    def cannot(error):
        return render_template("problem.html", title="Cannot show this", problem=error.description), 400

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("problem.html", title="Refused", problem=error.description), 403
