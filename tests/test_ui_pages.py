"""The web app through Flask's test client, on a real DVC repository with real experiments and a real Optuna study:
what each page shows, and that bad input is a page that says so (never a traceback), nothing outside what DVC names
is served, and every value is escaped."""

import io
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from imgclf.ui.app import create_app
from tests.helpers.project import run
from tests.helpers.ui_project import XSS, ui_project

pytestmark = pytest.mark.slow  # a repository with three `dvc exp run`s, and DVC listing them per app


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return ui_project(tmp_path_factory.mktemp("ui") / "repo")


@pytest.fixture(scope="module")
def client(project):
    return create_app(project).test_client()


def names_in_table(page: str) -> list[str]:
    return re.findall(r'<td class="name"><a href="/exp/[^"]+">([^<]+)</a>', page)


def test_the_table_lists_the_baseline_and_every_experiment_with_its_group_and_metrics(client):
    page = client.get("/").get_data(as_text=True)
    assert set(names_in_table(page)) == {"workspace", "master", "demo-0000", "demo-0001", "lr-big"}
    assert ">demo<" in page, "trials grouped under their study"
    assert "95.00%" in page and "94.00%" in page, "lr-big's test and validation accuracy"
    assert 'title="train.lr"' in page and 'title="train.note"' in page, "the params that differ are columns"


def test_sorting_by_test_accuracy_puts_the_best_first_and_a_filter_hides_the_rest(client):
    best_first = names_in_table(client.get("/?sort=test_accuracy&desc=1").get_data(as_text=True))
    assert best_first[:2] == ["lr-big", "demo-0000"] and best_first[-1] == "demo-0001"
    assert names_in_table(client.get("/?q=demo").get_data(as_text=True)) == ["demo-0001", "demo-0000"]
    assert names_in_table(client.get("/?where=train.lr+<+0.2").get_data(as_text=True)) == ["demo-0001"]


def test_a_condition_that_cannot_be_read_is_said_above_the_whole_table(client):
    response = client.get("/?where=val_accuracy+~+3")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "cannot read the condition &#39;val_accuracy ~ 3&#39;" in page
    assert len(names_in_table(page)) == 5


def test_a_condition_on_a_key_no_row_has_names_it_and_what_it_may_mean(client):
    page = client.get("/?where=val_acc+>+0.7").get_data(as_text=True)
    assert "no metric or param is called val_acc; did you mean val_accuracy" in page
    assert len(names_in_table(page)) == 5, "every row, as for any condition it cannot use"
    assert names_in_table(client.get("/?where=test_accuracy+>+79%25").get_data(as_text=True)) == ["lr-big", "demo-0000"]
    assert "No experiment matches" in client.get("/?q=nothing-like-it").get_data(as_text=True)


def test_a_workspace_whose_metrics_were_not_made_with_its_params_is_said(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    (copy / "params.yaml").write_text((copy / "params.yaml").read_text().replace("lr: 0.2", "lr: 0.0123"))
    page = create_app(copy).test_client().get("/").get_data(as_text=True)
    assert "Warning: the workspace&#39;s metrics were not made with its params.yaml: train.lr 0.0123" in page


def test_a_param_or_class_named_like_html_shows_as_text(client):
    for url in ("/", "/exp/lr-big", "/compare?e=lr-big&e=demo-0000"):
        page = client.get(url).get_data(as_text=True)
        assert XSS not in page, url
    assert "&lt;img src=x onerror=alert(1)&gt;" in client.get("/exp/lr-big").get_data(as_text=True)


def test_one_experiment_shows_its_metrics_changed_params_plots_and_commands(client):
    page = client.get("/exp/demo-0000").get_data(as_text=True)
    assert "dvc exp apply demo-0000" in page
    assert "dvc exp run --name demo-0000-at-head -S train.lr=0.3" in page
    changed = page[page.index('id="changed"') :]
    assert re.search(r"<th>train.lr</th><td>0.3</td><td class=\"hint\">was 0.2</td>", changed)
    assert page.count("<svg") >= 2, "the curve and the confusion matrix, drawn inline"


def test_a_trial_s_page_says_its_study_and_whether_it_is_the_study_s_best(client):
    best = 'Trial 0 of study <a href="/study/demo">demo</a>: the best of its 2 complete trials (val_accuracy).'
    assert best in client.get("/exp/demo-0000").get_data(as_text=True)
    other = 'Trial 1 of study <a href="/study/demo">demo</a>; its best is <a href="/exp/demo-0000">demo-0000</a>'
    assert other + ", 79.00%." in client.get("/exp/demo-0001").get_data(as_text=True)
    assert 'id="study"' not in client.get("/exp/lr-big").get_data(as_text=True), "no study's trial"


def test_the_workspace_s_page_shows_its_plots(client):
    assert client.get("/exp/workspace").get_data(as_text=True).count("<svg") >= 2, "as `dvc plots show` draws them"


def test_an_experiments_report_shows_and_its_tracked_files_download_and_nothing_else(client):
    page = client.get("/exp/demo-0000").get_data(as_text=True)
    assert '<pre class="report">' in page and "&lt;img src=x onerror=alert(1)&gt;  0.80" in page
    assert 'href="/exp/demo-0000/file/models/model.txt"' in page
    model = client.get("/exp/demo-0000/file/models/model.txt")
    assert model.get_data(as_text=True) == "model lr=0.3\n", "the experiment's own, not the workspace's"
    assert model.headers["Content-Disposition"] == "inline; filename=model.txt", "text: shown, as text"
    assert model.headers["Content-Type"] == "text/plain; charset=utf-8"
    for path in ("params.yaml", "../../../etc/passwd", "%2e%2e/dvc.yaml", "models/../params.yaml", "models"):
        assert client.get(f"/exp/demo-0000/file/{path}").status_code == 404, path


def test_a_folder_output_downloads_as_one_zip_of_the_experiments_own_files(client):
    page = client.get("/exp/demo-0001").get_data(as_text=True)
    assert 'href="/exp/demo-0001/folder/exported"' in page
    answer = client.get("/exp/demo-0001/folder/exported")
    assert answer.headers["Content-Disposition"] == "attachment; filename=demo-0001-exported.zip"
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as archive:
        assert sorted(archive.namelist()) == ["exported/info/about.json", "exported/model.txt"]
        assert archive.read("exported/model.txt") == b"exported lr=0.1\n", "demo-0001's, not the workspace's"
    for path in ("models", "exported/model.txt", "../exported", "metrics"):
        assert client.get(f"/exp/demo-0001/folder/{path}").status_code == 404, path


def test_comparing_overlays_the_curves_and_marks_the_params_that_differ(client):
    page = client.get("/compare?e=demo-0000&e=demo-0001").get_data(as_text=True)
    assert '<tr class="differs"><th>train.lr</th><td>0.3</td><td>0.1</td></tr>' in page
    assert '<td class="num best">80.00%</td><td class="num">60.00%</td>' in page, "the better test accuracy marked"
    curves = page[page.index("dvclive/plots/metrics") :]
    assert "demo-0000" in curves and "demo-0001" in curves, "both in one chart's legend"
    assert page.count('<pre class="report">') == 2, "the classification reports side by side"


@pytest.mark.parametrize(
    "url, status, said",
    [("/compare?e=demo-0000", 400, "choose 2 to 8 different experiments to compare (here 1)"),
     ("/compare?e=demo-0000&e=demo-0000", 400, "(here 1)"), ("/compare", 400, "(here 0)"),
     ("/exp/no-such-experiment", 404, "no experiment named no-such-experiment")],
)  # fmt: skip
def test_what_cannot_be_shown_is_a_page_that_says_why(client, url, status, said):
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == status and said in page and "Traceback" not in page


@pytest.mark.parametrize(
    "url", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/exp/..%2f..%2fetc%2fpasswd",
            "/static//etc/passwd", "/dvc.yaml", "/params.yaml"],
)  # fmt: skip
def test_no_file_outside_the_apps_own_is_served(client, url):
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 404
    assert "train.lr" not in response.get_data(as_text=True) and "import" not in response.get_data(as_text=True)


def test_the_studies_link_each_trial_to_its_experiment_and_a_damaged_file_is_said(project, client):
    damaged = project / ".tune" / "broken.db"
    damaged.write_text("not a database")
    try:
        studies = client.get("/studies").get_data(as_text=True)
        assert '<a href="/study/demo">demo</a>' in studies and "2 complete" in studies
        assert "broken" in studies and "cannot be read: (sqlite3.DatabaseError) file is not a database" in studies
    finally:
        damaged.unlink()
    newer = project / ".tune" / "newer.db"
    shutil.copy(project / ".tune" / "demo.db", newer)
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = 'v9.9.9.z'")  # as a newer Optuna leaves it
    locked = sqlite3.connect(project / ".tune" / "demo.db", isolation_level=None)
    locked.execute("BEGIN EXCLUSIVE")  # a tuner writing
    try:
        studies = client.get("/studies").get_data(as_text=True)
        assert re.search(r"cannot be read: The runtime optuna version \S+ is no longer compatible", studies)
        assert "cannot be read: (sqlite3.OperationalError) database is locked" in studies
    finally:
        locked.execute("ROLLBACK")
        newer.unlink()
    study = client.get("/study/demo").get_data(as_text=True)
    assert '<a href="/exp/demo-0000">demo-0000</a>' in study and "data:image/png;base64," in study
    assert client.get("/study/no-such-study").status_code == 404


def test_a_broken_dvc_yaml_is_said_above_the_experiments_that_can_be_read(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    (copy / "dvc.yaml").write_text("stages: [not, a, mapping\n")
    page = create_app(copy).test_client().get("/").get_data(as_text=True)
    assert "DVC could not read workspace: unable to read: &#39;dvc.yaml&#39;, YAML file structure is corrupted" in page
    assert "lr-big" in names_in_table(page), "the committed experiments are still listed"


def test_a_repository_without_experiments_says_how_to_make_some(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], copy).stdout.split()
    for ref in refs:
        run(["git", "update-ref", "-d", ref], copy)
    page = create_app(copy).test_client().get("/").get_data(as_text=True)
    assert names_in_table(page) == ["workspace", "master"]
    assert "No experiments yet: <code>dvc exp run -S train.lr=0.05</code>" in page


def test_a_folder_dvc_cannot_read_is_a_page_that_says_so_and_the_server_goes_on(project, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    shutil.rmtree(copy / ".dvc")
    client = create_app(copy).test_client()
    for _ in range(2):
        response = client.get("/")
        page = response.get_data(as_text=True)
        assert response.status_code == 500 and "DVC could not list the experiments" in page
        assert "not inside of a DVC repository" in page and "Traceback" not in page


def test_a_server_beyond_this_machine_asks_for_its_token_then_keeps_it_in_a_cookie(project):
    client = create_app(project, token="s3cret").test_client()
    refused = client.get("/")
    assert refused.status_code == 403 and "open the URL with the token" in refused.get_data(as_text=True)
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/?token=s3cret").status_code == 200
    assert client.get("/studies").status_code == 200, "the cookie carries it"
