"""What every command shares: one-line errors instead of tracebacks, no native start-up noise, and temporary files
in a folder of its own that a killed command does not leave behind for long (scratch.py)."""

import sys
from collections.abc import Callable

from imgclf.errors import PipelineError
from imgclf.native_log import filter_native_noise
from imgclf.scratch import use_private_tempdir


def exit_on_error(main: Callable[[], None]) -> None:
    filter_native_noise()
    use_private_tempdir()
    try:
        main()
    except PipelineError as e:
        sys.exit("error: " + " ".join(str(e).split()))
    except KeyboardInterrupt:
        sys.exit("interrupted: no output was left half-written; run the stage again to finish it")
