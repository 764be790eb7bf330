"""A search to hand the tuner's loop in unit tests: a one-key space over a SQLite study in a temporary folder."""

from pathlib import Path

from imgclf.experiments.search_space import parse_space
from imgclf.search.plan import Search
from imgclf.search.storage import Storage


def a_search(folder: Path, trials: int, grace_s: int = 60, study: str = "s") -> Search:
    space = parse_space({"train.lr": {"low": 0.001, "high": 0.1, "log": True}}, "test")
    storage = Storage(f"sqlite:///{folder}/{study}.db", grace_s=grace_s)
    return Search(folder, "lab", study, storage, {}, {}, {}, space, trials)
