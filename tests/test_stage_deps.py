"""dvc.yaml's code deps follow from the imports: a stage re-runs when any project file it runs changes, and only
then."""

from pathlib import Path

from imgclf.stage_deps import code_of, rewrite, stage_code
from tests.helpers import REPO


def test_every_stage_depends_on_exactly_the_project_files_it_runs():
    for name, (declared, needed) in stage_code(REPO).items():
        assert needed, f"{name}: no `python -m stages.NAME` command"
        assert declared == needed, (
            f"{name}: deps miss {sorted(needed - declared)} and list {sorted(declared - needed)} needlessly; "
            "run: python -m imgclf.stage_deps --write"
        )


def test_no_code_dep_is_an_empty_file():
    """DVC prints "WARNING: 'FILE' is empty." for an empty dependency at every stage it checks, 28 lines a repro."""
    empty = sorted(p for declared, _ in stage_code(REPO).values() for p in declared if not (REPO / p).stat().st_size)
    assert not empty, f"empty stage deps {empty}: give each a docstring"


def test_params_py_reruns_every_stage_and_experiments_none():
    found = stage_code(REPO)
    assert len(found) == 8
    assert all("imgclf/config/params.py" in declared for declared, _ in found.values())
    assert not any(path.startswith("imgclf/experiments/") for declared, _ in found.values() for path in declared)


def test_imports_are_followed_into_functions_packages_and_from_imports(tmp_path: Path):
    files = {
        "stages/__init__.py": "",
        "stages/go.py": "from imgclf import a\n",
        "imgclf/__init__.py": "",
        "imgclf/a.py": "import json\ndef f():\n    from imgclf.sub.b import g\n",
        "imgclf/sub/__init__.py": "",
        "imgclf/sub/b.py": "import imgclf.c\n",
        "imgclf/c.py": "",
        "imgclf/unused.py": "",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert code_of("stages.go", tmp_path) == set(files) - {"imgclf/unused.py"}


BEFORE = """\
stages:
  a:  # a comment
    cmd: python -m stages.a
    deps:
      - stages/a.py
      - imgclf/old.py
      - data/raw
    outs:
      - out
  b:
    cmd: python -m stages.b
    deps:
      - data/x
"""


def test_write_replaces_only_the_py_deps_and_keeps_the_rest():
    written = rewrite(BEFORE, {"a": {"stages/a.py", "imgclf/new.py"}, "b": {"stages/b.py"}})
    old, new = "      - stages/a.py\n      - imgclf/old.py\n", "      - imgclf/new.py\n      - stages/a.py\n"
    expected = BEFORE.replace(old, new)
    assert written == expected.replace("      - data/x\n", "      - stages/b.py\n      - data/x\n")


def test_every_stage_but_fetch_can_be_restored_from_the_run_cache():
    """DVC skips its run-cache for a stage with a persisted output, or an uncached one that is neither a metric nor
    a plot: split's uncached data report made every experiment of a sweep split again."""
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        if name == "fetch":  # always_changed: it checks its sources on every run
            continue
        for out in stage.get("outs") or []:
            path, options = next(iter(out.items())) if isinstance(out, dict) else (out, {})
            assert options.get("cache", True) and not options.get("persist"), f"{name}: {path} turns it off"
