"""The studies' pages: every study under .tune/ and in the storages given, and one study's trials and pictures."""

from pathlib import Path

from flask import Blueprint, abort, render_template

from imgclf.ui import studies as study_data
from imgclf.ui.rows import ExperimentList


def study_pages(project: Path, storages: list[str], experiments: ExperimentList) -> Blueprint:
    pages = Blueprint("studies", __name__)

    @pages.get("/studies")
    def every():
        found = study_data.read_studies(study_data.storage_urls(project, storages))
        return render_template("studies.html", studies=found)

    @pages.get("/study/<name>")
    def one(name: str):
        urls = study_data.storage_urls(project, storages)
        study = next((s for s in study_data.read_studies(urls) if s.name == name and not s.problem), None)
        if study is None:
            abort(404, f"no study named {name} under .tune/ or in the storages given")
        url = next(u for u in urls if study_data.redacted(u) == study.storage)
        known = {r.name for r in experiments.read()}
        return render_template("study.html", study=study, pictures=study_data.study_pictures(url, name), known=known)

    return pages
