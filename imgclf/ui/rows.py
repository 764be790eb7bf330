"""`dvc exp show --json` as the app's rows: one a baseline commit, one an experiment (finished, queued, running or
failed), with the metrics that matter, the flattened params, and the lab or study each belongs to.

Listing asks DVC (seconds on a big repository); the answer is kept until an experiment ref, HEAD or a workspace
file DVC reads changes, so a reload with nothing changed is answered at once."""

import json
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from imgclf.errors import PipelineError
from imgclf.experiments.dvc_command import dvc
from imgclf.experiments.exp_refs import baselines
from imgclf.experiments.exp_show import params_of
from imgclf.experiments.labs import Lab, repeat_of
from imgclf.timing import timed_for
from imgclf.ui.live import Progress, progress_in

# column -> (metrics file, key) in the order the table shows them; val accuracy is the best epoch's, as reports say
METRICS = {
    "test_accuracy": ("metrics/eval.json", "test_accuracy"),
    "val_accuracy": ("metrics/train.json", "best_val_accuracy"),
    "balanced_accuracy": ("metrics/eval.json", "balanced_accuracy"),
    "f1_macro": ("metrics/eval.json", "f1_macro"),
    "test_loss": ("metrics/eval.json", "test_loss"),
    "train_seconds": ("metrics/timing.json", "train_seconds"),
    "images_per_second": ("metrics/timing.json", "images_per_second"),
}
STUDY_TRIAL = re.compile(r"^(?P<study>.+)-\d{4}$")  # imgclf tune names its trials STUDY-NNNN
WORKSPACE_FILES = ("params.yaml", "dvc.yaml", "dvc.lock", "metrics", "dvclive/metrics.json")
LISTING_TIMEOUT_S = 60  # a `dvc exp show` still running then is stopped
RETRY_S = 30  # after DVC failed to list, the last listing is shown this long before DVC is asked again


@dataclass(frozen=True)
class Row:
    name: str
    group: str  # the lab or study it belongs to; "baselines" for commits and the workspace
    state: str  # baseline, workspace, success, queued, running or failed
    rev: str | None  # its git revision (None: queued, or the workspace)
    commit: str | None  # the baseline commit it ran on
    metrics: dict[str, float] = field(default_factory=dict)  # METRICS columns present
    params: dict[str, object] = field(default_factory=dict)  # params.yaml, flattened
    timestamp: str | None = None
    error: str | None = None  # what DVC could not read of it (a broken dvc.yaml in the workspace)
    files: dict[str, int] = field(default_factory=dict)  # its DVC-tracked single-file outputs -> bytes
    cached: bool = False  # its train stage was restored from DVC's run-cache: no training time of its own
    progress: Progress | None = None  # a running one's epochs so far; its val_accuracy is their best
    folders: dict[str, int] = field(default_factory=dict)  # its DVC-tracked folder outputs -> bytes in all
    machine: str | None = None  # what trained it (OS, CPU cores, GPU, TensorFlow), as its train stage recorded


def group_of(name: str, params: dict[str, object], labs: dict[str, Lab], studies: frozenset[str] = frozenset()) -> str:
    """A trial's study (STUDY-NNNN), a sweep's lab (LAB-...), else the one lab whose setup it ran (a `dvc exp run`
    under DVC's random name), or "other"; a --seeds repeat (NAME-seedS) belongs where NAME does. A sweep's
    LAB-KEY-1200 is no trial: a study is one of `studies`, or named LAB-tune..., or not after a lab."""
    name = repeat_of(name)[0]
    study = STUDY_TRIAL.match(name)
    lab = name.split("-", 1)[0]
    if study and (study["study"] in studies or lab not in labs or "tune" in study["study"].split("-")[1:]):
        return study["study"]
    if lab in labs:
        return lab
    holding = [lab.name for lab in labs.values() if runs_setup_of(params, lab)]
    return holding[0] if len(holding) == 1 else "other"


def runs_setup_of(params: dict[str, object], lab: Lab) -> bool:
    """The params are the lab's base, but for the keys the lab sweeps or searches, and its --tiny values."""
    varied = {*lab.swept_keys, *(r.key for r in lab.search)}
    return bool(lab.base) and all(
        params.get(key) == value or key in varied or (key in lab.tiny and params.get(key) == lab.tiny[key])
        for key, value in lab.base.items()
    )


def metrics_of(data: dict, model_md5: str | None) -> dict[str, float]:
    files = {path: (entry or {}).get("data") or {} for path, entry in (data.get("metrics") or {}).items()}
    timing = timed_for(files.get("metrics/timing.json") or {}, "train", model_md5) or files.get("metrics/train.json")
    files["metrics/timing.json"] = timing or {}
    found = {}
    for column, (path, key) in METRICS.items():
        value = (files.get(path) or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[column] = float(value)
    return found


def row_of(
    name: str, labs: dict[str, Lab], state: str, entry: dict, commit: str | None, root: str | None,
    studies: frozenset[str] = frozenset(),
) -> Row:  # fmt: skip
    """One row; `root` is the folder a running experiment runs in, where its progress is read."""
    data = entry.get("data") or {}
    params = params_of(data)
    model_md5 = ((data.get("outs") or {}).get("models/model.keras") or {}).get("hash")
    metrics = metrics_of(data, model_md5) if state not in ("queued", "running") else {}  # a running one's: stale
    progress = progress_in(root) if state == "running" else None
    if progress and progress.best_val_accuracy is not None:
        metrics["val_accuracy"] = progress.best_val_accuracy
    if state == "success" and "test_accuracy" not in metrics:
        state = "failed"  # DVC calls it a success, but it holds the baseline's metrics or none
    timing = (data.get("metrics") or {}).get("metrics/timing.json") or {}
    files, folders = outputs_of(data)
    return Row(
        name=name, group="baselines" if state in ("baseline", "workspace") else group_of(name, params, labs, studies),
        state=state, rev=entry.get("rev") if entry.get("rev") not in (None, "workspace") else None, commit=commit,
        metrics=metrics, params=params, timestamp=data.get("timestamp"),
        error=(entry.get("error") or {}).get("msg") if isinstance(entry.get("error"), dict) else None,
        files=files, folders=folders, progress=progress,
        cached=state not in ("baseline", "workspace")  # a commit holds no times: only an experiment has them
        and bool(timing) and "test_accuracy" in metrics and "train_seconds" not in metrics,
        machine=timed_for(timing.get("data") or {}, "train", model_md5).get("machine"),
    )  # fmt: skip


def outputs_of(data: dict) -> tuple[dict[str, int], dict[str, int]]:
    """The DVC-tracked outputs: single files and folders, each -> its bytes."""
    outs = [(path, out) for path, out in (data.get("outs") or {}).items() if isinstance(out, dict)]
    cached = [(path, out) for path, out in outs if out.get("use_cache")]
    files = {path: out.get("size") or 0 for path, out in cached if not is_folder(out)}
    return files, {path: out.get("size") or 0 for path, out in cached if is_folder(out)}


def is_folder(out: dict) -> bool:
    return str(out.get("hash") or "").endswith(".dir")  # DVC's hash of a folder's listing


def read_rows(shown: list[dict], labs: dict[str, Lab], studies: frozenset[str] = frozenset()) -> list[Row]:
    """`dvc exp show --json` -> rows in DVC's order: each baseline, then its experiments (newest run of a name)."""
    rows: list[Row] = []
    for baseline in shown:
        rev = baseline.get("rev")
        if rev == "workspace":
            rows.append(row_of("workspace", labs, "workspace", baseline, None, None))
            continue
        name = baseline.get("name") or str(rev)[:7]
        rows.append(row_of(name, labs, "baseline", baseline, rev, None))
        seen: set[str] = set()
        for group in baseline.get("experiments") or []:
            executor = group.get("executor") or {}
            state, root = executor.get("state") or "success", (executor.get("local") or {}).get("root")
            for exp in group.get("revs") or []:
                exp_name = exp.get("name") or str(exp.get("rev", ""))[:7]
                if exp_name in seen:
                    continue
                seen.add(exp_name)
                rows.append(row_of(exp_name, labs, state, exp, rev, root, studies))
    return rows


def state_key(project: Path) -> str:
    """What the listing depends on: every experiment and branch ref, HEAD, and the workspace files DVC reads."""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps", "refs/heads", "refs/tags"],
        cwd=project,
        capture_output=True,
        text=True,
    ).stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout
    stamps = []
    for name in WORKSPACE_FILES:
        path = project / name
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            stat = file.stat() if file.exists() else None
            stamps.append(f"{file}:{stat.st_mtime_ns}:{stat.st_size}" if stat else f"{file}:-")
    return refs + head + "\n".join(stamps)


class ExperimentList:
    """The rows of a repository, asked of DVC again only when state_key changes or an experiment is unfinished.
    While one request asks DVC, the others get the last listing; where DVC fails or hangs (`dvc exp show` can wait
    forever on a queued run's copy as DVC removes it), the last listing stays, with `problem` saying why, and DVC
    is asked again after RETRY_S."""

    def __init__(self, project: Path, labs: dict[str, Lab], all_commits: bool = False):
        self.project, self.labs, self.all_commits = project, labs, all_commits
        self.lock = threading.Lock()
        self.key: str | None = None
        self.rows: list[Row] = []
        self.listed_at: float | None = None  # time.time() of the last listing
        self.failed_at: float | None = None  # time.monotonic() of the last failure since
        self.problem: str | None = None
        self.elsewhere = 0  # experiments of commits the listing leaves out (counted with it)

    def count_elsewhere(self) -> int:
        """Experiments of commits the listing leaves out (DVC lists HEAD's): after a report is committed, a sweep's."""
        if self.all_commits:
            return 0
        shown = {r.commit for r in self.rows}
        return sum(n for commit, n in baselines(self.project).items() if commit not in shown)

    def read(self) -> list[Row]:
        if not self.lock.acquire(blocking=self.listed_at is None):
            return self.rows
        try:
            key = state_key(self.project)
            unfinished = any(r.state in ("queued", "running") for r in self.rows)
            waiting = self.failed_at is not None and time.monotonic() - self.failed_at < RETRY_S
            if self.listed_at is not None and ((key == self.key and not unfinished) or waiting):
                return self.rows
            args = ["exp", "show", "--json", *(["--all-commits"] if self.all_commits else [])]
            try:
                shown = json.loads(dvc(*args, cwd=self.project, timeout_s=LISTING_TIMEOUT_S) or "[]")
            except PipelineError as e:
                if self.listed_at is None:
                    raise
                when = time.strftime("%H:%M:%S", time.localtime(self.listed_at))
                self.problem, self.failed_at = f"{e}: the table is DVC's listing of {when}", time.monotonic()
                return self.rows
            studies = frozenset(p.stem for p in (self.project / ".tune").glob("*.db"))
            self.rows, self.key, self.listed_at = read_rows(shown, self.labs, studies), key, time.time()
            self.elsewhere = self.count_elsewhere()  # the refs are part of the key: the count changes only with it
            self.problem = self.failed_at = None
            return self.rows
        finally:
            self.lock.release()
