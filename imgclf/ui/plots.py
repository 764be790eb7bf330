"""DVC's plots of some experiments (`dvc plots diff`) as page sections, without the pictures an experiment did not
draw: a search's trials stop before the `plot` stage, so their commits still hold an older run's PNGs, which DVC
shows under the trial's name."""

from pathlib import Path

from imgclf.experiments.exp_show import lock_at
from imgclf.experiments.plots_page import plot_sections, plots_json


def stale_outputs(lock: dict) -> dict[str, str]:
    """The outputs of the stages in a dvc.lock that read another stage's output in a version that stage no longer
    holds (the stage did not run after it): out path -> its stage."""
    stages = (lock.get("stages") if isinstance(lock, dict) else None) or {}
    made = {o["path"]: o.get("md5") for s in stages.values() for o in s.get("outs") or [] if isinstance(o, dict)}
    stale = {}
    for name, stage in stages.items():
        deps = [d for d in stage.get("deps") or [] if isinstance(d, dict) and d.get("path") in made]
        if any(d.get("md5") != made[d["path"]] for d in deps):
            stale |= {o["path"]: name for o in stage.get("outs") or [] if isinstance(o, dict)}
    return stale


def experiment_plots(project: Path, revisions: dict[str, str]) -> tuple[list[str], list[str]]:
    """The plot sections of `revisions` (as DVC names them -> their commit) overlaid, or of the workspace where
    there are none, and a note for each one's pictures left out."""
    plots = plots_json(list(revisions) * (2 if len(revisions) == 1 else 1), project)
    read_lock = lock_at(project)
    stale = {name: stale_outputs(read_lock(commit)) for name, commit in revisions.items()}
    left_out: dict[str, set[str]] = {}
    for path, entries in (plots.get("data") or {}).items():
        kept = []
        for entry in entries:
            name = (entry.get("revisions") or [""])[0]
            if entry.get("type") == "image" and path in stale.get(name, {}):
                left_out.setdefault(f"{name} did not run its {stale[name][path]} stage", set()).add(path)
            else:
                kept.append(entry)
        entries[:] = kept
    notes = [f"{who}: {', '.join(sorted(paths))} are an older run's, left out" for who, paths in left_out.items()]
    return plot_sections(plots, project), notes
