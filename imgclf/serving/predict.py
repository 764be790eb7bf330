"""Classify images with a trained model: top-k labels with probabilities, as a table or CSV, and optionally each
image annotated with its label. The model's own input size and channels decide how images are prepared.

    python -m imgclf.serving.predict photos/cat.jpg photos/more/ --top-k 3 --csv predictions.csv --annotate annotated/

A file that cannot be read as an image is listed and skipped (`--strict`: stops at the first). Annotated images
mirror the inputs' folders and keep their names (a/x.jpg -> annotated/a/x.jpg.png): they never overwrite an input
or each other, and never land in an input's folder (the next `dvc repro` there would train on them). --csv never
overwrites an input, or a file that is not a CSV predict wrote (as `predict photos/*.jpg --csv` would make the first
photo the CSV).
"""

import argparse
import csv
import io
import os
import re
import sys
from pathlib import Path

import numpy as np

from imgclf.atomic import write_text
from imgclf.cli import COMMAND, exit_on_error
from imgclf.data.images import BadImage, Resize, decode, fit
from imgclf.data.source import is_image_file, unused_entries, visible_files
from imgclf.errors import PipelineError, printable
from imgclf.progress import Progress
from imgclf.serving.annotate import annotate, annotation_targets

Prediction = list[tuple[str, float]]  # (label, probability), most likely first


def image_files(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """The image files to read: the files given, and the images of the folders given; and what of those folders
    is left out, as `PATH: why` (as preprocess lists them)."""
    files, unused = [], []
    for path in inputs:
        if path.is_dir():
            found = [p for p in visible_files(path) if is_image_file(p)]
            unused += [f"{printable(p)}: {reason}" for p, reason in unused_entries(path)]
            if not found:
                raise PipelineError(f"{path}: no images (.jpg, .jpeg, .png, .bmp, .webp) in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        elif re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:/", str(path)):  # a URL (a Path keeps one of its two slashes)
            url = re.sub(r":/+", "://", str(path), count=1)
            raise PipelineError(f"{url}: URLs are not read; download the image first, then give its file")
        else:
            raise PipelineError(f"{printable(path)}: no such file or folder")
    return files, unused


def load_for_model(path: Path, input_shape: tuple[int, ...], resize: Resize, max_pixels: int) -> np.ndarray:
    height, _, channels = input_shape
    try:
        return fit(decode(path, height, max_pixels), height, resize, "grayscale" if channels == 1 else "rgb")
    except BadImage as e:
        raise PipelineError(f"{printable(path)}: cannot read it as an image ({e})") from None
    except OSError as e:
        raise PipelineError(f"{printable(path)}: cannot read it ({e.strerror})") from None


def read_images(
    files: list[Path], input_shape: tuple[int, ...], resize: Resize, strict: bool, max_pixels: int
) -> tuple[list[Path], np.ndarray, list[str]]:
    """The files that read as images and their arrays, and why each other one did not (`strict`: the first
    unreadable file stops it)."""
    height, width, _ = input_shape
    if height != width:
        raise PipelineError(f"the model takes {height} x {width} images; only square inputs are supported")
    kept, images, skipped = [], np.zeros((len(files), *input_shape), np.uint8), []
    for path in files:
        try:
            images[len(kept)] = load_for_model(path, input_shape, resize, max_pixels).reshape(input_shape)
            kept.append(path)
        except PipelineError as e:
            if strict:
                raise
            skipped.append(str(e))
    return kept, images[: len(kept)], skipped


MAX_PIXELS = 100_000_000  # --max-megapixels' default, as preprocess.max_megapixels': larger photos are refused
IMAGES_AT_A_TIME = 256  # images read and predicted at a time: memory stays at that many, however many files


def predict_files(
    model,
    class_names: tuple[str, ...],
    files: list[Path],
    top_k: int,
    resize: Resize,
    strict: bool,
    max_pixels: int = MAX_PIXELS,
    at_a_time: int = IMAGES_AT_A_TIME,
) -> tuple[list[Path], list[Prediction], list[str]]:
    """The files that read as images with their predictions, `at_a_time` at a time, and why each other one was
    skipped. None readable is an error."""
    kept: list[Path] = []
    predictions: list[Prediction] = []
    skipped: list[str] = []
    with Progress("read", "files", len(files)) as progress:
        for start in range(0, len(files), at_a_time):
            part = files[start : start + at_a_time]
            readable, images, unreadable = read_images(part, tuple(model.input_shape[1:]), resize, strict, max_pixels)
            if readable:
                predictions += predict_images(model, class_names, images, top_k)
            kept += readable
            skipped += unreadable
            progress.add(len(part))
    if not kept:
        raise PipelineError(skipped[0] if len(skipped) == 1 else f"no file is a readable image; first: {skipped[0]}")
    return kept, predictions, skipped


def predict(model, class_names: tuple[str, ...], files: list[Path], top_k: int, resize: Resize) -> list[Prediction]:
    return predict_files(model, class_names, files, top_k, resize, strict=True)[1]


def predict_images(model, class_names: tuple[str, ...], images: np.ndarray, top_k: int) -> list[Prediction]:
    probabilities = model.predict(images, verbose=0)
    top = np.argsort(-probabilities, axis=1)[:, :top_k]
    return [[(class_names[c], float(row[c])) for c in best] for row, best in zip(probabilities, top, strict=True)]


def as_csv(files: list[Path], predictions: list[Prediction]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER.split(","))
    for path, prediction in zip(files, predictions, strict=True):
        writer.writerows((printable(path), rank, label, f"{p:.6f}") for rank, (label, p) in enumerate(prediction, 1))
    return out.getvalue()


def as_table(files: list[Path], predictions: list[Prediction]) -> str:
    """One row per image under a header: its path, then its top-k labels with their probabilities, likeliest first."""
    rows = [
        [printable(path), *(f"{label} {p:.2%}" for label, p in prediction)]
        for path, prediction in zip(files, predictions, strict=True)
    ]
    header = ["image", *(f"top {rank}" for rank in range(1, len(predictions[0]) + 1))] if predictions else ["image"]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
                   for row in [header, *rows])  # fmt: skip


CSV_HEADER = "path,rank,label,probability"


def check_csv_target(csv_path: Path, files: list[Path]) -> None:
    """Refuses a --csv that is one of the images, or an existing file that is not a CSV predict wrote."""
    if csv_path.resolve() in {path.resolve() for path in files}:
        raise PipelineError(f"--csv {csv_path}: that is one of the images to predict; name a new .csv file")
    if csv_path.is_dir():
        raise PipelineError(f"--csv {csv_path}: is a folder; name a .csv file")
    if csv_path.exists():
        with open(csv_path, "rb") as f:
            first = f.readline(len(CSV_HEADER) + 2).decode("utf-8", "replace").strip()
        if first != CSV_HEADER:
            raise PipelineError(f"--csv {csv_path}: exists and is not a CSV predict wrote; name a new file")


def load_classifier(path: Path):
    """A trained model folder (model.keras), or an exported .tflite or .onnx file with class_names.json beside it."""
    if path.suffix in (".tflite", ".onnx"):
        from imgclf.data.dataset import read_class_names
        from imgclf.serving.export import load_exported

        model, class_names = load_exported(path), read_class_names(path.parent / "class_names.json")
        if model.predict(np.zeros((1, *model.input_shape[1:]), np.uint8)).shape[-1] != len(class_names):
            raise PipelineError(f"{path}: its outputs do not match {path.parent / 'class_names.json'}")
        return model, class_names
    from imgclf.modeling.model_file import load_model

    return load_model(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", type=Path, nargs="+", help="image files or folders of images")
    parser.add_argument(
        "--model",
        type=Path,
        default=Path("models"),
        help="folder with model.keras and class_names.json, or an exported .tflite or .onnx file (exported/)",
    )
    parser.add_argument("--top-k", type=int, default=3, help="how many of the likeliest labels to show (default 3)")
    parser.add_argument("--resize", choices=["stretch", "pad"], default="stretch", help="as preprocess.resize")
    parser.add_argument("--csv", type=Path, help="write the predictions to this CSV file instead of a table")
    parser.add_argument("--annotate", type=Path, help="write each image with its label to this folder")
    parser.add_argument("--strict", action="store_true", help="stop at the first file that is not a readable image")
    parser.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_PIXELS / 1e6,
        help="skip a photo with more pixels, undecoded (default %(default)g, as preprocess.max_megapixels)",
    )
    args = parser.parse_args()
    if args.max_megapixels <= 0:
        raise PipelineError(f"--max-megapixels {args.max_megapixels:g}: must be more than 0")
    if args.top_k < 1:
        raise PipelineError(f"--top-k {args.top_k}: must be at least 1")
    files, unused = image_files(args.inputs)
    if args.csv:
        check_csv_target(args.csv, files)
    targets = annotation_targets(files, args.annotate, args.inputs) if args.annotate else []
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model, class_names = load_classifier(args.model)
    top_k = min(args.top_k, len(class_names))
    max_pixels = round(args.max_megapixels * 1e6)
    kept, predictions, skipped = predict_files(model, class_names, files, top_k, args.resize, args.strict, max_pixels)
    if args.csv:
        write_text(args.csv, as_csv(kept, predictions))
    else:
        sys.stdout.write(as_table(kept, predictions))
    for reason in unused + skipped:
        print(f"skipped {reason}", file=sys.stderr)
    if unused or skipped:
        total = len(files) + len(unused)
        strict = "; --strict stops at the first unreadable image" if skipped else ""
        print(f"{len(unused) + len(skipped)} of {total} files skipped{strict}", file=sys.stderr)
    if args.annotate:
        target_of = dict(zip(files, targets, strict=True))
        for path, prediction in zip(kept, predictions, strict=True):
            annotate(path, prediction, target_of[path])


if __name__ == "__main__":
    exit_on_error(main, rerun=COMMAND)
