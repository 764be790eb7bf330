"""Benchmark: a lab's hand grid against Optuna searches of its space, on one machine, from fresh clones of HEAD.

- grid: `sweep LAB` then `sweep LAB --best` (sweeps.yaml's runs, each sweep's best together), its wall time measured;
- random: `tune LAB --sampler random --pruner none`, for the same wall budget (default: half the grid's time);
- tpe: `tune LAB --history none` (TPE, median pruning, from nothing: cold), for that budget;
- warm: `tune LAB` (TPE, median pruning) starting from the grid's experiments, which it takes as trials to learn
  from (--history; the grid's refs reach each search's clone through a git bundle kept beside the results);
each search once per --seeds value. --parts runs some of these and merges them into --out's search.json, each part
naming its own commit (the grid's time sets the searches' budget). Each run starts from a fresh clone (its own DVC
cache: no run-cache shared between them). For each: the best validation accuracy over time, the test accuracy of its
best (chosen on validation; the grid's --best chooses on test, as its lab did), and the seconds until a trial first
reached the grid's best test accuracy. Goal: TPE with pruning reaches 98.0% test accuracy in at most half the grid's
time.

    python benchmarks/search.py --mnist ../shared/datasets/mnist --seeds 1 2 --out benchmarks/results
    python benchmarks/search.py --mnist ../shared/datasets/mnist --parts grid tpe --seeds 1 --out benchmarks/results
    python benchmarks/search.py --tiny --budget-s 120 --seeds 1 --out /tmp/search   # a quick check, offline
    python benchmarks/search.py --mnist ../shared/datasets/mnist --parts grid random tpe warm --seeds 1 2 3 \
        --budget-share 0.25 --name search_history --out benchmarks/results   # history against none (issue 53)
    python benchmarks/search.py --redraw --out benchmarks/results   # search.md and search.png from search.json

Latest result: benchmarks/results/search.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB = "mnist_mlp"
GOAL = 0.98  # test accuracy
VAL_GOAL = 0.981  # validation accuracy (issue: warm TPE reaches it in half the others' median time)
TRIALS = 20  # tune's default --trials, as a user runs `tune --timeout`: it sizes TPE's random start (5 trials)
PARTS = {  # part -> sampler, pruner, --history (what the study learns from: the grid's experiments, shared as refs)
    "grid": None,
    "random": ("random", "none", "none"),
    "tpe": ("tpe", "median", "none"),
    "warm": ("tpe", "median", "code"),
}


def fresh_clone(root: Path, name: str) -> Path:
    clone = root / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    return clone


def run(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", *command], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.monotonic() - start


def head_commit(clone: Path) -> str:
    """The commit a run's clone was made from (this repository's HEAD may have moved on while it ran)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True)
    return done.stdout.strip()


def keep_grid_report(clone: Path) -> None:
    """The grid is the lab's own sweep: when it replaced the clone's lab report (a full run), that report is kept."""
    report, partial = clone / "reports" / LAB, clone / "reports" / "partial" / LAB
    if report.is_dir() and not partial.exists():
        shutil.rmtree(REPO / "reports" / LAB, ignore_errors=True)
        shutil.copytree(report, REPO / "reports" / LAB)


def grid(root: Path, sets: list[str], tiny: bool, bundle: Path) -> dict:
    """The hand grid, timed; its experiments are kept in `bundle` (their git refs) for the searches that learn from
    history."""
    clone = fresh_clone(root, "grid")
    options = [*sets, *(["--tiny"] if tiny else [])]
    seconds = run(["imgclf.experiments.sweep", LAB, *options], clone)
    seconds += run(["imgclf.experiments.sweep", LAB, "--best", *options], clone)
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], cwd=clone, capture_output=True,
                          text=True, check=True).stdout.split()  # fmt: skip
    bundle.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "bundle", "create", "-q", str(bundle.resolve()), *refs], cwd=clone, check=True)
    shown = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=clone, capture_output=True)
    runs = []
    for baseline in json.loads(shown.stdout):
        for exp in (e for group in baseline["experiments"] or [] for e in group["revs"]):
            metrics = exp["data"].get("metrics") or {}
            if "metrics/eval.json" in metrics:
                val = metrics["metrics/train.json"]["data"]["val_accuracy"]  # the last epoch's, as tune's objective
                runs.append((exp["name"], val, metrics["metrics/eval.json"]["data"]["test_accuracy"]))
    by_test, by_val = max(runs, key=lambda r: r[2]), max(runs, key=lambda r: r[1])
    if not tiny:
        keep_grid_report(clone)
    return {"commit": head_commit(clone), "seconds": round(seconds, 1), "experiments": len(runs),
            "best_by_test": by_test[0], "test_accuracy": by_test[2], "best_by_val": by_val[0],
            "best_by_val_val": by_val[1], "best_by_val_test": by_val[2]}  # fmt: skip


def search(root: Path, part: str, seed: int, budget: float, sets: list[str], tiny: bool, bundle: Path) -> dict:
    """One search of `part` (PARTS) in a fresh clone holding the grid's experiments, for the wall budget."""
    import optuna

    from imgclf.search.storage import storage_url

    sampler, pruner, history = PARTS[part]
    clone = fresh_clone(root, f"{part}-{seed}")
    subprocess.run(["git", "fetch", "-q", str(bundle.resolve()), "refs/exps/*:refs/exps/*"], cwd=clone, check=True)
    options = ["--sampler", sampler, "--pruner", pruner, "--seed", str(seed), "--timeout", str(budget)]
    options += ["--history", history]
    options += ["--trials", str(TRIALS), *sets, *(["--tiny"] if tiny else [])]
    seconds = run(["imgclf.search.tune", LAB, *options], clone)
    study = optuna.load_study(study_name=f"{LAB}-tune", storage=storage_url(None, f"{LAB}-tune", clone))
    start = min(t.datetime_start for t in study.trials)
    trials = []
    for t in sorted(study.trials, key=lambda t: t.datetime_complete or t.datetime_start):
        if t.datetime_complete is None:
            continue
        learned = "history" in t.user_attrs  # the grid's experiment, held from the start
        at = 0.0 if learned else (t.datetime_complete - start).total_seconds()
        trials.append({"number": t.number, "state": t.state.name.lower(), "at_s": round(at, 1), "val": t.value,
                       "test": t.user_attrs.get("test_accuracy"), "history": learned, "params": t.params})  # fmt: skip
    complete = [t for t in trials if t["state"] == "complete"]
    best = max(complete, key=lambda t: t["val"]) if complete else None
    return {"commit": head_commit(clone), "part": part, "sampler": sampler, "pruner": pruner, "seed": seed,
            "history": sum(t["history"] for t in trials),
            "seconds": round(seconds, 1), "trials": trials,
            "best_val": best and best["val"], "best_test": best and best["test"],
            "pruned": sum(t["state"] == "pruned" for t in trials)}  # fmt: skip


def first_val_time(trials: list[dict], target: float) -> float | None:
    """Seconds until the search first holds a setting with validation accuracy at or above `target` (a setting
    learned from history is held from the start)."""
    return next((t["at_s"] for t in trials if t["state"] == "complete" and t["val"] >= target), None)


def first_time(trials: list[dict], target: float) -> float | None:
    """Seconds until the trial that is best on validation so far first has a test accuracy at or above `target`."""
    best = None
    for t in trials:
        if t["state"] == "complete" and (best is None or t["val"] > best["val"]):
            best = t
            if (t["test"] or 0) >= target:
                return t["at_s"]
    return None


WARM = " A warm search starts from the grid's experiments (shared as git refs), as trials it learns from (`--history`)."


def shown(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.0f}"


def label(search: dict) -> str:
    part = search.get("part", search["sampler"])  # runs made before `part` named the sampler alone
    pruning = "no" if search["pruner"] == "none" else search["pruner"]
    kind = {"warm": "warm tpe (history)", "tpe": "tpe"}.get(part, part)
    return f"{kind}, {pruning} pruning, seed {search['seed']}"


def markdown(results: dict) -> str:
    g = results["grid"]
    target = g["best_by_val_val"]
    lines = [
        f"# Search against the hand grid: {LAB}",
        "",
        f"{results['machine']}; data: {results['data']}. Each run from a fresh clone of the commit its row names; "
        f"each search's wall budget: {results.get('budget_s', g['seconds'] / 2):.0f} s."
        + WARM
        * any(s.get("part") == "warm" for s in results["searches"]),
        "",
        f"| search | commit | wall s | trials (pruned) | from history | best val | its test | s to the grid's best "
        f"test | s to val >= {target:.2%} | s to val >= {VAL_GOAL:.1%} |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| grid + --best | {g['commit']} | {g['seconds']:.0f} | {g['experiments']} | | {g['best_by_val_val']:.2%} | "
        f"{g['best_by_val_test']:.2%} (best by test: {g['best_by_test']}, {g['test_accuracy']:.2%}) | "
        f"{g['seconds']:.0f} | {g['seconds']:.0f} | |",
    ]
    for s in results["searches"]:
        new = [t for t in s["trials"] if not t.get("history")]
        reach = [
            first_time(s["trials"], g["test_accuracy"]),
            *(first_val_time(s["trials"], v) for v in (target, VAL_GOAL)),
        ]
        lines.append(
            f"| {label(s)} | {s['commit']} | {s['seconds']:.0f} | {len(new)} ({s['pruned']}) | {s.get('history', 0)} | "
            f"{s['best_val'] or 0:.2%} | {s['best_test'] or 0:.2%} | " + " | ".join(map(shown, reach)) + " |"
        )
    lines += [f"\n{label(s)}: {s['note']}" for s in results["searches"] if s.get("note")]
    if g.get("hung_s"):
        hang = f"The grid's time leaves out {g['hung_s']:.0f} s its sweep hung after its last experiment (measured "
        hang += f"{g['measured_s']:.0f} s): DVC's queue worker, whose idle monitor had died, never stopped, and the "
        lines += ["", hang + "sweep waited for it until `dvc queue stop`."]
    lines += ["", f"![best validation accuracy over time]({results.get('name', 'search')}.png)"]
    parts = {s.get("part", s["sampler"]) for s in results["searches"]}
    lines += ["", history_goal(results["searches"]) if "warm" in parts else grid_goal(results["searches"], g)]
    return "\n".join(lines) + "\n"  # fmt: skip


def grid_goal(searches: list[dict], g: dict) -> str:
    met = [(s["seed"], first_time(s["trials"], GOAL)) for s in searches if s.get("part", s["sampler"]) == "tpe"]
    reached = ", ".join(f"seed {seed}: " + ("not reached" if m is None else f"{m:.0f} s") for seed, m in met)
    return (f"Goal: TPE with pruning at or above {GOAL:.1%} test accuracy within half the grid's time "
            f"({g['seconds'] / 2:.0f} s): {reached or 'not run'}. Searches not listed have not run.")  # fmt: skip


def history_goal(searches: list[dict]) -> str:
    """Issue 53's goal: warm TPE at or above VAL_GOAL in at most half the median time of cold TPE and of random
    search, and its median best at the budget above both (a search that never reached it counts as its wall time)."""
    by_part: dict[str, list[dict]] = {}
    for s in searches:
        by_part.setdefault(s.get("part", s["sampler"]), []).append(s)
    reached = [(p, first_val_time(s["trials"], VAL_GOAL), s["seconds"]) for p, found in by_part.items() for s in found]
    times = {p: statistics.median(at if at is not None else wall for q, at, wall in reached if q == p) for p in by_part}
    bests = {p: statistics.median(s["best_val"] or 0 for s in found) for p, found in by_part.items()}
    goal = f"Goal: warm TPE at or above {VAL_GOAL:.1%} validation accuracy within half the median time of cold TPE "
    goal += "and of random search, and a higher median best."
    if not {"tpe", "random"} <= set(by_part):
        return goal + " Not judged yet: cold TPE and random have not both run."
    fast = times["warm"] <= min(times["tpe"], times["random"]) / 2
    high = bests["warm"] > max(bests["tpe"], bests["random"])
    shown = ", ".join(f"{p} {times[p]:.0f} s and {bests[p]:.2%} ({len(by_part[p])} seeds)" for p in sorted(by_part))
    return f"{goal} Median time to it and median best: {shown}: " + ("met." if fast and high else "not met.")


def best_so_far(trials: list[dict]) -> tuple[list[float], list[float]]:
    """A step curve: at each completed trial's end, the best validation accuracy of the completed trials so far."""
    times, values, best = [], [], None
    for t in trials:
        if t["state"] == "complete" and (best is None or t["val"] > best):
            best = t["val"]
            if times and times[-1] == t["at_s"]:  # the history's trials, all held from the start: one point
                times.pop(), values.pop()
            times.append(t["at_s"])
            values.append(best)
    return times, values


def draw(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    g, budget = results["grid"], results.get("budget_s", results["grid"]["seconds"] / 2)
    figure = Figure(figsize=(8, 5.5), layout="constrained")
    axes = figure.subplots()
    colors = {"tpe": "tab:blue", "random": "tab:orange", "warm": "tab:green"}
    for s in results["searches"]:
        times, values = best_so_far(s["trials"])
        if not times:
            continue
        style = {"color": colors.get(s.get("part", s["sampler"])), "linestyle": "-" if s["seed"] % 2 else "--",
                 "marker": "o"}  # fmt: skip
        text = f"{label(s)} (test of best {s['best_test']:.2%})"
        axes.step([*times, s["seconds"]], [*values, values[-1]], where="post", markevery=range(len(times)),
                  label=text, **style)  # fmt: skip
    grid_label = f"hand grid + --best: its best at the end (test {g['best_by_val_test']:.2%})"
    axes.plot([g["seconds"]], [g["best_by_val_val"]], "ks", label=grid_label)
    axes.axvline(budget, color="gray", linestyle=":", label=f"each search's budget ({budget:.0f} s)")
    axes.set_xlabel("wall time since the search started (s)")
    axes.set_ylabel("best validation accuracy so far")
    axes.yaxis.set_major_formatter(lambda y, _: f"{y:.1%}")
    axes.set_title(f"{LAB} on {results['data']}: search against the hand grid ({results['machine']})", fontsize=9)
    axes.grid(alpha=0.3)
    figure.legend(fontsize=8, loc="outside lower center", ncols=2)
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", type=Path, help="a folder of MNIST's four IDX .gz files (not with --tiny)")
    parser.add_argument("--tiny", action="store_true", help="the lab's tiny sample: a quick check of this script")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which runs (default all)")
    parser.add_argument("--budget-s", type=float, help="each search's wall budget (default: a share of the grid's)")
    parser.add_argument("--budget-share", type=float, default=0.5, help="that share of the grid's time (default 0.5)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="search", help="the results' files: NAME.json, .md, .png (default search)")
    parser.add_argument("--redraw", action="store_true", help="only rewrite --out's NAME.md and .png from its json")
    args = parser.parse_args()
    saved = args.out / f"{args.name}.json"
    if args.redraw:
        if not saved.is_file():
            sys.exit(f"{saved}: not found; run the benchmark first")
        write(args.out, json.loads(saved.read_text()))
        return
    if not args.tiny and not args.mnist:
        parser.error("--mnist DIR, or --tiny")
    sets = [] if args.tiny else ["-S", f"data.mirrors.mnist=[{args.mnist.resolve()}]"]
    sys.path.insert(0, str(REPO))
    from imgclf.machine import machine

    data = "tiny sample" if args.tiny else "MNIST"
    bundle = args.out / f"{args.name}-grid.bundle"  # the grid's experiments, for the searches' clones
    results = json.loads(saved.read_text()) if saved.exists() and args.parts != list(PARTS) else {}
    if results and (results.get("data") != data or results.get("machine") != machine()):
        sys.exit(f"{saved} holds runs on other data or another machine; give another --out")
    results.update({"machine": machine(), "data": data, "name": args.name})
    with tempfile.TemporaryDirectory() as tmp:
        if "grid" in args.parts:
            results["grid"] = grid(Path(tmp), sets, args.tiny, bundle)
            results["searches"] = []  # a new grid sets a new budget: earlier searches no longer compare
            write(args.out, results)
        if "grid" not in results:
            sys.exit(f"{saved} has no grid run yet: run --parts grid first")
        budget = args.budget_s or results["grid"]["seconds"] * args.budget_share
        results["budget_s"] = budget
        kept = results.get("searches", [])
        for part in (part for part in ("random", "tpe", "warm") if part in args.parts):
            for seed in args.seeds:
                kept = [s for s in kept if (s.get("part", s["sampler"]), s["seed"]) != (part, seed)]
                kept.append(search(Path(tmp), part, seed, budget, sets, args.tiny, bundle))
                results["searches"] = kept
                write(args.out, results)  # each finished search is kept, should a later one be cut off
        results["searches"] = kept
    write(args.out, results)
    print(markdown(results))


def write(out: Path, results: dict) -> None:
    name = results.get("name", "search")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(results))
    draw(results, out / f"{name}.png")


if __name__ == "__main__":
    main()
