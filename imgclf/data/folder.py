"""A folder of photos, one sub-folder per class (root/<class>/*.jpg), optionally split as root/train/<class>/ with
root/val/<class>/ (or valid/, validation/) and/or root/test/<class>/.

Images are decoded on every core straight into a preallocated block of shared memory, a block at a time; files that
cannot be decoded are skipped and reported, or stop the stage, as params say.
"""

import ctypes
import math
import mmap
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from imgclf.data.dataset import LabeledImages
from imgclf.data.images import BadImage, Color, Resize, decode, fit
from imgclf.data.source import is_image_file, unused_entries, visible_files
from imgclf.errors import PipelineError, printable
from imgclf.progress import Progress

PR_SET_PDEATHSIG = 1  # linux/prctl.h
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
    paths, labels = [], []
    hidden = sorted(p for p in root.iterdir() if p.name.startswith(".") and p.is_dir())
    skipped = [
        Skipped(printable(p), "a folder whose name starts with '.', hidden: not read as a class") for p in hidden
    ]
    loose = [p for p in _visible(root.iterdir()) if not p.is_dir()]
    skipped += [Skipped(printable(p), "beside the class folders, in none: not read") for p in loose]
    with Progress(f"{root}: listed", "files") as progress:
        for label, class_dir in enumerate(class_dirs):
            images = [p for p in visible_files(class_dir) if is_image_file(p)]
            skipped += [Skipped(printable(p), reason) for p, reason in unused_entries(class_dir)]
            if not images:
                raise PipelineError(f"{class_dir}: no images (.jpg, .jpeg, .png, .bmp, .webp); add some or remove it")
            paths += images
            labels += [label] * len(images)
            progress.add(len(images))
    return ImageFiles(paths, np.array(labels, dtype=np.int64), found), skipped


def decode_blocks(
    files: ImageFiles,
    size: int,
    resize: Resize,
    color: Color,
    stop_on_bad: bool,
    block: int,
    max_pixels: int,
    workers: int | None = None,
) -> Iterator[tuple[LabeledImages, list[Skipped]]]:
    """The files decoded `block` at a time, in order: each block's decodable images and its undecodable files.

    One pool of forked worker processes (threads where fork is unavailable) decodes every block straight into one
    shared array of `block` images, reused: a block is valid until the next is asked for, so memory stays at one
    block whatever the number of files."""
    shape = (max(1, min(block, len(files.paths))), size, size, 1 if color == "grayscale" else 3)
    buffer = mmap.mmap(-1, math.prod(shape))
    images = np.frombuffer(buffer, dtype=np.uint8, count=math.prod(shape)).reshape(shape)
    job = (images, size, resize, color, max_pixels)
    workers = workers or os.cpu_count() or 1
    with Progress("decoded", "images", len(files.paths)) as progress, ExitStack() as stack:
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            # One OpenCV thread a worker, set before forking: a worker that changes the thread pool it inherited
            # from a parent that has used it (any cv2.GaussianBlur before) hangs in its next parallel call.
            threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
            stack.callback(cv2.setNumThreads, threads)
            context = multiprocessing.get_context("fork")
            pool: Executor = stack.enter_context(
                ProcessPoolExecutor(workers, context, initializer=_remember_job, initargs=(os.getpid(), *job))
            )
            decode_range: Callable = _decode_range_of_job
        else:
            pool = stack.enter_context(ThreadPoolExecutor(workers))
            decode_range = lambda *task: _decode_range(*job, *task)  # noqa: E731
        for first in range(0, len(files.paths), shape[0]):
            paths = files.paths[first : first + shape[0]]
            step = max(1, min(IMAGES_PER_TASK, -(-len(paths) // (workers * 4))))
            tasks = [(paths[start : start + step], start) for start in range(0, len(paths), step)]
            problems: dict[int, str] = {}
            _collect(pool, decode_range, tasks, problems, progress)
            if problems and stop_on_bad:
                bad = min(problems)
                raise PipelineError(
                    f"{paths[bad]}: {problems[bad]}; remove the file, or set preprocess.on_bad_image: skip"
                )
            kept = [i for i in range(len(paths)) if i not in problems]
            for new, old in enumerate(kept):
                if new != old:
                    images[new] = images[old]
            labels = files.labels[first : first + len(paths)][kept]
            yield (
                LabeledImages(images[: len(kept)], labels, files.class_names),
                [Skipped(printable(paths[i]), reason) for i, reason in sorted(problems.items())],
            )


def load_images(
    files: ImageFiles,
    size: int,
    resize: Resize,
    color: Color,
    stop_on_bad: bool,
    max_pixels: int,
    workers: int | None = None,
) -> tuple[LabeledImages, list[Skipped]]:
    """Every file decoded into one array (what `decode_blocks` yields as a single block)."""
    if not files.paths:
        empty = np.zeros((0, size, size, 1 if color == "grayscale" else 3), np.uint8)
        return LabeledImages(empty, files.labels, files.class_names), []
    blocks = decode_blocks(files, size, resize, color, stop_on_bad, len(files.paths), max_pixels, workers)
    data, skipped = next(blocks)
    return LabeledImages(data.images.copy(), data.labels, data.class_names), skipped


IMAGES_PER_TASK = 256  # what a worker decodes at a time: small enough for steady progress, large enough to cost nothing


def _collect(
    pool: Executor,
    decode_range: Callable[[int, int], dict[int, str]],
    tasks: list[tuple[list[Path], int]],
    problems: dict[int, str],
    progress: Progress,
) -> None:
    """Run every task (files, where in the block they go) in the pool; gather the undecodable files' reasons (by
    position in the block) as tasks finish, in any order."""
    pending = {pool.submit(decode_range, paths, start): len(paths) for paths, start in tasks}
    for done in as_completed(pending):
        problems.update(done.result())
        progress.add(pending[done])


def _decode_range(
    images: np.ndarray, size: int, resize: Resize, color: Color, max_pixels: int, paths: list[Path], start: int
) -> dict[int, str]:
    problems = {}
    for i, path in enumerate(paths, start):
        try:
            images[i] = fit(decode(path, size, max_pixels), size, resize, color)
        except BadImage as e:
            problems[i] = str(e)
    return problems


_job_of_this_worker: tuple = ()  # set once in each forked worker: the inherited shared block and how to fit images


def _remember_job(parent: int, *job: object) -> None:
    global _job_of_this_worker
    _die_with(parent)
    _job_of_this_worker = job


def _die_with(parent: int) -> None:
    """Have Linux kill this worker when its parent dies: a SIGKILLed preprocess runs no clean-up, and its workers
    would decode on under PID 1."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _decode_range_of_job(paths: list[Path], start: int) -> dict[int, str]:
    return _decode_range(*_job_of_this_worker, paths, start)
