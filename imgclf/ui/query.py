"""The experiments table's query: which rows (a text filter and conditions such as `val_accuracy > 0.98` or
`train.lr < 0.05`), in which order, with which columns. Read from the page's URL, so a view can be bookmarked."""

import difflib
import json
import operator
import re
from dataclasses import dataclass

from imgclf.ui.rows import METRICS, Row

OPERATORS = {">=": operator.ge, "<=": operator.le, "!=": operator.ne, "==": operator.eq, "=": operator.eq,
             ">": operator.gt, "<": operator.lt}  # fmt: skip
ORDERS = (">=", "<=", ">", "<")
CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|==|=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    key: str  # a METRICS column or a params key (dotted)
    op: str
    value: object


class QueryError(ValueError):
    """A condition the page cannot read: said above the table, which then shows every row."""


def parse_conditions(text: str) -> list[Condition]:
    """`val_accuracy > 0.98, train.lr < 0.05` (or joined by `;` or `and`) -> conditions, all of which must hold."""
    if re.search(r"\bor\b|\|", text or ""):
        raise QueryError("every condition must hold (joined by , ; or and): `or` is not offered, filter twice instead")
    found = []
    for part in re.split(r"[,;](?![^\[]*\])|\band\b", text or ""):  # not the commas of a list
        if not part.strip():
            continue
        matched = CONDITION.match(part)
        if not matched:
            raise QueryError(f"cannot read the condition {part.strip()!r}: write e.g. val_accuracy > 0.98")
        key, op, raw = matched.groups()
        value = number_or_text(raw)
        if op in ORDERS and not isinstance(value, float):
            raise QueryError(f"{part.strip()}: {raw} is not a number; {op} compares numbers (= and != compare text)")
        found.append(Condition(key, op, value))
    return found


def number_or_text(raw: str) -> object:
    try:
        return float(raw.removesuffix("%")) / 100 if raw.endswith("%") else float(raw)  # 75% as the table shows it
    except ValueError:
        return {"true": True, "false": False}.get(raw.lower(), raw.strip("'\""))


def value_of(row: Row, key: str) -> object:
    return row.metrics.get(key) if key in METRICS else row.params.get(key)


def check_keys(conditions: list[Condition], params: set[str]) -> None:
    """A condition on a key no row has would hide every row without a word: name it, and the keys it may mean."""
    known = [*METRICS, *sorted(params)]
    for condition in conditions:
        if condition.key not in METRICS and condition.key not in params:
            ends = [k for k in known if k.endswith("." + condition.key)]  # a column's short name: lr for train.lr
            near = list(dict.fromkeys(ends + difflib.get_close_matches(condition.key, known, n=3, cutoff=0.5)))[:3]
            hint = f"; did you mean {' or '.join(near)}?" if near else f" (metrics: {', '.join(METRICS)})"
            raise QueryError(f"no metric or param is called {condition.key}{hint}")


def check_orders(conditions: list[Condition], rows: list[Row]) -> None:
    """An order on a key whose values are not numbers (layer widths are lists) would hide every row: say so."""
    for condition in (c for c in conditions if c.op in ORDERS):
        values = [v for v in (value_of(r, condition.key) for r in rows) if v is not None]
        if values and not any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            example = param_example(values[0])
            raise QueryError(f"{condition.key} holds no numbers (e.g. {example}): compare it with = or !=, e.g. "
                             f"{condition.key} = {example}")  # fmt: skip


def param_example(value: object) -> str:
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list | dict) else str(value)


def holds(row: Row, condition: Condition) -> bool:
    value = value_of(row, condition.key)
    if value is None:
        return False
    compare = OPERATORS[condition.op]
    if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(condition.value, float):
        return compare(float(value), condition.value)
    if condition.op in ("=", "==", "!="):
        return compare(param_example(value).lower(), str(condition.value).lower())
    return False  # an order between a number and a text has no meaning


def matches_text(row: Row, text: str) -> bool:
    return not text or text.lower() in f"{row.name} {row.group} {row.state}".lower()


def sort_key(key: str):
    """Rows with the value first (numbers by size, others as text), rows without it last."""

    def of(row: Row) -> tuple:
        value = value_of(row, key) if key not in ("name", "group", "state") else getattr(row, key)
        if value is None:
            return (2, 0.0, "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), "")
        return (1, 0.0, json.dumps(value) if not isinstance(value, str) else value)

    return of


def select(rows: list[Row], text: str, conditions: list[Condition], sort: str | None, descending: bool) -> list[Row]:
    chosen = [r for r in rows if matches_text(r, text) and all(holds(r, c) for c in conditions)]
    if sort:
        named = sort in ("name", "group", "state")
        present = [r for r in chosen if named or value_of(r, sort) is not None]
        absent = [r for r in chosen if not named and value_of(r, sort) is None]
        by_name = sorted(present, key=lambda r: r.name)  # ties keep this order: a study's earlier trial first
        chosen = sorted(by_name, key=sort_key(sort), reverse=descending) + absent
    return chosen


def differing_params(rows: list[Row]) -> list[str]:
    """The params keys whose values differ between the rows, the most varied first: what a sweep or study varies."""
    keys = dict.fromkeys(k for r in rows for k in r.params)
    values = {k: {json.dumps(r.params.get(k), sort_keys=True) for r in rows} for k in keys}
    return sorted((k for k in keys if len(values[k]) > 1), key=lambda k: -len(values[k]))
