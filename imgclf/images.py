"""Decode and fit images with OpenCV: any of jpg/png/bmp/webp, gray, RGBA or 16-bit, to one size and color mode."""

import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Resize = Literal["stretch", "pad"]
Color = Literal["rgb", "grayscale"]


class BadImage(Exception):
    """A file that is not a decodable image; its message is the reason, for the data report."""


def decode(path: Path) -> np.ndarray:
    """RGB (H x W x 3) or gray (H x W) uint8, from a file of any supported format and depth.

    OpenCV reads the file itself (fastest), applies EXIF orientation and drops alpha; it refuses truncated files,
    and files whose header claims more pixels than its limit (a panorama, a decompression bomb), before allocating.
    """
    try:
        image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    except cv2.error as e:  # OpenCV checks the header's size against its limit before it allocates anything
        if "CV_IO_MAX_IMAGE_PIXELS" in str(e):
            raise BadImage(
                "too large to decode: more pixels than OpenCV's limit (OPENCV_IO_MAX_IMAGE_PIXELS, 2^30 by default)"
            ) from None
        raise BadImage(f"not decodable by OpenCV ({str(e).strip().splitlines()[-1]})") from None
    if image is None:
        raise BadImage("empty file" if os.path.getsize(path) == 0 else "not a decodable image (corrupt or truncated)")
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
