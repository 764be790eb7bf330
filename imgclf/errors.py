class PipelineError(Exception):
    """A problem the user can fix (bad params, missing or malformed input); shown as one line, no traceback."""
