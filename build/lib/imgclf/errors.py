import os


class PipelineError(Exception):
    """A problem the user can fix (bad params, missing or malformed input); shown as one line, no traceback."""


def printable(path: os.PathLike | str) -> str:
    """A path as a message shows it. The bytes of a name that is not UTF-8, which Python keeps as surrogates that
    cannot be printed or written as UTF-8, appear as \\xff escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
