"""The pages of the app's actions (`imgclf ui --actions`): each shows its plan (what it will run and change, or why
it is refused) and runs only on a POST that carries the session's token, which a page of another site cannot read:
no cross-site request can trigger one."""

import secrets
from pathlib import Path

from flask import Blueprint, abort, render_template, request

from imgclf.errors import PipelineError
from imgclf.ui import actions
from imgclf.ui.rows import ExperimentList

ON_EXPERIMENTS = {"apply": "Apply to the workspace", "remove": "Remove", "push": "Push"}


def action_pages(project: Path, experiments: ExperimentList, session_token: str) -> Blueprint:
    pages = Blueprint("actions", __name__)

    def plan_for(action: str, name: str) -> actions.Plan:
        row = next((r for r in experiments.read() if r.name == name and r.state == "success"), None)
        if action not in ON_EXPERIMENTS or row is None:
            abort(404, f"no finished experiment named {name} to {action}")
        if action == "apply":
            return actions.plan_apply(project, name, row.rev)
        return actions.plan_remove(name) if action == "remove" else actions.plan_push(project, name)

    def run(plan: actions.Plan, title: str):
        if not secrets.compare_digest(request.form.get("session_token", ""), session_token):
            abort(403, "this action's form is not this server's own: open the page again and confirm there")
        if plan.refused:
            return render_template("problem.html", title=f"{title}: refused", problem=plan.refused), 409
        try:
            said = actions.carry_out(project, plan)
        except PipelineError as e:
            return render_template("problem.html", title=f"{title}: failed", problem=str(e)), 500
        return render_template("done.html", title=title, said=said, plan=plan)

    @pages.get("/act/<action>/<name>")
    def confirm(action: str, name: str):
        plan = plan_for(action, name)
        title = f"{ON_EXPERIMENTS[action]}: {name}"
        return render_template("confirm.html", title=title, plan=plan, session_token=session_token, fields={})

    @pages.post("/act/<action>/<name>")
    def act(action: str, name: str):
        return run(plan_for(action, name), f"{ON_EXPERIMENTS[action]}: {name}")

    @pages.get("/queue")
    def queue_form():
        overrides, name = request.args.get("overrides", ""), request.args.get("name", "")
        plan = actions.plan_queue(project, overrides, name) if overrides else None
        fields = {"overrides": overrides, "name": name}
        return render_template("queue.html", plan=plan, fields=fields, session_token=session_token)

    @pages.post("/queue")
    def queue():
        plan = actions.plan_queue(project, request.form.get("overrides", ""), request.form.get("name", ""))
        return run(plan, "Queue a variant")

    return pages
