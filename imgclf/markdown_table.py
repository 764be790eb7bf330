"""A markdown table, as every report, page and pull-request comment of imgclf writes one."""

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The table's lines: the header, its `|---|` rule, then one line a row. Cells are markdown as given: a cell that
    may hold a `|` is escaped by its caller."""
    return [_line(header), "|" + "---|" * len(header), *(_line(cells) for cells in rows)]


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
