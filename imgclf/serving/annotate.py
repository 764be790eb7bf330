"""predict --annotate: a copy of each image with its top label written on it, in a folder that mirrors the inputs'
and never holds or overwrites one of them."""

import os
from pathlib import Path

import cv2

from imgclf.atomic import atomic_path
from imgclf.data.images import decode
from imgclf.errors import PipelineError, printable


def annotation_targets(files: list[Path], out_dir: Path, inputs: list[Path]) -> list[Path]:
    """Where each file's annotated copy goes: its path below the inputs' common folder, its whole name kept and
    .png added, so no two inputs share one (a/x.jpg, a/x.png, b/x.jpg). A folder that is a file, or lies in a
    folder of the inputs (a folder given, or an image's own), is refused."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PipelineError(f"--annotate {out_dir}: is a file; name a folder for the annotated images")
    resolved = [path.resolve() for path in files]
    folders = {path.resolve() for path in inputs if path.is_dir()} | {path.parent for path in resolved}
    out = out_dir.resolve()
    inside = next((folder for folder in sorted(folders) if out == folder or folder in out.parents), None)
    if inside is not None:
        raise PipelineError(
            f"--annotate {out_dir}: lies in {inside}, a folder of your images, which would then hold the annotated "
            "copies too (and a dataset folder would train on them); choose a folder outside it"
        )
    common = Path(os.path.commonpath([path.parent for path in resolved]))
    targets = [out_dir / path.relative_to(common).with_name(path.name + ".png") for path in resolved]
    inputs = set(resolved)
    for target in targets:
        if target.resolve() in inputs:
            raise PipelineError(f"--annotate {out_dir}: would overwrite your image {target}; choose another folder")
    return targets


def annotate(path: Path, prediction: list[tuple[str, float]], target: Path) -> Path:
    """The original image, at least 400 px wide, with the top label and its probability written on it."""
    image = decode(path)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[1] < 400:
        scale = 400 / image.shape[1]
        image = cv2.resize(image, (400, round(image.shape[0] * scale)), interpolation=cv2.INTER_NEAREST)
    label, probability = prediction[0]
    write_label(image, f"{label}: {probability:.2%}")
    encoded, data = cv2.imencode(target.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not encoded:
        raise PipelineError(f"{printable(target)}: OpenCV cannot write a {target.suffix} image; name a .png or .jpg")
    with atomic_path(target) as tmp:  # written by Python, not cv2.imwrite: a full disk raises, never a silent stub
        tmp.write_bytes(data.tobytes())
    return target


def write_label(image, text: str) -> None:
    """Green text on a black box in the top left corner: readable on a light photo as on a dark one."""
    font, scale, thickness, margin = cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2, 6
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    corner = (10, 30)  # the text's baseline starts here
    top_left = (corner[0] - margin, corner[1] - height - margin)
    bottom_right = (corner[0] + width + margin, corner[1] + baseline + margin)
    cv2.rectangle(image, top_left, bottom_right, (0, 0, 0), thickness=cv2.FILLED)
    cv2.putText(image, text, corner, font, scale, (0, 255, 0), thickness, cv2.LINE_AA)
