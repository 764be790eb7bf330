"""Keep TensorFlow's native start-up lines off the terminal.

TensorFlow's C++ code logs through absl before absl's logging is initialised, so `TF_CPP_MIN_LOG_LEVEL` does not
reach those lines (tensorflow/tensorflow#100442): every process that imports it prints INFO lines about oneDNN and
CUDA drivers, and on a machine without a GPU an "E0000 ... failed call to cuInit" line that reads as a failure. The
only place to drop them is the process's stderr file descriptor itself: it becomes a pipe, and a thread passes on
every line but the known start-up noise. Everything else, warnings and errors included, reaches the terminal.
"""

import atexit
import os
import re
import sys
import threading
from typing import TextIO

NOISE = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|I\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*"  # absl INFO lines
    rb"|[EW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*(failed call to cuInit|Unable to register cu\w+ factory).*"
    rb"|E\d{4} [\d:.]+\s+\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool .*"
    rb"|fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+"  # TFLite's
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."  # converter and interpreter
)


def is_noise(line: bytes) -> bool:
    return NOISE.fullmatch(line.rstrip(b"\r\n")) is not None


def _pass_on(pipe: int, terminal: int) -> None:
    """Whole lines, each unless noise; a line still being written that holds a carriage return (a progress line
    repainted in place, never noise) at once, so the terminal shows it before the line ends."""
    pending = b""
    while chunk := os.read(pipe, 65536):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if not is_noise(line):
                os.write(terminal, line + b"\n")
        if b"\r" in pending:
            os.write(terminal, pending)
            pending = b""
    if pending and not is_noise(pending):
        os.write(terminal, pending)
    os.close(pipe)


class _TerminalBehindFilter:
    """sys.stderr once it writes into the filter's pipe: it answers isatty() as the stderr behind the filter does,
    so progress lines are still repainted in place on a terminal."""

    def __init__(self, stream: TextIO, is_terminal: bool) -> None:
        self._stream, self._is_terminal = stream, is_terminal

    def isatty(self) -> bool:
        return self._is_terminal

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def filter_native_noise() -> None:
    """From now until the process exits, stderr (Python's and native code's, children's included) goes through
    `is_noise`. Call it before TensorFlow is imported."""
    sys.stderr.flush()
    is_terminal = os.isatty(2)
    pipe_out, pipe_in = os.pipe()
    terminal = os.dup(2)
    os.dup2(pipe_in, 2)
    os.close(pipe_in)
    pump = threading.Thread(target=_pass_on, args=(pipe_out, terminal), daemon=True, name="native-log-filter")
    pump.start()
    if not isinstance(sys.stderr, _TerminalBehindFilter):
        sys.stderr = _TerminalBehindFilter(sys.stderr, is_terminal)

    def restore() -> None:  # the last writer closes the pipe: the pump writes what is left, then ends
        sys.stderr.flush()
        os.dup2(terminal, 2)
        pump.join(timeout=5)

    atexit.register(restore)
