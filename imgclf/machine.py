"""This machine in one line, for the numbers it produced: reports name it, and the train stage records it beside
its seconds."""

import os
import platform
import subprocess
from pathlib import Path


def machine() -> str:
    """This machine in one line, for the numbers it produced: OS, CPU cores, GPU, TensorFlow's version."""
    from importlib.metadata import version

    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpu = "no GPU" if not Path("/dev/nvidia0").exists() or gpus == "" else gpu_names() or "an NVIDIA GPU"
    tensorflow = version("tensorflow")
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, TensorFlow {tensorflow}"


def gpu_names() -> str:
    """The NVIDIA cards nvidia-smi lists, e.g. "1 x NVIDIA H100 80GB HBM3" ("" without nvidia-smi)."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        ).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return ""
    names = [name.strip() for name in listed if name.strip()]
    return ", ".join(f"{names.count(name)} x {name}" for name in dict.fromkeys(names))
