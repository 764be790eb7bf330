"""Collect variants of a recipe, each a `benchmarks/recipes.py --skip-lab -S KEY=VALUE ... --out DIR` run, into one
table, with the recipe as committed (its row of benchmarks/results/recipes.json) as their baseline:

    python benchmarks/recipes.py --cifar-folder /tmp/cifar10-jpg recipe_cifar10_fast --skip-lab \\
        -S train.lookahead=0.95 --out /tmp/lookahead
    python research/recipe_variants.py --committed recipe_cifar10_fast /tmp/lookahead /tmp/alternate_flip ...

Writes research/results/recipe_variants.{json,md}; a variant already there (same recipe, changes and commit) is
replaced, the others stay, each with its own commit, date and machine. The markdown also takes each set of changes
over the seeds it ran with (`-S train.seed=S`): mean, spread, and whether it differs from the recipe by more than the
spread. There, changes are to the recipe as it is now: each run's params are its commit's params.yaml and recipe
with its -S changes (git show), so runs from before a recipe changed are not taken for the recipe as it is.
"""

import argparse
import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imgclf.config.yaml_file import read_yaml  # noqa: E402
from imgclf.experiments.exp_show import Result  # noqa: E402
from imgclf.experiments.labs import SEED_KEY, flatten  # noqa: E402
from imgclf.experiments.repeats import Group, within_noise  # noqa: E402

RESULTS = REPO / "research" / "results"
RECIPES = REPO / "benchmarks" / "results" / "recipes.json"  # the recipes as committed: the baseline


def key(recipe: str, entry: dict) -> str:
    """A variant's name in the json: the recipe, its changes and its commit (a recipe may change between commits)."""
    overrides = entry["recipe"].get("overrides", {})
    return recipe + "".join(f" {name}={value}" for name, value in sorted(overrides.items())) + f" @{entry['commit']}"


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
    lines += ["", "Training s: fit's wall time on a shared machine; runs beside other work are slower.", ""]
    return "\n".join(lines + over_seeds(variants)) + "\n"


@functools.cache
def committed_yaml(commit: str | None, name: str) -> dict:
    """params.yaml or sweeps.yaml at a commit (None: the working tree's)."""
    if commit is None:
        return read_yaml(REPO / name)
    shown = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=REPO, capture_output=True, text=True)
    if shown.returncode:
        raise SystemExit(f"{name} at commit {commit}: not in this repository ({shown.stderr.strip()}); fetch it")
    return yaml.safe_load(shown.stdout)


def run_params(recipe: str, commit: str | None, overrides: dict) -> dict:
    """Every param of a run, as dotted keys: its commit's params.yaml, recipe and changes. A param added since
    takes today's params.yaml value, which (by the house rule) is the behaviour from before it existed."""
    today = flatten(committed_yaml(None, "params.yaml"))
    then = flatten(committed_yaml(commit, "params.yaml"))
    lab = committed_yaml(commit, "sweeps.yaml")[recipe]["base"]
    return {**today, **then, **lab, **overrides}


def seed_groups(variants: dict) -> dict[tuple[str, str], Group]:
    """The runs by recipe and changes to the recipe as it is now (the seed aside). A seed run twice with the same
    params (at two commits) counts once: its latest run, since on CPU the same params give the same model."""
    by_seed: dict[tuple[str, str], dict[int, Result]] = {}
    recipe_now = {name: run_params(name, None, {}) for name in {v["name"] for v in variants.values()}}
    for v in sorted(variants.values(), key=lambda v: v["date"]):
        now = recipe_now[v["name"]]
        then = run_params(v["name"], v["commit"], v["recipe"].get("overrides", {}))
        seed = int(then[SEED_KEY])
        changed = sorted((k, then[k]) for k in now if then[k] != now[k] and k != SEED_KEY)
        changes = ", ".join(f"`{k}={json.dumps(value)}`" for k, value in changed) or "none"
        run = Result(v["commit"], {SEED_KEY: seed}, v["recipe"]["test_accuracy"], math.nan, None, None)
        by_seed.setdefault((v["name"], changes), {})[seed] = run  # recipes.json keeps no test loss: nan
    return {k: Group(k[1], tuple(runs[s] for s in sorted(runs))) for k, runs in by_seed.items()}


def over_seeds(variants: dict) -> list[str]:
    """The markdown table of seed_groups, each beside its recipe's runs without changes."""
    lines = [
        "## Over seeds: each set of changes to the recipe as it is now, with every seed it ran with",
        "",
        "| recipe | changes | seeds | mean test accuracy | std | range | vs the recipe's mean | beyond the spread |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = seed_groups(variants)
    for (recipe, changes), g in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] != "none", kv[0][1])):
        plain = groups.get((recipe, "none"))
        low, high = g.accuracy_range
        versus = f"{100 * (g.accuracy - plain.accuracy):+.2f} points" if plain and g is not plain else ""
        if not versus:
            beyond = ""
        elif min(len(g.runs), len(plain.runs)) < 2:
            beyond = "unknown: one seed"
        else:
            beyond = "no" if within_noise(g, plain) else "yes"
        spread = f"{100 * g.accuracy_std:.2f} | {low:.2%} - {high:.2%}" if len(g.runs) > 1 else " | "
        seeds = ", ".join(map(str, g.seeds))
        lines.append(f"| {recipe} | {changes} | {seeds} | {g.accuracy:.2%} | {spread} | {versus} | {beyond} |")
    lines += ["", "Beyond the spread: the two means differ by more than the sum of their standard deviations "
              "(imgclf.experiments.repeats.within_noise). std and its difference in points."]  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", type=Path, help="--out folders of recipes.py runs with -S changes")
    baseline = "also keep RECIPE's row of benchmarks/results/recipes.json, as the variants' baseline"
    parser.add_argument("--committed", action="append", default=[], metavar="RECIPE", help=baseline)
    args = parser.parse_args()
    path = RESULTS / "recipe_variants.json"
    variants = {key(v["name"], v): v for v in json.loads(path.read_text()).values()} if path.exists() else {}
    for folder in args.runs:
        if not (folder / "recipes.json").is_file():
            raise SystemExit(f"{folder}: no recipes.json; give the --out folder of a recipes.py run")
        for name, entry in json.loads((folder / "recipes.json").read_text())["recipes"].items():
            if "lab" in entry:
                raise SystemExit(f"{folder}: {name} ran beside its lab; its row belongs in recipes.json")
            variants[key(name, entry)] = {"name": name, **entry}
    committed = json.loads(RECIPES.read_text())["recipes"]
    for name in args.committed:
        variants[key(name, committed[name])] = {"name": name, **committed[name]}
    path.write_text(json.dumps(variants, indent=2) + "\n")
    text = markdown(variants)
    (RESULTS / "recipe_variants.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
