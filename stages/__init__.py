"""Thin command-line entries, one per DVC stage; run as `python -m stages.NAME` from the repository root."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
