"""A report's markdown, a lab's or a search's: a heading, then blocks (paragraphs, tables, pictures), with the line
saying where the numbers came from. A lab's report: that line, then one row per experiment (the params that differ,
test accuracy, balanced accuracy, macro-F1 and loss, over the seeds where there are several, epochs, training time,
the lab's published number, the best row marked and which differences from it are within noise)."""

from collections.abc import Iterable

from imgclf.experiments.exp_show import differing_keys, shown_value
from imgclf.experiments.labs import Lab, best_name, short_key
from imgclf.experiments.provenance import is_source
from imgclf.experiments.repeats import Group, within_noise
from imgclf.markdown_table import markdown_table


def page(heading: str, blocks: Iterable[list[str]]) -> str:
    """The report's text: its heading, then each block's lines, a blank line between blocks; empty blocks left out."""
    return "\n\n".join("\n".join(block) for block in [[heading], *blocks] if block) + "\n"


def made_line(provenance: dict, no_commit: str = "unknown") -> str:
    """Where the numbers came from, in one line: the commits, the machine (or the hosts, where several ran them) and
    the md5 of the data (one set, or one per set for a study run on several)."""
    commits = ", ".join(c[:7] for c in provenance.get("commit") or []) or no_commit
    hosts = provenance.get("hosts") or []
    several = f"{len(hosts)} machines ({', '.join(hosts)})" if hosts else "an unrecorded machine"
    data = provenance.get("data_md5") or []
    sets = [data] if isinstance(data, dict) else data  # a search's best trial's, a lab's every set
    md5 = "; ".join(", ".join(f"{p.rsplit('/', 1)[-1]} {h[:8]}" for p, h in sorted(d.items())) for d in sets)
    return f"Made at commit {commits} on {provenance.get('machine') or several}; data md5: {md5 or 'unknown'}."


def picture_lines(pictures: Iterable[str]) -> list[str]:
    """Each picture of the report's folder, shown."""
    return [f"![{p}]({p})" for p in pictures]


def shown_setting(key: str, value: object) -> str:
    """A param as key=value; a data source (a folder, mirrors) by its last path part: it names the data, the md5
    beside says what the data is."""
    if is_source(key) and value:
        first = value[0] if isinstance(value, list) else value
        more = f" +{len(value) - 1}" if isinstance(value, list) and len(value) > 1 else ""
        return f"{key}=…/{str(first).rstrip('/').rsplit('/', 1)[-1]}{more}"
    return f"{key}={shown_value(value)}"


def best(groups: list[Group]) -> Group:
    return max(groups, key=lambda g: (g.accuracy, -g.loss))


def _accuracy(g: Group) -> str:
    return f"{g.accuracy:.2%} ± {g.accuracy_std:.2%}" if len(g.runs) > 1 else f"{g.accuracy:.2%}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.2%}"


def _figure(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _epochs(g: Group) -> str:
    if any(r.epochs_run is None for r in g.runs):
        return ""
    if len(g.runs) > 1:
        low, high = min(r.epochs_run for r in g.runs), max(r.epochs_run for r in g.runs)
        return str(low) if low == high else f"{low}-{high}"
    r = g.runs[0]
    if r.best_val_accuracy is None:
        return str(r.epochs_run)
    return f"{r.epochs_run} (best val {r.best_val_accuracy:.2%} at {r.best_epoch})"


def _provenance_blocks(provenance: dict) -> list[list[str]]:
    lines = [made_line(provenance)]
    setup = provenance.get("setup") or {}
    if setup:
        settings = ", ".join(f"`{shown_setting(k, v)}`" for k, v in setup.items())
        lines.append(f"Every experiment ran with (besides the committed params.yaml): {settings}")
    seeds = provenance.get("seeds") or []
    if seeds:
        lines.append(
            f"Each experiment ran {len(seeds)} times, train.seed {seeds[0]}-{seeds[-1]}, the split fixed: test "
            "accuracy is the mean ± sample standard deviation, min-max beside. A difference from the best no larger "
            "than the two experiments' standard deviations together is marked within noise."
        )
    return [[line] for line in lines]


def table(lab: Lab, groups: list[Group]) -> list[str]:
    keys = [k for k in differing_keys(groups) if not is_source(k)]
    columns = [short_key(k, tuple(groups[0].params)) for k in keys]  # unambiguous among all params
    published = any(g.name in lab.published for g in groups)
    repeated = any(len(g.runs) > 1 for g in groups)
    balanced = any(g.balanced_accuracy is not None for g in groups)  # not in reports made before eval.json had it
    top = best(groups)
    header = ["", "experiment", *columns, "test accuracy", *(["min-max"] if repeated else [])]
    header += [*(["balanced", "macro-F1"] if balanced else []), "test loss"]
    header += [
        "epochs run",
        "train time (s)",
        *(["vs best"] if repeated else []),
        *(["published"] if published else []),
    ]
    rows = []
    for g in groups:
        low, high = g.accuracy_range
        loss = f"{g.loss:.4f} ± {g.loss_std:.4f}" if len(g.runs) > 1 else f"{g.loss:.4f}"
        cells = ["**best**" if g is top else "", g.name, *(shown_value(g.params.get(k)) for k in keys)]
        cells += [_accuracy(g), *([f"{low:.2%}-{high:.2%}"] if repeated else [])]
        cells += [_percent(g.balanced_accuracy), _figure(g.f1_macro)] if balanced else []
        cells += [loss, _epochs(g)]
        cells.append("cached" if g.train_seconds is None else f"{g.train_seconds:.1f}")
        if repeated:
            cells.append("" if g is top else "within noise" if within_noise(g, top) else "worse")
        cells += [lab.published.get(g.name, "")] if published else []
        rows.append(cells)
    return markdown_table(header, rows)


def markdown(
    lab: Lab,
    groups: list[Group],
    unfinished: dict[str, str],
    not_run: list[str],
    provenance: dict,
    pictures: list[str],
    curves: tuple[str, ...] | list[str] = (),
) -> str:
    """A lab's report.md."""
    blocks = []
    if not groups:
        blocks.append(
            [f"No finished experiments of this lab yet: run `python -m imgclf.experiments.sweep {lab.name}`."]
        )
    else:
        top = best(groups)
        blocks += [*_provenance_blocks(provenance), table(lab, groups)]
        blocks += [[f"Best: **{top.name}**, {_accuracy(top)} test accuracy."], [_best_combination_line(lab, groups)]]
    if unfinished:
        states = ", ".join(f"{name} ({state})" for name, state in unfinished.items())
        blocks.append([f"Not finished (see `dvc queue status`): {states}"])
    if not_run:
        blocks.append([f"Not run: {', '.join(not_run)}"])
    blocks.append(picture_lines(pictures))
    if curves:
        about = (
            "Training curves of every experiment (its first seed), overlaid (`dvc plots diff`, drawn offline; "
            "[curves/index.html](curves/index.html) is DVC's interactive page, which loads Vega from a CDN):"
        )
        blocks += [[about], picture_lines(curves)]
    return page(f"# {lab.name}: {lab.title}", blocks)


def _best_combination_line(lab: Lab, groups: list[Group]) -> str:
    """Whether LAB-best (each sweep's best value together) beats the best single experiment."""
    combined = next((g for g in groups if g.name == best_name(lab)), None)
    if combined is None:
        return (
            f"Each sweep's best value together: not run yet (`python -m imgclf.experiments.sweep {lab.name} --best`)."
        )
    values = ", ".join(f"`{k}={shown_value(combined.params.get(k))}`" for k in lab.swept_keys)
    singles = [g for g in groups if g.name != combined.name]
    if not singles:
        return f"{combined.name} ({values}): {_accuracy(combined)} test accuracy."
    rival = best(singles)
    same = next((g.name for g in singles if g.params == combined.params), None)
    if same:
        verdict = f"the same setup as {same}: the sweeps' best values do not combine into a new one"
    elif within_noise(combined, rival):
        verdict = f"within noise of the best single experiment, {rival.name} ({_accuracy(rival)})"
    else:
        beats = "beats" if combined.accuracy > rival.accuracy else "does not beat"
        verdict = f"it {beats} the best single experiment, {rival.name} ({_accuracy(rival)})"
    head = f"**{combined.name}**, each sweep's best value together ({values}): {_accuracy(combined)} test accuracy"
    return f"{head}; {verdict}."
