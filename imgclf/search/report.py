"""A study's report: reports/tune-LAB/ with report.md (the best trial's params, its validation and test figures,
the top 10 trials by validation), results.json, and its plots (plots.py). It is written with a lab report's parts
(experiments/report_markdown.py, provenance.py). Only a complete study on the lab's own setup replaces it; any other
goes to reports/partial/tune-LAB/, which git ignores."""

import json
import re
import statistics
from dataclasses import asdict
from pathlib import Path

from imgclf.atomic import atomic_dir, write_json, write_text
from imgclf.experiments.exp_show import shown_value
from imgclf.experiments.labs import Lab, short_key
from imgclf.experiments.report import PARTIAL
from imgclf.experiments.report_markdown import made_line, page, picture_lines
from imgclf.experiments.search_space import Space
from imgclf.markdown_table import markdown_table
from imgclf.search.objectives import COSTS, Objective, cost_text, parse_objective
from imgclf.search.plots import draw
from imgclf.search.record import (
    Settings,
    TrialRecord,
    as_json,
    pareto_front,
    ranked,
    study_partial_reason,
    study_provenance,
    trial_records,
)
from imgclf.search.seeds import Seeded, verdict

TOP = 10
IMPORTANCE = "fANOVA (Optuna's FanovaImportanceEvaluator, seed 0)"


def report_dir(settings: Settings) -> str:
    """tune-LAB for the lab's default study (tune-LAB-time, tune-LAB-size with a cost), else tune-STUDY."""
    default = f"{settings.lab}-tune"
    if settings.study.startswith(default):
        return f"tune-{settings.lab}{settings.study.removeprefix(default)}"
    return f"tune-{settings.study}"


def write_tune_report(
    study, lab: Lab, space: Space, settings: Settings, out: Path, project: Path, test_top: int, seeded: list[Seeded]
) -> Path:
    """Writes the study's report as a whole; returns its folder."""
    records = trial_records(study, space)
    goal = parse_objective(settings.objective)
    reason = study_partial_reason(settings, records)
    folder = out / report_dir(settings) if reason is None else out / PARTIAL / report_dir(settings)
    source = study_provenance(records, project)
    with atomic_dir(folder) as tmp:
        pictures = draw(study, tmp, goal)
        write_json(
            tmp / "results.json", {**as_json(settings, records, source, reason), "seeds": list(map(asdict, seeded))}
        )
        text = tune_markdown(lab, space, settings, records, source, pictures, test_top, goal)
        if seeded:
            text += f"\nThe two best trials trained again, {verdict(seeded)} (validation accuracy; test: "
            text += ", ".join(f"{s.experiment} {statistics.fmean(s.test):.2%}" for s in seeded) + ").\n"
        write_text(tmp / "report.md", text)
    where = f"{folder / 'report.md'}"
    print(where if reason is None else f"{where}: partial ({reason}); {out / report_dir(settings)}/ is kept")
    return folder


def tune_markdown(
    lab: Lab, space: Space, settings: Settings, records: list[TrialRecord], source: dict, pictures: list[str],
    test_top: int, goal: Objective,
) -> str:  # fmt: skip
    """The study's report.md, written as a lab's (report_markdown.page)."""
    best = ranked(records)
    states = {s: sum(r.state == s and not r.history for r in records) for s in ("complete", "pruned", "failed")}
    seed = f" (seed {settings.seed})" if settings.seed is not None else ""
    budget = f", at most {settings.timeout_s:g} s a run" if settings.timeout_s else ""
    failed = " (failed trials do not count toward them)." if states["failed"] else "."
    both = (
        f" Two objectives: validation accuracy, the higher the better, and {goal.cost_label}, the lower the better."
        if goal.multi
        else ""
    )
    blocks = [
        [
            f"Study `{settings.study}` in `{settings.storage}`: {settings.sampler} sampler{seed}, {settings.pruner} "
            f"pruner; {settings.trials} trials asked{budget}: {states['complete']} complete, {states['pruned']} "
            f"pruned, {states['failed']} failed{failed}{both}"
        ],
        [made_line(source, no_commit="no completed trial")],
    ]
    blocks += history_blocks(records, settings)
    part = re.fullmatch(r"(.+)-part(\d+)", settings.study)
    if part:
        blocks.append([f"Part {part[2]} of study `{part[1]}`: begun with `--new-part` when the setup changed; the "
                       "earlier parts' trials ran another setup and are reported apart."])  # fmt: skip
    if settings.code_dirty:
        blocks.append(["**Uncommitted code.** Its trials ran changes to the code DVC tracks that no commit holds: "
                       "commit them and run the study again for numbers others can reproduce."])  # fmt: skip
    if settings.tiny or settings.overrides:
        sets = [f"`{k}={shown_value(v)}`" for k, v in settings.overrides.items()]
        blocks.append(["Beyond the lab's base: " + ", ".join((["`--tiny`"] if settings.tiny else []) + sets)])
    heading = f"# {report_dir(settings)}: {lab.title}"
    if not best:
        return page(heading, [*blocks, ["No trial completed."]])
    top = best[0]
    chosen = ", ".join(f"`{k}={shown_value(v)}`" for k, v in top.params.items())
    chosen_on = f"validation accuracy and {COSTS[goal.cost][0]}" if goal.multi else "validation accuracy alone"
    blocks += [
        *(front_blocks(records, space, test_top, goal) if goal.multi else []),
        [
            f"**{'Most accurate' if goal.multi else 'Best'}: {top.experiment}** ({origin(top)}): validation "
            f"accuracy {top.val_accuracy:.2%}; test accuracy {top.test_accuracy:.2%} (test loss "
            f"{top.test_loss:.4f}). Trials were ranked on {chosen_on}: the test set took no part in the choice."
        ],
        [
            f"Its params: {chosen}. Into the workspace: `dvc exp apply {top.experiment}`, then `dvc repro` for its "
            "plots and export (a trial stops at evaluate: until then DVC reports their files missing)."
        ],
        [] if goal.multi else table(best[:TOP], space, test_top, goal),
        picture_lines(pictures),
    ]
    if "importances.png" in pictures:
        done = states["complete"] + sum(r.history is not None for r in records)
        few = " (few: read them as a hint)" if done < 10 else ""
        blocks.append([f"Importances: {IMPORTANCE}, over the {done} completed trials{few}."])
    return page(heading, blocks)


def history_blocks(records: list[TrialRecord], settings: Settings) -> list[list[str]]:
    """What the study learned from the experiments already run (search/history.py), said apart from its trials."""
    past = ranked([r for r in records if r.history])
    if not past:
        return []
    commits = ", ".join(sorted({f"`{r.history[:7]}`" for r in past}))
    which = "of any commit" if settings.history == "all" else "of commits with this code"
    count, them = (f"{len(past)} experiments", "them") if len(past) > 1 else ("1 experiment", "it")
    return [[
        f"**From history: {count}** {which} ({commits}) ran this setup inside the space, so the study took {them} "
        f"as completed trials before its first: best val {past[0].val_accuracy:.2%} ({past[0].experiment}). The "
        f"sampler learned from {them}; `--trials` did not count {them}."
    ]]  # fmt: skip


def origin(record: TrialRecord) -> str:
    return f"from history, run on `{record.history[:7]}`" if record.history else f"trial {record.number}"


def front_blocks(records: list[TrialRecord], space: Space, test_top: int, goal: Objective) -> list[list[str]]:
    front = pareto_front(records)
    tested = "the most accurate" if test_top == 1 else f"the {test_top} most accurate"
    return [
        [
            f"**Pareto front: {len(front)} trials.** No trial of the study is both more accurate and cheaper than one "
            f"of these: each gives up validation accuracy only for a lower {COSTS[goal.cost][0]}. Test accuracy is "
            f"shown for {tested}."
        ],
        table(front[:TOP], space, test_top, goal),
    ]


def table(rows: list[TrialRecord], space: Space, test_top: int, goal: Objective) -> list[str]:
    keys = tuple(r.key for r in space)
    names = [short_key(k, keys) for k in keys]
    head = ["rank", "experiment", *names, "val accuracy", *([COSTS[goal.cost][0]] if goal.multi else [])]
    head += ["epochs run", "seconds", *(["test accuracy"] if test_top > 1 or goal.multi else [])]
    cells = []
    for rank, r in enumerate(rows, 1):
        name = f"{r.experiment} (history)" if r.history else r.experiment or ""
        row = [str(rank), name, *[_short(r.params.get(k)) for k in keys]]
        row += [f"{r.val_accuracy:.2%}", *([cost_text(goal.cost, r.cost, named=False)] if goal.multi else [])]
        row += [str(r.epochs_run or ""), f"{r.seconds:.0f}" if r.seconds else ""]
        if test_top > 1 or goal.multi:
            row.append(f"{r.test_accuracy:.2%}" if rank <= test_top else "")
        cells.append(row)
    return markdown_table(head, cells)


def best_experiment(results: Path) -> str | None:
    """The best trial's experiment named in a report's results.json."""
    best = json.loads(results.read_text()).get("best") or {}
    return best.get("experiment")


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else shown_value(value)
