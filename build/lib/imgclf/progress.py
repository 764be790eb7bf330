"""Progress of a long loop, with its rate, on stderr.

On a terminal one line is repainted in place. Anywhere else (a CI log, a queued experiment's log file) a line is
written at most every 30 s, so a log never fills with repaints; a loop of a few seconds writes only its closing
line: what was done, in how long, at what rate.
"""

import sys
import time
from types import TracebackType
from typing import TextIO


class Progress:
    def __init__(
        self, verb: str, unit: str, total: int | None = None, stream: TextIO | None = None, per_unit: int = 1
    ) -> None:
        """`per_unit`: counts (and `total`) are in units of 1/per_unit, e.g. bytes shown in KB with 1024."""
        self.verb, self.unit, self.total, self.per_unit = verb, unit, total, per_unit
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.every_s = 0.25 if self.terminal else 30.0
        self.done = 0
        self.start = self.last = time.monotonic()

    def add(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._write(now, final=False)

    def close(self) -> None:
        self._write(time.monotonic(), final=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        elif self.terminal:
            self.stream.write("\n")  # the error's own line starts on a fresh line

    def line(self, now: float) -> str:
        seconds = now - self.start
        per_s = self.done / self.per_unit / seconds if seconds > 0 else 0.0
        rate = f" ({per_s:,.0f} {self.unit}/s)" if per_s >= 10 else f" ({per_s:.1f} {self.unit}/s)" if per_s else ""
        of = f"/{-(-self.total // self.per_unit):,}" if self.total is not None else ""
        return f"{self.verb} {-(-self.done // self.per_unit):,}{of} {self.unit} in {seconds:.1f} s{rate}"

    def _write(self, now: float, final: bool) -> None:
        if self.terminal:
            self.stream.write(f"\r{self.line(now)}\x1b[K" + ("\n" if final else ""))
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
