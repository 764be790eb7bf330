"""The web app in a real headless Chromium (Debian's, driven by Playwright), served by `imgclf ui` as a user starts
it: find the best experiment by sorting, filter, compare two, follow a study's trial to its experiment, and see a
param named like HTML as text. Screenshots go to $UI_SCREENSHOTS (else the test's folder)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.project import project_env
from tests.helpers.ui_project import XSS, ui_project

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # .ci/run installs Debian's package


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    project = ui_project(tmp_path_factory.mktemp("browser") / "repo")
    server = subprocess.Popen(
        [sys.executable, "-m", "imgclf.ui.serve", "--port", "0"],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = server.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url, f"imgclf ui printed {line!r}"
    yield url[0]
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        dialogs = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.dialogs = dialogs
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def table_names(page) -> list[str]:
    return page.locator("#experiments td.name").all_inner_texts()


def test_sorting_by_test_accuracy_puts_the_best_first_and_a_filter_hides_the_rest(page, app_url, shots):
    page.goto(app_url)
    assert set(table_names(page)) == {"workspace", "master", "demo-0000", "demo-0001", "lr-big"}
    page.get_by_role("link", name="test acc").click()
    page.wait_for_load_state()
    assert table_names(page)[0] == "lr-big"
    page.screenshot(path=shots / "experiments.png", full_page=True)
    page.get_by_label("Name, group or state").fill("demo")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert table_names(page) == ["demo-0000", "demo-0001"], "still sorted, the rest hidden"


def test_two_selected_experiments_are_compared_with_their_curves_overlaid(page, app_url, shots):
    page.goto(app_url)
    page.get_by_label("select demo-0000").check()
    page.get_by_label("select demo-0001").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_load_state()
    assert sorted(page.locator("#compare thead th a").all_inner_texts()) == ["demo-0000", "demo-0001"]
    curves = page.locator("section", has_text="dvclive/plots/metrics")
    assert curves.locator("svg").count() >= 1
    assert "demo-0000" in curves.first.inner_text() and "demo-0001" in curves.first.inner_text(), "one legend"
    confusion = page.locator("section", has_text="metrics/predictions.csv").first.inner_text()
    assert "demo-0000" in confusion and "demo-0001" in confusion, "a confusion matrix for each"
    page.screenshot(path=shots / "compare.png", full_page=True)


def test_a_studys_trial_links_to_its_experiment(page, app_url):
    page.goto(app_url)
    page.get_by_role("link", name="Studies").click()
    page.get_by_role("link", name="demo", exact=True).click()
    page.locator("#trials").get_by_role("link", name="demo-0001").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("demo-0001")


def test_a_param_named_like_html_shows_as_text_and_runs_nothing(page, app_url):
    page.goto(app_url + "exp/lr-big")
    page.get_by_text("Every param").click()
    assert XSS in page.locator("body").inner_text()
    page.goto(app_url + "compare?e=lr-big&e=demo-0000")
    assert page.dialogs == [], "an onerror= in a value ran"
