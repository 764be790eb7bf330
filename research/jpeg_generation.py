"""Benchmark: what the CIFAR-10 JPEG copy's re-encoding costs a trained model, without the original pixels.

The shared CIFAR-10 is a JPEG (quality 75) re-encoding of the official images, and the official archive cannot be
fetched here, so training on the originals is out of reach; a lossless copy made from the JPEG files holds the very
same pixels, so it would cost nothing but decode time. What can be measured:
- accuracy: a model trained on the JPEG copy classifies its test images, then the same images after one more JPEG
  generation at the same quality; the drop is one generation's cost (a first generation, from the originals,
  loses more than a second: JPEG is nearly idempotent at one quality);
- time: decoding the test images from their JPEGs against a lossless PNG copy of the same pixels, one core.

    python research/jpeg_generation.py MODEL_DIR /tmp/cifar10-jpg/test --name recipe_cifar10_fast@499fbd7

Each model's figures go under its --name in research/results/jpeg_generation.json; the others stay.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.quiet  # noqa: F401  (before TensorFlow: no native start-up lines)

# isort: split
from imgclf.experiments.provenance import machine
from imgclf.modeling.model_file import load_model


def read(paths: list[Path]) -> tuple[np.ndarray, float]:
    """The images as RGB uint8, and the seconds their decoding took."""
    start = time.perf_counter()
    images = [cv2.imread(str(path), cv2.IMREAD_COLOR) for path in paths]
    seconds = time.perf_counter() - start
    return np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2RGB) for image in images]), seconds


def reencoded(images: np.ndarray, quality: int) -> np.ndarray:
    out = []
    for image in images:
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return np.stack(out)


def accuracy(model, images: np.ndarray, labels: np.ndarray, mirror: bool) -> float:
    probabilities = model.predict(images, batch_size=500, verbose=0)
    if mirror:  # as evaluate.tta: the image and its left-right mirror averaged
        probabilities = (probabilities + model.predict(images[:, :, ::-1], batch_size=500, verbose=0)) / 2
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trained model folder (model.keras, class_names.json)")
    parser.add_argument("test", type=Path, help="CIFAR-10's test/<class>/*.jpg")
    parser.add_argument("--quality", type=int, default=75, help="the JPEG quality of the copy (default 75)")
    parser.add_argument("--name", required=True, help="what the model is, e.g. recipe_cifar10_fast@COMMIT")
    parser.add_argument("--out", type=Path, default=Path("research/results"))
    args = parser.parse_args()
    model, class_names = load_model(args.model)
    paths = [p for i, name in enumerate(class_names) for p in sorted((args.test / name).glob("*.jpg"))]
    labels = np.array([class_names.index(p.parent.name) for p in paths])
    jpeg, jpeg_seconds = read(paths)
    with tempfile.TemporaryDirectory() as tmp:
        pngs = [Path(tmp) / f"{i}.png" for i in range(len(paths))]
        for path, image in zip(pngs, jpeg, strict=True):
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        png, png_seconds = read(pngs)
    assert np.array_equal(png, jpeg), "a lossless copy holds the same pixels"
    again = reencoded(jpeg, args.quality)
    result = {
        "images": len(paths),
        "mean_abs_pixel_change_of_one_more_generation": round(float(np.abs(again.astype(int) - jpeg).mean()), 3),
        "test_accuracy": {
            "jpeg": accuracy(model, jpeg, labels, False), "jpeg_again": accuracy(model, again, labels, False)},
        "test_accuracy_mirror_tta": {
            "jpeg": accuracy(model, jpeg, labels, True), "jpeg_again": accuracy(model, again, labels, True)},
        "decode_images_per_second": {"jpeg": round(len(paths) / jpeg_seconds), "png": round(len(paths) / png_seconds)},
        "machine": machine(),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "jpeg_generation.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.name] = result
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
