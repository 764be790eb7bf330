"""Benchmark: decoding phone-size photos (12 megapixels, 4032 x 3024) to a small training size.

Makes the photos from a class-per-folder JPEG tree (CIFAR-10 images upscaled and saved at quality 90: decoding
costs by pixels, not by content), then measures on one core, alternating image by image so that machine noise hits
both sides alike:
- plain: `cv2.imread` at full size, then INTER_AREA to the size (what imgclf did before);
- imgclf: `imgclf.data.images.decode(path, size)` (a reduced JPEG decode when the photo is at least twice the size on
  both sides), then the same resize;
and, for the whole folder, imgclf's `load_images` on every core against Keras' `image_dataset_from_directory`.
Reports images/s, the speed-up, and the mean absolute difference between the two sides' pixels (0-255).
Goal: preprocess and predict read phone photos several times faster than a full decode (at least 5x at every size
up to 224 px) within a gray level of it (mean difference under 1). Latest: benchmarks/results/decode_photos.md.

    python benchmarks/decode_photos.py /tmp/cifar10-jpg/train --photos 24 --out benchmarks/results
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from imgclf.data.folder import list_images, load_images
from imgclf.data.images import decode, fit

PHONE = (4032, 3024)


def make_photos(source: Path, target: Path, count: int) -> list[Path]:
    """`count` 12-megapixel JPEGs, taken in turn from each class folder of `source`, in target/<class>/."""
    classes = sorted(p for p in source.iterdir() if p.is_dir())
    per_class = [sorted(c.iterdir()) for c in classes]
    paths = []
    for i in range(count):
        cls = i % len(classes)
        small = cv2.imread(str(per_class[cls][i // len(classes)]))
        path = target / classes[cls].name / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.resize(small, PHONE, interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def plain(path: Path, size: int) -> np.ndarray:
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def one_core(paths: list[Path], size: int) -> dict:
    cv2.setNumThreads(1)
    seconds = {"plain": 0.0, "imgclf": 0.0}
    differences = []
    for path in paths:
        start = time.perf_counter()
        a = plain(path, size)
        seconds["plain"] += time.perf_counter() - start
        start = time.perf_counter()
        b = fit(decode(path, size), size, "stretch", "rgb")
        seconds["imgclf"] += time.perf_counter() - start
        differences.append(np.abs(a.astype(int) - b.astype(int)).mean())
    rates = {side: len(paths) / s for side, s in seconds.items()}
    return {
        "size": size,
        "plain_images_per_s": round(rates["plain"], 1),
        "imgclf_images_per_s": round(rates["imgclf"], 1),
        "speedup": round(rates["imgclf"] / rates["plain"], 2),
        "mean_abs_difference": round(float(np.mean(differences)), 3),
    }


def all_cores(folder: Path, size: int) -> dict:
    cv2.setNumThreads(0)
    files, _ = list_images(folder)
    start = time.perf_counter()
    load_images(files, size, "stretch", "rgb", stop_on_bad=False, max_pixels=0)
    imgclf_rate = len(files.paths) / (time.perf_counter() - start)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    dataset = keras.utils.image_dataset_from_directory(folder, image_size=(size, size), batch_size=32, verbose=False)
    start = time.perf_counter()
    count = sum(int(images.shape[0]) for images, _ in dataset)
    keras_rate = count / (time.perf_counter() - start)
    return {
        "size": size,
        "imgclf_images_per_s": round(imgclf_rate, 1),
        "keras_images_per_s": round(keras_rate, 1),
        "ratio": round(imgclf_rate / keras_rate, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a class-per-folder JPEG tree, e.g. the CIFAR-10 JPEGs' train/")
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 224])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_photos(args.source, Path(tmp), args.photos)
        single = [one_core(paths, size) for size in args.sizes]
        folder = all_cores(Path(tmp), 64)
    result = {"photos": args.photos, "photo_size": list(PHONE), "cores": os.cpu_count(), "one_core": single}
    result["folder_all_cores"] = folder
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode_photos.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Decoding {args.photos} phone-size photos ({PHONE[0]} x {PHONE[1]} JPEG, quality 90)",
        "",
        "One core, per image: full decode + INTER_AREA (plain) against imgclf's reduced decode + the same resize.",
        "",
        "| size | plain images/s | imgclf images/s | speed-up | mean abs difference (0-255) |",
        "|---|---|---|---|---|",
    ]
    for row in single:
        lines.append(
            f"| {row['size']} px | {row['plain_images_per_s']} | {row['imgclf_images_per_s']} | "
            f"{row['speedup']}x | {row['mean_abs_difference']} |"
        )
    lines += [
        "",
        f"The whole folder at 64 px on {os.cpu_count()} cores: imgclf's `load_images` "
        f"{folder['imgclf_images_per_s']} images/s, Keras' `image_dataset_from_directory` "
        f"{folder['keras_images_per_s']} images/s ({folder['ratio']}x).",
    ]
    (args.out / "decode_photos.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
