"""What every stage script shares: one-line errors instead of tracebacks."""

import sys
from collections.abc import Callable

from imgclf.errors import PipelineError


def exit_on_error(main: Callable[[], None]) -> None:
    try:
        main()
    except PipelineError as e:
        sys.exit("error: " + " ".join(str(e).split()))
    except KeyboardInterrupt:
        sys.exit("interrupted: no output was left half-written; run the stage again to finish it")
