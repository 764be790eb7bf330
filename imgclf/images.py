"""Decode and fit images with OpenCV: any of jpg/png/bmp/webp, gray, RGBA or 16-bit, to one size and color mode."""

from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Resize = Literal["stretch", "pad"]
Color = Literal["rgb", "grayscale"]


class BadImage(Exception):
    """A file that is not a decodable image; its message is the reason, for the data report."""


def decode(path: Path) -> np.ndarray:
    """RGB (H x W x 3) or gray (H x W) uint8, from a file of any supported format and depth."""
    buffer = np.fromfile(path, dtype=np.uint8)
    if buffer.size == 0:
        raise BadImage("empty file")
    if buffer[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in buffer[-1024:].tobytes():
        raise BadImage("truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BadImage("not a decodable image")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise BadImage(f"unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (1, 2):  # gray, or gray + alpha
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(image, code)


def fit(image: np.ndarray, size: int, resize: Resize, color: Color) -> np.ndarray:
    """`image` (H x W or H x W x 3) as size x size x C: stretched, or scaled to fit and padded with black."""
    if color == "grayscale" and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif color == "rgb" and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    height, width = image.shape[:2]
    if (height, width) != (size, size):
        if resize == "stretch":
            image = _resize(image, size, size)
        else:
            scale = size / max(height, width)
            new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
            image = _resize(image, new_w, new_h)
            top, left = (size - new_h) // 2, (size - new_w) // 2
            image = cv2.copyMakeBorder(
                image, top, size - new_h - top, left, size - new_w - left, cv2.BORDER_CONSTANT, value=0
            )
    return image[:, :, np.newaxis] if image.ndim == 2 else image


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    shrinking = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
