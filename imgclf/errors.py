import os

ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class PipelineError(Exception):
    """A problem the user can fix (bad params, missing or malformed input); shown as one line, no traceback."""


def printable(path: os.PathLike | str) -> str:
    """A path as every message, table and CSV shows it: on one line and unambiguous. A backslash, a tab, a line
    break and other control characters, and each byte of a name that is not UTF-8, appear as Python escapes
    (\\\\, \\t, \\n, \\xff), so the text leads back to the file: in Python,
    os.fsdecode(codecs.escape_decode(text.encode())[0])."""
    shown = []
    for char in os.fsdecode(path):
        if char in ESCAPES:
            shown.append(ESCAPES[char])
        elif ord(char) < 32 or ord(char) == 127 or 0xDC80 <= ord(char) <= 0xDCFF:  # a byte kept as a surrogate
            shown.append(f"\\x{ord(char) & 0xFF:02x}")
        else:
            shown.append(char)
    return "".join(shown)
