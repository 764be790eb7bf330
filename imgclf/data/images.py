"""Decode and fit images with OpenCV: any of jpg/png/bmp/webp, gray, RGBA or 16-bit, to one size and color mode."""

import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from imgclf.data.image_headers import jpeg_header, other_pixel_size

Resize = Literal["stretch", "pad"]
Color = Literal["rgb", "grayscale"]


class BadImage(Exception):
    """A file that is not a decodable image; its message is the reason, for the data report."""


# (factor, flag for color, flag for gray): libjpeg decodes at 1/2, 1/4 or 1/8 size inside its inverse DCT, so a
# 12-megapixel photo bound for 64 px skips most of the work (about 12x faster; benchmarks/decode_photos.py).
JPEG_REDUCTIONS = (
    (8, cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
)


def decode_flags(jpeg: tuple[int, int, int] | None, min_side: int) -> int:
    """OpenCV's imread flags for a file with this JPEG header (jpeg_header's; None for another format): the largest
    JPEG reduction that keeps both sides at least twice `min_side`, else a full decode keeping the file's own color
    and depth.

    Twice, not once, as Pillow's thumbnail() (reducing_gap=2.0): the final INTER_AREA resize still averages
    several decoded pixels into each, and the result stays within 2.5 gray levels (of 255) on average of a full
    decode on a photo with detail at every scale; a reduction to just above the size differs by up to 6
    (tests/test_images.py)."""
    if jpeg is not None and min_side:
        height, width, components = jpeg
        for factor, color, gray in JPEG_REDUCTIONS:
            if min(height, width) // factor >= 2 * min_side:
                return gray if components == 1 else color
    return cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH


def decode(path: Path, min_side: int = 0, max_pixels: int = 0) -> np.ndarray:
    """RGB (H x W x 3) or gray (H x W) uint8, from a file of any supported format and depth.

    OpenCV reads the file itself (fastest), applies EXIF orientation and drops alpha; it refuses truncated files,
    and files whose header claims more pixels than its limit (a panorama, a decompression bomb), before allocating.
    With `min_side`, the size the image is going to, a large JPEG is decoded reduced (at least 2 x `min_side` a side).
    With `max_pixels`, a file whose header claims more pixels is refused before decoding.
    """
    jpeg = jpeg_header(path) if min_side or max_pixels else None  # read once, for both
    size = (jpeg[:2] if jpeg is not None else other_pixel_size(path)) if max_pixels else None
    if size is not None and size[0] * size[1] > max_pixels:
        raise BadImage(
            f"{size[0]} x {size[1]} pixels ({size[0] * size[1] / 1e6:,.0f} megapixels), over the "
            f"{max_pixels / 1e6:g} allowed (max_megapixels)"
        )
    try:
        image = _read(path, decode_flags(jpeg, min_side))
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


def _read(path: Path, flags: int) -> np.ndarray | None:
    name = str(path)
    if name.encode("utf-8", "surrogatepass") != os.fsencode(name):  # not UTF-8: imread crashes on the surrogates
        data = np.fromfile(path, np.uint8)
        return cv2.imdecode(data, flags) if data.size else None
    return cv2.imread(name, flags)


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
