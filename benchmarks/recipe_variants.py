"""Collect variants of a recipe, each a `benchmarks/recipes.py --skip-lab -S KEY=VALUE ... --out DIR` run, into one
table, with the recipe as committed (its row of benchmarks/results/recipes.json) as their baseline:

    python benchmarks/recipes.py --cifar-folder /tmp/cifar10-jpg recipe_cifar10_fast --skip-lab \\
        -S train.lookahead=0.95 --out /tmp/lookahead
    python benchmarks/recipe_variants.py --committed recipe_cifar10_fast /tmp/lookahead /tmp/alternate_flip ...

Writes benchmarks/results/recipe_variants.{json,md}; a variant already there (same recipe and changes) is replaced,
the others stay, each with its own commit, date and machine.
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def key(recipe: str, entry: dict) -> str:
    """A variant's name in the json: the recipe and its changes; a run without changes also its commit."""
    overrides = entry["recipe"].get("overrides", {})
    changes = "".join(f" {name}={value}" for name, value in sorted(overrides.items()))
    return recipe + (changes or f" @{entry['commit']}")


def markdown(variants: dict) -> str:
    lines = [
        "# Recipe variants: one recipe with changed params, each its own run (no lab)",
        "",
        "| recipe | changes (to the recipe at the row's commit) | seed | test accuracy | last epoch's val accuracy | "
        "training s | commit, date, machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in sorted(variants.values(), key=lambda v: (v["name"], bool(v["recipe"].get("overrides")), v["date"])):
        r, overrides = v["recipe"], dict(v["recipe"].get("overrides", {}))
        seed = overrides.pop("train.seed", "the recipe's")
        changes = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in overrides.items()) or "none"
        lines.append(
            f"| {v['name']} | {changes} | {seed} | {r['test_accuracy']:.2%} | {r['val_accuracy_by_epoch'][-1]:.2%} | "
            f"{r['train_seconds']:.0f} | {v['commit']}, {v['date']}, {v['machine']} |"
        )
    lines += ["", "Training s: fit's wall time on a shared machine; runs beside other work are slower."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="--out folders of recipes.py runs with -S changes")
    baseline = "also keep RECIPE's row of benchmarks/results/recipes.json, as the variants' baseline"
    parser.add_argument("--committed", action="append", default=[], metavar="RECIPE", help=baseline)
    args = parser.parse_args()
    path = RESULTS / "recipe_variants.json"
    variants = json.loads(path.read_text()) if path.exists() else {}
    for folder in args.runs:
        if not (folder / "recipes.json").is_file():
            raise SystemExit(f"{folder}: no recipes.json; give the --out folder of a recipes.py run")
        for name, entry in json.loads((folder / "recipes.json").read_text())["recipes"].items():
            if "lab" in entry:
                raise SystemExit(f"{folder}: {name} ran beside its lab; its row belongs in recipes.json")
            variants[key(name, entry)] = {"name": name, **entry}
    committed = json.loads((RESULTS / "recipes.json").read_text())["recipes"]
    for name in args.committed:
        variants[key(name, committed[name])] = {"name": name, **committed[name]}
    path.write_text(json.dumps(variants, indent=2) + "\n")
    text = markdown(variants)
    (RESULTS / "recipe_variants.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
