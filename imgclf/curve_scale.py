"""The y axis of a training curve. A photo run's first epoch can end with a loss of 60 and the next ones near 0.5:
on a linear axis every epoch after the first lies flat along the bottom. Such a curve goes on a log axis, titled so."""

import math
from collections.abc import Iterable

WIDE_RANGE = 20.0  # largest / smallest value at which a linear axis stops showing the small ones


def needs_log_scale(values: Iterable[float]) -> bool:
    """Whether the values are all positive and span WIDE_RANGE or more (a loss can be 0 only on a log-less axis)."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= WIDE_RANGE
