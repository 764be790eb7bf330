"""Benchmark: decoding a photo folder with imgclf (all cores, one preallocated array) against a plain
single-threaded OpenCV loop that appends to a list and stacks it.

Each side runs in its own process. Peak memory is the proportional set size (PSS) of that process and its
worker processes together, sampled every 10 ms, above what it held before decoding began. Reports the throughput
ratio (goal >= 1.7x on 2 cores) and peak memory over the size of the final array (goal <= 1.5x), as JSON and
markdown.

    python benchmarks/preprocess_folder.py /tmp/cifar10-jpg/train --size 32 --out benchmarks/results

Latest result: benchmarks/results/preprocess_folder.md (docs/benchmarks.md names the commit it ran at).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imgclf.data.folder import list_images, load_images


def tree_pss_bytes(pid: int) -> int:
    """PSS of a process and all its descendants: shared pages are counted once, split among their users."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    pending += [int(child) for child in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


class PeakSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.done = 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.peak = max(self.peak, tree_pss_bytes(os.getpid()))


def plain_loop(paths: list[Path], size: int) -> np.ndarray:
    images = []
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            continue
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        images.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(images)


def measure(side: str, folder: Path, size: int) -> dict:
    cv2.setNumThreads(1) if side == "plain" else None
    files, _ = list_images(folder)
    before = tree_pss_bytes(os.getpid())
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    if side == "plain":
        images = plain_loop(files.paths, size)
    else:
        images = load_images(files, size, "stretch", "rgb", stop_on_bad=False, max_pixels=0)[0].images
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    peak = max(sampler.peak, tree_pss_bytes(os.getpid()))
    return {
        "images": len(images),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(images) / seconds, 1),
        "array_bytes": int(images.nbytes),
        "peak_extra_bytes": int(peak - before),
        "peak_over_array": round((peak - before) / images.nbytes, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--side", choices=["plain", "imgclf"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args.folder, args.size)))
        return
    results = {}
    for side in ("plain", "imgclf"):
        cmd = [sys.executable, __file__, str(args.folder), "--size", str(args.size), "--side", side]
        results[side] = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    summary = {
        "folder": str(args.folder),
        "size": args.size,
        "cores": os.cpu_count(),
        **results,
        "speedup": round(results["imgclf"]["images_per_second"] / results["plain"]["images_per_second"], 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "preprocess_folder.json").write_text(json.dumps(summary, indent=2) + "\n")
    rows = [
        f"| {side} | {r['images']} | {r['seconds']} | {r['images_per_second']} | {r['peak_over_array']} |"
        for side, r in results.items()
    ]
    table = "\n".join(
        [
            f"# Preprocess benchmark: {args.folder} at {args.size}px on {os.cpu_count()} cores",
            "",
            "| loop | images | seconds | images/s | peak memory / array size |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Speed-up of imgclf over the plain loop: {summary['speedup']}x",
        ]
    )
    (args.out / "preprocess_folder.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
