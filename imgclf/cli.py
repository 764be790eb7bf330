"""What every command shares: one-line errors instead of tracebacks, no native start-up noise, and temporary files
in a folder of its own that a killed command does not leave behind for long (scratch.py)."""

import atexit
import contextlib
import os
import sys
from collections.abc import Callable

from imgclf.disk_space import disk_full_line, is_disk_full
from imgclf.errors import PipelineError
from imgclf.native_log import filter_native_noise
from imgclf.scratch import use_private_tempdir

STAGE = "run the stage again"  # what fixes an interrupted or disk-full stage: `dvc repro` runs it again
COMMAND = "run the command again"  # the same for a command a user typed (predict, compare, ...)


def exit_on_error(main: Callable[[], None], rerun: str = STAGE) -> None:
    """Runs a stage's or command's main: a PipelineError, a full disk or Ctrl-C ends it with one line that says
    what to do (`rerun`), never a traceback."""
    filter_native_noise()
    use_private_tempdir()
    try:
        main()
    except PipelineError as e:
        sys.exit(error_lines(" ".join(str(e).split())))
    except Exception as e:  # a full disk, as the OSError of a write or inside a library's own error (h5py's)
        if not is_disk_full(e):
            raise
        sys.exit("error: " + disk_full_line(e, rerun))
    except KeyboardInterrupt:
        sys.exit(f"interrupted: no output was left half-written; {rerun} to finish it")
    if "tensorflow" in sys.modules:
        exit_without_teardown()


LINE = 200  # an error's first line at most; what does not fit follows as details


def error_lines(message: str) -> str:
    """`error: MESSAGE` within LINE characters: a longer message is cut after its last `; ` (else `: `) that fits
    outside brackets and double quotes (else at a space), and the rest follows on a line of details."""
    line = "error: " + message
    if len(line) <= LINE:
        return line
    breaks: dict[str, list[int]] = {"; ": [], ": ": []}
    depth, quoted = 0, False
    for i, char in enumerate(line[:LINE]):
        quoted = not quoted if char == '"' else quoted  # JSON's quotes; an apostrophe is English
        depth += (char in "[{(") - (char in "]})")
        if i > 7 and not quoted and depth == 0 and line[i : i + 2] in breaks:
            breaks[line[i : i + 2]].append(i + 1)
    space = line.rfind(" ", 8, LINE)
    found = breaks["; "] or breaks[": "]  # between clauses first, then after a heading
    cut = found[-1] if found else (space if space > 0 else LINE)
    return f"{line[:cut].rstrip()}\n  details: {line[cut:].strip()}"


def exit_without_teardown() -> None:
    """Ends a command that imported TensorFlow once its work is done: the interpreter's teardown of TensorFlow's
    modules takes about a second and writes nothing, and a sweep pays it twice an experiment (train, evaluate).
    Every output is written and closed by now; the clean-ups registered with atexit (the scratch folder) still run."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away: the interpreter would ignore it too
            stream.flush()
    atexit._run_exitfuncs()  # logging's shutdown among them, and the native-log filter's last lines
    os._exit(0)
