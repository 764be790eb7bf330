"""What every command shares: one-line errors instead of tracebacks, and no native start-up noise."""

import sys
from collections.abc import Callable

from imgclf.errors import PipelineError
from imgclf.native_log import filter_native_noise


def exit_on_error(main: Callable[[], None]) -> None:
    filter_native_noise()
    try:
        main()
    except PipelineError as e:
        sys.exit("error: " + " ".join(str(e).split()))
    except KeyboardInterrupt:
        sys.exit("interrupted: no output was left half-written; run the stage again to finish it")
