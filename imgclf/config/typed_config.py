"""A frozen dataclass built from YAML data, checked as it is built: every key present and known, each value of its
field's type (bool, int, float, str, a Literal's choices, a tuple of them) and within the limits a `bounded` field
sets. A mistake raises Invalid with one line naming the key, the value and what is allowed. Lists and strings have
lengths no one would mean refused first, before their items are looked at."""

import dataclasses
import math
import typing
from dataclasses import field
from typing import Literal


def bounded(**limits: float) -> typing.Any:
    """A required field whose number (or each number of a list) must satisfy ge/gt/le/lt limits."""
    return field(metadata=limits)


MAX_ITEMS = 64  # a list's entries: layers, blocks, mirrors
MAX_CHARS = 4096  # a string's characters: a path or URL (Linux's PATH_MAX)
_LIMIT_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_LIMIT_OK = {
    "ge": lambda v, b: v >= b,
    "gt": lambda v, b: v > b,
    "le": lambda v, b: v <= b,
    "lt": lambda v, b: v < b,
}


class Invalid(Exception):
    """One line: what is wrong, naming the key."""


def build(cls: type, raw: object, prefix: str = "") -> typing.Any:
    """An instance of the dataclass `cls` from `raw`; `prefix` names where it sits (e.g. "train.")."""
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise Invalid(f"{where} must be a mapping of keys to values, got {_shown(raw)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in known:
            raise Invalid(f"unknown key {prefix}{key}; allowed keys here: {', '.join(known)}")
    values = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if f.name not in raw:
            raise Invalid(f"missing key {key}; add it (see docs/params.md)")
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            values[f.name] = build(tp, raw[f.name], key + ".")
        else:
            values[f.name] = _coerce(raw[f.name], tp, key, f.metadata)
    try:
        return cls(**values)
    except ValueError as e:
        raise Invalid(f"{where}: {e}") from None


def _coerce(value: object, tp: object, key: str, limits: typing.Mapping[str, float]) -> object:
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool) and {"on", "off"} <= set(choices):
            return "on" if value else "off"  # YAML 1.1 reads on/off (and yes/no, true/false) as booleans
        if value not in choices:
            raise Invalid(f"{key} = {_shown(value)} is not allowed; choose one of: {', '.join(map(str, choices))}")
        return value
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if not isinstance(value, list):
            raise Invalid(f"{key} = {_shown(value)} must be a list, e.g. [800] or [800, 400]")
        if len(value) > MAX_ITEMS:
            raise Invalid(f"{key} has {len(value)} entries; at most {MAX_ITEMS} are allowed")
        return tuple(_coerce(v, item_tp, f"{key}[{i}]", limits) for i, v in enumerate(value))
    scalar = _scalar(value, tp, key)
    for name, bound in limits.items():
        if not _LIMIT_OK[name](scalar, bound):
            raise Invalid(f"{key} = {_shown(value)} is out of range; it must be {_LIMIT_TEXT[name]} {bound:g}")
    return scalar


def _scalar(value: object, tp: object, key: str) -> int | float | str | bool:
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise Invalid(f"{key} = {_shown(value)} must be true or false")
    if tp is str:
        if isinstance(value, str) and len(value) > MAX_CHARS:
            raise Invalid(f"{key} has {len(value)} characters; at most {MAX_CHARS} are allowed")
        if isinstance(value, str):
            return value
        raise Invalid(f"{key} = {_shown(value)} must be a string (quote it)")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise Invalid(f"{key} = {_shown(value)} must be a whole number")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
        raise Invalid(f"{key} = {_shown(value)} must be a number, e.g. 0.01 or 1e-3")
    raise TypeError(f"unsupported params type {tp!r} for {key}")


def _shown(value: object, limit: int = 80) -> str:
    """A value as a message quotes it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
