"""DVC's command line from Python, in the project's environment: its output, or one line saying what failed."""

import subprocess
import sys
from pathlib import Path

from imgclf.errors import PipelineError


def dvc(*args: str, cwd: Path = Path(".")) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise PipelineError(f"dvc {' '.join(args)} failed: {message[-1] if message else result.returncode}")
    return result.stdout
