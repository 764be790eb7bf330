"""Each DVC stage's code dependencies, from what it imports: the project's Python files that `python -m
stages.NAME` runs (its module, every project module it imports at any depth, and their packages' __init__.py).
Kept by hand they drift, and a changed file that no stage lists changes results while `dvc repro` says
"up to date".

    python -m imgclf.stage_deps           # list what each stage's deps miss or list needlessly (exit 1 if any)
    python -m imgclf.stage_deps --write   # make dvc.yaml's .py deps exactly those (other deps and comments kept)

tests/test_stage_deps.py fails whenever dvc.yaml and the imports disagree.
"""

import argparse
import ast
import re
import shlex
import sys
from pathlib import Path

import yaml

PACKAGES = ("imgclf", "stages")  # the project's own code; anything else is an installed package
STAGE_MODULE = re.compile(r"python -m (stages\.\w+)")


def module_file(module: str, root: Path) -> Path | None:
    """The project file of a dotted module name, relative to root; None outside the project."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(root)
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions; `from P import N` counts P.N too, as N may be
    a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def with_packages(module: str) -> list[str]:
    """A module and the packages Python imports before it: a.b.c -> a, a.b, a.b.c."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_of(module: str, root: Path) -> set[str]:
    """The project files `python -m module` runs, as paths relative to root."""
    files: set[str] = set()
    todo = [module]
    while todo:
        for name in with_packages(todo.pop()):
            path = module_file(name, root)
            if path is None or str(path) in files:
                continue
            files.add(str(path))
            todo.extend(imported_modules(root / path))
    return files


def stage_code(root: Path) -> dict[str, tuple[set[str], set[str]]]:
    """stage -> (the .py deps dvc.yaml lists, the files its command runs)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    found = {}
    for name, stage in stages.items():
        command = STAGE_MODULE.search(stage["cmd"])
        declared = {d for d in (stage.get("deps") or []) if isinstance(d, str) and d.endswith(".py")}
        found[name] = (declared, code_of(command[1], root) if command else set())
    return found


def stage_argv(stage: str, root: Path = Path(".")) -> list[str]:
    """A stage's command as dvc.yaml gives it, after `python -m`: ["stages.train", "data/split", ...]."""
    command = shlex.split(yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]["cmd"])
    return command[2:] if command[:2] == ["python", "-m"] else command


def rewrite(text: str, needed: dict[str, set[str]]) -> str:
    """dvc.yaml's text with each stage's .py deps replaced by `needed` (sorted, before its other deps)."""
    lines, out, stage, in_deps = text.splitlines(keepends=True), [], None, False
    for line in lines:
        stage_line = re.match(r"  (\w+):\s*(#.*)?$", line)
        if stage_line and not line.startswith("   "):
            stage, in_deps = stage_line[1], False
        if re.match(r"    deps:\s*$", line) and stage in needed:
            out.append(line)
            out += [f"      - {path}\n" for path in sorted(needed[stage])]
            in_deps = True
            continue
        if in_deps and re.match(r"      - \S+\.py\s*$", line):
            continue
        if in_deps and not line.startswith("      "):
            in_deps = False
        out.append(line)
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite dvc.yaml's .py deps from the imports")
    args = parser.parse_args()
    root = Path(".")
    found = stage_code(root)
    if args.write:
        dvc_yaml = root / "dvc.yaml"
        dvc_yaml.write_text(rewrite(dvc_yaml.read_text(), {name: needed for name, (_, needed) in found.items()}))
        print("dvc.yaml: every stage's .py deps are the files it imports")
        return
    wrong = 0
    for name, (declared, needed) in found.items():
        for path in sorted(needed - declared):
            print(f"{name}: runs {path}, which its deps do not list")
        for path in sorted(declared - needed):
            print(f"{name}: lists {path}, which it does not import")
        wrong += len(needed ^ declared)
    if wrong:
        sys.exit(f"{wrong} code deps disagree with the imports; fix them with: python -m imgclf.stage_deps --write")
    print("every stage's .py deps are the files it imports")


if __name__ == "__main__":
    main()
