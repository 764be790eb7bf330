"""The web app's actions (`imgclf ui --actions`) on a real repository: off by default, each shown before it runs,
run only with the session's token, refused where it would overwrite uncommitted work, and what they do is DVC's."""

import re
import time
from pathlib import Path

import pytest

from imgclf.ui.app import create_app
from tests.helpers.project import run
from tests.helpers.ui_project import ui_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return ui_project(tmp_path_factory.mktemp("actions") / "repo")


@pytest.fixture(scope="module")
def client(project):
    return create_app(project, actions=True).test_client()


def session_token(page: str) -> str:
    return re.search(r'name="session_token" value="([^"]+)"', page)[1]


def lr_in_workspace(project: Path) -> str:
    return re.search(r"lr: (\S+)", (project / "params.yaml").read_text())[1]


def test_without_the_flag_there_are_no_actions(project):
    client = create_app(project).test_client()
    assert client.get("/act/apply/demo-0000").status_code == 404
    assert client.post("/act/apply/demo-0000").status_code == 404
    assert "--actions" in client.get("/exp/demo-0000").get_data(as_text=True)


def test_an_action_without_the_sessions_token_is_refused(project, client):
    response = client.post("/act/apply/demo-0000", data={"session_token": "guessed"})
    assert response.status_code == 403 and "not this server&#39;s own" in response.get_data(as_text=True)
    assert lr_in_workspace(project) == "0.2"


def test_apply_says_what_it_changes_is_refused_over_uncommitted_work_then_applies(project, client):
    page = client.get("/act/apply/demo-0000").get_data(as_text=True)
    assert "dvc exp apply demo-0000" in page and "params.yaml: train.lr 0.2 -&gt; 0.3" in page
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.2", "lr: 0.25"))
    refused = client.get("/act/apply/demo-0000").get_data(as_text=True)
    assert "Refused: the workspace has uncommitted changes to params.yaml" in refused
    response = client.post("/act/apply/demo-0000", data={"session_token": session_token(page)})
    assert response.status_code == 409 and lr_in_workspace(project) == "0.25", "the user's edit is kept"
    run(["git", "checkout", "--", "params.yaml"], project)
    done = client.post("/act/apply/demo-0000", data={"session_token": session_token(page)})
    assert done.status_code == 200 and lr_in_workspace(project) == "0.3"
    kept = client.get("/act/apply/demo-0001").get_data(as_text=True)  # the workspace: demo-0000's results
    assert "demo-0000&#39;s results, which DVC keeps as that experiment" in kept and "Refused" not in kept
    client.post("/act/apply/demo-0001", data={"session_token": session_token(kept)})
    assert lr_in_workspace(project) == "0.1"
    run(["git", "checkout", "--", "."], project)


def test_a_queued_variant_is_checked_then_run_by_a_worker(project, client):
    refused = client.get("/queue?overrides=train.nope%3D1").get_data(as_text=True)
    assert "train.nope is not a key of params.yaml" in refused and "Confirm" not in refused
    bad_name = client.get("/queue?overrides=train.lr%3D0.15&name=%3Cscript%3E").get_data(as_text=True)
    assert "name it with letters, digits" in bad_name and "<script>" not in bad_name
    page = client.get("/queue?overrides=train.lr%3D0.15&name=queued-lr").get_data(as_text=True)
    assert "dvc exp run --queue --name queued-lr -S train.lr=0.15" in page
    form = {"session_token": session_token(page), "overrides": "train.lr=0.15", "name": "queued-lr"}
    assert client.post("/queue", data=form).status_code == 200
    for _ in range(90):
        if '<tr class="success">' in client.get("/?q=queued-lr").get_data(as_text=True):
            break
        time.sleep(1)
    assert "65.00%" in client.get("/?q=queued-lr").get_data(as_text=True), "the worker ran it: 0.5 + lr"


def test_remove_deletes_the_experiment_and_push_without_a_remote_is_refused(project, client):
    page = client.get("/act/remove/lr-big").get_data(as_text=True)
    assert client.post("/act/remove/lr-big", data={"session_token": session_token(page)}).status_code == 200
    assert "lr-big" not in client.get("/").get_data(as_text=True)
    refused = client.get("/act/push/demo-0000").get_data(as_text=True)
    assert "this repository has no git remote to push to" in refused
