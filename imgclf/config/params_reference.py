"""The params reference, docs/params.md, generated from params.yaml: its keys, defaults and one-line comments are
the one place each param is documented.

    python -m imgclf.config.params_reference          # rewrite docs/params.md (refused while params.yaml has
                                                      # uncommitted changes: the page documents the committed defaults)
    python -m imgclf.config.params_reference --check  # exit 1 when docs/params.md is not what params.yaml gives
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

from imgclf.markdown_table import markdown_table

ROOT = Path(__file__).resolve().parents[2]  # the repository
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_]\w*):(?P<value>[^#]*)(#\s?(?P<comment>.*))?$")
MORE_LINE = re.compile(r"^ +#\s?(?P<comment>.*)$")  # a comment wrapped at 120 columns goes on under its key's
HEADER = """# Params reference

Generated from `params.yaml` (its keys, defaults and comments) by `python -m imgclf.config.params_reference`; a test
fails when this page and `params.yaml` disagree. Change a param for one experiment with `dvc exp run -S key=value`, e.g.
`dvc exp run -S train.lr=0.05`.

`params.yaml` is validated before any stage does work: an unknown or missing key, a wrong type or an out-of-range
value stops with one line naming it. Numbers may be written `1e-3`."""


def documented_keys(lines: list[str]) -> list[tuple[str, str]]:
    """(dotted key, comment) for every key line of params.yaml, in file order; a section's comment is kept too, and
    a comment goes on over the indented comment lines below its key."""
    stack: list[tuple[int, str]] = []
    keys: list[tuple[str, str]] = []
    for line in lines:
        more = MORE_LINE.match(line)
        if more and keys:
            key, comment = keys[-1]
            keys[-1] = (key, f"{comment} {more['comment'].strip()}".strip())
            continue
        match = KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        stack = [(depth, key) for depth, key in stack if depth < indent]
        stack.append((indent, match["key"]))
        keys.append((".".join(key for _, key in stack), (match["comment"] or "").strip()))
    return keys


def shown(value: object) -> str:
    """A default as one would write it in params.yaml or after -S."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if value == "":
        return '""'
    return str(value)


def render(params_file: Path) -> str:
    """The markdown page: one table per top-level section, one row per key."""
    text = params_file.read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    sections: dict[str, tuple[str, list[list[str]]]] = {}  # top-level key -> its comment, a row for each key below
    for key, comment in documented_keys(text.splitlines()):
        parts = key.split(".")
        if len(parts) == 1:
            sections[key] = (comment, [])
            continue
        value = values
        for part in parts:
            value = value[part]
        default = "" if isinstance(value, dict) else f"`{shown(value)}`"
        sections[parts[0]][1].append([f"`{key}`", default, comment.replace("|", "\\|")])
    out = [HEADER]
    for key, (comment, rows) in sections.items():
        out += [f"\n## `{key}`\n", *([f"{comment}\n"] if comment else [])]
        out += markdown_table(["key", "default", "meaning"], rows)
    return "\n".join(out) + "\n"


def uncommitted(path: Path) -> bool:
    """Whether git sees changes to `path` that are not committed (False outside a git checkout)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", path.name], cwd=path.parent, capture_output=True, text=True
    )
    return status.returncode == 0 and bool(status.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imgclf.config.params_reference", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only check that docs/params.md is up to date")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="the params file to document")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "params.md", help="the page to write or check")
    args = parser.parse_args(argv)
    if not args.check and uncommitted(args.params):
        print(
            f"error: {args.params} has uncommitted changes (`dvc exp run -S` leaves its values there), and "
            f"{args.out} documents the committed defaults: commit params.yaml first, or `git restore params.yaml`",
            file=sys.stderr,
        )
        return 1
    page = render(args.params)
    if args.check:
        if not args.out.exists() or args.out.read_text(encoding="utf-8") != page:
            print(
                f"{args.out}: out of date with {args.params}; run python -m imgclf.config.params_reference",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
