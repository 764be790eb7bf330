"""The lines `imgclf tune` prints: one per finished trial, and the best so far."""

import json
import textwrap

from imgclf.experiments.labs import short_key
from imgclf.experiments.search_space import Space, values_of
from imgclf.search.objectives import COSTS, cost_text
from imgclf.search.record import STATES

WIDTH = 120


def trial_line(trial, space: Space, cost: str | None = None) -> str:
    """`  3  mnist_mlp-tune-0003  complete  val 97.85%   84 s  lr=0.0512 batch_size=100 ...`: the params that do not
    fit 120 columns wrap under the first, each whole."""
    state = STATES.get(trial.state.name, trial.state.name.lower())
    seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0
    if trial.values and state == "complete":
        figure = f"val {trial.values[0]:.2%}" + (f", {cost_text(cost, trial.values[1])}" if cost else "")
    elif state == "pruned":
        figure = f"at epoch {trial.user_attrs.get('pruned_at_epoch', trial.last_step or '?')}"
    else:
        figure = ""
    width = 24 if cost else 14  # `val 97.85%, train 120 s`
    head = (
        f"{trial.number:>4}  {trial.user_attrs.get('experiment', '')}  {state:<8}  {figure:<{width}}{seconds:>6.0f} s  "
    )
    keys = tuple(r.key for r in space)
    items = [f"{short_key(k, keys)}={_text(v)}" for k, v in values_of(trial.params, space).items()]
    line = "\n".join(wrapped(head, items))
    if state == "failed" and trial.user_attrs.get("error"):  # on a line of its own: it names what to do
        line += f"\n      {trial.user_attrs['error']}"
    return line


def wrapped(head: str, items: list[str]) -> list[str]:
    """`head` and the key=value items after it, within WIDTH columns: those that do not fit go on continuation lines
    under the first item (indented 6 instead where an item is too wide for that column). An item is never split: one
    wider than a line stands alone on its own."""
    indent = " " * (len(head) if len(head) + max(map(len, items), default=0) <= WIDTH else 6)
    lines, line = [], head
    for item in items:
        joined = line + item if line == head else f"{line} {item}"
        if len(joined) <= WIDTH:
            line = joined
        else:
            lines.append(line)
            line = indent + item
    return [text.rstrip() for text in [*lines, line]]


def best_line(study, cost: str | None = None) -> str:
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return "      best so far: none completed"
    if cost:  # the front's span, and its most accurate trial
        front = sorted(study.best_trials, key=lambda t: -t.values[0])
        low, high = front[-1].values, front[0].values
        line = (
            f"      Pareto front: {len(front)} trials, val {low[0]:.2%} to {high[0]:.2%}, "
            f"{COSTS[cost][0]} {cost_text(cost, low[1], False)} to {cost_text(cost, high[1], False)}; "
            f"best val: {front[0].user_attrs.get('experiment')}"
        )
        return "\n".join(
            textwrap.wrap(line, WIDTH, subsequent_indent=" " * 6, break_long_words=False, break_on_hyphens=False)
        )
    best = max(done, key=lambda t: t.value)
    origin = "from history" if "history" in best.user_attrs else f"trial {best.number}"
    return f"      best so far: {best.user_attrs.get('experiment')}, val {best.value:.2%} ({origin})"


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)
