"""Benchmark: the web app (`imgclf ui`) on repositories of 10, 100 and 1,000 experiments, against `dvc exp show
--json` alone on the same repository.

Each repository is the tests' small DVC project (tests/helpers/ui_project.py: a real `dvc repro` and three `dvc exp
run`s) with N experiments more written the way DVC writes them: a commit on the baseline holding the experiment's
params.yaml and metrics, under refs/exps/<baseline>/<name> (git fast-import, so 1,000 take seconds). For each N:
`dvc exp show --json` (median of 3 runs), and a fresh `imgclf ui` server per repeat (3): the first GET of the
experiments page (it asks DVC, then renders), warm reloads with nothing changed (median of 10), the first
5-experiment comparison (DVC's plots diff drawn to SVG), and the server's resident memory after them. Goal: the
page at most 1.2x DVC's listing, a warm reload under 200 ms.

    python benchmarks/ui.py --sizes 10 100 1000 --out benchmarks/results

Latest result: benchmarks/results/ui.md (with the commit it ran at).
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.ui_project import ui_project  # noqa: E402

REPEATS = 3
SIZES = [10, 100, 1000]  # the committed result's; a run of other sizes is printed, never written over it


def git(project: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=project, input=stdin, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def add_experiments(project: Path, count: int) -> list[str]:
    """`count` experiments of the baseline as DVC stores them (a commit and a ref each); returns their names."""
    base = git(project, "rev-parse", "HEAD")
    params = (project / "params.yaml").read_text()
    stream, names = [], []
    for i in range(count):
        name, lr = f"bench-{i:04d}", round(0.01 + 0.4 * i / max(count, 1), 5)
        quality = min(0.99, 0.5 + lr)
        files = {
            "params.yaml": params.replace("lr: 0.2", f"lr: {lr}"),
            "metrics/eval.json": json.dumps({"test_accuracy": quality, "test_loss": 1 - quality,
                                             "balanced_accuracy": quality, "f1_macro": quality}),
            "metrics/train.json": json.dumps({"best_val_accuracy": quality - 0.01, "epochs_run": 4}),
        }  # fmt: skip
        stream.append(f"commit refs/exps/{base[:2]}/{base[2:]}/{name}\ncommitter bench <b@example.com> "
                      f"{1_700_000_000 + i} +0000\ndata 15\ndvc: commit exp\nfrom {base}\n")  # fmt: skip
        for path, text in files.items():
            data = text.encode()
            stream.append(f"M 100644 inline {path}\ndata {len(data)}\n{text}\n")
        names.append(name)
    git(project, "fast-import", "--quiet", stdin="".join(stream))
    return names


def seconds(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True, check=True)
    return time.perf_counter() - start


def get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    return time.perf_counter() - start, body


def serve_once(project: Path, compare: list[str]) -> dict:
    server = subprocess.Popen([sys.executable, "-m", "imgclf.ui.serve", "--port", "0"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        url = re.search(r"http://\S+/", server.stdout.readline())[0]
        first, page = get(url)
        warm = statistics.median(get(url)[0] for _ in range(10))
        query = "&".join(f"e={name}" for name in compare)
        compare_s, _ = get(f"{url}compare?{query}")
        rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{server.pid}/status").read_text())[1]) / 1024
        return {"first_s": first, "warm_s": warm, "compare_s": compare_s, "rss_mib": rss, "rows": page.count(b"<tr")}
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(count: int, work: Path) -> dict:
    project = ui_project(work / f"repo-{count}")
    names = add_experiments(project, count)
    listing = [seconds([sys.executable, "-m", "dvc", "exp", "show", "--json"], project) for _ in range(REPEATS)]
    served = [serve_once(project, names[:5]) for _ in range(REPEATS)]
    print(f"{count + 3} experiments: dvc exp show {statistics.median(listing):.2f} s, pages {served}", flush=True)
    median = {key: statistics.median(s[key] for s in served) for key in ("first_s", "warm_s", "compare_s", "rss_mib")}
    return {"experiments": count + 3, "rows": served[0]["rows"] - 1, "dvc_exp_show_s": statistics.median(listing),
            **median, "page_over_dvc": median["first_s"] / statistics.median(listing)}  # fmt: skip


def markdown(results: list[dict], commit: str) -> str:
    lines = [
        f"# imgclf ui against `dvc exp show --json` (commit {commit}, 2 CPU cores, median of {REPEATS})",
        "",
        "| experiments | dvc exp show (s) | first page (s) | page / DVC | warm reload (ms) | compare 5 (s) | MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        figures = [f"{r['dvc_exp_show_s']:.2f}", f"{r['first_s']:.2f}", f"{r['page_over_dvc']:.2f}x",
                   f"{r['warm_s'] * 1000:.0f}", f"{r['compare_s']:.2f}", f"{r['rss_mib']:.0f}"]  # fmt: skip
        lines.append(f"| {r['experiments']} | " + " | ".join(figures) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=SIZES, help="experiments to add")
    parser.add_argument("--out", type=Path, help="write ui.{json,md} here")
    args = parser.parse_args()
    commit = git(REPO, "rev-parse", "--short", "HEAD") + ("+dirty" if git(REPO, "status", "--porcelain") else "")
    with tempfile.TemporaryDirectory() as work:
        results = [measure(count, Path(work)) for count in args.sizes]
    print(markdown(results, commit))
    if args.out and args.sizes == SIZES:
        save(args.out, commit, results)


def save(folder: Path, commit: str, results: list[dict]) -> None:
    (folder / "ui.json").write_text(json.dumps({"commit": commit, "results": results}, indent=2) + "\n")
    (folder / "ui.md").write_text(markdown(results, commit))


if __name__ == "__main__":
    main()
