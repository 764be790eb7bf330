"""A folder of photos, one sub-folder per class (root/<class>/*.jpg), optionally split as root/train/<class>/ with
root/val/<class>/ (or valid/, validation/) and/or root/test/<class>/.

Images are decoded on every core straight into one preallocated array; files that cannot be decoded are skipped
and reported, or stop the stage, as params say.
"""

import math
import mmap
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from imgclf.dataset import LabeledImages
from imgclf.errors import PipelineError
from imgclf.images import BadImage, Color, Resize, decode, fit
from imgclf.progress import Progress
from imgclf.source import visible_files

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}  # any case


@dataclass(frozen=True)
class ImageFiles:
    paths: list[Path]
    labels: np.ndarray
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def _visible(entries: Iterable[Path]) -> list[Path]:
    return sorted(p for p in entries if not p.name.startswith("."))


def find_root(path: Path) -> Path:
    """Step into wrapper folders (an archive's single top folder) until the class or split folders appear."""
    while True:
        entries = _visible(path.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and any(p.is_dir() for p in entries[0].iterdir()):
            path = entries[0]
        else:
            return path


def split_dirs(root: Path) -> dict[str, Path]:
    """{'train': root/train, 'val': root/val, 'test': root/test} for the split folders the photos ship (train and
    at least one other), else {'train': root} for class folders. A split folder is never taken for a class: a mix
    is an error naming what is there."""
    folders = [p for p in _visible(root.iterdir()) if p.is_dir()]
    split_folders = [p for p in folders if p.name.lower() in SPLIT_NAMES]
    if not split_folders:
        return {"train": root}
    layout = f"{root}: cannot read this layout: found split folders {', '.join(sorted(p.name for p in split_folders))}"
    others = [p.name for p in folders if p not in split_folders]
    if others:
        raise PipelineError(f"{layout} beside other folders {', '.join(others)}; {LAYOUTS}")
    found: dict[str, Path] = {}
    for folder in split_folders:
        split = SPLIT_NAMES[folder.name.lower()]
        if split in found:
            kind = {"val": "validation"}.get(split, split)
            raise PipelineError(f"{root}: two {kind} folders: {found[split].name}, {folder.name}; keep one")
        found[split] = folder
    if "train" not in found or len(found) == 1:
        raise PipelineError(f"{layout} but no {'train' if 'train' not in found else 'val or test'} folder; {LAYOUTS}")
    return {split: found[split] for split in ("train", "val", "test") if split in found}


LAYOUTS = (
    "use root/<class>/<image>, or root/train/<class>/<image> with root/val/ (or valid/, validation/) and/or "
    "root/test/, each holding the same class folders"
)


def list_images(root: Path, class_names: tuple[str, ...] | None = None) -> tuple[ImageFiles, list[Skipped]]:
    """Image files by class (sorted by class, then name), and the files skipped for their type."""
    class_dirs = [p for p in _visible(root.iterdir()) if p.is_dir()]
    found = tuple(p.name for p in class_dirs)
    if class_names is not None and found != class_names:
        raise PipelineError(f"{root}: class folders {list(found)} differ from the train folders {list(class_names)}")
    if not class_dirs:
        raise PipelineError(f"{root}: no class folders; expected {root}/<class>/<image> (e.g. cats/, dogs/, panda/)")
    if len(class_dirs) == 1:
        raise PipelineError(f"{root}: only one class folder ({found[0]}); a classifier needs at least two")
    paths, labels, skipped = [], [], []
    with Progress(f"{root}: listed", "files") as progress:
        for label, class_dir in enumerate(class_dirs):
            images = []
            for p in visible_files(class_dir):
                if is_image_file(p):
                    images.append(p)
                else:
                    skipped.append(Skipped(str(p), f"not an image type ({p.suffix or 'no suffix'})"))
            if not images:
                raise PipelineError(f"{class_dir}: no images (.jpg, .jpeg, .png, .bmp, .webp); add some or remove it")
            paths += images
            labels += [label] * len(images)
            progress.add(len(images))
    return ImageFiles(paths, np.array(labels, dtype=np.int64), found), skipped


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_images(
    files: ImageFiles, size: int, resize: Resize, color: Color, stop_on_bad: bool, workers: int | None = None
) -> tuple[LabeledImages, list[Skipped]]:
    """Decode every file into one array allocated once, in shared memory that forked worker processes fill
    (threads where fork is unavailable); then drop the undecodable ones in place."""
    shape = (len(files.paths), size, size, 1 if color == "grayscale" else 3)
    buffer = mmap.mmap(-1, max(1, math.prod(shape)))
    images = np.frombuffer(buffer, dtype=np.uint8, count=math.prod(shape)).reshape(shape)
    job = (images, files.paths, size, resize, color)
    workers = workers or os.cpu_count() or 1
    step = max(1, min(CHUNK, -(-len(files.paths) // (workers * 4))))
    chunks = [(start, min(start + step, len(files.paths))) for start in range(0, len(files.paths), step)]
    problems: dict[int, str] = {}
    with Progress("decoded", "images", len(files.paths)) as progress:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            # One OpenCV thread a worker, set before forking: a worker that changes the thread pool it inherited
            # from a parent that has used it (any cv2.GaussianBlur before) hangs in its next parallel call.
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            try:
                with ProcessPoolExecutor(workers, context, initializer=_remember_job, initargs=job) as pool:
                    _collect(pool, _decode_range_of_job, chunks, problems, progress)
            finally:
                cv2.setNumThreads(threads)
        else:
            with ThreadPoolExecutor(workers) as pool:
                _collect(pool, lambda start, stop: _decode_range(*job, start, stop), chunks, problems, progress)
    if problems and stop_on_bad:
        first = min(problems)
        raise PipelineError(
            f"{files.paths[first]}: {problems[first]}; remove the file, or set preprocess.on_bad_image: skip"
        )
    kept = [i for i in range(len(files.paths)) if i not in problems]
    for new, old in enumerate(kept):
        if new != old:
            images[new] = images[old]
    data = LabeledImages(images[: len(kept)], files.labels[kept], files.class_names)
    return data, [Skipped(str(files.paths[i]), reason) for i, reason in sorted(problems.items())]


CHUNK = 256  # images a worker decodes per task: small enough for steady progress, large enough to cost nothing


def _collect(
    pool: Executor,
    decode_range: Callable[[int, int], dict[int, str]],
    chunks: list[tuple[int, int]],
    problems: dict[int, str],
    progress: Progress,
) -> None:
    """Run every chunk in the pool; gather the undecodable files' reasons as chunks finish, in any order."""
    pending = {pool.submit(decode_range, start, stop): stop - start for start, stop in chunks}
    for done in as_completed(pending):
        problems.update(done.result())
        progress.add(pending[done])


def _decode_range(
    images: np.ndarray, paths: list[Path], size: int, resize: Resize, color: Color, start: int, stop: int
) -> dict[int, str]:
    problems = {}
    for i in range(start, stop):
        try:
            images[i] = fit(decode(paths[i], size), size, resize, color)
        except BadImage as e:
            problems[i] = str(e)
    return problems


_job_of_this_worker: tuple = ()  # set once in each forked worker: the inherited shared array and its files


def _remember_job(*job: object) -> None:
    global _job_of_this_worker
    _job_of_this_worker = job


def _decode_range_of_job(start: int, stop: int) -> dict[int, str]:
    return _decode_range(*_job_of_this_worker, start, stop)
